// The strait binary itself: its command line (--help, --version, bad flags,
// `strait probe`), `--check` on good and bad files, and signals.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "tests/integration/strait_process.h"
#include "tests/support/certs.h"
#include "tests/support/health_backend.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const char kGood[] = R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {api: {rule: "PathPrefix(`/`)", service: api}}
services:
  api:
    loadBalancer:
      serversTransport: t
      servers: [{url: "h2c://127.0.0.1:1"}, {url: "h2c://127.0.0.1:2"}]
serversTransports: {t: {forwardingTimeouts: {dialTimeout: 1s}}}
)yaml";

TEST(CliTest, CheckAcceptsGoodFiles) {
  std::string out;
  std::string path = WriteFile("good.yaml", kGood);
  EXPECT_EQ(StraitProcess::Run({"--check", path}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(path + ": ok"));
  out.clear();
  std::string example = std::string(STRAIT_SOURCE_DIR) + "/examples/strait.yaml";
  EXPECT_EQ(StraitProcess::Run({"--check", example}, &out), 0) << out;
}

TEST(CliTest, CheckNamesTheTlsFileAndFieldThatFails) {
  TempDir dir;
  CertAuthority ca = CertAuthority::Create("ca");
  Cert a = ca.Issue({.common_name = "a"});
  Cert b = ca.Issue({.common_name = "b"});
  a.WriteTo(dir.path(), "a");
  b.WriteTo(dir.path(), "b");
  auto config = [&](const std::string& second_key) {
    return absl::StrCat(
        "entryPoints: {web: {address: \"127.0.0.1:0\", tls: {certificates: [",
        "{certFile: \"", a.cert_file(), "\", keyFile: \"", a.key_file(), "\"}, ",
        "{certFile: \"", b.cert_file(), "\", keyFile: \"", second_key, "\"}]}}}\n",
        "routers: {api: {rule: \"PathPrefix(`/`)\", service: api}}\n",
        "services: {api: {loadBalancer: {servers: [{url: \"h2c://127.0.0.1:1\"}]}}}\n");
  };
  std::string out;
  EXPECT_EQ(StraitProcess::Run({"--check", WriteFile("tls-good.yaml", config(b.key_file()))}, &out),
            0)
      << out;
  out.clear();
  std::string missing = dir.File("missing.key");
  EXPECT_NE(StraitProcess::Run({"--check", WriteFile("tls-missing.yaml", config(missing))}, &out),
            0);
  EXPECT_THAT(out, HasSubstr(absl::StrCat("entryPoints.web.tls.certificates[1].keyFile: ", missing,
                                          ": No such file or directory")));
  out.clear();
  // a's key with b's certificate.
  EXPECT_NE(
      StraitProcess::Run({"--check", WriteFile("tls-mismatch.yaml", config(a.key_file()))}, &out),
      0);
  EXPECT_THAT(out, HasSubstr(absl::StrCat("entryPoints.web.tls.certificates[1].keyFile: ",
                                          a.key_file(), ": does not match the certificate in ",
                                          b.cert_file())));
}

TEST(CliTest, CheckNamesFileFieldAndProblem) {
  struct Case {
    const char* name;
    std::string text;
    std::vector<std::string> want;
  } cases[] = {
      {"syntax.yaml", "entryPoints:\n  web: {address: \":80\"\n", {":3:", "YAML syntax error"}},
      {"unknown.yaml", "entryPoints:\n  web:\n    adress: \":80\"\n",
       {":3:5: entryPoints.web.adress: unknown field \"adress\""}},
      {"type.yaml",
       "services:\n  api:\n    loadBalancer:\n      servers: [{url: h2c://a:1}, {url: [1]}]\n",
       {"services.api.loadBalancer.servers[1].url: expected a string, got a list"}},
      {"dangling-service.yaml",
       "entryPoints: {web: {address: ':0'}}\nrouters: {r: {rule: 'Path(`/`)', service: gone}}\n",
       {"routers.r.service: no service named \"gone\""}},
      {"dangling-transport.yaml",
       "entryPoints: {web: {address: ':0'}}\n"
       "services: {api: {loadBalancer: {serversTransport: nope, servers: [{url: 'h2c://a:1'}]}}}\n",
       {"services.api.loadBalancer.serversTransport: no serversTransports entry named \"nope\""}},
      {"scheme.yaml",
       "entryPoints: {web: {address: ':0'}}\n"
       "services: {api: {loadBalancer: {servers: [{url: 'h2c://a:1'}, {url: 'http://b:2'}]}}}\n",
       {"services.api.loadBalancer.servers[1].url: scheme must be h2c"}},
      {"tls-file.yaml",
       "entryPoints: {web: {address: ':0'}}\n"
       "services: {api: {loadBalancer: {serversTransport: t, servers: [{url: 'https://a:1'}]}}}\n"
       "serversTransports: {t: {rootCAs: [/nonexistent/ca.pem]}}\n",
       {"serversTransports.t.rootCAs[0]: \"/nonexistent/ca.pem\": open: No such file"}},
      {"port.yaml",
       "entryPoints: {web: {address: ':0'}}\n"
       "services: {api: {loadBalancer: {servers: [{url: 'h2c://backend'}]}}}\n",
       {"services.api.loadBalancer.servers[0].url: missing port"}},
  };
  for (const Case& c : cases) {
    std::string path = WriteFile(c.name, c.text);
    std::string out;
    EXPECT_NE(StraitProcess::Run({"--check", path}, &out), 0) << c.name;
    EXPECT_THAT(out, HasSubstr(path)) << c.name;
    for (const std::string& want : c.want) EXPECT_THAT(out, HasSubstr(want)) << c.name;
  }
}

TEST(CliTest, ConfigWithAnErrorDoesNotStart) {
  std::string path = WriteFile("bad-run.yaml", "entryPoints:\n  web:\n    adress: x\n");
  std::string out;
  EXPECT_NE(StraitProcess::Run({"--config", path}, &out), 0);
  EXPECT_THAT(out, HasSubstr("entryPoints.web.adress: unknown field"));
  out.clear();
  EXPECT_EQ(StraitProcess::Run({"--bogus"}, &out), 2);
  EXPECT_THAT(out, HasSubstr("unknown flag --bogus"));
}

// One line, ending in a newline, nothing before or after it.
bool IsOneLine(const std::string& text) {
  return !text.empty() && text.back() == '\n' && text.find('\n') == text.size() - 1;
}

TEST(CliTest, HelpListsEveryFlagWithItsDefault) {
  std::string out;
  EXPECT_EQ(StraitProcess::Run({"--help"}, &out), 0) << out;
  for (const char* flag :
       {"--config FILE", "--check FILE", "--workers N", "--log-level LEVEL", "--log-format FORMAT",
        "--metrics ADDR|off", "--admin ADDR|off", "--admin-token-file FILE", "--admin-tls-cert FILE",
        "--admin-tls-key FILE", "--admin-tls-client-ca FILE", "--state FILE|off", "--no-watch",
        "--version", "--help", "probe ADDR"}) {
    EXPECT_THAT(out, HasSubstr(flag));
  }
  for (const char* default_value :
       {"(default info)", "(default text)", "(default 127.0.0.1:9902)", "(default 127.0.0.1:9901)",
        "(default: one per core)"}) {
    EXPECT_THAT(out, HasSubstr(default_value));
  }
  out.clear();
  EXPECT_EQ(StraitProcess::Run({"probe", "--help"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("--service NAME"));
  EXPECT_THAT(out, HasSubstr("(default 2s)"));
}

TEST(CliTest, VersionNamesTheVersionAndTheGitRevision) {
  std::string out;
  EXPECT_EQ(StraitProcess::Run({"--version"}, &out), 0) << out;
  EXPECT_THAT(out, StartsWith("strait 0.1.0 (git "));
  EXPECT_TRUE(IsOneLine(out)) << out;
  EXPECT_THAT(out, Not(HasSubstr("(git )"))) << "an empty revision";
}

TEST(CliTest, BadCommandLinesExit2WithOneLineNamingTheProblem) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::string missing = ::testing::TempDir() + "/no-such-config.yaml";
  const std::vector<Case> cases = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--workers", "x", "--config", WriteFile("w.yaml", kGood)}, "--workers"},
      {{"--workers"}, "--workers"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--log-format", "xml"}, "--log-format"},
      {{"--metrics", "nowhere"}, "--metrics nowhere"},
      {{"--config", missing}, missing + ": No such file or directory"},
      {{"--check", missing}, missing + ": No such file or directory"},
      {{"--config", ::testing::TempDir()}, "is a directory"},
      {{"--admin-token-file", missing, "--config", WriteFile("t.yaml", kGood)}, missing},
      {{}, "--config"},
      {{"probe"}, "probe"},
      {{"probe", "127.0.0.1:1", "--timeout", "soon"}, "--timeout"},
      {{"probe", "127.0.0.1:1", "--bogus"}, "--bogus"},
  };
  for (const Case& c : cases) {
    std::string out;
    EXPECT_EQ(StraitProcess::Run(c.args, &out), 2) << absl::StrJoin(c.args, " ") << ": " << out;
    EXPECT_THAT(out, HasSubstr(c.says)) << absl::StrJoin(c.args, " ");
    EXPECT_TRUE(IsOneLine(out)) << absl::StrJoin(c.args, " ") << ": " << out;
  }
}

TEST(CliTest, ProbeExitsZeroOnlyForServing) {
  HealthBackend backend;
  std::string out;
  EXPECT_EQ(StraitProcess::Run({"probe", backend.address()}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr(backend.address() + ": SERVING"));

  backend.SetServing("", false);
  out.clear();
  EXPECT_EQ(StraitProcess::Run({"probe", backend.address()}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("NOT_SERVING"));

  // A named service: known and serving, then one the server never heard of.
  backend.SetServing("api", true);
  out.clear();
  EXPECT_EQ(StraitProcess::Run({"probe", backend.address(), "--service", "api"}, &out), 0) << out;
  out.clear();
  EXPECT_EQ(StraitProcess::Run({"probe", backend.address(), "--service", "nope"}, &out), 1) << out;

  // Nobody listening.
  backend.Stop();
  out.clear();
  EXPECT_EQ(StraitProcess::Run({"probe", backend.address(), "--timeout", "2s"}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("unreachable"));
}

TEST(CliTest, ProbeAsksStraitsOwnAdminHealth) {
  StraitProcess strait(kGood);
  ASSERT_TRUE(strait.started());
  ASSERT_GT(strait.admin_port(), 0);
  std::string out;
  EXPECT_EQ(
      StraitProcess::Run({"probe", "127.0.0.1:" + std::to_string(strait.admin_port())}, &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("SERVING"));
  strait.Signal(SIGTERM);
  EXPECT_EQ(strait.Wait(), 0);
}

TEST(CliTest, StopSignalsExitCleanly) {
  for (int sig : {SIGTERM, SIGINT}) {
    TestBackend backend("b");
    StraitProcess strait(std::string(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {r: {rule: "PathPrefix(`/`)", service: s}}
services: {s: {loadBalancer: {servers: [{url: "h2c://)yaml") + backend.address() +
                         "\"}]}}}\n");
    ASSERT_TRUE(strait.started());
    // It serves, then stops on the signal with exit code 0.
    auto stub = MakeStub(strait.port("web"));
    grpc::ClientContext ctx;
    test::v1::EchoResponse resp;
    ASSERT_TRUE(stub->Unary(&ctx, test::v1::EchoRequest(), &resp).ok());
    strait.Signal(sig);
    EXPECT_EQ(strait.Wait(), 0) << "signal " << sig;
  }
}

TEST(CliTest, SighupReloadsTheFileAndKeepsTheOldOneWhenTheNewIsBad) {
  TestBackend first("first"), second("second");
  auto config_for = [](const TestBackend& b) {
    return std::string(R"yaml(
entryPoints: {web: {address: "127.0.0.1:0"}}
routers: {r: {rule: "PathPrefix(`/`)", service: s}}
services: {s: {loadBalancer: {servers: [{url: "h2c://)yaml") +
           b.address() + "\"}]}}}\n";
  };
  StraitProcess strait(config_for(first));
  ASSERT_TRUE(strait.started());
  auto served_by = [&] {
    auto stub = MakeStub(strait.port("web"));  // a new connection each time
    grpc::ClientContext ctx;
    test::v1::EchoResponse resp;
    grpc::Status s = stub->Unary(&ctx, test::v1::EchoRequest(), &resp);
    return s.ok() ? resp.backend_name() : "error: " + s.error_message();
  };
  EXPECT_EQ(served_by(), "first");

  // A bad file is refused; strait keeps serving with what it had.
  std::ofstream(strait.config_path()) << "entryPoints: {web: {adress: x}}\n";
  strait.Signal(SIGHUP);
  ASSERT_TRUE(strait.WaitForOutput("refused, the running configuration stays"));
  EXPECT_EQ(served_by(), "first");

  std::ofstream(strait.config_path()) << config_for(second);
  strait.Signal(SIGHUP);
  ASSERT_TRUE(strait.WaitForOutput("reloaded "));
  // Workers take the new snapshot on their next loop turn; a new connection
  // comes after that turn.
  EXPECT_EQ(served_by(), "second");
  strait.Signal(SIGTERM);
  EXPECT_EQ(strait.Wait(), 0);
}

}  // namespace
}  // namespace strait::testing
