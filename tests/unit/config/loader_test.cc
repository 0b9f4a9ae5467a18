#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "google/protobuf/util/message_differencer.h"

namespace strait::config {
namespace {

using ::testing::HasSubstr;

constexpr char kYaml[] = R"yaml(# a comment
entryPoints:
  web:
    address: "127.0.0.1:8080"
    http2:
      maxConcurrentStreams: 250
    transport:
      lifeCycle:
        graceTimeOut: 2.5s
routers:
  greeter:
    rule: "GRPCService(`helloworld.Greeter`)"
    entryPoints: [web]
    priority: 10
    service: greeter
    timeout: 250ms
services:
  greeter:
    loadBalancer:
      passHostHeader: false
      serversTransport: fast
      servers:
        - url: h2c://127.0.0.1:50051
        - url: h2c://127.0.0.1:50052
serversTransports:
  fast:
    forwardingTimeouts:
      dialTimeout: 1m30s
)yaml";

constexpr char kJson[] = R"json({
  "entryPoints": {"web": {"address": "127.0.0.1:8080", "http2": {"maxConcurrentStreams": 250},
                  "transport": {"lifeCycle": {"graceTimeOut": "2.5s"}}}},
  "routers": {"greeter": {"rule": "GRPCService(`helloworld.Greeter`)", "entryPoints": ["web"],
              "priority": 10, "service": "greeter", "timeout": "0.25s"}},
  "services": {"greeter": {"loadBalancer": {"passHostHeader": false, "serversTransport": "fast",
               "servers": [{"url": "h2c://127.0.0.1:50051"}, {"url": "h2c://127.0.0.1:50052"}]}}},
  "serversTransports": {"fast": {"forwardingTimeouts": {"dialTimeout": "90s"}}}
})json";

TEST(LoaderTest, ReadsEveryKindOfField) {
  absl::StatusOr<v1::Config> c = ParseConfig(kYaml, "strait.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->entry_points().at("web").address(), "127.0.0.1:8080");
  EXPECT_EQ(c->entry_points().at("web").http2().max_concurrent_streams(), 250u);
  const auto& grace = c->entry_points().at("web").transport().life_cycle().grace_time_out();
  EXPECT_EQ(grace.seconds(), 2);
  EXPECT_EQ(grace.nanos(), 500'000'000);
  const v1::Router& r = c->routers().at("greeter");
  EXPECT_EQ(r.priority(), 10);
  EXPECT_EQ(r.entry_points(0), "web");
  EXPECT_EQ(r.timeout().nanos(), 250'000'000);
  const v1::LoadBalancer& lb = c->services().at("greeter").load_balancer();
  EXPECT_TRUE(lb.has_pass_host_header());
  EXPECT_FALSE(lb.pass_host_header());
  ASSERT_EQ(lb.servers_size(), 2);
  EXPECT_EQ(lb.servers(1).url(), "h2c://127.0.0.1:50052");
  EXPECT_EQ(c->servers_transports().at("fast").forwarding_timeouts().dial_timeout().seconds(),
            90);
}

TEST(LoaderTest, ReadsDoubles) {
  for (const char* text : {"accessLog: {path: '-', sampling: 0.25}",
                           R"({"accessLog": {"path": "-", "sampling": 0.25}})"}) {
    absl::StatusOr<v1::Config> c = ParseConfig(text, "strait.yaml");
    ASSERT_TRUE(c.ok()) << text << ": " << c.status();
    EXPECT_EQ(c->access_log().sampling(), 0.25) << text;
  }
  EXPECT_THAT(ParseConfig("accessLog: {sampling: often}", "s.yaml").status().message(),
              HasSubstr("s.yaml:1:23: accessLog.sampling: expected a number"));
}

TEST(LoaderTest, JsonAndYamlGiveTheSameConfig) {
  absl::StatusOr<v1::Config> y = ParseConfig(kYaml, "strait.yaml");
  absl::StatusOr<v1::Config> j = ParseConfig(kJson, "strait.json");
  ASSERT_TRUE(y.ok() && j.ok()) << y.status() << j.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*y, *j))
      << y->DebugString() << "\nvs\n"
      << j->DebugString();
}

TEST(LoaderTest, ProtoFieldNamesAreAcceptedToo) {
  absl::StatusOr<v1::Config> c =
      ParseConfig("entry_points: {web: {address: ':1'}}", "strait.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->entry_points().at("web").address(), ":1");
}

TEST(LoaderTest, YamlSyntaxErrorNamesFileAndLine) {
  absl::StatusOr<v1::Config> c = ParseConfig("entryPoints:\n  web: {address: \":80\"\n", "s.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("s.yaml:3:"));
  EXPECT_THAT(c.status().message(), HasSubstr("YAML syntax error"));
}

TEST(LoaderTest, UnknownFieldNamesPathAndPosition) {
  absl::StatusOr<v1::Config> c = ParseConfig("entryPoints:\n  web:\n    adress: x\n", "s.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "s.yaml:3:5: entryPoints.web.adress: unknown field \"adress\"");
}

TEST(LoaderTest, WrongTypesNamePathAndProblem) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"services:\n  s:\n    loadBalancer:\n      servers:\n        - url: h2c://a:1\n"
       "        - url: {nested: 1}\n",
       "s.yaml:6:16: services.s.loadBalancer.servers[1].url: expected a string, got a map"},
      {"entryPoints:\n  web:\n    http2:\n      maxFrameSize: big\n",
       "s.yaml:4:21: entryPoints.web.http2.maxFrameSize: expected a whole number"},
      {"entryPoints:\n  web:\n    http2:\n      maxFrameSize: -1\n",
       "entryPoints.web.http2.maxFrameSize: expected a whole number"},
      {"services:\n  s:\n    loadBalancer:\n      passHostHeader: yes-please\n",
       "services.s.loadBalancer.passHostHeader: expected true or false"},
      {"routers:\n  r:\n    entryPoints: web\n",
       "routers.r.entryPoints: expected a list, got a scalar"},
      {"serversTransports:\n  t:\n    forwardingTimeouts:\n      dialTimeout: soon\n",
       "serversTransports.t.forwardingTimeouts.dialTimeout: expected a duration"},
      {"serversTransports:\n  t:\n    forwardingTimeouts:\n      dialTimeout: -1s\n",
       "dialTimeout: must not be negative"},
      {"entryPoints: [a, b]\n", "s.yaml:1:14: entryPoints: expected a map, got a list"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::Config> config = ParseConfig(c.yaml, "s.yaml");
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_THAT(config.status().message(), HasSubstr(c.want)) << c.yaml;
  }
}

TEST(LoaderTest, EmptyAndMissingFilesAreClearErrors) {
  EXPECT_THAT(ParseConfig("", "s.yaml").status().message(), HasSubstr("s.yaml: empty"));
  absl::StatusOr<v1::Config> missing = LoadConfigFile("/nonexistent/strait.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(),
              HasSubstr("/nonexistent/strait.yaml: open: No such file or directory"));
}

TEST(LoaderTest, LoadAndValidatePrefixesEveryProblemWithTheFile) {
  std::string path = ::testing::TempDir() + "/dangling.yaml";
  std::ofstream(path) << "entryPoints: {web: {address: ':0'}}\n"
                         "routers: {r: {rule: 'PathPrefix(`/`)', service: missing}}\n"
                         "services:\n  s:\n    loadBalancer:\n"
                         "      serversTransport: nope\n      servers: [{url: 'h2c://a:1'}]\n";
  absl::StatusOr<v1::Config> c = LoadAndValidate(path);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr(path + ": routers.r.service: no service named \"missing\""));
  EXPECT_THAT(c.status().message(),
              HasSubstr(path + ": services.s.loadBalancer.serversTransport: no "
                               "serversTransports entry named \"nope\""));
}

}  // namespace
}  // namespace strait::config
