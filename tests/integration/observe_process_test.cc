// What only the strait binary shows of its observability: /metrics over
// HTTP on the --metrics address, JSON log lines with --log-format json, and
// SIGUSR1 reopening the access log after logrotate moved it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/integration/strait_process.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;

class ObserveProcessTest : public ::testing::Test {
 protected:
  ObserveProcessTest() : backend_("a") {}
  void SetUp() override {
    char dir[] = "/tmp/strait-observe-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Yaml(const std::string& extra = "") const {
    return absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {all: {rule: "PathPrefix(`/`)", service: echo}}
services: {echo: {loadBalancer: {servers: [{url: "h2c://)yaml",
                        backend_.address(), "\"}]}}}\n", extra);
  }

  static bool Call(const StraitProcess& strait) {
    auto stub = MakeStub(strait.port("web"));
    grpc::ClientContext context;
    test::v1::EchoResponse response;
    return stub->Unary(&context, test::v1::EchoRequest(), &response).ok();
  }

  static int Lines(const std::string& path) {
    std::ifstream file(path);
    int n = 0;
    for (std::string line; std::getline(file, line);) ++n;
    return n;
  }

  TestBackend backend_;
  std::string dir_;
};

TEST_F(ObserveProcessTest, MetricsAreServedOverHttp) {
  StraitProcess strait(Yaml());
  ASSERT_TRUE(strait.started());
  ASSERT_GT(strait.metrics_port(), 0);
  ASSERT_TRUE(Call(strait));
  httplib::Client http("127.0.0.1", strait.metrics_port());
  httplib::Result got = http.Get("/metrics");
  ASSERT_TRUE(got) << httplib::to_string(got.error());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(got->body, HasSubstr("strait_rpcs_total{entry_point=\"web\",grpc_status=\"OK\","
                                   "method=\"other\",router=\"all\",service=\"echo\"} 1\n"));
  EXPECT_EQ(http.Get("/nothing")->status, 404);
}

// Every line strait logs (stderr) is one JSON object; stdout's port lines
// are not logs.
TEST_F(ObserveProcessTest, WithLogFormatJsonEveryLogLineIsAJsonObject) {
  StraitProcess strait(Yaml(), {"--log-format", "json"});
  ASSERT_TRUE(strait.started());
  strait.Signal(SIGTERM);
  ASSERT_EQ(strait.Wait(), 0);
  ASSERT_TRUE(strait.WaitForOutput("\"msg\":\"stopped\""));
  std::string output = strait.output();
  int parsed = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (line.empty() || line.substr(0, 7) == "strait:") continue;  // stdout's port lines
    google::protobuf::Struct object;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &object).ok())
        << line;
    EXPECT_TRUE(object.fields().contains("time")) << line;
    EXPECT_TRUE(object.fields().contains("level")) << line;
    EXPECT_TRUE(object.fields().contains("msg")) << line;
    ++parsed;
  }
  EXPECT_GE(parsed, 2) << output;  // "received Terminated: draining", "stopped"
}

TEST_F(ObserveProcessTest, SigusrReopensTheAccessLogAfterARename) {
  const std::string path = dir_ + "/access.log";
  StraitProcess strait(Yaml(absl::StrCat("accessLog: {path: \"", path, "\"}\n")),
                       {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  ASSERT_TRUE(Call(strait));
  // The writer drains every few milliseconds: wait (bounded) for the line.
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return Lines(path) == 1; }));
  // logrotate: rename, then SIGUSR1. Until the signal, lines still go to
  // the renamed file (strait holds it open).
  ASSERT_EQ(std::rename(path.c_str(), (path + ".1").c_str()), 0);
  ASSERT_TRUE(Call(strait));
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return Lines(path + ".1") == 2; }));
  strait.Signal(SIGUSR1);
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return std::filesystem::exists(path); }));
  ASSERT_TRUE(Call(strait));
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return Lines(path) == 1; }));
  EXPECT_EQ(Lines(path + ".1"), 2);
}

// A server nothing listens on: each RPC dials it anew and fails, but the
// failure is logged once per 10 s, not once per RPC.
TEST_F(ObserveProcessTest, AFailureThatRepeatsPerRpcIsLoggedOncePerPeriod) {
  backend_.Kill();
  StraitProcess strait(Yaml(), {"--workers", "1"});
  ASSERT_TRUE(strait.started());
  constexpr int kRpcs = 20;
  for (int i = 0; i < kRpcs; ++i) EXPECT_FALSE(Call(strait));
  strait.Signal(SIGTERM);
  ASSERT_EQ(strait.Wait(), 0);
  ASSERT_TRUE(strait.WaitForOutput("stopped"));
  std::string output = strait.output();
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    // The line of the failure itself (ejection lines quote it too).
    if (line.find(" W cannot connect to h2c://" + backend_.address()) != absl::string_view::npos) {
      ++lines;
    }
  }
  EXPECT_EQ(lines, 1) << output;
}

}  // namespace
}  // namespace strait::testing
