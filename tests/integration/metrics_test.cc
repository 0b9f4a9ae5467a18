// strait's Prometheus metrics after known traffic, read the way Prometheus
// reads them (admin::RenderMetrics, what GET /metrics serves), against
// strait in process with real gRPC C++ clients and echo backends: every
// RPC counted once by the status its client got, histograms that count
// every RPC, a health flip in the server's gauge, and a method label that
// unknown methods cannot grow. And the access log: one JSON line per RPC
// with every field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "admin/metrics.h"
#include "tests/integration/admin_strait.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

// One sample of the text exposition: name{labels} value.
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the samples of `text` (label values as strait writes them: no
// escaped quotes in these tests' names).
std::vector<Sample> Parse(const std::string& text) {
  std::vector<Sample> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    s.name = std::string(line.substr(0, std::min(brace, space)));
    if (brace != absl::string_view::npos) {
      absl::string_view labels = line.substr(brace + 1, line.rfind('}') - brace - 1);
      for (absl::string_view pair : absl::StrSplit(labels, "\",")) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits("=\"", 1));
        if (!kv.second.empty() && kv.second.back() == '"') kv.second.pop_back();
        s.labels.insert(std::move(kv));
      }
    }
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &s.value)) << line;
    out.push_back(std::move(s));
  }
  return out;
}

// The value of the one sample of `name` whose labels include `labels`; -1
// if none, -2 if several.
double Value(const std::vector<Sample>& samples, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  double found = -1;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      match = match && it != s.labels.end() && it->second == v;
    }
    if (!match) continue;
    if (found != -1) return -2;
    found = s.value;
  }
  return found;
}

// A loopback port nothing listens on.
int ClosedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class MetricsTest : public ::testing::Test {
 protected:
  MetricsTest() : backend_("a", {.health = true}) {}

  void SetUp() override {
    char dir[] = "/tmp/strait-metrics-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    strait_.Stop();
    std::filesystem::remove_all(dir_);
  }

  // Routers: `echo` takes the Echo service (its methods unnamed: "other"),
  // `dead` names ClientStream and sends it to a server nothing listens on,
  // `slow` names ServerStream with a 100 ms timeout.
  void Start(const std::string& extra_yaml = "") {
    std::string yaml = absl::StrCat(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers:
  echo: {rule: "GRPCService(`strait.test.v1.Echo`)", service: echo}
  dead: {rule: "GRPCMethod(`/strait.test.v1.Echo/ClientStream`)", service: dead}
  slow: {rule: "GRPCMethod(`/strait.test.v1.Echo/ServerStream`)", service: echo, timeout: 0.1s}
services:
  echo: {loadBalancer: {servers: [{url: "h2c://)yaml",
                                    backend_.address(), R"yaml("}],
                        healthCheck: {interval: 0.2s, timeout: 1s, watch: true}}}
  dead: {loadBalancer: {servers: [{url: "h2c://127.0.0.1:)yaml",
                                    ClosedPort(), R"yaml("}]}}
)yaml",
                                    extra_yaml);
    std::ofstream(dir_ + "/strait.yaml") << yaml;
    ASSERT_NO_FATAL_FAILURE(strait_.Start(dir_ + "/strait.yaml", dir_ + "/state.json"));
    strait_port_ = strait_.plane->server().port("web");
    stub_ = MakeStub(strait_port_);
  }

  std::vector<Sample> Scrape() {
    absl::StatusOr<std::string> text = admin::RenderMetrics(*strait_.plane);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? Parse(*text) : std::vector<Sample>();
  }

  grpc::Status Unary(int status_code) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest request;
    request.set_status_code(status_code);
    EchoResponse response;
    return stub_->Unary(&context, request, &response);
  }

  TestBackend backend_;
  std::string dir_;
  AdminStrait strait_;
  int strait_port_ = 0;
  std::unique_ptr<test::v1::Echo::Stub> stub_;
};

TEST_F(MetricsTest, CountsEqualKnownTrafficPerStatus) {
  ASSERT_NO_FATAL_FAILURE(Start());
  constexpr int kOk = 7, kNotFound = 5, kUnavailable = 3, kDeadline = 2;
  for (int i = 0; i < kOk; ++i) ASSERT_TRUE(Unary(0).ok());
  // The backend answers NOT_FOUND trailers-only.
  for (int i = 0; i < kNotFound; ++i) {
    ASSERT_EQ(Unary(grpc::StatusCode::NOT_FOUND).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  // strait cannot connect: UNAVAILABLE made by strait.
  for (int i = 0; i < kUnavailable; ++i) {
    grpc::ClientContext context;
    EchoResponse response;
    auto writer = stub_->ClientStream(&context, &response);
    writer->WritesDone();
    ASSERT_EQ(writer->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // The router's 100 ms timeout ends a slow stream: DEADLINE_EXCEEDED by strait.
  for (int i = 0; i < kDeadline; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest request;
    request.set_response_count(1);
    request.set_sleep_ms(5000);
    auto reader = stub_->ServerStream(&context, request);
    EchoResponse response;
    while (reader->Read(&response)) {
    }
    ASSERT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  }

  std::vector<Sample> m = Scrape();
  const std::map<std::string, std::string> echo = {
      {"entry_point", "web"}, {"router", "echo"}, {"service", "echo"}, {"method", "other"}};
  auto with = [](std::map<std::string, std::string> labels, const std::string& status) {
    labels["grpc_status"] = status;
    return labels;
  };
  EXPECT_EQ(Value(m, "strait_rpcs_total", with(echo, "OK")), kOk);
  EXPECT_EQ(Value(m, "strait_rpcs_total", with(echo, "NOT_FOUND")), kNotFound);
  EXPECT_EQ(Value(m, "strait_rpcs_total",
                  {{"router", "dead"},
                   {"service", "dead"},
                   {"method", "/strait.test.v1.Echo/ClientStream"},
                   {"grpc_status", "UNAVAILABLE"}}),
            kUnavailable);
  EXPECT_EQ(Value(m, "strait_rpcs_total",
                  {{"router", "slow"},
                   {"method", "/strait.test.v1.Echo/ServerStream"},
                   {"grpc_status", "DEADLINE_EXCEEDED"}}),
            kDeadline);
  // Nothing else was counted, under any label.
  double all = 0;
  for (const Sample& s : m) {
    if (s.name == "strait_rpcs_total") all += s.value;
  }
  EXPECT_EQ(all, kOk + kNotFound + kUnavailable + kDeadline);
  // Every finished RPC is in its duration histogram; those that got
  // response headers (all of them here) in the headers one.
  EXPECT_EQ(Value(m, "strait_rpc_duration_seconds_count", echo), kOk + kNotFound);
  EXPECT_EQ(Value(m, "strait_rpc_response_headers_seconds_count", echo), kOk + kNotFound);
  std::map<std::string, std::string> inf = echo;
  inf["le"] = "+Inf";
  EXPECT_EQ(Value(m, "strait_rpc_duration_seconds_bucket", inf), kOk + kNotFound);
  EXPECT_EQ(Value(m, "strait_rpcs_active", echo), 0);
  EXPECT_EQ(Value(m, "strait_entry_point_streams_total", {{"entry_point", "web"}}),
            kOk + kNotFound + kUnavailable + kDeadline);
  EXPECT_EQ(Value(m, "strait_entry_point_connections_total", {{"entry_point", "web"}}), 1);
  // Per server: the attempts by status, and the dead server's connect failures.
  EXPECT_EQ(Value(m, "strait_server_attempts_total",
                  {{"service", "echo"}, {"server", "h2c://" + backend_.address()},
                   {"grpc_status", "OK"}}),
            kOk);
  EXPECT_GE(Value(m, "strait_server_connect_failures_total", {{"service", "dead"}}), 1);
  EXPECT_EQ(Value(m, "strait_config_version", {}), 1);
}

TEST_F(MetricsTest, AFlippedBackendShowsInItsHealthGauge) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::map<std::string, std::string> server = {{"service", "echo"},
                                                     {"server", "h2c://" + backend_.address()}};
  ASSERT_TRUE(RawH2Server::WaitFor(
      [&] { return Value(Scrape(), "strait_server_healthy", server) == 1; }));
  backend_.SetServing("", false);
  // Health has no event to wait on here: poll what a scrape shows (bounded).
  ASSERT_TRUE(RawH2Server::WaitFor(
      [&] { return Value(Scrape(), "strait_server_healthy", server) == 0; }));
  std::vector<Sample> m = Scrape();
  EXPECT_EQ(Value(m, "strait_server_usable", server), 0);
  EXPECT_EQ(Value(m, "strait_server_health_flips_total", server), 1);
  backend_.SetServing("", true);
  ASSERT_TRUE(RawH2Server::WaitFor(
      [&] { return Value(Scrape(), "strait_server_healthy", server) == 1; }));
  EXPECT_EQ(Value(Scrape(), "strait_server_health_flips_total", server), 2);
}

// 10,000 methods no router names, each called once: one "other" series, and
// a method a router names keeps its own.
TEST_F(MetricsTest, UnknownMethodsShareOneOtherSeries) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto client = RawH2Client::Connect(strait_.plane->server().port("web"));
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kMethods = 10000, kBatch = 100;  // under the default 100-stream limit
  for (int first = 0; first < kMethods; first += kBatch) {
    std::vector<int32_t> ids;
    for (int i = first; i < first + kBatch; ++i) {
      ids.push_back((*client)->SubmitGrpc(absl::StrCat("/strait.test.v1.Echo/NoSuch", i)));
    }
    ASSERT_TRUE((*client)->RunUntil([&] {
      for (int32_t id : ids) {
        if (!(*client)->stream(id).closed) return false;
      }
      return true;
    })) << "batch from " << first;
  }
  std::vector<Sample> m = Scrape();
  std::set<std::string> methods;
  double other = 0;
  for (const Sample& s : m) {
    if (s.name != "strait_rpcs_total") continue;
    methods.insert(s.labels.at("method"));
    if (s.labels.at("method") == "other") other += s.value;
  }
  EXPECT_THAT(methods, ::testing::ElementsAre("other"));
  EXPECT_EQ(other, kMethods);
  EXPECT_EQ(Value(m, "strait_rpcs_total", {{"method", "other"}, {"grpc_status", "UNIMPLEMENTED"}}),
            kMethods);
}

TEST_F(MetricsTest, MethodLabelsAllNamesEveryMethod) {
  ASSERT_NO_FATAL_FAILURE(Start("metrics: {methodLabels: all}\n"));
  ASSERT_TRUE(Unary(0).ok());
  EXPECT_EQ(Value(Scrape(), "strait_rpcs_total",
                  {{"router", "echo"}, {"method", "/strait.test.v1.Echo/Unary"}}),
            1);
}

TEST_F(MetricsTest, AccessLogLinesParseAsJsonWithEveryField) {
  const std::string path = dir_ + "/access.log";
  ASSERT_NO_FATAL_FAILURE(Start(absl::StrCat("accessLog: {path: \"", path, "\"}\n")));
  {
    grpc::ClientContext context;
    context.AddMetadata("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    context.AddMetadata("x-request-id", "req-42");
    EchoRequest request;
    request.set_payload("hello");
    EchoResponse response;
    ASSERT_TRUE(stub_->Unary(&context, request, &response).ok());
  }
  {
    grpc::ClientContext context;
    EchoRequest request;
    request.set_status_code(grpc::StatusCode::NOT_FOUND);
    request.set_status_message("no such thing: \"x\" \xc3\xa9");
    EchoResponse response;
    ASSERT_EQ(stub_->Unary(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // Stopping strait writes what its workers queued, then closes the file.
  strait_.Stop();
  std::ifstream file(path);
  std::vector<google::protobuf::Struct> lines;
  for (std::string line; std::getline(file, line);) {
    google::protobuf::Struct parsed;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &parsed).ok()) << line;
    lines.push_back(std::move(parsed));
  }
  ASSERT_EQ(lines.size(), 2u);
  const char* kFields[] = {"time", "entry_point", "router", "service", "server", "authority",
                           "method", "grpc_status", "grpc_code", "grpc_message",
                           "duration_seconds", "time_to_first_byte_seconds", "request_bytes",
                           "response_bytes", "retries", "peer", "traceparent", "x_request_id"};
  for (const auto& line : lines) {
    for (const char* field : kFields) EXPECT_TRUE(line.fields().contains(field)) << field;
  }
  auto str = [](const google::protobuf::Struct& s, const char* f) {
    return s.fields().at(f).string_value();
  };
  auto num = [](const google::protobuf::Struct& s, const char* f) {
    return s.fields().at(f).number_value();
  };
  const auto& ok = lines[0];
  EXPECT_EQ(str(ok, "entry_point"), "web");
  EXPECT_EQ(str(ok, "router"), "echo");
  EXPECT_EQ(str(ok, "service"), "echo");
  EXPECT_EQ(str(ok, "server"), "h2c://" + backend_.address());
  EXPECT_EQ(str(ok, "authority"), absl::StrCat("127.0.0.1:", strait_port_));
  EXPECT_EQ(str(ok, "method"), "/strait.test.v1.Echo/Unary");
  EXPECT_EQ(str(ok, "grpc_status"), "OK");
  EXPECT_EQ(num(ok, "grpc_code"), 0);
  EXPECT_EQ(str(ok, "traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(str(ok, "x_request_id"), "req-42");
  EXPECT_EQ(num(ok, "request_bytes"), 5 + 7);  // gRPC frame header + payload field
  EXPECT_GT(num(ok, "response_bytes"), 5);
  EXPECT_EQ(num(ok, "retries"), 0);
  EXPECT_GT(num(ok, "duration_seconds"), 0);
  EXPECT_LE(num(ok, "time_to_first_byte_seconds"), num(ok, "duration_seconds"));
  EXPECT_THAT(str(ok, "peer"), ::testing::StartsWith("127.0.0.1:"));
  const auto& not_found = lines[1];
  EXPECT_EQ(str(not_found, "grpc_status"), "NOT_FOUND");
  EXPECT_EQ(num(not_found, "grpc_code"), 5);
  EXPECT_EQ(str(not_found, "grpc_message"), "no such thing: \"x\" \xc3\xa9");
}

}  // namespace
}  // namespace strait::testing
