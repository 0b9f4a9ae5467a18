#include "config/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "tests/unit/net/test_certs.h"

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

// One load balancer, its map left open for more fields.
const char kLb[] =
    "entryPoints: {web: {address: ':0'}}\n"
    "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}], ";

// Two load balancers, a and b; more services may follow, indented.
const char kTwo[] =
    "entryPoints: {web: {address: ':0'}}\n"
    "services:\n"
    "  a: {loadBalancer: {servers: [{url: 'h2c://a:1'}]}}\n"
    "  b: {loadBalancer: {servers: [{url: 'h2c://b:1'}]}}\n";

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
      {"entryPoints: {web: {address: ':0', transport: {keepAliveTimeout: 0s}}}",
       "entryPoints.web.transport.keepAliveTimeout: must be more than 0s: it is the time a "
       "PING's answer gets; to send no keepalive PINGs, set keepAliveTime: 0s"},
      {std::string(kGood) + "serversTransports: {t: {forwardingTimeouts: {pingTimeout: 0s}}}",
       "serversTransports.t.forwardingTimeouts.pingTimeout: must be more than 0s: it is the "
       "time a PING's answer gets; to send no keepalive PINGs, set readIdleTimeout: 0s"},
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
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1'}, {url: 'http://b:2'}]}}}",
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
      // Balancing and health (issue 15).
      {std::string(kLb) + "strategy: rr}}}", "services.s.loadBalancer.strategy: unknown strategy \"rr\""},
      {std::string(kLb) + "strategy: hash}}}",
       "services.s.loadBalancer.hashOn.header: strategy hash needs a header"},
      {std::string(kLb) + "hashOn: {header: x}}}}", "services.s.loadBalancer.hashOn: is used only"},
      {std::string(kLb) + "strategy: hash, hashOn: {header: 'x y'}}}}",
       "services.s.loadBalancer.hashOn.header: \"x y\" is not a header name"},
      {std::string(kLb) + "panicThreshold: 101}}}", "services.s.loadBalancer.panicThreshold"},
      {std::string(kLb) + "healthCheck: {mode: tcp}}}}",
       "services.s.loadBalancer.healthCheck.mode: unknown mode \"tcp\""},
      {std::string(kLb) + "healthCheck: {mode: http}}}}",
       "services.s.loadBalancer.healthCheck.path: mode http needs a path"},
      {std::string(kLb) + "healthCheck: {mode: http, path: /h, watch: true}}}}",
       "services.s.loadBalancer.healthCheck.watch: is for mode grpc only"},
      {std::string(kLb) + "healthCheck: {path: /h}}}}",
       "services.s.loadBalancer.healthCheck.path: is for mode http only"},
      {std::string(kLb) + "healthCheck: {interval: 0s}}}}",
       "services.s.loadBalancer.healthCheck.interval: must be positive"},
      {std::string(kLb) + "healthCheck: {unhealthyThreshold: 1000}}}}",
       "services.s.loadBalancer.healthCheck.unhealthyThreshold: must be at most 100"},
      {std::string(kLb) + "passiveHealthCheck: {maxEjectionPercent: 120}}}}",
       "services.s.loadBalancer.passiveHealthCheck.maxEjectionPercent"},
      {std::string(kLb) + "passiveHealthCheck: {baseEjectionTime: 0s}}}}",
       "services.s.loadBalancer.passiveHealthCheck.baseEjectionTime: must be positive"},
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'h2c://a:1', weight: 2000000}]}}}",
       "services.s.loadBalancer.servers[0].weight: must be at most 1000000"},
      // Composite services (issue 16).
      {std::string(kTwo) + "  w: {weighted: {services: [{name: a}, {name: ghost}]}}",
       "services.w.weighted.services[1].name: no service named \"ghost\""},
      {std::string(kTwo) + "  w: {weighted: {}}", "services.w.weighted.services: at least one"},
      {std::string(kTwo) + "  w: {weighted: {services: [{name: a}, {name: w2}]}}\n"
       "  w2: {weighted: {services: [{name: w}]}}",
       "services.w2.weighted.services[0].name: cycle w → w2 → w"},
      {std::string(kTwo) + "  f: {failover: {service: a, fallback: f}}",
       "services.f.failover.fallback: cycle f → f"},
      {std::string(kTwo) + "  f: {failover: {service: a}}",
       "services.f.failover.fallback: names a service: must not be empty"},
      {std::string(kTwo) + "  m: {mirroring: {service: a, mirrors: [{name: b, percent: 150}]}}",
       "services.m.mirroring.mirrors[0].percent: is a percent"},
      {std::string(kTwo) + "  m: {mirroring: {service: a}}\n"
       "  w: {weighted: {services: [{name: m}]}}",
       "services.w.weighted.services[0].name: \"m\" is a mirroring service"},
      {std::string(kTwo) + "  w: {weighted: {services: [{name: a, weight: 9}, {name: b}]}}\n"
       "  f: {failover: {service: w, fallback: b, healthCheck: {}}}\n"
       "  m: {mirroring: {service: f, mirrors: [{name: a, percent: 10}]}}",
       ""},
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

// serversTransports' TLS fields (issue 18), with real files.
TEST(ValidateTest, TlsFieldsNameTheirFieldAndFile) {
  strait::testing::TestCerts certs;
  const strait::testing::TestCert& ca = certs.MakeCa("ca");
  const strait::testing::TestCert& client =
      certs.MakeLeaf("client", ca, {.common_name = "c", .sans = {}, .client = true});
  auto with_transport = [](const std::string& transport) {
    return "entryPoints: {web: {address: ':0'}}\n"
           "services: {s: {loadBalancer: {serversTransport: t, "
           "servers: [{url: 'https://a:1'}]}}}\n"
           "serversTransports: {t: " +
           transport + "}\n";
  };
  struct Case {
    std::string yaml;
    std::string want;  // "": valid
  } cases[] = {
      // https:// with the default transport: the system's roots.
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'https://a:1'}, {url: 'h2c://b:1'}]}}}",
       ""},
      {with_transport("{rootCAs: ['" + ca.cert_file + "'], serverName: api.internal, "
                      "peerCertURI: 'spiffe://example.org/api', certificates: [{certFile: '" +
                      client.cert_file + "', keyFile: '" + client.key_file + "'}]}"),
       ""},
      {with_transport("{rootCAs: ['" + ca.cert_file + "', /nonexistent/ca.pem]}"),
       "serversTransports.t.rootCAs[1]: \"/nonexistent/ca.pem\": open: No such file or "
       "directory"},
      {with_transport("{rootCAs: ['" + ca.key_file + "']}"),
       "serversTransports.t.rootCAs[0]: \"" + ca.key_file + "\": no PEM certificate"},
      {with_transport("{rootCAs: ['']}"), "serversTransports.t.rootCAs[0]: a path is required"},
      {with_transport("{certificates: [{certFile: '" + client.cert_file + "', keyFile: '" +
                      ca.key_file + "'}]}"),
       "serversTransports.t.certificates[0].keyFile: \"" + ca.key_file +
           "\": the key does not match the certificate of certFile"},
      {with_transport("{certificates: [{certFile: '" + client.cert_file +
                      "', keyFile: /nonexistent/key.pem}]}"),
       "serversTransports.t.certificates[0].keyFile: \"/nonexistent/key.pem\": open: No such"},
      {with_transport("{certificates: [{keyFile: '" + client.key_file + "'}]}"),
       "serversTransports.t.certificates[0].certFile: a path is required"},
      {with_transport("{certificates: [{certFile: a, keyFile: b}, {certFile: c, keyFile: d}]}"),
       "serversTransports.t.certificates: at most one client certificate, got 2"},
      {with_transport("{insecureSkipVerify: true, peerCertURI: 'spiffe://example.org/api'}"),
       "serversTransports.t.peerCertURI: cannot be combined with insecureSkipVerify"},
      {with_transport("{insecureSkipVerify: true}"), ""},
      {with_transport("{peerCertURI: example.org}"),
       "serversTransports.t.peerCertURI: \"example.org\" is not a URI"},
      {with_transport("{serverName: 'api.internal:443'}"),
       "serversTransports.t.serverName: \"api.internal:443\" is not a host name"},
      {with_transport("{serverName: '::1'}"), ""},
      {"entryPoints: {web: {address: ':0'}}\n"
       "services: {s: {loadBalancer: {servers: [{url: 'https://a:1'}], "
       "healthCheck: {mode: http, path: /h}}}}",
       "services.s.loadBalancer.healthCheck.mode: \"http\" checks do not support https:// "
       "servers yet"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateConfig(Parse(c.yaml));
    if (c.want.empty()) {
      EXPECT_TRUE(s.ok()) << c.yaml << "\n" << s;
      continue;
    }
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want)) << c.yaml;
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
