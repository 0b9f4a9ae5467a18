#ifndef STRAIT_BENCH_RSS_SAMPLER_H_
#define STRAIT_BENCH_RSS_SAMPLER_H_

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "tests/integration/strait_process.h"

namespace strait::testing {

// Samples a process's RSS every 10 ms, on its own thread, until stopped;
// keeps the peak. Shared by the benches.
class RssSampler {
 public:
  explicit RssSampler(const StraitProcess& process) : process_(process) {
    thread_ = std::thread([this] {
      while (!stop_) {
        peak_ = std::max(peak_.load(), process_.ResidentBytes());
        absl::SleepFor(absl::Milliseconds(10));
      }
    });
  }
  ~RssSampler() { Stop(); }
  size_t Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
    }
    return peak_;
  }

 private:
  const StraitProcess& process_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> peak_{0};
  std::thread thread_;
};

}  // namespace strait::testing

#endif  // STRAIT_BENCH_RSS_SAMPLER_H_
