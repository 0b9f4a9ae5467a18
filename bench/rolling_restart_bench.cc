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

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
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

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK: return "OK";
    case grpc::CANCELLED: return "CANCELLED";
    case grpc::UNKNOWN: return "UNKNOWN";
    case grpc::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND: return "NOT_FOUND";
    case grpc::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::ABORTED: return "ABORTED";
    case grpc::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::INTERNAL: return "INTERNAL";
    case grpc::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::DATA_LOSS: return "DATA_LOSS";
    case grpc::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "?";
  }
}

// Final statuses from many threads: totals, failures by code, the first
// few failure messages.
class Outcomes {
 public:
  void Record(const grpc::Status& status, const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    ++total_;
    if (status.ok()) return;
    ++failed_;
    ++by_code_[absl::StrCat(what, " ", CodeName(status.error_code()))];
    if (examples_.size() < 5) {
      examples_.push_back(absl::StrCat(what, ": ", CodeName(status.error_code()), " ",
                                       status.error_message()));
    }
  }
  int total() const {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }
  std::string Summary() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = absl::StrCat(total_, " RPCs, ", failed_, " failed");
    for (const auto& [code, n] : by_code_) absl::StrAppend(&out, "; ", code, ": ", n);
    for (const auto& e : examples_) absl::StrAppend(&out, "\n    e.g. ", e);
    return out;
  }

 private:
  mutable std::mutex mu_;
  int total_ = 0;
  int failed_ = 0;
  std::map<std::string, int> by_code_;
  std::vector<std::string> examples_;
};

grpc::Status UnaryCall(test::v1::Echo::Stub& stub) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  EchoRequest req;
  req.set_payload("restart me");
  EchoResponse resp;
  grpc::Status s = stub.Unary(&ctx, req, &resp);
  if (s.ok() && resp.payload() != "restart me") return grpc::Status(grpc::DATA_LOSS, "payload");
  return s;
}

// 5 messages, 20 ms apart: a short stream, always in flight somewhere.
grpc::Status StreamCall(test::v1::Echo::Stub& stub) {
  constexpr int kMessages = 5;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  EchoRequest req;
  req.set_response_count(kMessages);
  req.set_response_size(100);
  req.set_sleep_ms(20);
  auto reader = stub.ServerStream(&ctx, req);
  EchoResponse resp;
  int n = 0;
  while (reader->Read(&resp)) {
    if (resp.index() != n++) return grpc::Status(grpc::DATA_LOSS, "out of order");
  }
  grpc::Status s = reader->Finish();
  if (s.ok() && n != kMessages) return grpc::Status(grpc::DATA_LOSS, absl::StrCat(n, " msgs"));
  return s;
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

    Outcomes outcomes;
    std::atomic<bool> stop{false};
    std::vector<std::thread> load;
    for (int i = 0; i < 4; ++i) {
      load.emplace_back([&] {
        auto stub = MakeStub(proxy_port());
        while (!stop) outcomes.Record(UnaryCall(*stub), "unary");
      });
    }
    for (int i = 0; i < 2; ++i) {
      load.emplace_back([&] {
        auto stub = MakeStub(proxy_port());
        while (!stop) outcomes.Record(StreamCall(*stub), "stream");
      });
    }
    // Steps wait for finished RPCs, not for time, so load runs before,
    // between and after the restarts however fast the machine is.
    auto after_more_rpcs = [&](int more) {
      int target = outcomes.total() + more;
      absl::Time deadline = absl::Now() + absl::Seconds(60);
      while (outcomes.total() < target && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(1));
      }
      return outcomes.total() >= target;
    };
    absl::Time start = absl::Now();
    EXPECT_TRUE(after_more_rpcs(kRpcsBetweenSteps));
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
      EXPECT_TRUE(after_more_rpcs(kRpcsBetweenSteps));
    }
    stop = true;
    for (auto& t : load) t.join();
    std::string result =
        absl::StrCat(watch ? "watch: true, interval: 1s" : "interval: 1s (Check only)", " — ",
                     outcomes.Summary(), "\n    run ",
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
