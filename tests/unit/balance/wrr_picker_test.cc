// Smooth weighted round robin is deterministic: these tests expect exact
// sequences and counts.
#include "balance/wrr_picker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
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
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::string Sequence(const Plan& plan, PickerState& state, const FakeServers& fake, int picks) {
  std::string seq;
  for (int n = 0; n < picks; ++n)
    seq += static_cast<char>('a' + PickIndex(plan, state, fake.Args()));
  return seq;
}

TEST(WrrPickerTest, OneToThreeOverFourThousandPicksIsExact) {
  Plan plan = MustBuild(Strategy::kWrr, Servers({1, 3}));
  for (uint64_t seed : {0, 1, 2, 3, 12345}) {
    PickerState state(plan, seed);
    FakeServers fake(2);
    EXPECT_THAT(CountPicks(plan, state, fake, 4000), ElementsAre(1000, 3000)) << "seed " << seed;
  }
}

TEST(WrrPickerTest, InterleavesSmoothly) {
  // Seed 0 starts at the beginning of the round.
  Plan one_three = MustBuild(Strategy::kWrr, Servers({1, 3}));
  PickerState state(one_three, 0);
  FakeServers two(2);
  EXPECT_EQ(Sequence(one_three, state, two, 12), "babbbabbbabb");
  // nginx's own example (ngx_http_upstream_round_robin.c): 5, 1, 1.
  Plan five_one_one = MustBuild(Strategy::kWrr, Servers({5, 1, 1}));
  PickerState state511(five_one_one, 0);
  FakeServers three(3);
  EXPECT_EQ(Sequence(five_one_one, state511, three, 14), "aabacaaaabacaa");
}

TEST(WrrPickerTest, SeedsStartWorkersAtDifferentPointsOfTheRound) {
  Plan plan = MustBuild(Strategy::kWrr, Servers({1, 1, 1, 1}));
  FakeServers fake(4);
  std::set<size_t> first_picks;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    PickerState state(plan, seed);
    first_picks.insert(PickIndex(plan, state, fake.Args()));
  }
  EXPECT_GE(first_picks.size(), 3u);
}

TEST(WrrPickerTest, UnusableServerSitsOutAndTheOthersKeepTheirProportions) {
  Plan plan = MustBuild(Strategy::kWrr, Servers({1, 3, 2}));
  PickerState state(plan, 0);
  FakeServers fake(3);
  fake.up[2] = false;
  EXPECT_THAT(CountPicks(plan, state, fake, 4000), ElementsAre(1000, 3000, 0));
  // Back up: 1:3:2 again. Its current weight waited unchanged while it was
  // down, so the first full rounds are shifted by at most one pick per
  // server; over 6,000 picks that is within 1 of 1,000 / 3,000 / 2,000.
  fake.up[2] = true;
  std::vector<int> counts = CountPicks(plan, state, fake, 6000);
  EXPECT_NEAR(counts[0], 1000, 1);
  EXPECT_NEAR(counts[1], 3000, 1);
  EXPECT_NEAR(counts[2], 2000, 1);
}

TEST(WrrPickerTest, AvoidingATriedServerIsOneSkippedTurn) {
  Plan plan = MustBuild(Strategy::kWrr, Servers({1, 1, 1}));
  PickerState state(plan, 0);
  FakeServers fake(3);
  EXPECT_EQ(Sequence(plan, state, fake, 3), "abc");
  const size_t tried[] = {0};
  EXPECT_EQ(PickIndex(plan, state, fake.Args(tried)), 1u);
  // Then the round goes on over all three (c a b c a b ...): counting the
  // avoided pick, which b took in a's place, exact thirds.
  EXPECT_THAT(CountPicks(plan, state, fake, 2999), ElementsAreArray({1000, 999, 1000}));
}

}  // namespace
}  // namespace strait::balance
