#include "observe/exposition.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strait::observe {
namespace {

using ::testing::HasSubstr;

TEST(ExpositionTest, WritesEachFamilyOnceSortedWhateverTheOrderOfCalls) {
  Exposition exposition;
  exposition.Counter("strait_rpcs_total", "RPCs.", {{"service", "b"}, {"grpc_status", "OK"}}, 2);
  exposition.Gauge("strait_active_streams", "Open streams.", {}, 5);
  exposition.Counter("strait_rpcs_total", "RPCs.", {{"grpc_status", "OK"}, {"service", "a"}}, 1);
  exposition.Counter("strait_rpcs_total", "RPCs.", {{"service", "b"}, {"grpc_status", "OK"}}, 3);
  auto text = exposition.Take();
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "# HELP strait_active_streams Open streams.\n"
            "# TYPE strait_active_streams gauge\n"
            "strait_active_streams 5\n"
            "# HELP strait_rpcs_total RPCs.\n"
            "# TYPE strait_rpcs_total counter\n"
            "strait_rpcs_total{grpc_status=\"OK\",service=\"a\"} 1\n"
            "strait_rpcs_total{grpc_status=\"OK\",service=\"b\"} 5\n");
  auto again = exposition.Take();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "") << "Take empties the Exposition";
}

TEST(ExpositionTest, EscapesLabelValuesAndHelp) {
  Exposition exposition;
  exposition.Counter("x_total", "a \\ help\nline", {{"v", "say \"hi\" \\ \nbye \xFF"}}, 1);
  auto text = exposition.Take();
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "# HELP x_total a \\\\ help\\nline\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"say \\\"hi\\\" \\\\ \\nbye \xEF\xBF\xBD\"} 1\n");
}

TEST(ExpositionTest, FormatsValuesAsPrometheusReadsThem) {
  EXPECT_EQ(FormatSampleValue(0), "0");
  EXPECT_EQ(FormatSampleValue(-0.0), "0");
  EXPECT_EQ(FormatSampleValue(12345678901234), "12345678901234");
  EXPECT_EQ(FormatSampleValue(-3), "-3");
  EXPECT_EQ(FormatSampleValue(0.0005), "0.0005");
  EXPECT_EQ(FormatSampleValue(2.5), "2.5");
  EXPECT_EQ(FormatSampleValue(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(FormatSampleValue(1e300), "1e+300");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatSampleValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatSampleValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(ExpositionTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Histogram worker1;
  worker1.Observe(0.003);
  worker1.Observe(0.2);
  Histogram worker2;
  worker2.Observe(60);
  Exposition exposition;
  exposition.Histogram("strait_rpc_duration_seconds", "Latency.", {{"service", "api"}}, worker1);
  exposition.Histogram("strait_rpc_duration_seconds", "Latency.", {{"service", "api"}}, worker2);
  auto text = exposition.Take();
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "# HELP strait_rpc_duration_seconds Latency.\n"
            "# TYPE strait_rpc_duration_seconds histogram\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.0005\"} 0\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.001\"} 0\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.0025\"} 0\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.005\"} 1\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.01\"} 1\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.025\"} 1\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.05\"} 1\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.1\"} 1\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.25\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"0.5\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"1\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"2.5\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"5\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"10\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"30\"} 2\n"
            "strait_rpc_duration_seconds_bucket{service=\"api\",le=\"+Inf\"} 3\n"
            "strait_rpc_duration_seconds_sum{service=\"api\"} 60.203\n"
            "strait_rpc_duration_seconds_count{service=\"api\"} 3\n");
}

TEST(ExpositionTest, MisuseIsReportedByTake) {
  struct Case {
    const char* what;
    void (*add)(Exposition&);
    const char* error;
  };
  const Case cases[] = {
      {"counter without _total", [](Exposition& e) { e.Counter("rpcs", "h", {}, 1); }, "_total"},
      {"gauge with _total", [](Exposition& e) { e.Gauge("x_total", "h", {}, 1); }, "_total"},
      {"bad metric name", [](Exposition& e) { e.Gauge("1x", "h", {}, 1); }, "\"1x\""},
      {"bad label name",
       [](Exposition& e) {
         e.Gauge("x", "h", {{"a-b", "v"}}, 1);
       },
       "\"a-b\""},
      {"reserved label",
       [](Exposition& e) {
         e.Gauge("x", "h", {{"__a", "v"}}, 1);
       },
       "\"__a\""},
      {"le in histogram",
       [](Exposition& e) {
         e.Histogram("x", "h", {{"le", "1"}}, {});
       },
       "\"le\""},
      {"label twice",
       [](Exposition& e) {
         e.Gauge("x", "h", {{"a", "1"}, {"a", "2"}}, 1);
       },
       "twice"},
      {"negative counter", [](Exposition& e) { e.Counter("x_total", "h", {}, -1); }, "cannot"},
      {"two types",
       [](Exposition& e) {
         e.Gauge("x", "h", {}, 1);
         e.Histogram("x", "h", {}, {});
       },
       "another type"},
      {"two helps",
       [](Exposition& e) {
         e.Gauge("x", "h", {}, 1);
         e.Gauge("x", "other", {}, 1);
       },
       "another type or help"},
  };
  for (const Case& c : cases) {
    Exposition exposition;
    c.add(exposition);
    auto text = exposition.Take();
    EXPECT_FALSE(text.ok()) << c.what;
    EXPECT_THAT(text.status().message(), HasSubstr(c.error)) << c.what;
    EXPECT_TRUE(exposition.Take().ok()) << c.what << ": the error is reported once";
  }
}

}  // namespace
}  // namespace strait::observe
