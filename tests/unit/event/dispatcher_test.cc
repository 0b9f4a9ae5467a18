#include "event/dispatcher.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"

#include <atomic>
#include <thread>
#include <vector>

namespace strait::event {
namespace {

struct Tracked : Deletable {
  explicit Tracked(std::vector<int>& log) : log(log) {}
  ~Tracked() override { log.push_back(2); }
  std::vector<int>& log;
};

TEST(DispatcherTest, PostFromOtherThreadsRunsOnTheLoopThread) {
  Dispatcher d;
  std::atomic<int> ran{0};
  std::thread::id loop_id;
  std::thread loop([&] {
    loop_id = std::this_thread::get_id();
    d.Run();
  });
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&] {
      for (int i = 0; i < 250; ++i) {
        d.Post([&] {
          EXPECT_TRUE(d.IsLoopThread());
          if (++ran == 1000) d.Exit();
        });
      }
    });
  }
  for (auto& p : posters) p.join();
  loop.join();
  EXPECT_EQ(ran.load(), 1000);
}

TEST(DispatcherTest, DeferredDeleteWaitsForTheCurrentCallback) {
  Dispatcher d;
  std::vector<int> log;
  d.Post([&] {
    d.DeferredDelete(std::make_unique<Tracked>(log));
    log.push_back(1);  // still inside the callback: not yet deleted
    d.Post([&] { d.Exit(); });
  });
  d.Run();
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
}

TEST(DispatcherTest, TimerFiresOnceAndDeferredCallCoalesces) {
  Dispatcher d;
  int fired = 0, flushed = 0;
  Timer timer(d, [&] {
    ++fired;
    d.Exit();
  });
  DeferredCall flush(d, [&] { ++flushed; });
  d.Post([&] {
    flush.Schedule();
    flush.Schedule();
    flush.Schedule();
    timer.Arm(absl::Milliseconds(1));
  });
  d.Run();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(flushed, 1);
  EXPECT_FALSE(timer.armed());
}

TEST(DispatcherTest, NowIsMonotonicAndFakeable) {
  Dispatcher d;
  absl::Time a = d.Now();
  absl::Time b = d.Now();
  EXPECT_GE(b, a);
  // Not the wall clock: CLOCK_MONOTONIC counts from boot.
  EXPECT_LT(d.Now(), absl::Now() - absl::Hours(24 * 365));
  absl::Time fake = absl::UnixEpoch() + absl::Seconds(100);
  d.set_clock_for_test([&] { return fake; });
  EXPECT_EQ(d.Now(), fake);
  fake -= absl::Seconds(50);  // whatever a test's clock does, Now() follows it
  EXPECT_EQ(d.Now(), absl::UnixEpoch() + absl::Seconds(50));
}

}  // namespace
}  // namespace strait::event
