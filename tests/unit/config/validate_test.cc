#include "config/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"

namespace strait::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Config Parse(const std::string& yaml) {
  absl::StatusOr<v1::Config> c = ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : v1::Config();
}

const char kGood[] = R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {r: {rule: "PathPrefix(`/`)", service: s}}
services: {s: {loadBalancer: {servers: [{url: "h2c://127.0.0.1:1"}]}}}
)yaml";

TEST(ValidateTest, AGoodConfigPasses) { EXPECT_TRUE(ValidateConfig(Parse(kGood)).ok()); }

TEST(ValidateTest, EachProblemNamesItsField) {
  struct Case {
    std::string yaml;
    const char* want;
  } cases[] = {
      {"routers: {r: {rule: 'PathPrefix(`/`)', service: s}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}]}}}",
       "entryPoints: at least one entry point is needed"},
      {std::string(kGood) + "serversTransports: {}\n", ""},
      {"entryPoints: {web: {address: 'nowhere'}}", "entryPoints.web.address: missing port"},
      {"entryPoints: {a: {address: ':80'}, b: {address: ':80'}}",
       "entryPoints.b.address: :80 is already the address of entry point a"},
      {std::string(kGood) + "routers: {x: {rule: 'Bogus(`1`)', service: s}}",
       "routers.x.rule: unknown matcher \"Bogus\""},
      {"entryPoints: {web: {address: ':0'}}\nrouters: {x: {rule: 'Path(`/`)', service: ghost}}",
       "routers.x.service: no service named \"ghost\""},
      {"entryPoints: {web: {address: ':0'}}\n"
       "routers: {x: {rule: 'Path(`/`)', service: s, entryPoints: [web, mars]}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}]}}}",
       "routers.x.entryPoints[1]: no entry point named \"mars\""},
      {"entryPoints: {web: {address: ':0'}}\nservices: {s: {}}",
       "services.s: a service needs one of loadBalancer, weighted, mirroring, failover"},
      {"entryPoints: {web: {address: ':0'}}\nservices: {s: {loadBalancer: {}}}",
       "services.s.loadBalancer.servers: at least one server is needed"},
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}, {url: 'https://b:2'}]}}}",
       "services.s.loadBalancer.servers[1].url: scheme must be h2c"},
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {serversTransport: t, servers: [{url: 'h2c://a:1'}]}}}",
       "services.s.loadBalancer.serversTransport: no serversTransports entry named \"t\""},
      {"entryPoints: {web: {address: ':0', http2: {maxFrameSize: 100}}}",
       "entryPoints.web.http2.maxFrameSize: must be between 16384 and 16777215"},
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}], "
       "retry: {attempts: 20, retryOn: [UNAVAILABLE, NOPE]}}}}",
       "services.s.loadBalancer.retry.attempts: must be at most 10"},
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}], "
       "retry: {retryOn: [UNAVAILABLE, NOPE]}}}}",
       "services.s.loadBalancer.retry.retryOn[1]: unknown gRPC status \"NOPE\""},
      {"entryPoints: {'we b': {address: ':0'}}", "entryPoints.we b: names must not contain"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateConfig(Parse(c.yaml));
    if (*c.want == '\0') {
      EXPECT_TRUE(s.ok()) << c.yaml << "\n" << s;
      continue;
    }
    EXPECT_THAT(s.message(), HasSubstr(c.want)) << c.yaml;
  }
}

TEST(ValidateTest, ListsEveryProblemNotJustTheFirst) {
  absl::Status s = ValidateConfig(Parse(
      "entryPoints: {web: {address: ':0'}}\n"
      "routers: {a: {rule: 'Path(`/`)', service: x}, b: {rule: 'Path(`/`)', service: y}}"));
  EXPECT_THAT(s.message(), HasSubstr("routers.a.service"));
  EXPECT_THAT(s.message(), HasSubstr("routers.b.service"));
  EXPECT_THAT(s.message(), Not(HasSubstr("entryPoints")));
}

}  // namespace
}  // namespace strait::config
