// The admin's view and hand on servers through the real Server in process,
// between real gRPC C++ clients and backends: SetDrained (no new RPCs, the
// ones in flight finish, kept across reloads), ListServers' live figures
// (RPCs by status, in flight, connections, health and ejection) and the
// health listener. Every count is exact; waits are bounded polls of the
// state itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;
using ::testing::HasSubstr;

const BackendOptions kWithHealth{.health = true};
constexpr char kRouteHeader[] = "x-route";

// strait's view of a server has no event to wait on: poll it (bounded).
bool Eventually(const std::function<bool()>& condition) { return RawH2Server::WaitFor(condition); }

// An RPC held open through strait: a Bidi stream that answers each message
// as it comes, so it stays in flight on one backend between messages.
class HeldStream {
 public:
  explicit HeldStream(int port) : stub_(MakeStub(port)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = stub_->Bidi(&ctx_);
  }
  ~HeldStream() {
    if (finished_) return;
    ctx_.TryCancel();
    (void)stream_->Finish();
  }
  HeldStream(const HeldStream&) = delete;
  HeldStream& operator=(const HeldStream&) = delete;

  // Sends one message; the name of the backend that echoed it, "" if none.
  std::string Echo(const std::string& payload) {
    EchoRequest req;
    req.set_payload(payload);
    EchoResponse resp;
    if (!stream_->Write(req) || !stream_->Read(&resp) || resp.payload() != payload) return "";
    return resp.backend_name();
  }
  // Half-closes and returns the RPC's status.
  grpc::Status Finish() {
    finished_ = true;
    stream_->WritesDone();
    return stream_->Finish();
  }

 private:
  std::unique_ptr<test::v1::Echo::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<EchoRequest, EchoResponse>> stream_;
  bool finished_ = false;
};

// rpcs_by_status with `counts` ({code, n}) and zeros elsewhere.
std::array<uint64_t, 17> ByStatus(const std::map<int, uint64_t>& counts) {
  std::array<uint64_t, 17> out{};
  for (const auto& [code, n] : counts) out[code] = n;
  return out;
}

class ServerDrainTest : public ProxyTest {
 protected:
  static config::v1::LoadBalancer& Lb(config::v1::Config& config,
                                      const std::string& service = "echo") {
    return *(*config.mutable_services())[service].mutable_load_balancer();
  }
  static std::string Url(const TestBackend& b) { return "h2c://" + b.address(); }
  // Load balancer `name` over `addresses` in `config`, for RPCs carrying
  // x-route: `name` (its router outranks the echo router).
  static void AddRoutedService(config::v1::Config& config, const std::string& name,
                               const std::vector<std::string>& addresses) {
    config::v1::Router& router = (*config.mutable_routers())[name];
    router.set_rule(absl::StrCat("Header(`", kRouteHeader, "`, `", name, "`)"));
    router.set_service(name);
    router.set_priority(1000);
    config::v1::LoadBalancer& lb = Lb(config, name);
    for (const std::string& address : addresses) {
      lb.add_servers()->set_url(absl::StrCat("h2c://", address));
    }
    lb.set_servers_transport("fast");
  }
  std::map<std::string, int> RoutedCalls(const std::string& service, int n) {
    return UnaryCalls(n, EchoRequest(), {{kRouteHeader, service}});
  }
  TestBackend& Backend(const std::string& name, BackendOptions options = {}) {
    backends_.push_back(std::make_unique<TestBackend>(name, options));
    return *backends_.back();
  }
  // The ListServers entry of server `url` of `service`; a test failure
  // (and a default entry) if there is none.
  server::ServerStatus Status(const std::string& service, const std::string& url) {
    for (server::ServerStatus& s : server_->ListServers(service)) {
      if (s.url == url) return s;
    }
    ADD_FAILURE() << "ListServers has no " << url << " in " << service;
    return {};
  }

  // echo: a and b, checked by a Watch (Checks an hour apart); flaky: c and
  // a dead server (its port refuses), round robin, ejected for an hour
  // after 3 failures in a row. Backends a, b, c, dead in that order.
  config::v1::Config FlipAndEjectConfig() {
    TestBackend& a = Backend("a", kWithHealth);
    TestBackend& b = Backend("b", kWithHealth);
    TestBackend& c = Backend("c");
    TestBackend& dead = Backend("dead");
    dead.Kill();
    config::v1::Config config = EchoConfig({a.address(), b.address()});
    config::v1::HealthCheck* hc = Lb(config).mutable_health_check();
    SetDuration(hc->mutable_interval(), absl::Hours(1));
    SetDuration(hc->mutable_timeout(), absl::Seconds(1));
    hc->set_watch(true);
    AddRoutedService(config, "flaky", {c.address(), dead.address()});
    Lb(config, "flaky").set_strategy("wrr");
    config::v1::PassiveHealthCheck* passive = Lb(config, "flaky").mutable_passive_health_check();
    passive->set_consecutive_failures(3);
    SetDuration(passive->mutable_base_ejection_time(), absl::Hours(1));
    SetDuration(passive->mutable_max_ejection_time(), absl::Hours(1));
    return config;
  }
};

// Drained, a server gets no new RPC on any worker, while the one it holds
// finishes normally; undrained, it takes its turns again.
TEST_F(ServerDrainTest, ADrainedServerGetsNoNewRpcsWhileItsInFlightOneFinishes) {
  Backend("a");
  Backend("b");
  config::v1::Config config = EchoConfig(BackendAddresses());
  Lb(config).set_strategy("wrr");
  StartProxy(config, /*workers=*/2);

  HeldStream held(proxy_port());
  const std::string holder = held.Echo("first");
  ASSERT_FALSE(holder.empty());
  TestBackend& drained = holder == "a" ? *backends_[0] : *backends_[1];
  TestBackend& other = holder == "a" ? *backends_[1] : *backends_[0];

  absl::StatusOr<server::DrainResult> result = server_->SetDrained(Url(drained), true);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->services, std::vector<std::string>{"echo"});
  EXPECT_EQ(result->in_flight, 1u);  // the held stream
  EXPECT_EQ(server_->DrainedServers(), std::vector<std::string>{Url(drained)});
  server::ServerStatus status = Status("echo", Url(drained));
  EXPECT_TRUE(status.drained);
  EXPECT_FALSE(status.usable);
  EXPECT_TRUE(status.healthy);
  EXPECT_EQ(server_->Health("echo", Url(drained))->drained, true);

  // Four channels, four connections: both workers take part.
  const int calls_before = drained.calls();
  std::map<std::string, int> served;
  for (int channel = 0; channel < 4; ++channel) {
    for (const auto& [name, n] : UnaryCalls(25)) served[name] += n;
  }
  EXPECT_EQ(served, (std::map<std::string, int>{{other.name(), 100}}));
  EXPECT_EQ(drained.calls(), calls_before);

  // The held RPC is still on the drained server, and ends OK.
  EXPECT_EQ(held.Echo("second"), drained.name());
  grpc::Status finished = held.Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();

  ASSERT_TRUE(server_->SetDrained(Url(drained), false).ok());
  EXPECT_TRUE(server_->DrainedServers().empty());
  EXPECT_TRUE(Status("echo", Url(drained)).usable);
  // Round robin over two: about every other RPC (the round may resume one
  // step off).
  served = UnaryCalls(20);
  EXPECT_GE(served[drained.name()], 9);
  EXPECT_EQ(served[drained.name()] + served[other.name()], 20);
}

// A reload that keeps listing the URL keeps the drain, also when it makes
// the server a new health identity (a health check added); a reload that
// drops the URL forgets it.
TEST_F(ServerDrainTest, ADrainSurvivesReloadsThatKeepTheServer) {
  TestBackend& a = Backend("a", kWithHealth);
  TestBackend& b = Backend("b", kWithHealth);
  config::v1::Config config = EchoConfig(BackendAddresses());
  Lb(config).set_strategy("wrr");
  StartProxy(config, /*workers=*/1);
  ASSERT_TRUE(server_->SetDrained(Url(b), true).ok());

  config.mutable_routers()->at("echo").set_priority(7);  // the same servers
  ASSERT_TRUE(server_->Reload(config).ok());
  EXPECT_EQ(server_->DrainedServers(), std::vector<std::string>{Url(b)});
  EXPECT_EQ(UnaryCalls(20), (std::map<std::string, int>{{"a", 20}}));

  SetDuration(Lb(config).mutable_health_check()->mutable_interval(), absl::Hours(1));
  ASSERT_TRUE(server_->Reload(config).ok());
  EXPECT_TRUE(Status("echo", Url(b)).health_checked);
  EXPECT_TRUE(Status("echo", Url(b)).drained);
  EXPECT_EQ(UnaryCalls(20), (std::map<std::string, int>{{"a", 20}}));
  EXPECT_EQ(b.calls(), 0);

  ASSERT_TRUE(server_->Reload(EchoConfig({a.address()})).ok());
  EXPECT_TRUE(server_->DrainedServers().empty());
  ASSERT_TRUE(server_->Reload(config).ok());
  EXPECT_FALSE(Status("echo", Url(b)).drained);
  EXPECT_GE(UnaryCalls(20)["b"], 9);
}

// Every server drained: UNAVAILABLE, naming the service and the drain.
TEST_F(ServerDrainTest, EveryServerDrainedIsUnavailableSayingSo) {
  StartAll(2);
  for (auto& b : backends_) ASSERT_TRUE(server_->SetDrained(Url(*b), true).ok());
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  EchoResponse resp;
  grpc::Status s = stub->Unary(&ctx, EchoRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "service echo: no healthy server: all 2 drained by admin");
  EXPECT_EQ(backends_[0]->calls() + backends_[1]->calls(), 0);
}

TEST_F(ServerDrainTest, DrainingAUrlNoServiceListsIsNotFound) {
  StartAll(1);
  for (bool drained : {true, false}) {
    absl::StatusOr<server::DrainResult> result = server_->SetDrained("h2c://127.0.0.1:1", drained);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(result.status().message(), HasSubstr("h2c://127.0.0.1:1"));
  }
  EXPECT_TRUE(server_->DrainedServers().empty());
}

// ListServers after known traffic: each server's RPCs by the status they
// ended with — the backend's (OK, NOT_FOUND) and strait's own for a server
// it cannot reach (UNAVAILABLE) —, an RPC held open counted in flight, and
// the connection a used server has.
TEST_F(ServerDrainTest, ListServersCountsRpcsByStatusInFlightAndConnections) {
  TestBackend& a = Backend("a");
  TestBackend& dead = Backend("dead");
  dead.Kill();
  config::v1::Config config = EchoConfig({a.address()});
  AddRoutedService(config, "dead", {dead.address()});
  StartProxy(config, /*workers=*/2);

  EchoRequest not_found;
  not_found.set_status_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
  not_found.set_status_message("no such thing");
  EXPECT_EQ(UnaryCalls(5), (std::map<std::string, int>{{"a", 5}}));
  EXPECT_EQ(UnaryCalls(3, not_found), (std::map<std::string, int>{{"error 5", 3}}));
  EXPECT_EQ(RoutedCalls("dead", 2), (std::map<std::string, int>{{"error 14", 2}}));
  HeldStream held(proxy_port());
  ASSERT_EQ(held.Echo("hold"), "a");

  std::vector<server::ServerStatus> all = server_->ListServers();
  ASSERT_EQ(all.size(), 2u);
  // Service name order.
  EXPECT_EQ(all[0].service, "dead");
  EXPECT_EQ(all[0].url, Url(dead));
  EXPECT_EQ(all[1].service, "echo");
  EXPECT_EQ(all[1].url, Url(a));
  const server::ServerStatus& sa = all[1];
  EXPECT_EQ(sa.rpcs_by_status, ByStatus({{0, 5}, {5, 3}}));
  EXPECT_EQ(sa.in_flight, 1u);
  EXPECT_GE(sa.connections, 1u);
  EXPECT_TRUE(sa.usable);
  EXPECT_FALSE(sa.health_checked);
  EXPECT_EQ(sa.weight, 1u);
  const server::ServerStatus& sd = all[0];
  EXPECT_EQ(sd.rpcs_by_status, ByStatus({{14, 2}}));
  EXPECT_EQ(sd.in_flight, 0u);
  EXPECT_EQ(sd.connections, 0u);
  EXPECT_FALSE(sd.ejected);  // 2 failures: below the default 5
  EXPECT_EQ(server_->ListServers("dead").size(), 1u);

  // Once the held RPC ends, it counts as one more OK.
  ASSERT_TRUE(held.Finish().ok());
  EXPECT_TRUE(Eventually([&] {
    server::ServerStatus s = Status("echo", Url(a));
    return s.in_flight == 0 && s.rpcs_by_status == ByStatus({{0, 6}, {5, 3}});
  }));
}

// ListServers follows an active check's flip and a passive ejection.
TEST_F(ServerDrainTest, ListServersFollowsAHealthFlipAndAnEjection) {
  config::v1::Config config = FlipAndEjectConfig();
  StartProxy(config, /*workers=*/1);
  TestBackend& b = *backends_[1];
  const std::string dead_url = Url(*backends_[3]);
  server::ServerStatus sb = Status("echo", Url(b));
  EXPECT_TRUE(sb.health_checked);
  EXPECT_TRUE(sb.healthy);
  EXPECT_TRUE(sb.usable);

  b.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return !Status("echo", Url(b)).healthy; }));
  sb = Status("echo", Url(b));
  EXPECT_FALSE(sb.usable);
  EXPECT_FALSE(sb.ejected);
  EXPECT_THAT(sb.reason, HasSubstr("NOT_SERVING"));

  // Round robin: every other RPC picks the dead server, fails to connect
  // and goes on to c, until its third failure ejects it.
  const absl::Time before = absl::Now();
  EXPECT_EQ(RoutedCalls("flaky", 10), (std::map<std::string, int>{{"c", 10}}));
  server::ServerStatus sd = Status("flaky", dead_url);
  EXPECT_TRUE(sd.ejected);
  EXPECT_FALSE(sd.usable);
  EXPECT_TRUE(sd.healthy);
  EXPECT_FALSE(sd.health_checked);
  EXPECT_EQ(sd.ejections, 1u);
  EXPECT_THAT(sd.reason, HasSubstr("3 failures in a row"));
  // An hour from the ejection, in wall-clock time.
  EXPECT_GE(sd.ejected_until, before + absl::Minutes(59));
  EXPECT_LE(sd.ejected_until, absl::Now() + absl::Minutes(61));
  EXPECT_EQ(sd.rpcs_by_status, ByStatus({{14, 3}}));
  EXPECT_EQ(Status("flaky", Url(*backends_[2])).rpcs_by_status, ByStatus({{0, 10}}));

  b.SetServing("", true);
  ASSERT_TRUE(Eventually([&] { return Status("echo", Url(b)).usable; }));
}

// The health listener hears a flip (checker thread), an ejection (worker)
// and a drain (the caller), each once, in that order.
TEST_F(ServerDrainTest, TheHealthListenerSeesAFlipAnEjectionAndADrainInOrder) {
  config::v1::Config config = FlipAndEjectConfig();
  absl::Mutex mu;
  std::vector<health::HealthEvent> events;
  StartProxy(config, /*workers=*/1, [&](server::Server& server) {
    server.SetHealthListener([&](const health::HealthEvent& e) {
      absl::MutexLock lock(&mu);
      events.push_back(e);
    });
  });
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return events.size();
  };
  TestBackend& a = *backends_[0];
  TestBackend& b = *backends_[1];
  const std::string dead_url = Url(*backends_[3]);

  b.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return count() >= 1; }));
  EXPECT_EQ(RoutedCalls("flaky", 10), (std::map<std::string, int>{{"c", 10}}));
  ASSERT_TRUE(Eventually([&] { return count() >= 2; }));
  ASSERT_TRUE(server_->SetDrained(Url(a), true).ok());
  ASSERT_TRUE(server_->SetDrained(Url(a), true).ok());  // no change, no event

  absl::MutexLock lock(&mu);
  ASSERT_EQ(events.size(), 3u);
  using Kind = health::HealthEvent::Kind;
  EXPECT_EQ(events[0].kind, Kind::kHealth);
  EXPECT_EQ(events[0].url, Url(b));
  EXPECT_FALSE(events[0].healthy);
  EXPECT_FALSE(events[0].ejected);
  EXPECT_FALSE(events[0].drained);
  EXPECT_THAT(events[0].reason, HasSubstr("NOT_SERVING"));
  EXPECT_EQ(events[1].kind, Kind::kEjected);
  EXPECT_EQ(events[1].url, dead_url);
  EXPECT_TRUE(events[1].healthy);
  EXPECT_TRUE(events[1].ejected);
  EXPECT_THAT(events[1].reason, HasSubstr("3 failures in a row"));
  EXPECT_EQ(events[2].kind, Kind::kDrain);
  EXPECT_EQ(events[2].url, Url(a));
  EXPECT_TRUE(events[2].drained);
  EXPECT_TRUE(events[2].healthy);
  EXPECT_EQ(events[2].reason, "drained by admin");
}

}  // namespace
}  // namespace strait::testing
