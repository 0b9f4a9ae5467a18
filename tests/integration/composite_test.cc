// Traefik's composite services for gRPC through strait, with real gRPC C++
// backends: weighted (canary), failover, and retries that choose again at
// the level where the choice was made. (Mirroring: mirroring_test.cc.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/integration/strait_process.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;

// strait's view of a server has no event to wait on: poll it (bounded).
bool Eventually(const std::function<bool()>& condition) {
  return RawH2Server::WaitFor(condition);
}

class CompositeTest : public ProxyTest {
 protected:
  // Service `name`: a load balancer over `addresses`.
  static config::v1::LoadBalancer* AddLb(config::v1::Config& config, const std::string& name,
                                         const std::vector<std::string>& addresses) {
    config::v1::LoadBalancer* lb = (*config.mutable_services())[name].mutable_load_balancer();
    for (const std::string& a : addresses) lb->add_servers()->set_url("h2c://" + a);
    lb->set_servers_transport("fast");
    return lb;
  }
  // Service `name`: weighted over (service, weight) pairs.
  static config::v1::Weighted* AddWeighted(
      config::v1::Config& config, const std::string& name,
      const std::vector<std::pair<std::string, int>>& children) {
    config::v1::Weighted* w = (*config.mutable_services())[name].mutable_weighted();
    for (const auto& [child, weight] : children) {
      config::v1::WeightedService* ws = w->add_services();
      ws->set_name(child);
      ws->set_weight(weight);
    }
    return w;
  }
  // The fixture's config, with the router sent to `service` instead.
  config::v1::Config RoutedTo(const std::string& service) {
    config::v1::Config config = EchoConfig({});
    config.mutable_services()->erase("echo");
    config.mutable_routers()->at("echo").set_service(service);
    return config;
  }
  // `n` sequential RPCs on one channel (one connection: one worker).
  std::map<std::string, int> Calls(int n) { return UnaryCalls(n); }
  TestBackend& Backend(const std::string& name, BackendOptions options = {}) {
    backends_.push_back(std::make_unique<TestBackend>(name, options));
    return *backends_.back();
  }
};

// 90/10 by smooth weighted round robin: exact over any multiple of 10.
TEST_F(CompositeTest, WeightedSplitsNinetyTen) {
  TestBackend& stable = Backend("stable");
  TestBackend& canary = Backend("canary");
  config::v1::Config config = RoutedTo("api");
  AddLb(config, "stable", {stable.address()});
  AddLb(config, "canary", {canary.address()});
  AddWeighted(config, "api", {{"stable", 9}, {"canary", 1}});
  StartProxy(config, 1);
  EXPECT_EQ(Calls(2000), (std::map<std::string, int>{{"stable", 1800}, {"canary", 200}}));
}

// Weighted inside weighted: the inner one splits its half again.
TEST_F(CompositeTest, NestedWeightedServices) {
  TestBackend& a = Backend("a");
  TestBackend& b = Backend("b");
  TestBackend& c = Backend("c");
  config::v1::Config config = RoutedTo("outer");
  AddLb(config, "a", {a.address()});
  AddLb(config, "b", {b.address()});
  AddLb(config, "c", {c.address()});
  AddWeighted(config, "inner", {{"a", 1}, {"b", 1}});
  AddWeighted(config, "outer", {{"inner", 1}, {"c", 1}});
  StartProxy(config, 1);
  EXPECT_EQ(Calls(400), (std::map<std::string, int>{{"a", 100}, {"b", 100}, {"c", 200}}));
}

// api: weighted 1:1 over "stable" and "canary", the canary's only server
// down by its health check (strait has seen it); `propagate` sets the
// weighted service's healthCheck: {}.
class CanaryTest : public CompositeTest {
 protected:
  void StartWithDeadCanary(bool propagate) {
    TestBackend& stable = Backend("stable");
    canary_ = &Backend("canary", {.health = true});
    config::v1::Config config = RoutedTo("api");
    AddLb(config, "stable", {stable.address()});
    AddLb(config, "canary", {canary_->address()})
        ->mutable_health_check()
        ->mutable_interval()
        ->set_nanos(50'000'000);
    config::v1::Weighted* w = AddWeighted(config, "api", {{"stable", 1}, {"canary", 1}});
    if (propagate) w->mutable_health_check();
    StartProxy(config, 1);
    canary_->SetServing("", false);
    std::string url = "h2c://" + canary_->address();
    ASSERT_TRUE(Eventually([&] { return !server_->Health("canary", url)->active_up; }));
  }
  TestBackend* canary_ = nullptr;
};

// With healthCheck: {} the weighted service skips the dead canary, and no
// RPC fails.
TEST_F(CanaryTest, ADeadCanaryTakesNoRpcsWithHealthPropagation) {
  StartWithDeadCanary(/*propagate=*/true);
  EXPECT_EQ(Calls(100), (std::map<std::string, int>{{"stable", 100}}));
  EXPECT_EQ(canary_->calls(), 0);
}

// Without it, the weighted service does not look: the dead canary's share
// fails (UNAVAILABLE naming the canary service).
TEST_F(CanaryTest, WithoutHealthPropagationTheCanarysShareFails) {
  StartWithDeadCanary(/*propagate=*/false);
  EXPECT_EQ(Calls(100), (std::map<std::string, int>{{"stable", 50}, {"error 14", 50}}));
}

// Failover: the fallback takes over when every server of the main service
// is down, the main service takes back when one recovers; health checks see
// each change first, so no RPC fails.
TEST_F(CompositeTest, FailoverSwitchesToTheFallbackAndBack) {
  TestBackend& main1 = Backend("main-1", {.health = true});
  TestBackend& main2 = Backend("main-2", {.health = true});
  TestBackend& spare = Backend("spare");
  config::v1::Config config = RoutedTo("api");
  config::v1::LoadBalancer* lb = AddLb(config, "main", {main1.address(), main2.address()});
  lb->set_strategy("wrr");
  lb->mutable_health_check()->mutable_interval()->set_nanos(50'000'000);
  AddLb(config, "spare", {spare.address()});
  config::v1::Failover* f = (*config.mutable_services())["api"].mutable_failover();
  f->set_service("main");
  f->set_fallback("spare");
  StartProxy(config, 1);
  auto down = [&](TestBackend& b) {
    return !server_->Health("main", "h2c://" + b.address())->active_up;
  };
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"main-1", 10}, {"main-2", 10}}));

  main1.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return down(main1); }));
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"main-2", 20}})) << "one server is enough";
  main2.SetServing("", false);
  ASSERT_TRUE(Eventually([&] { return down(main2); }));
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"spare", 20}}));

  main2.SetServing("", true);
  ASSERT_TRUE(Eventually([&] { return !down(main2); }));
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"main-2", 20}}));
}

// A retry chooses again where the choice was made: an RPC whose attempt on
// the "bad" child failed moves to the other child, though "bad" has one
// server only (a retry inside it could only go back there).
TEST_F(CompositeTest, ARetryInAWeightedServiceMayMoveToAnotherChild) {
  RawH2Server bad(RawH2Server::Behavior::kGrpcStatus, /*grpc_status=*/14);
  TestBackend& good = Backend("good");
  config::v1::Config config = RoutedTo("api");
  config::v1::LoadBalancer* bad_lb = AddLb(config, "bad", {bad.address()});
  bad_lb->mutable_retry()->set_attempts(2);
  bad_lb->mutable_passive_health_check()->set_enabled(false);
  AddLb(config, "good", {good.address()});
  AddWeighted(config, "api", {{"bad", 1}, {"good", 1}});
  StartProxy(config, 1);
  // Round robin over the children: an RPC that starts on bad takes two
  // turns (bad, then good on its retry), so every RPC after the first
  // starts on bad; the first too, unless the worker's round began at good.
  EXPECT_EQ(Calls(20), (std::map<std::string, int>{{"good", 20}}));
  EXPECT_GE(bad.streams(), 19);
  EXPECT_LE(bad.streams(), 20);
}

// strait --check refuses a cycle and says where it closes.
TEST(CompositeCheckTest, ACycleIsRefusedWithItsPath) {
  std::string path = ::testing::TempDir() + "/cycle.yaml";
  std::ofstream(path) << R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {r: {rule: "PathPrefix(`/`)", service: a}}
services:
  a: {weighted: {services: [{name: b}]}}
  b: {failover: {service: lb, fallback: a}}
  lb: {loadBalancer: {servers: [{url: "h2c://127.0.0.1:1"}]}}
)yaml";
  std::string out;
  EXPECT_NE(StraitProcess::Run({"--check", path}, &out), 0);
  EXPECT_THAT(out, HasSubstr("services.b.failover.fallback: cycle a → b → a"));
}

}  // namespace
}  // namespace strait::testing
