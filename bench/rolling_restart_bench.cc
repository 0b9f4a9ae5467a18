// What Watch buys, a bench (bench/rolling_restart.sh), not a test: three gRPC
// C++ backends with gRPC's real health service restart one after the other
// the way a well-behaved gRPC server leaves (NOT_SERVING, 200 ms notice,
// Shutdown with a 5 s grace, down for 1 s, back SERVING) under 6 client loops
// (4 unary, 2 short server streams, each on its own channel) and no retry
// policy. The same restarts run twice, with fresh backends and a fresh
// strait each time: health checked by Watch (plus Check every 1 s), then by
// Check alone every 1 s. Prints, for each, the RPCs completed and the failed
// ones by status. The zero-failure promise for Watch is asserted by no test
// here: this prints what happens, whatever it is.
#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/status/status.h"
#include "tests/integration/load_loops.h"
#include "tests/integration/proxy_fixture.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

constexpr absl::Duration kNotice = absl::Milliseconds(200);
constexpr absl::Duration kGrace = absl::Seconds(5);
constexpr absl::Duration kDown = absl::Seconds(1);
constexpr absl::Duration kInterval = absl::Seconds(1);
// Passive ejection stays on (as by default) but short: a restarting server
// refuses connections for a second and gets ejected; with the default 30 s it
// would still be out when the next one restarts, so the later steps would
// run on one server instead of two, and the two modes would differ by when
// ejections happened to fall rather than by how health is checked.
constexpr absl::Duration kBaseEjection = absl::Milliseconds(100);
// RPCs completed before the first restart and after each backend serves again.
constexpr int kRpcsBetweenSteps = 300;

// "N RPCs, F failed; CANCELLED: 3" and the first few failures.
std::string Summary(const Outcomes& outcomes) {
  std::string out = absl::StrCat(outcomes.total(), " RPCs, ", outcomes.failed(), " failed");
  for (const auto& [code, n] : outcomes.failures()) {
    absl::StrAppend(&out, "; ", absl::StatusCodeToString(static_cast<absl::StatusCode>(code)),
                    ": ", n);
  }
  if (outcomes.failed() > 0) absl::StrAppend(&out, "\n    e.g. ", outcomes.examples());
  return out;
}

class RollingRestartBench : public ProxyTest {
 protected:
  // One whole run: fresh backends, fresh strait, load, three restarts.
  std::string Run(bool watch) {
    backends_.clear();
    for (int i = 0; i < 3; ++i) {
      backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("backend-", i),
                                                        BackendOptions{.health = true}));
    }
    config::v1::Config config = EchoConfig(BackendAddresses());
    config::v1::LoadBalancer* lb = config.mutable_services()->at("echo").mutable_load_balancer();
    // No retry policy: only the transparent retries (refused connections,
    // REFUSED_STREAM, above a GOAWAY's last stream id).
    config::v1::HealthCheck* hc = lb->mutable_health_check();
    hc->set_watch(watch);
    SetDuration(hc->mutable_interval(), kInterval);
    SetDuration(lb->mutable_passive_health_check()->mutable_base_ejection_time(), kBaseEjection);
    StartProxy(config);
    if (HasFatalFailure()) return "strait did not start";

    LoadLoops load(proxy_port(), /*unary=*/4, /*streams=*/2);
    absl::Time start = absl::Now();
    EXPECT_TRUE(load.WaitForMore(kRpcsBetweenSteps));
    std::string restarts;
    for (auto& backend : backends_) {
      absl::Time restart = absl::Now();
      backend->DrainAndRestart(kNotice, kGrace, kDown);
      // notice + shutdown + down: how long the server's graceful shutdown
      // waited for calls in flight (a Watch stream is one).
      absl::StrAppend(&restarts, restarts.empty() ? "" : ", ",
                      absl::FormatDuration(absl::Trunc(absl::Now() - restart,
                                                       absl::Milliseconds(10))));
      // A rolling restart goes on once the restarted server serves again.
      EXPECT_TRUE(backend->WaitForCalls(1, absl::Seconds(20)))
          << backend->name() << " serves again";
      EXPECT_TRUE(load.WaitForMore(kRpcsBetweenSteps));
    }
    load.Stop();
    std::string result =
        absl::StrCat(watch ? "watch: true, interval: 1s" : "interval: 1s (Check only)", " — ",
                     Summary(load.outcomes()), "\n    run ",
                     absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(100))),
                     "; each DrainAndRestart took ", restarts);
    TearDown();
    return result;
  }
};

TEST_F(RollingRestartBench, WatchThenCheck) {
  std::string watch = Run(true);
  std::string check = Run(false);
  std::cout << "rolling restart of 3 backends (notice 200ms, grace 5s, down 1s), 4 unary + 2 "
               "stream loops, no retry policy, baseEjectionTime 100ms:\n"
            << "  " << watch << "\n  " << check << "\n";
}

}  // namespace
}  // namespace strait::testing
