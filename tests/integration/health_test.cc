// Active and passive health through strait: real gRPC C++ backends with
// gRPC's own grpc.health.v1 service, strait in process. Each test waits
// until strait has seen a change (Server::Health), then counts exactly where
// the next RPCs went.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/load_loops.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;

const BackendOptions kWithHealth{.health = true};

// strait's view of a server has no event to wait on: poll it (bounded).
bool Eventually(const std::function<bool()>& condition) {
  return RawH2Server::WaitFor(condition);
}

void SetDuration(google::protobuf::Duration* d, absl::Duration value) {
  d->set_seconds(absl::ToInt64Seconds(value));
  d->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(value - absl::Seconds(absl::ToInt64Seconds(value)))));
}

class HealthTest : public ProxyTest {
 protected:
  config::v1::LoadBalancer* Lb(config::v1::Config& config) {
    return config.mutable_services()->at("echo").mutable_load_balancer();
  }
  // A healthCheck every `interval` (timeout 1 s), optionally watching.
  config::v1::HealthCheck* Check(config::v1::Config& config, absl::Duration interval,
                                 bool watch = false) {
    config::v1::HealthCheck* hc = Lb(config)->mutable_health_check();
    SetDuration(hc->mutable_interval(), interval);
    SetDuration(hc->mutable_timeout(), absl::Seconds(1));
    hc->set_watch(watch);
    return hc;
  }
  std::string Url(const TestBackend& b) const { return "h2c://" + b.address(); }
  bool Up(const std::string& url) {
    std::optional<server::ServerHealthView> h = server_->Health("echo", url);
    return h && h->active_up && !h->ejected;
  }
  bool Down(const std::string& url) {
    std::optional<server::ServerHealthView> h = server_->Health("echo", url);
    return h && !h->active_up;
  }
  // `n` sequential unary RPCs on one channel; returns who answered each.
  std::map<std::string, int> Calls(int n, int deadline_ms = 20000) {
    return UnaryCalls(n, EchoRequest(), {}, absl::Milliseconds(deadline_ms));
  }
};

// Check: a server whose health service says NOT_SERVING gets no new RPC
// once strait has seen it, and all of them again once it is back.
TEST_F(HealthTest, CheckTakesANotServingServerOutAndBack) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  backends_.push_back(std::make_unique<TestBackend>("b", kWithHealth));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Lb(config)->set_strategy("wrr");
  Check(config, absl::Milliseconds(50));
  StartProxy(config, 1);
  TestBackend& b = *backends_[1];

  b.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return Down(Url(b)); }));
  EXPECT_THAT(server_->Health("echo", Url(b))->reason, HasSubstr("NOT_SERVING"));
  int before = b.calls();
  EXPECT_EQ(Calls(100), (std::map<std::string, int>{{"a", 100}}));
  EXPECT_EQ(b.calls(), before);

  b.SetServing("", true);
  ASSERT_TRUE(Eventually([&] { return Up(Url(b)); }));
  // Equal weights, round robin: exactly every other RPC.
  EXPECT_EQ(Calls(100), (std::map<std::string, int>{{"a", 50}, {"b", 50}}));
}

// service: foo asks about foo only: the server's own status ("") does not
// count. With initiallyHealthy false, "up" proves a Check(foo) succeeded.
TEST_F(HealthTest, OnlyTheNamedServiceCounts) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  TestBackend& a = *backends_[0];
  a.SetServing("", false);
  a.SetServing("foo", true);
  config::v1::Config config = EchoConfig(BackendAddresses());
  config::v1::HealthCheck* hc = Check(config, absl::Milliseconds(50));
  hc->set_service("foo");
  hc->set_initially_healthy(false);
  StartProxy(config, 1);
  ASSERT_TRUE(Eventually([&] { return Up(Url(a)); }));
  EXPECT_EQ(Calls(10), (std::map<std::string, int>{{"a", 10}}));

  a.SetServing("foo", false);
  ASSERT_TRUE(Eventually([&] { return Down(Url(a)); }));
}

// Every server down: UNAVAILABLE, naming the service and why.
TEST_F(HealthTest, NoHealthyServerIsUnavailableSayingWhy) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  backends_.push_back(std::make_unique<TestBackend>("b", kWithHealth));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Check(config, absl::Milliseconds(50));
  StartProxy(config, 1);
  for (auto& b : backends_) b->SetServing("", false);
  for (auto& b : backends_) ASSERT_TRUE(Eventually([&] { return Down(Url(*b)); }));
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  EchoResponse resp;
  grpc::Status s = stub->Unary(&ctx, EchoRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "service echo: no healthy server: 2 down by health check");
  EXPECT_EQ(backends_[0]->calls() + backends_[1]->calls(), 0);
}

// Watch: with Checks an hour apart, only the Watch stream can tell strait;
// once it has, the server gets no new RPC. Back to SERVING, it is back.
TEST_F(HealthTest, WatchSeesNotServingWithoutWaitingForACheck) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  backends_.push_back(std::make_unique<TestBackend>("b", kWithHealth));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Lb(config)->set_strategy("wrr");
  Check(config, absl::Hours(1), /*watch=*/true);
  StartProxy(config, 1);
  TestBackend& b = *backends_[1];
  EXPECT_EQ(Calls(10), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));

  b.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return Down(Url(b)); }));
  EXPECT_THAT(server_->Health("echo", Url(b))->reason, HasSubstr("Watch"));
  int before = b.calls();
  EXPECT_EQ(Calls(100), (std::map<std::string, int>{{"a", 100}}));
  EXPECT_EQ(b.calls(), before);

  b.SetServing("", true);
  ASSERT_TRUE(Eventually([&] { return Up(Url(b)); }));
  EXPECT_EQ(Calls(10), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));
}

// A reload that keeps a server keeps what strait knows of it: a server seen
// down stays down, although a fresh state would start up and no Check can
// run for an hour.
TEST_F(HealthTest, AReloadKeepsTheHealthOfUnchangedServers) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  backends_.push_back(std::make_unique<TestBackend>("b", kWithHealth));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Check(config, absl::Hours(1), /*watch=*/true);
  StartProxy(config, 1);
  TestBackend& b = *backends_[1];
  b.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return Down(Url(b)); }));

  config.mutable_routers()->at("echo").set_priority(7);  // some other change
  ASSERT_TRUE(server_->Reload(config).ok());
  EXPECT_TRUE(Down(Url(b)));
  int before = b.calls();
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"a", 20}}));
  EXPECT_EQ(b.calls(), before);
}

// A frozen server (SIGSTOP: connections open, nothing answers) fails its
// Checks by timeout; after that no RPC goes there, so none waits out its
// deadline.
TEST_F(HealthTest, AFrozenServerIsTakenOutByItsChecks) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  ChildBackend frozen("frozen", /*health=*/true);
  config::v1::Config config = EchoConfig({backends_[0]->address(), frozen.address()});
  config::v1::HealthCheck* hc = Check(config, absl::Milliseconds(100));
  SetDuration(hc->mutable_timeout(), absl::Milliseconds(200));
  StartProxy(config, 1);
  std::string url = "h2c://" + frozen.address();
  ASSERT_TRUE(Eventually([&] { return Up(url); }));

  frozen.Freeze();
  ASSERT_TRUE(Eventually([&] { return Down(url); }));
  // Any RPC sent to the frozen server would end DEADLINE_EXCEEDED.
  EXPECT_EQ(Calls(100, /*deadline_ms=*/2000), (std::map<std::string, int>{{"a", 100}}));
  frozen.Thaw();
}

// Passive health: a server that refuses connections is ejected after
// consecutiveFailures failed RPCs on a worker — long before its next active
// check (an hour away) — and comes back by itself once the ejection ends.
TEST_F(HealthTest, ADeadServerIsEjectedBeforeItsNextCheckAndComesBack) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  backends_.push_back(std::make_unique<TestBackend>("b", kWithHealth));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Lb(config)->set_strategy("wrr");
  // The first Check runs at start, the next an hour later: once b is up,
  // no check will look at it again during the test.
  Check(config, absl::Hours(1))->set_initially_healthy(false);
  config::v1::PassiveHealthCheck* passive = Lb(config)->mutable_passive_health_check();
  passive->set_consecutive_failures(3);
  SetDuration(passive->mutable_base_ejection_time(), absl::Milliseconds(300));
  StartProxy(config, 1);
  TestBackend& b = *backends_[1];
  for (auto& backend : backends_) ASSERT_TRUE(Eventually([&] { return Up(Url(*backend)); }));
  b.Kill();  // connections closed, port refuses

  // Round robin: b's turns fail to connect — the backend never saw them,
  // so they go on to a transparently — until the third failure in a row
  // ejects b. The client sees none of it.
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"a", 20}}));
  EXPECT_EQ(server_->Stats().ejections, 1u);
  std::optional<server::ServerHealthView> h = server_->Health("echo", Url(b));
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->active_up) << "no active check has run";
  EXPECT_EQ(h->ejections, 1);
  EXPECT_THAT(h->reason, HasSubstr("3 failures in a row"));

  b.Resume();
  // The ejection runs out by itself; b then takes its turns again.
  ASSERT_TRUE(Eventually([&] { return Up(Url(b)); }));
  EXPECT_EQ(Calls(10), (std::map<std::string, int>{{"a", 5}, {"b", 5}}));
}

// The same for a server process killed with SIGKILL (no GOAWAY: the kernel
// resets its connections): strait's connection to it breaks, its next RPCs
// fail to connect and go on to the other server, and it is ejected — while
// its active check, an hour away, still says up.
TEST_F(HealthTest, ASigkilledServerIsEjectedPassively) {
  backends_.push_back(std::make_unique<TestBackend>("a", kWithHealth));
  ChildBackend doomed("doomed", /*health=*/true);
  config::v1::Config config = EchoConfig({backends_[0]->address(), doomed.address()});
  Lb(config)->set_strategy("wrr");
  Check(config, absl::Hours(1))->set_initially_healthy(false);
  Lb(config)->mutable_passive_health_check()->set_consecutive_failures(3);
  StartProxy(config, 1);
  std::string url = "h2c://" + doomed.address();
  ASSERT_TRUE(Eventually([&] { return Up(url) && Up(Url(*backends_[0])); }));
  EXPECT_EQ(Calls(10), (std::map<std::string, int>{{"a", 5}, {"doomed", 5}}));

  doomed.Kill();
  // At most one RPC can fail: one sent on the old connection before strait
  // read its reset (the backend may have seen it: not retried without a
  // policy). The rest never reach the dead server.
  std::map<std::string, int> served = Calls(20);
  EXPECT_EQ(served["a"] + served["error 14"], 20);
  EXPECT_LE(served["error 14"], 1);
  std::optional<server::ServerHealthView> h = server_->Health("echo", url);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->ejected);
  EXPECT_TRUE(h->active_up) << "no active check has run";
  EXPECT_EQ(server_->Stats().ejections, 1u);
}

// maxEjectionPercent: with two of three servers dead, only one may be
// ejected (50% of 3 rounds down to 1): the other stays in and keeps
// failing its share, as Envoy does, rather than piling everything on the
// last server.
TEST_F(HealthTest, TheEjectionCapHolds) {
  for (const char* name : {"a", "b", "c"}) {
    backends_.push_back(std::make_unique<TestBackend>(name, kWithHealth));
  }
  config::v1::Config config = EchoConfig(BackendAddresses());
  Lb(config)->set_strategy("wrr");
  config::v1::PassiveHealthCheck* passive = Lb(config)->mutable_passive_health_check();
  passive->set_consecutive_failures(2);
  SetDuration(passive->mutable_base_ejection_time(), absl::Hours(1));
  StartProxy(config, 1);
  backends_[1]->Kill();
  backends_[2]->Kill();
  // Every RPC ends on a (the dead servers' attempts never reached them and
  // go on transparently), whatever the cap.
  EXPECT_EQ(Calls(60), (std::map<std::string, int>{{"a", 60}}));
  int ejected = 0;
  for (int i = 1; i < 3; ++i) ejected += server_->Health("echo", Url(*backends_[i]))->ejected;
  EXPECT_EQ(ejected, 1);
  EXPECT_EQ(server_->Stats().ejections, 1u);
}

// A rolling restart of three gRPC C++ backends under load, each leaving as
// a well-behaved server does (NOT_SERVING, 200 ms, graceful stop within 1 s
// — strait's Watch stream is still open then and is cut at the end —, down
// for a second, back): with Watch, strait stops sending to a server the moment it
// says so, and no RPC fails — with no retry policy at all.
TEST_F(HealthTest, ARollingRestartWithWatchFailsNoRpc) {
  for (int i = 0; i < 3; ++i) {
    backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("b", i), kWithHealth));
  }
  config::v1::Config config = EchoConfig(BackendAddresses());
  Check(config, absl::Seconds(1), /*watch=*/true);
  StartProxy(config);
  LoadLoops load(proxy_port(), /*unary=*/4, /*streams=*/2);
  // Failing steps end the loop, never the test with threads running.
  bool restarted = true;
  for (auto& b : backends_) {
    int before = b->calls();
    restarted = restarted && b->WaitForCalls(before + 50, absl::Seconds(20));
    if (!restarted) break;
    b->DrainAndRestart(absl::Milliseconds(200), absl::Seconds(1), absl::Seconds(1));
    restarted = Eventually([&] { return Up(Url(*b)); });
    EXPECT_TRUE(restarted) << b->name() << " is back";
    // It serves again, with the load still running.
    before = b->calls();
    restarted = restarted && b->WaitForCalls(before + 1, absl::Seconds(20));
  }
  load.Stop();
  EXPECT_TRUE(restarted);
  const Outcomes& outcomes = load.outcomes();
  EXPECT_EQ(outcomes.failed(), 0) << outcomes.total() << " RPCs; first failures:\n"
                                  << outcomes.examples();
}

}  // namespace
}  // namespace strait::testing
