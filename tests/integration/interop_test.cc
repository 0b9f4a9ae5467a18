// strait between peers of other gRPC stacks (tests/interop): each stack's
// echo client runs one scenario, first straight against the same stack's
// echo server (the baseline: the peers agree with each other), then through
// strait. Through strait the scenario must pass as it did directly, on one
// connection that strait never cut (the client's dials=1, strait's
// connections_accepted == 1, no abuse GOAWAY), and the backend must have
// answered exactly the calls the scenario expects answered and seen every
// call the client abandoned end cancelled. The client judges what it got
// back; this file judges the connection and the backend. The same holds
// for strait's TLS entry point (InteropTlsTest): the client dials TLS
// trusting only the test's CA, strait speaks h2c to the stack's server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <utility>
#include <map>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/support/peer_process.h"

namespace strait::testing {
namespace {

// One gRPC stack's test peers: the command lines (argv before the flags)
// of its echo client and echo server. Both follow the contract of
// tests/interop/go: the server takes `--name NAME`, prints "listening on
// PORT", serves until stdin closes, then prints "served calls=N
// cancelled=M"; the client takes `--target HOST:PORT --scenario NAME`
// (and `--ca FILE` to dial TLS trusting only that CA) and ends with a
// "PASS dials=D tls=T ..." or "FAIL ..." line, T being how many of its
// connections completed a TLS handshake.
struct InteropStack {
  std::string name;
  std::vector<std::string> client_cmd;
  std::vector<std::string> server_cmd;
  // Scenarios the stack's own server cannot serve to its own client, and
  // why: their Direct baseline is skipped (through strait they still run).
  std::map<std::string, std::string> direct_limits = {};
};

// gtest names a parameter in its messages by this.
void PrintTo(const InteropStack& stack, std::ostream* os) { *os << stack.name; }

// A command line from CMake: a ;-separated list.
std::vector<std::string> Command(const char* cmake_list) { return absl::StrSplit(cmake_list, ';'); }

// `command` followed by `flags`.
std::vector<std::string> WithFlags(std::vector<std::string> command,
                                   std::initializer_list<std::string> flags) {
  command.insert(command.end(), flags);
  return command;
}

// ---------------------------------------------------------------------
// The stacks under test. Adding a stack is one entry here (and its peers'
// targets in tests/interop, passed in by tests/integration/CMakeLists.txt).
// ---------------------------------------------------------------------
std::vector<InteropStack> Stacks() {
  return {
      {"go", Command(STRAIT_INTEROP_GO_CLIENT), Command(STRAIT_INTEROP_GO_SERVER)},
      {"js", Command(STRAIT_INTEROP_JS_CLIENT), Command(STRAIT_INTEROP_JS_SERVER),
       {{"cancel_under_load",
         "node 20's http2 server keeps nghttp2's stream reset limit (1000, then 33/s) "
         "and cuts a client that cancels 2,000 RPCs with GOAWAY(INTERNAL_ERROR)"}}},
  };
}

// A client scenario (see the client's own list) and what the backend must
// have seen of it once the client is done.
struct Scenario {
  std::string name;
  // Backend calls that must end with an answer (any status but their own
  // cancellation).
  int answered_calls;
  // The scenario also abandons calls (deadline, cancel): the backend may
  // see any number of them, each of which must end cancelled, since no
  // backend call may outlive its client.
  bool abandons_calls = false;
  // How long the client may run.
  absl::Duration client_timeout = absl::Seconds(90);
};

std::vector<Scenario> Scenarios() {
  return {
      {.name = "unary_metadata", .answered_calls = 1},
      {.name = "trailers_only", .answered_calls = 100},
      {.name = "bidi_1mib", .answered_calls = 1},
      // The one call after the abandoned ones.
      {.name = "deadline_cancel", .answered_calls = 1, .abandons_calls = true},
      {.name = "cancel_under_load", .answered_calls = 1, .abandons_calls = true},
      // Waits 30 s on purpose: the idle connection lives on PINGs alone.
      {.name = "keepalive_idle", .answered_calls = 2, .client_timeout = absl::Seconds(150)},
  };
}

void PrintTo(const Scenario& scenario, std::ostream* os) { *os << scenario.name; }

Scenario FindScenario(const std::string& name) {
  for (const Scenario& s : Scenarios()) {
    if (s.name == name) return s;
  }
  // Runs while tests are registered, before any test: no gtest failure yet.
  fprintf(stderr, "interop_test: no scenario %s\n", name.c_str());
  abort();
}

constexpr absl::Duration kListenTimeout = absl::Seconds(20);
// A server asked to stop finishes its calls within 5 s (then cuts them).
constexpr absl::Duration kServerStopTimeout = absl::Seconds(20);

// What a client run ended with.
struct ClientRun {
  PeerProcess::Exit exit;
  // The verdict: the last line starting with PASS or FAIL ("" if none).
  std::string verdict;
  // dials=D and tls=T from the verdict; -1 if absent.
  int dials = -1;
  int tls = -1;
};

// Runs the stack's client for `scenario` against `target`, with
// `more_flags` after the common ones.
ClientRun RunClient(const InteropStack& stack, const Scenario& scenario, const std::string& target,
                    std::initializer_list<std::string> more_flags = {}) {
  std::vector<std::string> command =
      WithFlags(stack.client_cmd, {"--target", target, "--scenario", scenario.name});
  command.insert(command.end(), more_flags);
  PeerProcess client(command);
  ClientRun run;
  run.exit = client.WaitForExit(scenario.client_timeout);
  for (absl::string_view line : absl::StrSplit(run.exit.output, '\n')) {
    if (absl::StartsWith(line, "PASS") || absl::StartsWith(line, "FAIL")) {
      run.verdict = std::string(line);
    }
  }
  // In the log whether it passed or not: the frame counts are the story.
  std::cout << "[ client   ] " << client.command() << "\n[ verdict  ] "
            << (run.verdict.empty() ? "(none)" : run.verdict) << "\n";
  for (absl::string_view word : absl::StrSplit(run.verdict, ' ')) {
    if (absl::StartsWith(word, "dials=") && !absl::SimpleAtoi(word.substr(6), &run.dials)) {
      run.dials = -1;
    }
    if (absl::StartsWith(word, "tls=") && !absl::SimpleAtoi(word.substr(4), &run.tls)) {
      run.tls = -1;
    }
  }
  return run;
}

// The client exited 0 with a PASS on one connection.
void ExpectPassOnOneConnection(const ClientRun& run, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_TRUE(run.exit.exited) << "client still running; output:\n" << run.exit.output;
  EXPECT_EQ(run.exit.code, 0) << run.exit.output;
  EXPECT_TRUE(absl::StartsWith(run.verdict, "PASS ")) << run.exit.output;
  EXPECT_EQ(run.dials, 1) << run.verdict;
}

// A stack's echo server in a child process.
class ServerPeer {
 public:
  ServerPeer(const InteropStack& stack, const std::string& name)
      : process_(WithFlags(stack.server_cmd, {"--name", name})) {
    std::optional<std::string> port = process_.WaitForLine("listening on ", kListenTimeout);
    if (!port.has_value() || !absl::SimpleAtoi(*port, &port_)) port_ = 0;
  }

  // 0 if it never said where it listens.
  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::string output() const { return process_.output(); }

  // Stops the server and checks what it served: exactly
  // `scenario.answered_calls` calls that ended otherwise than by their
  // cancellation, and (unless the scenario abandons calls) no other.
  void StopAndExpectCalls(const Scenario& scenario) {
    process_.CloseStdin();
    PeerProcess::Exit exit = process_.WaitForExit(kServerStopTimeout);
    ASSERT_TRUE(exit.exited) << "server did not stop; output:\n" << exit.output;
    EXPECT_EQ(exit.code, 0) << exit.output;
    int calls = -1, cancelled = -1;
    for (absl::string_view line : absl::StrSplit(exit.output, '\n')) {
      if (!absl::StartsWith(line, "served ")) continue;
      for (absl::string_view word : absl::StrSplit(line.substr(7), ' ')) {
        std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(word, '=');
        if (kv.first == "calls") {
          EXPECT_TRUE(absl::SimpleAtoi(kv.second, &calls)) << line;
        } else if (kv.first == "cancelled") {
          EXPECT_TRUE(absl::SimpleAtoi(kv.second, &cancelled)) << line;
        }
      }
    }
    ASSERT_GE(calls, 0) << "no \"served\" line:\n" << exit.output;
    EXPECT_EQ(calls - cancelled, scenario.answered_calls)
        << "calls=" << calls << " cancelled=" << cancelled
        << ": a call the client abandoned went on at the backend, or calls went missing";
    if (!scenario.abandons_calls) {
      EXPECT_EQ(cancelled, 0);
    }
  }

 private:
  PeerProcess process_;
  int port_ = 0;
};

// Strait's own view of the run: one client connection, never cut for abuse.
void ExpectOneCleanConnection(server::Server& strait, const ClientRun& run) {
  proxy::ProxyCounters stats = strait.Stats();
  EXPECT_EQ(stats.connections_accepted, 1u) << run.verdict;
  std::vector<std::string> goaways;
  for (const auto& [budget, n] : stats.abuse_goaways) {
    goaways.push_back(absl::StrCat(budget, "=", n));
  }
  EXPECT_THAT(goaways, ::testing::IsEmpty()) << run.verdict;
}

using StackAndScenario = std::tuple<InteropStack, Scenario>;

std::string TestName(const ::testing::TestParamInfo<StackAndScenario>& info) {
  return absl::StrCat(std::get<0>(info.param).name, "_", std::get<1>(info.param).name);
}

class InteropTest : public ProxyTest, public ::testing::WithParamInterface<StackAndScenario> {
 protected:
  const InteropStack& stack() const { return std::get<0>(GetParam()); }
  const Scenario& scenario() const { return std::get<1>(GetParam()); }
};

// The baseline: the stack's client against its own server, no strait. A
// failure here is the peers' (or the scenario's) fault, not strait's.
TEST_P(InteropTest, Direct) {
  if (auto limit = stack().direct_limits.find(scenario().name);
      limit != stack().direct_limits.end()) {
    GTEST_SKIP() << limit->second;
  }
  ServerPeer server(stack(), stack().name + "-direct");
  ASSERT_GT(server.port(), 0) << server.output();
  ClientRun run = RunClient(stack(), scenario(), server.address());
  ExpectPassOnOneConnection(run, "direct");
  server.StopAndExpectCalls(scenario());
}

TEST_P(InteropTest, ThroughStrait) {
  ServerPeer server(stack(), stack().name + "-backend");
  ASSERT_GT(server.port(), 0) << server.output();
  StartProxy(EchoConfig({server.address()}), /*workers=*/2);
  ClientRun run = RunClient(stack(), scenario(), absl::StrCat("127.0.0.1:", proxy_port()));
  ExpectPassOnOneConnection(run, "through strait");
  EXPECT_EQ(run.tls, 0) << run.verdict;
  if (scenario().name == "unary_metadata") {
    EXPECT_THAT(run.verdict, ::testing::HasSubstr(" forwarded_proto=http ")) << run.verdict;
  }
  ExpectOneCleanConnection(*server_, run);
  server.StopAndExpectCalls(scenario());
}

INSTANTIATE_TEST_SUITE_P(Interop, InteropTest,
                         ::testing::Combine(::testing::ValuesIn(Stacks()),
                                            ::testing::ValuesIn(Scenarios())),
                         TestName);

// Strait's TLS entry point: entry point "web" serves TLS with a certificate
// for 127.0.0.1 from the test's CA (ProxyTest's tls_), the client dials it
// trusting only that CA (tls=1: its one connection completed a handshake),
// and strait speaks h2c to the stack's server, as in ThroughStrait.
class InteropTlsTest : public InteropTest {};

TEST_P(InteropTlsTest, ThroughStraitTls) {
  ServerPeer server(stack(), stack().name + "-backend");
  ASSERT_GT(server.port(), 0) << server.output();
  tls_ = true;
  StartProxy(EchoConfig({server.address()}), /*workers=*/2);
  ClientRun run = RunClient(stack(), scenario(), absl::StrCat("127.0.0.1:", proxy_port()),
                            {"--ca", pki_->ca.cert_file()});
  ExpectPassOnOneConnection(run, "through strait over TLS");
  EXPECT_EQ(run.tls, 1) << run.verdict;
  if (scenario().name == "unary_metadata") {
    // Strait's own word that the connection was TLS, as the backend saw it.
    EXPECT_THAT(run.verdict, ::testing::HasSubstr(" forwarded_proto=https ")) << run.verdict;
  }
  ExpectOneCleanConnection(*server_, run);
  server.StopAndExpectCalls(scenario());
}

INSTANTIATE_TEST_SUITE_P(Interop, InteropTlsTest,
                         ::testing::Combine(::testing::ValuesIn(Stacks()),
                                            ::testing::Values(FindScenario("unary_metadata"),
                                                              FindScenario("trailers_only"),
                                                              FindScenario("bidi_1mib"))),
                         TestName);

// One stack's client against strait's TLS entry point, one unary call.
class InteropTlsStackTest : public ProxyTest, public ::testing::WithParamInterface<InteropStack> {
 protected:
  const InteropStack& stack() const { return GetParam(); }
};

// By name: --server-name localhost, so the client sends SNI "localhost"
// and verifies the certificate's DNS name instead of its IP. (For the
// target 127.0.0.1, grpc-go sends no SNI and grpc-js sends "127.0.0.1",
// an IP literal that RFC 6066 forbids; ThroughStraitTls covers both.)
TEST_P(InteropTlsStackTest, ServerNameGoesAsSni) {
  const Scenario scenario = FindScenario("unary_metadata");
  ServerPeer server(stack(), stack().name + "-backend");
  ASSERT_GT(server.port(), 0) << server.output();
  tls_ = true;
  StartProxy(EchoConfig({server.address()}), /*workers=*/2);
  ClientRun run = RunClient(stack(), scenario, absl::StrCat("127.0.0.1:", proxy_port()),
                            {"--ca", pki_->ca.cert_file(), "--server-name", "localhost"});
  ExpectPassOnOneConnection(run, "through strait over TLS, by name");
  EXPECT_EQ(run.tls, 1) << run.verdict;
  EXPECT_THAT(run.verdict, ::testing::HasSubstr(" forwarded_proto=https ")) << run.verdict;
  ExpectOneCleanConnection(*server_, run);
  server.StopAndExpectCalls(scenario);
}

// The TLS port really is TLS only: the stack's client without --ca (h2c)
// gets no call through it, and the backend sees none.
TEST_P(InteropTlsStackTest, H2cClientGetsNoCallThrough) {
  ServerPeer server(stack(), stack().name + "-backend");
  ASSERT_GT(server.port(), 0) << server.output();
  tls_ = true;
  StartProxy(EchoConfig({server.address()}), /*workers=*/2);
  ClientRun run =
      RunClient(stack(), FindScenario("unary_metadata"), absl::StrCat("127.0.0.1:", proxy_port()));
  ASSERT_TRUE(run.exit.exited) << "client still running; output:\n" << run.exit.output;
  EXPECT_NE(run.exit.code, 0) << run.exit.output;
  EXPECT_TRUE(absl::StartsWith(run.verdict, "FAIL unary_metadata: ")) << run.exit.output;
  EXPECT_EQ(run.tls, 0) << run.verdict;
  Scenario none = FindScenario("unary_metadata");
  none.answered_calls = 0;
  server.StopAndExpectCalls(none);
}

INSTANTIATE_TEST_SUITE_P(Interop, InteropTlsStackTest, ::testing::ValuesIn(Stacks()),
                         [](const ::testing::TestParamInfo<InteropStack>& info) {
                           return info.param.name;
                         });

// Mixed stacks: each stack's client through strait to the C++ echo
// backend (TestBackend), for the scenarios whose bytes a C++ backend
// encodes differently: binary metadata and trailers, and large messages.
class InteropCppBackendTest : public InteropTest {};

TEST_P(InteropCppBackendTest, ClientThroughStrait) {
  StartAll(/*count=*/1, /*workers=*/2);
  ClientRun run = RunClient(stack(), scenario(), absl::StrCat("127.0.0.1:", proxy_port()));
  ExpectPassOnOneConnection(run, "through strait to the C++ backend");
  ExpectOneCleanConnection(*server_, run);
  EXPECT_EQ(backends_[0]->calls(), scenario().answered_calls);
  EXPECT_EQ(backends_[0]->cancelled(), 0);
}

INSTANTIATE_TEST_SUITE_P(Interop, InteropCppBackendTest,
                         ::testing::Combine(::testing::ValuesIn(Stacks()),
                                            ::testing::Values(FindScenario("unary_metadata"),
                                                              FindScenario("bidi_1mib"))),
                         TestName);

}  // namespace
}  // namespace strait::testing
