// p2c is random: every test uses a fixed seed (so it is deterministic) and
// asserts a tolerance of at least 4 standard deviations of the binomial
// count it checks (so another seed or RNG passes too).
#include "balance/p2c_picker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <utility>
#include <vector>

#include "balance/picker.h"
#include "balance/plan.h"
#include "fake_servers.h"

namespace strait::balance {
namespace {

using ::strait::balance::testing::CountPicks;
using ::strait::balance::testing::FakeServers;
using ::strait::balance::testing::MustBuild;
using ::strait::balance::testing::PickIndex;
using ::strait::balance::testing::Servers;

TEST(P2cPickerTest, SendsLessToTheServerWithMoreInFlight) {
  Plan plan = MustBuild(Strategy::kP2C, Servers({1, 1, 1}));
  PickerState state(plan, 42);
  FakeServers fake(3);
  fake.in_flight = {4, 2, 0};
  // The pairs {0,1}, {0,2}, {1,2} are equally likely; the less loaded of
  // each wins: server 0 never, server 1 in 1/3, server 2 in 2/3 of picks.
  // 30,000 picks: sd = sqrt(30000 * 2/9) ~= 82, tolerance 400.
  std::vector<int> counts = CountPicks(plan, state, fake, 30000);
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1], 10000, 400);
  EXPECT_NEAR(counts[2], 20000, 400);
}

TEST(P2cPickerTest, ASlowServerGetsFewerRpcs) {
  // A closed loop: each step one RPC is picked; it lasts 10 steps on the
  // slow server 0 and 1 step on the others. Round robin would give server 0
  // a third of the RPCs; p2c sees its streams pile up and sends it far
  // fewer: 2,498 of 30,000 (8.3%) with this seed; the bound is 12%.
  Plan plan = MustBuild(Strategy::kP2C, Servers({1, 1, 1}));
  PickerState state(plan, 42);
  FakeServers fake(3);
  std::deque<std::pair<int, size_t>> running;  // (end step, server)
  std::vector<int> counts(3, 0);
  constexpr int kSteps = 30000;
  for (int step = 0; step < kSteps; ++step) {
    while (!running.empty() && running.front().first <= step) {
      --fake.in_flight[running.front().second];
      running.pop_front();
    }
    size_t i = PickIndex(plan, state, fake.Args());
    ASSERT_LT(i, 3u);
    ++counts[i];
    ++fake.in_flight[i];
    running.push_back({step + (i == 0 ? 10 : 1), i});
    std::stable_sort(running.begin(), running.end());
  }
  EXPECT_LT(counts[0], kSteps * 12 / 100);
  EXPECT_NEAR(counts[1], counts[2], kSteps * 4 / 100);
}

TEST(P2cPickerTest, SplitsByWeightWhenIdle) {
  // in_flight all 0: every comparison is a tie, won by the first draw, which
  // is weight-proportional. 60,000 picks: sd <= sqrt(60000 / 4) ~= 123,
  // tolerance 600.
  Plan plan = MustBuild(Strategy::kP2C, Servers({1, 2, 3}));
  PickerState state(plan, 42);
  FakeServers fake(3);
  std::vector<int> counts = CountPicks(plan, state, fake, 60000);
  EXPECT_NEAR(counts[0], 10000, 600);
  EXPECT_NEAR(counts[1], 20000, 600);
  EXPECT_NEAR(counts[2], 30000, 600);
}

TEST(P2cPickerTest, HonoursWeightsUnderLoad) {
  // A closed loop holding 40 RPCs: each step the oldest RPC ends and a new
  // one is picked. All servers answer at the same speed, so only the weights
  // should make the 1:3 split; in_flight / weight keeps server 1's streams
  // at about three times server 0's (this seed: exactly 10,000 / 30,000).
  // Tolerance 3% of the picks.
  Plan plan = MustBuild(Strategy::kP2C, Servers({1, 3}));
  PickerState state(plan, 42);
  FakeServers fake(2);
  std::deque<size_t> running;
  std::vector<int> counts(2, 0);
  constexpr int kSteps = 40000;
  for (int step = 0; step < kSteps; ++step) {
    if (running.size() == 40) {
      --fake.in_flight[running.front()];
      running.pop_front();
    }
    size_t i = PickIndex(plan, state, fake.Args());
    ASSERT_LT(i, 2u);
    ++counts[i];
    ++fake.in_flight[i];
    running.push_back(i);
  }
  EXPECT_NEAR(counts[0], kSteps / 4, kSteps * 3 / 100);
  EXPECT_NEAR(counts[1], kSteps * 3 / 4, kSteps * 3 / 100);
}

TEST(P2cPickerTest, WeightedLoadComparison) {
  // Weights 1:4 and in-flight 1:3: per unit of weight server 1 is less
  // loaded (3/4 < 1/1), so it wins every pick.
  Plan plan = MustBuild(Strategy::kP2C, Servers({1, 4}));
  PickerState state(plan, 42);
  FakeServers fake(2);
  fake.in_flight = {1, 3};
  std::vector<int> counts = CountPicks(plan, state, fake, 1000);
  EXPECT_EQ(counts[1], 1000);
}

TEST(P2cPickerTest, PicksTheOnlyUsableCandidateHoweverLoaded) {
  Plan plan = MustBuild(Strategy::kP2C, Servers({1, 1, 1}));
  PickerState state(plan, 42);
  FakeServers fake(3);
  fake.up = {false, true, false};
  fake.in_flight = {0, 1000, 0};
  for (int n = 0; n < 100; ++n) EXPECT_EQ(PickIndex(plan, state, fake.Args()), 1u);
  Plan single = MustBuild(Strategy::kP2C, Servers({5}));
  PickerState single_state(single, 42);
  FakeServers one(1);
  EXPECT_EQ(PickIndex(single, single_state, one.Args()), 0u);
}

TEST(P2cPickerTest, ManyDownServersStillDrawByWeight) {
  // Most draws from the prefix sums miss (8 of 10 servers down), so picks go
  // through the one-pass scan; it must still split 1:3 when idle. 20,000
  // picks: sd ~= 61, tolerance 300.
  Plan plan = MustBuild(Strategy::kP2C, Servers({5, 5, 5, 5, 5, 5, 5, 5, 1, 3}));
  PickerState state(plan, 42);
  FakeServers fake(10);
  for (size_t i = 0; i < 8; ++i) fake.up[i] = false;
  std::vector<int> counts = CountPicks(plan, state, fake, 20000);
  EXPECT_NEAR(counts[8], 5000, 300);
  EXPECT_NEAR(counts[9], 15000, 300);
}

}  // namespace
}  // namespace strait::balance
