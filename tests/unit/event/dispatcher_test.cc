#include "event/dispatcher.h"

#include <gtest/gtest.h>

#include "absl/time/clock.h"

#include <atomic>
#include <string>
#include <utility>
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

TEST(DispatcherTest, NowIsMonotonic) {
  Dispatcher d;
  absl::Time a = d.Now();
  absl::Time b = d.Now();
  EXPECT_GE(b, a);
  // Not the wall clock: CLOCK_MONOTONIC counts from boot.
  EXPECT_LT(d.Now(), absl::Now() - absl::Hours(24 * 365));
}

TEST(DispatcherTest, AManualClockDrivesNowAndEveryTimer) {
  Dispatcher d;
  absl::Time start = absl::UnixEpoch() + absl::Seconds(100);
  d.UseManualClockForTest(start);
  EXPECT_EQ(d.Now(), start);
  std::vector<std::pair<std::string, absl::Time>> fired;
  Timer late(d, [&] { fired.emplace_back("late", d.Now()); });
  Timer early(d, [&] { fired.emplace_back("early", d.Now()); });
  Timer rearming(d, [&] {
    fired.emplace_back("rearming", d.Now());
    if (fired.size() < 4) rearming.Arm(absl::Seconds(3));
  });
  Timer disarmed(d, [&] { fired.emplace_back("disarmed", d.Now()); });
  late.Arm(absl::Seconds(10));
  early.Arm(absl::Seconds(2));
  rearming.Arm(absl::Seconds(5));
  disarmed.Arm(absl::Seconds(1));
  disarmed.Disarm();
  EXPECT_FALSE(disarmed.armed());

  d.AdvanceClockForTest(absl::Seconds(1) + absl::Nanoseconds(999999999));
  EXPECT_TRUE(fired.empty()) << "nothing is due before 2 s";
  EXPECT_TRUE(early.armed());
  d.AdvanceClockForTest(absl::Milliseconds(8500) + absl::Nanoseconds(1));
  EXPECT_EQ(d.Now(), start + absl::Milliseconds(10500));
  // Each at its own due time, in order; a re-armed timer counts from when
  // it fired.
  ASSERT_EQ(fired.size(), 4u);
  EXPECT_EQ(fired[0], std::make_pair(std::string("early"), start + absl::Seconds(2)));
  EXPECT_EQ(fired[1], std::make_pair(std::string("rearming"), start + absl::Seconds(5)));
  EXPECT_EQ(fired[2], std::make_pair(std::string("rearming"), start + absl::Seconds(8)));
  EXPECT_EQ(fired[3], std::make_pair(std::string("late"), start + absl::Seconds(10)));
  EXPECT_TRUE(rearming.armed());  // 8 s + 3 s
  d.AdvanceClockForTest(absl::Milliseconds(499));
  ASSERT_EQ(fired.size(), 4u) << "not before 11 s";
  d.AdvanceClockForTest(absl::Seconds(2));
  ASSERT_EQ(fired.size(), 5u);
  EXPECT_EQ(fired[4].second, start + absl::Seconds(11));
  EXPECT_FALSE(rearming.armed());
}

TEST(DispatcherTest, ATimerDestroyedWhileArmedOnAManualClockNeverFires) {
  Dispatcher d;
  d.UseManualClockForTest(absl::UnixEpoch());
  int fired = 0;
  {
    Timer t(d, [&] { ++fired; });
    t.Arm(absl::Seconds(1));
  }
  d.AdvanceClockForTest(absl::Seconds(2));
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace strait::event
