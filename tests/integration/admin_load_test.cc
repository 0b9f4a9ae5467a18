// 50 admin changes under continuous load: services' servers replaced, a
// servers transport changed, routers added and removed — while three client
// loops run and one bidi stream stays open across all of them. No RPC may
// fail, every change must reach new RPCs at once, and the bidi stream must
// keep working on what it started with.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin_strait.h"
#include "tests/integration/load_loops.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

namespace av1 = ::strait::admin::v1;

class AdminLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"a0", "a1", "b0", "b1", "extra"}) {
      backends_.push_back(std::make_unique<TestBackend>(name));
    }
    char dir[] = "/tmp/strait-admin-load-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    const std::string config_path = dir_ + "/strait.yaml";
    std::ofstream(config_path) << absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {all: {rule: "PathPrefix(`/`)", service: echo}}
services:
  echo: {loadBalancer: {serversTransport: t, servers: [{url: "h2c://)yaml",
                                               backends_[0]->address(), R"yaml("}, {url: "h2c://)yaml",
                                               backends_[1]->address(), R"yaml("}]}}
  extra: {loadBalancer: {servers: [{url: "h2c://)yaml",
                                               backends_[4]->address(), R"yaml("}]}}
serversTransports: {t: {maxConnsPerServer: 16}}
)yaml");
    ASSERT_NO_FATAL_FAILURE(strait_.Start(config_path, dir_ + "/state.json"));
    stub_ = av1::Admin::NewStub(MakeChannel(strait_.admin->port()));
  }
  void TearDown() override {
    strait_.Stop();
    std::filesystem::remove_all(dir_);
  }

  int port() { return strait_.plane->server().port("web"); }

  // The backend a new RPC reaches; with `header`, it carries
  // x-route: extra.
  std::string ServedBy(bool header = false) {
    auto stub = MakeStub(port());
    grpc::ClientContext context;
    if (header) context.AddMetadata("x-route", "extra");
    test::v1::EchoResponse response;
    grpc::Status s = stub->Unary(&context, test::v1::EchoRequest(), &response);
    return s.ok() ? response.backend_name() : "error: " + s.error_message();
  }

  void Change(const std::function<grpc::Status(grpc::ClientContext*, av1::ChangeResponse*)>& rpc) {
    grpc::ClientContext context;
    av1::ChangeResponse changed;
    grpc::Status status = rpc(&context, &changed);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_TRUE(changed.applied());
  }

  void SetEchoServers(int first, int second) {
    av1::UpsertServiceRequest request;
    request.set_name("echo");
    auto* lb = request.mutable_service()->mutable_load_balancer();
    lb->set_servers_transport("t");
    lb->add_servers()->set_url("h2c://" + backends_[first]->address());
    lb->add_servers()->set_url("h2c://" + backends_[second]->address());
    Change([&](grpc::ClientContext* c, av1::ChangeResponse* r) {
      return stub_->UpsertService(c, request, r);
    });
  }

  std::vector<std::unique_ptr<TestBackend>> backends_;
  std::string dir_;
  AdminStrait strait_;
  std::unique_ptr<av1::Admin::Stub> stub_;
};

TEST_F(AdminLoadTest, FiftyChangesUnderLoadLoseNoRpcAndKeepABidiStream) {
  // The bidi stream, opened before any change, on echo's first servers.
  auto bidi_stub = MakeStub(port());
  grpc::ClientContext bidi_context;
  auto bidi = bidi_stub->Bidi(&bidi_context);
  std::string bidi_backend;
  int bidi_messages = 0;
  auto bidi_round_trip = [&] {
    test::v1::EchoRequest request;
    request.set_payload("message " + std::to_string(bidi_messages));
    ASSERT_TRUE(bidi->Write(request));
    test::v1::EchoResponse response;
    ASSERT_TRUE(bidi->Read(&response));
    EXPECT_EQ(response.payload(), request.payload());
    EXPECT_EQ(response.index(), bidi_messages);
    if (bidi_backend.empty()) bidi_backend = response.backend_name();
    // In flight RPCs finish on what they started with.
    EXPECT_EQ(response.backend_name(), bidi_backend);
    ++bidi_messages;
  };
  ASSERT_NO_FATAL_FAILURE(bidi_round_trip());

  // Three client loops: two unary, one server-streaming.
  LoadLoops load(port(), /*unary=*/2, /*streams=*/1);
  ASSERT_TRUE(load.WaitForMore(50));

  const std::set<std::string> a = {"a0", "a1"}, b = {"b0", "b1"};
  uint32_t max_conns = 16;
  for (int i = 0; i < 50; ++i) {
    SCOPED_TRACE(absl::StrCat("change ", i));
    switch (i % 5) {
      case 0:  // echo's servers replaced: a → b
        ASSERT_NO_FATAL_FAILURE(SetEchoServers(2, 3));
        for (int k = 0; k < 3; ++k) EXPECT_TRUE(b.contains(ServedBy())) << ServedBy();
        break;
      case 1: {  // the transport of echo changed: a new pool for new RPCs
        av1::UpsertServersTransportRequest request;
        request.set_name("t");
        max_conns = max_conns == 16 ? 8 : 16;
        request.mutable_servers_transport()->set_max_conns_per_server(max_conns);
        ASSERT_NO_FATAL_FAILURE(Change([&](grpc::ClientContext* c, av1::ChangeResponse* r) {
          return stub_->UpsertServersTransport(c, request, r);
        }));
        EXPECT_TRUE(b.contains(ServedBy()));
        break;
      }
      case 2: {  // a router added in front of service extra
        av1::UpsertRouterRequest request;
        request.set_name("by-header");
        request.mutable_router()->set_rule("Header(`x-route`, `extra`)");
        request.mutable_router()->set_service("extra");
        request.mutable_router()->set_priority(1000);
        ASSERT_NO_FATAL_FAILURE(Change([&](grpc::ClientContext* c, av1::ChangeResponse* r) {
          return stub_->UpsertRouter(c, request, r);
        }));
        EXPECT_EQ(ServedBy(/*header=*/true), "extra");
        break;
      }
      case 3: {  // and removed
        av1::DeleteRequest request;
        request.set_name("by-header");
        ASSERT_NO_FATAL_FAILURE(Change([&](grpc::ClientContext* c, av1::ChangeResponse* r) {
          return stub_->DeleteRouter(c, request, r);
        }));
        EXPECT_TRUE(b.contains(ServedBy(/*header=*/true)));
        break;
      }
      case 4:  // echo's servers back: b → a
        ASSERT_NO_FATAL_FAILURE(SetEchoServers(0, 1));
        for (int k = 0; k < 3; ++k) EXPECT_TRUE(a.contains(ServedBy()));
        break;
    }
    // Load runs between changes, however fast the machine is.
    ASSERT_TRUE(load.WaitForMore(20));
    ASSERT_NO_FATAL_FAILURE(bidi_round_trip());
  }
  load.Stop();

  EXPECT_EQ(load.outcomes().failed(), 0) << load.outcomes().examples();
  EXPECT_GE(load.outcomes().total(), 50 * 20);
  ASSERT_TRUE(bidi->WritesDone());
  grpc::Status finished = bidi->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
  EXPECT_EQ(bidi_messages, 51);

  grpc::ClientContext context;
  av1::GetConfigResponse now;
  ASSERT_TRUE(stub_->GetConfig(&context, {}, &now).ok());
  EXPECT_EQ(now.version(), 51u);
}

}  // namespace
}  // namespace strait::testing
