// What only the strait binary shows of the admin service: changes that
// survive a restart through the state file, the config file winning over an
// older state file, a bad file (SIGHUP or inotify) that keeps the running
// configuration, the token file flag.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/strait_process.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

namespace av1 = ::strait::admin::v1;
using ::testing::HasSubstr;

class AdminProcessTest : public ::testing::Test {
 protected:
  AdminProcessTest() : a_("a"), b_("b") {}
  void SetUp() override {
    char dir[] = "/tmp/strait-admin-process-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    config_path_ = dir_ + "/strait.yaml";
    state_path_ = dir_ + "/strait.state.json";  // the default, beside the config
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Yaml(const TestBackend& backend) const {
    return absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {all: {rule: "PathPrefix(`/`)", service: echo}}
services: {echo: {loadBalancer: {servers: [{url: "h2c://)yaml",
                        backend.address(), "\"}]}}}\n");
  }

  static std::string ServedBy(const StraitProcess& strait) {
    auto stub = MakeStub(strait.port("web"));
    grpc::ClientContext context;
    test::v1::EchoResponse response;
    grpc::Status s = stub->Unary(&context, test::v1::EchoRequest(), &response);
    return s.ok() ? response.backend_name() : "error: " + s.error_message();
  }

  static av1::GetConfigResponse GetConfig(const StraitProcess& strait) {
    auto admin = av1::Admin::NewStub(MakeChannel(strait.admin_port()));
    grpc::ClientContext context;
    av1::GetConfigResponse response;
    EXPECT_TRUE(admin->GetConfig(&context, {}, &response).ok());
    return response;
  }

  // Points service echo at `backend` through the admin service.
  static void UpsertEcho(const StraitProcess& strait, const TestBackend& backend) {
    auto admin = av1::Admin::NewStub(MakeChannel(strait.admin_port()));
    av1::UpsertServiceRequest request;
    request.set_name("echo");
    request.mutable_service()->mutable_load_balancer()->add_servers()->set_url(
        "h2c://" + backend.address());
    grpc::ClientContext context;
    av1::ChangeResponse changed;
    ASSERT_TRUE(admin->UpsertService(&context, request, &changed).ok());
  }

  TestBackend a_, b_;
  std::string dir_, config_path_, state_path_;
};

TEST_F(AdminProcessTest, AnAdminChangeSurvivesARestart) {
  uint64_t version = 0;
  {
    StraitProcess strait(Yaml(a_), {}, config_path_);
    ASSERT_TRUE(strait.started());
    ASSERT_GT(strait.admin_port(), 0);
    ASSERT_EQ(ServedBy(strait), "a");
    ASSERT_NO_FATAL_FAILURE(UpsertEcho(strait, b_));
    EXPECT_EQ(ServedBy(strait), "b");
    version = GetConfig(strait).version();
    EXPECT_TRUE(std::filesystem::exists(state_path_));
    strait.Signal(SIGTERM);
    ASSERT_EQ(strait.Wait(), 0);
  }
  // Same config file, unchanged: the state file is built on it and wins.
  StraitProcess strait("", {}, config_path_);
  ASSERT_TRUE(strait.started());
  EXPECT_EQ(ServedBy(strait), "b");
  av1::GetConfigResponse now = GetConfig(strait);
  EXPECT_EQ(now.version(), version);
  EXPECT_EQ(now.origin().kind(), av1::Origin::STATE_FILE);
  EXPECT_EQ(now.origin().detail(), state_path_);
}

TEST_F(AdminProcessTest, AChangedConfigFileWinsOverAnOlderStateFile) {
  uint64_t version = 0;
  {
    StraitProcess strait(Yaml(a_), {}, config_path_);
    ASSERT_TRUE(strait.started());
    ASSERT_NO_FATAL_FAILURE(UpsertEcho(strait, b_));
    version = GetConfig(strait).version();
    strait.Signal(SIGTERM);
    ASSERT_EQ(strait.Wait(), 0);
  }
  // Edited while strait was down: the file wins, the version goes on.
  std::ofstream(config_path_) << Yaml(a_) << "# edited\n";
  StraitProcess strait("", {}, config_path_);
  ASSERT_TRUE(strait.started());
  EXPECT_EQ(ServedBy(strait), "a");
  av1::GetConfigResponse now = GetConfig(strait);
  EXPECT_EQ(now.version(), version + 1);
  EXPECT_EQ(now.origin().kind(), av1::Origin::FILE);
}

TEST_F(AdminProcessTest, ABadFileBySighupOrInotifyKeepsTheRunningConfig) {
  StraitProcess strait(Yaml(a_), {}, config_path_);
  ASSERT_TRUE(strait.started());
  ASSERT_NO_FATAL_FAILURE(UpsertEcho(strait, b_));
  const uint64_t version = GetConfig(strait).version();

  // inotify sees the bad file and refuses it.
  std::ofstream(config_path_) << "entryPoints: {web: {adress: x}}\n";
  ASSERT_TRUE(strait.WaitForOutput("(change seen) refused, the running configuration stays"));
  EXPECT_EQ(ServedBy(strait), "b");
  // So does SIGHUP.
  strait.Signal(SIGHUP);
  ASSERT_TRUE(strait.WaitForOutput("(reload) refused, the running configuration stays"));
  EXPECT_EQ(ServedBy(strait), "b");
  EXPECT_EQ(GetConfig(strait).version(), version);

  // A good file is then applied (it replaces the admin change: the file is
  // the source of truth when it changes).
  std::ofstream(config_path_) << Yaml(a_) << "# good again\n";
  ASSERT_TRUE(strait.WaitForOutput("(change seen): configuration version"));
  EXPECT_EQ(ServedBy(strait), "a");
  strait.Signal(SIGTERM);
  EXPECT_EQ(strait.Wait(), 0);
}

TEST_F(AdminProcessTest, TheTokenFileGuardsTheAdminService) {
  std::string token_file = dir_ + "/token";
  std::ofstream(token_file) << "tok-123\n";
  StraitProcess strait(Yaml(a_), {"--admin-token-file", token_file}, config_path_);
  ASSERT_TRUE(strait.started());
  auto admin = av1::Admin::NewStub(MakeChannel(strait.admin_port()));
  av1::GetConfigResponse response;
  {
    grpc::ClientContext context;
    EXPECT_EQ(admin->GetConfig(&context, {}, &response).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer tok-123");
  EXPECT_TRUE(admin->GetConfig(&context, {}, &response).ok());
}

TEST_F(AdminProcessTest, AdminOffServesNoAdminAndBadFlagsExit2) {
  StraitProcess strait(Yaml(a_), {"--admin", "off"}, config_path_);
  ASSERT_TRUE(strait.started());
  EXPECT_EQ(strait.admin_port(), -1);
  EXPECT_EQ(ServedBy(strait), "a");

  std::string out;
  EXPECT_EQ(StraitProcess::Run({"--config", config_path_, "--admin-token-file",
                                dir_ + "/missing"},
                               &out),
            2);
  EXPECT_THAT(out, HasSubstr(dir_ + "/missing"));
}

}  // namespace
}  // namespace strait::testing
