// Graceful stops on both sides: strait draining on SIGTERM, and backends
// restarted one by one under load. Every RPC's final status is counted.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/load_loops.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/integration/strait_process.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

bool PortRefusesConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool refused = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0;
  close(fd);
  return refused;
}

TEST(DrainTest, SigtermLetsEveryStartedRpcFinishThenExitsZero) {
  TestBackend backend("b");
  StraitProcess strait(absl::StrCat(R"yaml(
entryPoints:
  web:
    address: "127.0.0.1:0"
    transport: {lifeCycle: {graceTimeOut: 20s}}
routers: {r: {rule: "PathPrefix(`/`)", service: s}}
services: {s: {loadBalancer: {servers: [{url: "h2c://)yaml",
                                    backend.address(), "\"}]}}}\n"));
  ASSERT_TRUE(strait.started());
  int port = strait.port("web");
  Outcomes outcomes;
  std::vector<std::thread> clients;
  // Several connections, each with long RPCs: unary that take 1 s, streams
  // that take 1.5 s.
  for (int c = 0; c < 4; ++c) {
    auto stub = std::shared_ptr<test::v1::Echo::Stub>(MakeStub(port));
    for (int i = 0; i < 3; ++i) {
      clients.emplace_back([&, stub] { outcomes.Record(UnaryCall(*stub, 1000), "unary"); });
      clients.emplace_back(
          [&, stub] { outcomes.Record(StreamCall(*stub, 15, 100), "stream"); });
    }
  }
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return backend.service().calls() == 24; }));
  strait.Signal(SIGTERM);
  // New connections are refused while the started RPCs run on.
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return PortRefusesConnections(port); }));
  for (auto& t : clients) t.join();
  EXPECT_EQ(outcomes.total(), 24);
  EXPECT_EQ(outcomes.failed(), 0) << outcomes.examples();
  EXPECT_EQ(strait.Wait(), 0);
}

class RollingRestartTest : public ProxyTest {};

TEST_F(RollingRestartTest, RestartingEveryBackendUnderLoadFailsNoRpc) {
  for (int i = 0; i < 3; ++i) {
    backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("backend-", i)));
  }
  config::v1::Config config = EchoConfig(BackendAddresses());
  // What strait retries by itself: calls refused (REFUSED_STREAM), above a
  // GOAWAY's last stream id, or whose connection was refused. A gRPC C++
  // server also answers calls that reach it while it shuts down with a
  // trailers-only CANCELLED (a direct gRPC client gets the same); that answer
  // can mean other things too, so retrying it is the operator's choice:
  auto* retry = config.mutable_services()->at("echo").mutable_load_balancer()->mutable_retry();
  retry->set_attempts(3);
  retry->add_retry_on("UNAVAILABLE");
  retry->add_retry_on("CANCELLED");
  // A restarting server refuses connections and is ejected (passive health);
  // a short ejection lets it serve again within the test.
  auto* passive = config.mutable_services()->at("echo").mutable_load_balancer()
                      ->mutable_passive_health_check();
  passive->mutable_base_ejection_time()->set_nanos(100'000'000);
  StartProxy(config);
  LoadLoops load(proxy_port(), /*unary=*/4, /*streams=*/2);
  ASSERT_TRUE(load.WaitForMore(200));
  for (auto& backend : backends_) {
    backend->Restart(absl::Seconds(5));  // GOAWAY, drain, then listen again
    ASSERT_TRUE(load.WaitForMore(200));
  }
  // Every restarted backend serves again (once an ejection for its refused
  // connections, if any, has run out), with the load still running.
  for (auto& backend : backends_) {
    EXPECT_TRUE(backend->WaitForCalls(1, absl::Seconds(20))) << backend->name()
                                                             << " serves again";
  }
  load.Stop();
  const Outcomes& outcomes = load.outcomes();
  EXPECT_EQ(outcomes.failed(), 0) << outcomes.total() << " RPCs; first failures:\n"
                                  << outcomes.examples();
}

}  // namespace
}  // namespace strait::testing
