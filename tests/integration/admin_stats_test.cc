// GetStats and ListServers' counters through the real Admin stub, against
// strait in process (AdminStrait) after known traffic from a real gRPC C++
// client to real echo backends: exact counts by grpc-status per router,
// service, server and entry point, exact message bytes, a server strait
// cannot connect to, the service filter, the token.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin_strait.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

namespace av1 = ::strait::admin::v1;
using test::v1::EchoRequest;
using test::v1::EchoResponse;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;
using ByStatus = std::map<std::string, uint64_t>;

ByStatus AsMap(const google::protobuf::Map<std::string, uint64_t>& map) {
  return ByStatus(map.begin(), map.end());
}

// A gRPC message's bytes on the wire: the 5-byte prefix and the message.
uint64_t WireBytes(const google::protobuf::Message& message) { return 5 + message.ByteSizeLong(); }

class AdminStatsTest : public ::testing::Test {
 protected:
  AdminStatsTest() : a_("a"), dead_("dead") {
    // Nothing listens on a killed backend's port any more: connections to
    // it are refused.
    dead_.Kill();
  }

  void SetUp() override {
    char dir[] = "/tmp/strait-admin-stats-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    strait_.Stop();
    std::filesystem::remove_all(dir_);
  }

  // Entry point web; router echo → service echo (backend a), router dead →
  // service dead (the closed port), each by header x-route; no router takes
  // an RPC without it.
  void Start(const std::string& token = "") {
    const std::string config_path = dir_ + "/strait.yaml";
    std::ofstream(config_path) << absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers:
  echo: {rule: "Header(`x-route`, `echo`)", service: echo}
  dead: {rule: "Header(`x-route`, `dead`)", service: dead}
services:
  echo: {loadBalancer: {servers: [{url: "h2c://)yaml",
                                               a_.address(), R"yaml("}]}}
  dead: {loadBalancer: {servers: [{url: "h2c://)yaml",
                                               dead_.address(), R"yaml("}]}}
)yaml");
    ASSERT_NO_FATAL_FAILURE(strait_.Start(config_path, dir_ + "/state.json", token));
    admin_ = av1::Admin::NewStub(MakeChannel(strait_.admin->port()));
    // One channel for every RPC: one client connection.
    echo_ = MakeStub(strait_.plane->server().port("web"));
  }

  // One unary RPC through strait; `route` empty: without x-route.
  grpc::Status Call(const std::string& route, const EchoRequest& request, EchoResponse* response) {
    grpc::ClientContext context;
    if (!route.empty()) context.AddMetadata("x-route", route);
    return echo_->Unary(&context, request, response);
  }

  grpc::Status GetStats(av1::GetStatsResponse* response, const std::string& service = "",
                        const std::string& token = "") {
    grpc::ClientContext context;
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    av1::GetStatsRequest request;
    request.set_service(service);
    return admin_->GetStats(&context, request, response);
  }

  // GetStats once every RPC of entry point web has ended, `streams` of them.
  av1::GetStatsResponse SettledStats(uint64_t streams) {
    av1::GetStatsResponse stats;
    EXPECT_TRUE(RawH2Server::WaitFor([&] {
      stats.Clear();
      if (!GetStats(&stats).ok() || !stats.entry_points().contains("web")) return false;
      const av1::EntryPointStats& web = stats.entry_points().at("web");
      return web.rpcs().active() == 0 && web.streams() == streams;
    })) << stats.DebugString();
    return stats;
  }

  static const av1::ServerStatus* FindServer(
      const google::protobuf::RepeatedPtrField<av1::ServerStatus>& servers,
      const std::string& service) {
    for (const av1::ServerStatus& s : servers) {
      if (s.service() == service) return &s;
    }
    ADD_FAILURE() << "no server of " << service;
    return nullptr;
  }

  TestBackend a_, dead_;
  std::string dir_;
  AdminStrait strait_;
  std::unique_ptr<av1::Admin::Stub> admin_;
  std::unique_ptr<test::v1::Echo::Stub> echo_;
};

// 5 OK and 3 NOT_FOUND through router echo, 2 to the server strait cannot
// connect to, 1 that no router takes: each counted once, by the status its
// client got, where it belongs; message bytes exactly as the client sent
// and received them; ListServers and GetStats show the same servers.
TEST_F(AdminStatsTest, GetStatsCountsKnownTrafficPerRouterServiceServerAndEntryPoint) {
  ASSERT_NO_FATAL_FAILURE(Start());
  uint64_t request_bytes = 0, response_bytes = 0;
  for (int i = 0; i < 5; ++i) {
    EchoRequest request;
    request.set_payload(std::string(10 * (i + 1), 'x'));
    EchoResponse response;
    ASSERT_TRUE(Call("echo", request, &response).ok());
    request_bytes += WireBytes(request);
    response_bytes += WireBytes(response);
  }
  for (int i = 0; i < 3; ++i) {
    EchoRequest request;
    request.set_status_code(static_cast<int>(grpc::StatusCode::NOT_FOUND));
    EchoResponse response;
    ASSERT_EQ(Call("echo", request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
    request_bytes += WireBytes(request);  // no response message
  }
  for (int i = 0; i < 2; ++i) {
    EchoResponse response;
    ASSERT_EQ(Call("dead", EchoRequest(), &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  EchoResponse unrouted;
  ASSERT_EQ(Call("", EchoRequest(), &unrouted).error_code(), grpc::StatusCode::UNIMPLEMENTED);

  av1::GetStatsResponse stats = SettledStats(11);

  ASSERT_TRUE(stats.routers().contains("echo")) << stats.DebugString();
  const av1::RpcStats& echo = stats.routers().at("echo");
  EXPECT_EQ(AsMap(echo.rpcs_by_status()), (ByStatus{{"OK", 5}, {"NOT_FOUND", 3}}));
  EXPECT_EQ(echo.active(), 0u);
  EXPECT_EQ(echo.request_bytes(), request_bytes);
  EXPECT_EQ(echo.response_bytes(), response_bytes);
  EXPECT_TRUE(echo.retries_by_reason().empty());
  EXPECT_EQ(echo.duration().count(), 8u);
  EXPECT_GT(echo.duration().sum_seconds(), 0);
  EXPECT_GT(echo.duration().p50_seconds(), 0);
  EXPECT_LE(echo.duration().p50_seconds(), echo.duration().p99_seconds());
  EXPECT_EQ(echo.response_headers().count(), 8u) << "every one got response headers";

  ASSERT_TRUE(stats.routers().contains("dead"));
  EXPECT_EQ(AsMap(stats.routers().at("dead").rpcs_by_status()), (ByStatus{{"UNAVAILABLE", 2}}));
  EXPECT_EQ(stats.routers().size(), 2u) << "the unrouted RPC belongs to no router";

  // One router per service here: the same counts.
  ASSERT_TRUE(stats.services().contains("echo"));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(stats.services().at("echo"), echo))
      << stats.services().at("echo").DebugString();
  ASSERT_TRUE(stats.services().contains("dead"));
  EXPECT_EQ(AsMap(stats.services().at("dead").rpcs_by_status()), (ByStatus{{"UNAVAILABLE", 2}}));
  EXPECT_EQ(stats.services().size(), 2u);

  ASSERT_EQ(stats.servers_size(), 2);
  const av1::ServerStatus* a = FindServer(stats.servers(), "echo");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->url(), "h2c://" + a_.address());
  EXPECT_EQ(AsMap(a->rpcs_by_status()), (ByStatus{{"OK", 5}, {"NOT_FOUND", 3}}));
  EXPECT_EQ(a->connect_failures(), 0u);
  EXPECT_GE(a->connections(), 1u);
  EXPECT_EQ(a->in_flight(), 0u);
  const av1::ServerStatus* dead = FindServer(stats.servers(), "dead");
  ASSERT_NE(dead, nullptr);
  EXPECT_EQ(dead->url(), "h2c://" + dead_.address());
  EXPECT_EQ(AsMap(dead->rpcs_by_status()), (ByStatus{{"UNAVAILABLE", 2}}));
  EXPECT_GE(dead->connect_failures(), 1u);
  EXPECT_EQ(dead->connections(), 0u);
  EXPECT_EQ(dead->ping_timeouts(), 0u);
  EXPECT_EQ(dead->health_flips(), 0u);

  ASSERT_TRUE(stats.entry_points().contains("web"));
  const av1::EntryPointStats& web = stats.entry_points().at("web");
  EXPECT_EQ(web.connections(), 1u);
  EXPECT_EQ(web.connections_open(), 1u);
  EXPECT_EQ(web.streams(), 11u);
  EXPECT_EQ(web.tls_handshake_failures(), 0u);
  EXPECT_EQ(web.ping_timeouts(), 0u);
  EXPECT_TRUE(web.abuse_goaways_by_reason().empty());
  EXPECT_EQ(AsMap(web.rpcs().rpcs_by_status()),
            (ByStatus{{"OK", 5}, {"NOT_FOUND", 3}, {"UNAVAILABLE", 2}, {"UNIMPLEMENTED", 1}}));

  EXPECT_EQ(stats.process().version(), 1u);
  EXPECT_EQ(stats.process().config_changes_size(), 0) << "the file at start is no change";
  EXPECT_EQ(stats.process().streams_stalled(), 0u);

  // ListServers carries the same per-server counters.
  grpc::ClientContext context;
  av1::ListServersResponse listed;
  ASSERT_TRUE(admin_->ListServers(&context, {}, &listed).ok());
  ASSERT_EQ(listed.servers_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(listed.servers(i), stats.servers(i)))
        << listed.servers(i).DebugString() << " vs " << stats.servers(i).DebugString();
  }
}

// A router, service or entry point that took no RPC yet is there with zeros.
TEST_F(AdminStatsTest, EveryConfiguredNameIsThereBeforeAnyTraffic) {
  ASSERT_NO_FATAL_FAILURE(Start());
  av1::GetStatsResponse stats;
  ASSERT_TRUE(GetStats(&stats).ok());
  EXPECT_THAT(stats.routers(),
              UnorderedElementsAre(Pair("echo", ::testing::_), Pair("dead", ::testing::_)));
  EXPECT_THAT(stats.services(),
              UnorderedElementsAre(Pair("echo", ::testing::_), Pair("dead", ::testing::_)));
  EXPECT_THAT(stats.entry_points(), ElementsAre(Pair("web", ::testing::_)));
  EXPECT_TRUE(stats.routers().at("echo").rpcs_by_status().empty());
  EXPECT_EQ(stats.routers().at("echo").duration().count(), 0u);
  EXPECT_EQ(stats.routers().at("echo").duration().p99_seconds(), 0);
  EXPECT_EQ(stats.entry_points().at("web").streams(), 0u);
  EXPECT_EQ(stats.servers_size(), 2);
}

// With a service named: only its routers, itself and its servers; entry
// points stay whole. An unknown service is NOT_FOUND.
TEST_F(AdminStatsTest, TheServiceFilterKeepsOnlyThatService) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EchoResponse response;
  ASSERT_TRUE(Call("echo", EchoRequest(), &response).ok());
  ASSERT_EQ(Call("dead", EchoRequest(), &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  SettledStats(2);

  av1::GetStatsResponse stats;
  ASSERT_TRUE(GetStats(&stats, "dead").ok());
  EXPECT_THAT(stats.routers(), ElementsAre(Pair("dead", ::testing::_)));
  EXPECT_THAT(stats.services(), ElementsAre(Pair("dead", ::testing::_)));
  EXPECT_EQ(AsMap(stats.services().at("dead").rpcs_by_status()), (ByStatus{{"UNAVAILABLE", 1}}));
  ASSERT_EQ(stats.servers_size(), 1);
  EXPECT_EQ(stats.servers(0).service(), "dead");
  EXPECT_EQ(stats.entry_points().at("web").streams(), 2u);

  av1::GetStatsResponse none;
  grpc::Status unknown = GetStats(&none, "nope");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(unknown.error_message(), "services.nope: no such service");
}

// Admin changes by result, and the version they leave.
TEST_F(AdminStatsTest, ProcessCountsConfigChangesBySourceAndResult) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto upsert = [&](const std::string& url, bool validate_only) {
    av1::UpsertServiceRequest request;
    request.set_name("dead");
    request.mutable_service()->mutable_load_balancer()->add_servers()->set_url(url);
    request.mutable_options()->set_validate_only(validate_only);
    grpc::ClientContext context;
    av1::ChangeResponse response;
    return admin_->UpsertService(&context, request, &response).error_code();
  };
  const std::string url = "h2c://" + dead_.address();
  ASSERT_EQ(upsert(url, /*validate_only=*/true), grpc::StatusCode::OK);
  ASSERT_EQ(upsert(url, false), grpc::StatusCode::OK);
  ASSERT_EQ(upsert(url, false), grpc::StatusCode::OK);
  ASSERT_EQ(upsert("ftp://nope", false), grpc::StatusCode::INVALID_ARGUMENT);

  av1::GetStatsResponse stats;
  ASSERT_TRUE(GetStats(&stats).ok());
  EXPECT_EQ(stats.process().version(), 3u);
  std::map<std::pair<std::string, std::string>, uint64_t> changes;
  for (const av1::ConfigChanges& c : stats.process().config_changes()) {
    changes[{c.source(), c.result()}] = c.count();
  }
  EXPECT_EQ(
      changes,
      (std::map<std::pair<std::string, std::string>, uint64_t>{
          {{"admin", "applied"}, 2}, {{"admin", "refused"}, 1}, {{"admin", "validated"}, 1}}));
}

TEST_F(AdminStatsTest, GetStatsNeedsTheToken) {
  ASSERT_NO_FATAL_FAILURE(Start("s3cret"));
  av1::GetStatsResponse stats;
  EXPECT_EQ(GetStats(&stats).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(GetStats(&stats, "", "wrong").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stats.routers().empty()) << "nothing leaks with the refusal";
  ASSERT_TRUE(GetStats(&stats, "", "s3cret").ok());
  EXPECT_EQ(stats.process().version(), 1u);
}

}  // namespace
}  // namespace strait::testing
