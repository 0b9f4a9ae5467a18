#include "observe/metrics_http_server.h"

#include <httplib.h>

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "observe/exposition.h"

namespace strait::observe {
namespace {

using ::testing::HasSubstr;

std::string SampleText() {
  Exposition exposition;
  exposition.Counter("strait_rpcs_total", "RPCs.", {{"grpc_status", "OK"}}, 3);
  return *exposition.Take();
}

TEST(MetricsHttpServerTest, ServesMetricsWithTheExpositionContentType) {
  std::atomic<int> renders{0};
  MetricsHttpServer server;
  absl::StatusOr<int> port = server.Start("127.0.0.1:0", [&]() -> absl::StatusOr<std::string> {
    ++renders;
    return SampleText();
  });
  ASSERT_TRUE(port.ok()) << port.status();
  ASSERT_GT(*port, 0);
  EXPECT_EQ(server.port(), *port);

  httplib::Client client("127.0.0.1", *port);
  for (int i = 0; i < 2; ++i) {
    auto response = client.Get("/metrics");
    ASSERT_TRUE(response) << httplib::to_string(response.error());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->get_header_value("Content-Type"),
              "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_EQ(response->body, SampleText());
  }
  EXPECT_EQ(renders.load(), 2) << "one render per scrape";

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  auto other = client.Get("/metricsx");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 404);

  auto post = client.Post("/metrics", "x", "text/plain");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->get_header_value("Allow"), "GET, HEAD");
  EXPECT_EQ(renders.load(), 2) << "neither 404 nor 405 renders";
}

TEST(MetricsHttpServerTest, ARenderErrorIsA500WithItsMessage) {
  MetricsHttpServer server;
  absl::StatusOr<int> port = server.Start("127.0.0.1:0", []() -> absl::StatusOr<std::string> {
    return absl::InternalError("x: counters' names end in _total");
  });
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client client("127.0.0.1", *port);
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
  EXPECT_THAT(response->body, HasSubstr("end in _total"));
}

TEST(MetricsHttpServerTest, ServesIpv6Loopback) {
  MetricsHttpServer server;
  absl::StatusOr<int> port = server.Start("[::1]:0", [] { return std::string("up 1\n"); });
  if (!port.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << port.status();
  httplib::Client client("::1", *port);
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response) << httplib::to_string(response.error());
  EXPECT_EQ(response->body, "up 1\n");
}

TEST(MetricsHttpServerTest, ABusyOrBadAddressIsAnErrorNamingIt) {
  MetricsHttpServer first;
  absl::StatusOr<int> port = first.Start("127.0.0.1:0", [] { return std::string(); });
  ASSERT_TRUE(port.ok()) << port.status();

  const std::string busy = "127.0.0.1:" + std::to_string(*port);
  MetricsHttpServer second;
  absl::StatusOr<int> again = second.Start(busy, [] { return std::string(); });
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.status().message(), HasSubstr("metrics address " + busy + ": cannot listen"));
  EXPECT_THAT(again.status().message(), HasSubstr("in use"));

  MetricsHttpServer bad;
  absl::StatusOr<int> malformed = bad.Start("127.0.0.1", [] { return std::string(); });
  ASSERT_FALSE(malformed.ok());
  EXPECT_THAT(malformed.status().message(), HasSubstr("metrics address 127.0.0.1: missing port"));
}

TEST(MetricsHttpServerTest, StopClosesTheListenerAndCanFollowStartAtOnce) {
  for (int i = 0; i < 20; ++i) {  // a Stop() right after Start() is never lost
    MetricsHttpServer server;
    ASSERT_TRUE(server.Start("127.0.0.1:0", [] { return std::string(); }).ok());
    server.Stop();
  }
  MetricsHttpServer server;
  absl::StatusOr<int> port = server.Start("127.0.0.1:0", [] { return std::string("a 1\n"); });
  ASSERT_TRUE(port.ok());
  server.Stop();
  server.Stop();  // idempotent
  httplib::Client client("127.0.0.1", *port);
  auto response = client.Get("/metrics");
  EXPECT_FALSE(response) << "still serving after Stop()";
}

}  // namespace
}  // namespace strait::observe
