// strait's metrics as Prometheus's own programs read them (Debian's
// `prometheus` package): promtool's linter on a scrape after real traffic,
// the real Prometheus server scraping the strait binary every second and
// answering PromQL through its HTTP API, and examples/observability kept
// honest: its scrape config passes promtool, and its Grafana dashboard names
// only metrics strait exposes, in queries Prometheus parses.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/integration/strait_process.h"
#include "tests/support/peer_process.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using ::google::protobuf::Struct;
using ::google::protobuf::Value;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kUnary[] = "/strait.test.v1.Echo/Unary";
constexpr char kMissingTools[] =
    "is not installed: it comes with Debian's prometheus package, which "
    "scripts/bootstrap.sh installs";

std::string SourcePath(const std::string& relative) {
  return std::string(STRAIT_SOURCE_DIR) + "/" + relative;
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// `name` found in PATH, or "".
std::string FindInPath(const std::string& name) {
  const char* path = getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "", ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The string field `key` of `s`, or "" (absent, or not a string).
std::string StringField(const Struct& s, const std::string& key) {
  auto it = s.fields().find(key);
  return it != s.fields().end() ? it->second.string_value() : "";
}

// A loopback port nobody listens on right now (the system's choice).
int FreePort() {
  int port = 0;
  close(ListenOnLoopback(1, &port));
  return port;
}

// Runs a tool to completion (bounded) with `input` on its stdin.
PeerProcess::Exit RunTool(std::vector<std::string> argv, const std::string& input = "") {
  PeerProcess tool(std::move(argv));
  if (!tool.started()) return {.output = tool.output()};
  tool.WriteStdin(input);
  tool.CloseStdin();
  return tool.WaitForExit(absl::Seconds(60));
}

// The families of an exposition and their types, from its # TYPE lines.
std::map<std::string, std::string> FamilyTypes(const std::string& exposition) {
  std::map<std::string, std::string> types;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::ConsumePrefix(&line, "# TYPE ")) continue;
    std::vector<std::string> parts = absl::StrSplit(line, ' ');
    if (parts.size() == 2) types[parts[0]] = parts[1];
  }
  return types;
}

// The strait_ metric names `text` mentions.
std::set<std::string> MetricNames(const std::string& text) {
  static const std::regex kName("strait_[a-z_]+");
  std::set<std::string> names;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.insert(it->str());
  }
  return names;
}

// Every string under key "expr" anywhere in `value`: the PromQL of a
// Grafana dashboard's targets.
void CollectExprs(const Value& value, std::vector<std::string>* exprs) {
  if (value.has_struct_value()) {
    for (const auto& [key, field] : value.struct_value().fields()) {
      if (key == "expr" && field.has_string_value()) {
        exprs->push_back(field.string_value());
      } else {
        CollectExprs(field, exprs);
      }
    }
  } else if (value.has_list_value()) {
    for (const Value& item : value.list_value().values()) CollectExprs(item, exprs);
  }
}

// The running Debian Prometheus server, scraping one target every second,
// with its config and TSDB in a temporary directory removed at the end.
// Used from the test thread.
class PrometheusServer {
 public:
  PrometheusServer() = default;
  ~PrometheusServer() { Stop(); }

  // Fails the test (fatally: call under ASSERT_NO_FATAL_FAILURE) if it does
  // not answer /-/ready in time.
  void Start(int target_port) {
    std::string binary = FindInPath("prometheus");
    ASSERT_FALSE(binary.empty()) << "prometheus " << kMissingTools;
    char dir[] = "/tmp/strait-prometheus-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    std::ofstream(dir_ + "/prometheus.yml") << absl::StrCat(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n",
        "scrape_configs:\n", "  - job_name: strait\n",
        "    static_configs: [{targets: [\"127.0.0.1:", target_port, "\"]}]\n");
    port_ = FreePort();
    process_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{binary, "--config.file=" + dir_ + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir_ + "/data",
                                 absl::StrCat("--web.listen-address=127.0.0.1:", port_)});
    ASSERT_TRUE(process_->started()) << process_->output();
    // Prometheus opens its TSDB and says so on /-/ready (503 until then).
    httplib::Client client("127.0.0.1", port_);
    for (absl::Time give_up = absl::Now() + absl::Seconds(30);;) {
      auto ready = client.Get("/-/ready");
      if (ready && ready->status == 200) break;
      PeerProcess::Exit exit = process_->WaitForExit(absl::Milliseconds(100));
      ASSERT_FALSE(exit.exited) << "prometheus exited with " << exit.code << ":\n" << exit.output;
      ASSERT_LT(absl::Now(), give_up) << "prometheus not ready after 30 s:\n" << process_->output();
    }
  }

  // SIGTERM, waits for a clean exit, removes the directory.
  void Stop() {
    if (process_ != nullptr) {
      process_->Signal(SIGTERM);
      PeerProcess::Exit exit = process_->WaitForExit(absl::Seconds(30));
      EXPECT_TRUE(exit.exited && exit.code == 0)
          << "prometheus did not stop cleanly (" << exit.code << "):\n"
          << exit.output;
      process_.reset();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    dir_.clear();
  }

  // An instant query through the HTTP API (POST /api/v1/query), parsed:
  // {"status": "success", "data": {"resultType": ..., "result": [...]}} or
  // {"status": "error", "error": ...}. An HTTP failure gives an empty Struct.
  Struct Query(const std::string& promql) const {
    httplib::Client client("127.0.0.1", port_);
    auto response = client.Post("/api/v1/query", httplib::Params{{"query", promql}});
    Struct parsed;
    if (!response) return parsed;
    auto status = google::protobuf::util::JsonStringToMessage(response->body, &parsed);
    EXPECT_TRUE(status.ok()) << status << ": " << response->body;
    return parsed;
  }

  std::string output() const { return process_ != nullptr ? process_->output() : ""; }

 private:
  std::string dir_;
  int port_ = 0;
  std::unique_ptr<PeerProcess> process_;
};

class PrometheusTest : public ::testing::Test {
 protected:
  PrometheusTest() : backend_("a") {}

  // Router `unary` takes Echo/Unary only, so every other method has no
  // route: strait answers it UNIMPLEMENTED itself.
  void StartStrait() {
    strait_ = std::make_unique<StraitProcess>(
        absl::StrCat("entryPoints: {web: {address: \"127.0.0.1:0\"}}\n",
                     "routers: {unary: {rule: \"GRPCMethod(`", kUnary, "`)\", service: echo}}\n",
                     "services: {echo: {loadBalancer: {servers: [{url: \"h2c://",
                     backend_.address(), "\"}]}}}\n"));
    ASSERT_TRUE(strait_->started());
    ASSERT_GT(strait_->metrics_port(), 0);
  }

  // `ok` OK Unary calls, `not_found` Unary calls the backend fails with
  // NOT_FOUND, `unrouted` ServerStream calls no router takes.
  void MakeRpcs(int ok, int not_found, int unrouted) {
    auto stub = MakeStub(strait_->port("web"));
    for (int i = 0; i < ok + not_found; ++i) {
      test::v1::EchoRequest request;
      if (i >= ok) request.set_status_code(grpc::StatusCode::NOT_FOUND);
      test::v1::EchoResponse response;
      grpc::ClientContext context;
      grpc::Status status = stub->Unary(&context, request, &response);
      ASSERT_EQ(status.error_code(), i < ok ? grpc::StatusCode::OK : grpc::StatusCode::NOT_FOUND)
          << status.error_message();
    }
    for (int i = 0; i < unrouted; ++i) {
      grpc::ClientContext context;
      auto reader = stub->ServerStream(&context, test::v1::EchoRequest());
      test::v1::EchoResponse response;
      EXPECT_FALSE(reader->Read(&response));
      ASSERT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
    }
  }

  // GET /metrics of the strait process.
  std::string Scrape() {
    httplib::Client client("127.0.0.1", strait_->metrics_port());
    auto response = client.Get("/metrics");
    EXPECT_TRUE(response) << httplib::to_string(response.error());
    if (!response) return "";
    EXPECT_EQ(response->status, 200) << response->body;
    return response->body;
  }

  TestBackend backend_;
  std::unique_ptr<StraitProcess> strait_;
};

TEST_F(PrometheusTest, PromtoolAcceptsStraitsExposition) {
  ASSERT_FALSE(FindInPath("promtool").empty()) << "promtool " << kMissingTools;
  ASSERT_NO_FATAL_FAILURE(StartStrait());
  ASSERT_NO_FATAL_FAILURE(MakeRpcs(/*ok=*/3, /*not_found=*/2, /*unrouted=*/1));
  std::string exposition = Scrape();
  // The traffic is in it: every kind of series promtool should see.
  EXPECT_THAT(exposition, HasSubstr(absl::StrCat(
                              R"(strait_rpcs_total{entry_point="web",grpc_status="NOT_FOUND",)",
                              R"(method=")", kUnary, R"(",router="unary",service="echo"} 2)")));
  EXPECT_THAT(exposition, HasSubstr(R"(grpc_status="UNIMPLEMENTED")"));
  EXPECT_THAT(exposition, HasSubstr("strait_rpc_duration_seconds_bucket{"));

  // promtool prints every problem it finds (lint or parse) and nothing else.
  PeerProcess::Exit exit = RunTool({"promtool", "check", "metrics"}, exposition);
  ASSERT_TRUE(exit.exited) << "promtool did not finish: " << exit.output;
  EXPECT_EQ(exit.code, 0) << exit.output;
  EXPECT_THAT(exit.output, IsEmpty()) << "on this exposition:\n" << exposition;
}

TEST_F(PrometheusTest, RealPrometheusScrapesRpcsTotal) {
  constexpr int kOk = 7, kNotFound = 2;
  ASSERT_NO_FATAL_FAILURE(StartStrait());
  PrometheusServer prometheus;
  ASSERT_NO_FATAL_FAILURE(prometheus.Start(strait_->metrics_port()));
  ASSERT_NO_FATAL_FAILURE(MakeRpcs(kOk, kNotFound, /*unrouted=*/0));

  // Prometheus scrapes on its own schedule (every second): ask until the
  // counts it stored are the ones strait made, at most 60 s.
  const std::string query = R"(strait_rpcs_total{job="strait",router="unary"})";
  std::map<std::string, std::string> last;  // grpc_status → value
  std::optional<Struct> ok_series;
  for (absl::Time give_up = absl::Now() + absl::Seconds(60); absl::Now() < give_up;
       absl::SleepFor(absl::Milliseconds(200))) {
    Struct answer = prometheus.Query(query);
    ASSERT_NE(answer.fields().count("status"), 0u) << "no answer; prometheus says:\n"
                                                   << prometheus.output();
    ASSERT_EQ(StringField(answer, "status"), "success") << StringField(answer, "error");
    const Struct& data = answer.fields().at("data").struct_value();
    ASSERT_EQ(StringField(data, "resultType"), "vector");
    last.clear();
    ok_series.reset();
    for (const Value& series : data.fields().at("result").list_value().values()) {
      const Struct& metric = series.struct_value().fields().at("metric").struct_value();
      // "value": [unix time, "sample as text"]
      const auto& value = series.struct_value().fields().at("value").list_value();
      ASSERT_EQ(value.values_size(), 2);
      const std::string status = StringField(metric, "grpc_status");
      last[status] = value.values(1).string_value();
      if (status == "OK") ok_series = metric;
    }
    if (last == std::map<std::string, std::string>{{"OK", absl::StrCat(kOk)},
                                                   {"NOT_FOUND", absl::StrCat(kNotFound)}}) {
      break;
    }
  }
  std::string seen;  // for the messages
  for (const auto& [status, value] : last) absl::StrAppend(&seen, " ", status, "=", value);
  ASSERT_EQ(last["OK"], absl::StrCat(kOk)) << "Prometheus had, by grpc_status:" << seen;
  EXPECT_EQ(last["NOT_FOUND"], absl::StrCat(kNotFound)) << seen;
  ASSERT_TRUE(ok_series.has_value());
  std::map<std::string, std::string> labels;
  for (const auto& [name, value] : ok_series->fields()) labels[name] = value.string_value();
  EXPECT_EQ(labels, (std::map<std::string, std::string>{
                        {"__name__", "strait_rpcs_total"},
                        {"entry_point", "web"},
                        {"router", "unary"},
                        {"service", "echo"},
                        {"method", kUnary},
                        {"grpc_status", "OK"},
                        // Prometheus's own target labels.
                        {"job", "strait"},
                        {"instance", absl::StrCat("127.0.0.1:", strait_->metrics_port())},
                    }));
  prometheus.Stop();
}

TEST(ObservabilityExampleTest, PrometheusConfigPassesPromtool) {
  ASSERT_FALSE(FindInPath("promtool").empty()) << "promtool " << kMissingTools;
  const std::string path = SourcePath("examples/observability/prometheus.yml");
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  PeerProcess::Exit exit = RunTool({"promtool", "check", "config", path});
  ASSERT_TRUE(exit.exited) << exit.output;
  EXPECT_EQ(exit.code, 0) << exit.output;
  // It scrapes strait's default metrics address.
  EXPECT_THAT(ReadFile(path), HasSubstr("127.0.0.1:9902"));
}

// The dashboard's PromQL: valid JSON, metric names strait exposes (from a
// real scrape: `_bucket` / `_sum` / `_count` of its histograms count as the
// histogram), and queries the real Prometheus parses and runs.
TEST_F(PrometheusTest, GrafanaDashboardQueriesOnlyWhatStraitExposes) {
  const std::string path = SourcePath("examples/observability/grafana-dashboard.json");
  const std::string json = ReadFile(path);
  ASSERT_FALSE(json.empty()) << path;
  Value dashboard;
  auto parsed = google::protobuf::util::JsonStringToMessage(json, &dashboard);
  ASSERT_TRUE(parsed.ok()) << path << ": " << parsed;
  std::vector<std::string> exprs;
  CollectExprs(dashboard, &exprs);
  ASSERT_GE(exprs.size(), 8u) << "one query per panel at least";

  ASSERT_NO_FATAL_FAILURE(StartStrait());
  ASSERT_NO_FATAL_FAILURE(MakeRpcs(/*ok=*/1, /*not_found=*/1, /*unrouted=*/1));
  const std::map<std::string, std::string> families = FamilyTypes(Scrape());
  ASSERT_NE(families.count("strait_rpcs_total"), 0u);

  // Every strait_ name anywhere in the file (queries, variables, text) is
  // a family of the scrape, or a series of one of its histograms.
  auto family_of = [&](const std::string& name) {
    for (absl::string_view suffix : {"_bucket", "_sum", "_count"}) {
      absl::string_view base = name;
      if (absl::ConsumeSuffix(&base, suffix)) {
        auto it = families.find(std::string(base));
        if (it != families.end() && it->second == "histogram") return it->first;
      }
    }
    return name;
  };
  const std::set<std::string> names = MetricNames(json);
  ASSERT_FALSE(names.empty());
  for (const std::string& name : names) {
    EXPECT_NE(families.count(family_of(name)), 0u)
        << path << " names " << name << ", which strait does not expose";
  }
  // A query selects a histogram's series, never its bare name (no such series).
  for (const std::string& expr : exprs) {
    for (const std::string& name : MetricNames(expr)) {
      auto it = families.find(name);
      EXPECT_FALSE(it != families.end() && it->second == "histogram")
          << expr << ": " << name << " without _bucket, _sum or _count";
    }
  }

  // Grafana's variables, as a Prometheus data source would expand them.
  PrometheusServer prometheus;
  ASSERT_NO_FATAL_FAILURE(prometheus.Start(strait_->metrics_port()));
  for (const std::string& expr : exprs) {
    const std::string promql = absl::StrReplaceAll(
        expr, {{"$__rate_interval", "1m"}, {"$__range", "1h"}, {"$service", ".*"}});
    Struct answer = prometheus.Query(promql);
    ASSERT_NE(answer.fields().count("status"), 0u) << prometheus.output();
    EXPECT_EQ(StringField(answer, "status"), "success")
        << promql << ": " << StringField(answer, "error");
  }
}

}  // namespace
}  // namespace strait::testing
