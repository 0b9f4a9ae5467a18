// Behaviour every strategy shares: Plan validation, drained and unusable
// servers, the avoid preference, Fail messages and panic mode. Each test
// runs for p2c, wrr and hash (with a key, so the Maglev path is the one
// under test; hash without a key is p2c's, covered in hash_picker_test).
#include "balance/picker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "balance/plan.h"
#include "fake_servers.h"

namespace strait::balance {
namespace {

using ::strait::balance::testing::FakeServers;
using ::strait::balance::testing::MustBuild;
using ::strait::balance::testing::PickIndex;
using ::strait::balance::testing::Servers;
using ::testing::HasSubstr;

TEST(PlanTest, RejectsDuplicateIds) {
  std::vector<ServerSpec> servers = Servers({1, 1, 1});
  servers[2].id = servers[0].id;
  absl::StatusOr<Plan> plan = Plan::Build(Strategy::kP2C, servers);
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(plan.status().message(), "servers[2].id: duplicate of servers[0]");
}

TEST(PlanTest, HashNeedsAHeaderAndLowercasesIt) {
  EXPECT_EQ(Plan::Build(Strategy::kHash, Servers({1})).status().message(),
            "hash_header: required for the hash strategy");
  EXPECT_EQ(MustBuild(Strategy::kHash, Servers({1}), "X-User-Id").hash_header(), "x-user-id");
  EXPECT_EQ(MustBuild(Strategy::kP2C, Servers({1}), "x-user-id").hash_header(), "");
}

TEST(PlanTest, RejectsPanicThresholdOverOneHundred) {
  EXPECT_EQ(Plan::Build(Strategy::kWrr, Servers({1}), "", 101).status().message(),
            "panic_threshold: 101 is over 100 percent");
  EXPECT_TRUE(Plan::Build(Strategy::kWrr, Servers({1}), "", 100).ok());
}

TEST(PlanTest, WeightedPositionsMapToServersAndSkipDrainedOnes) {
  Plan plan = MustBuild(Strategy::kP2C, Servers({2, 0, 1}));
  EXPECT_EQ(plan.total_weight(), 3u);
  EXPECT_EQ(plan.live_servers(), 2u);
  EXPECT_EQ(plan.ServerAtWeight(0), 0u);
  EXPECT_EQ(plan.ServerAtWeight(1), 0u);
  EXPECT_EQ(plan.ServerAtWeight(2), 2u);
}

class EveryStrategyTest : public ::testing::TestWithParam<Strategy> {
 protected:
  Plan Build(std::vector<uint32_t> weights, uint32_t panic_threshold = 0) {
    return MustBuild(GetParam(), Servers(std::move(weights)), "x-user-id", panic_threshold);
  }
  // Distinct keys for hash, so its picks spread like the others'.
  PickArgs Args(const FakeServers& fake, absl::Span<const size_t> avoid = {}) {
    key_ = absl::StrCat("user-", n_++);
    return fake.Args(avoid, key_);
  }
  std::vector<int> Count(const Plan& plan, PickerState& state, const FakeServers& fake, int picks,
                         absl::Span<const size_t> avoid = {}) {
    std::vector<int> counts(plan.size(), 0);
    for (int n = 0; n < picks; ++n) {
      size_t i = PickIndex(plan, state, Args(fake, avoid));
      if (i >= plan.size()) break;
      ++counts[i];
    }
    return counts;
  }

 private:
  std::string key_;
  int n_ = 0;
};

INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategyTest,
                         ::testing::Values(Strategy::kP2C, Strategy::kWrr, Strategy::kHash),
                         [](const ::testing::TestParamInfo<Strategy>& info) {
                           switch (info.param) {
                             case Strategy::kP2C:
                               return "P2C";
                             case Strategy::kWrr:
                               return "Wrr";
                             case Strategy::kHash:
                               return "Hash";
                           }
                           return "Unknown";
                         });

TEST_P(EveryStrategyTest, AllUnusableFailsUnavailableSayingWhy) {
  Plan plan = Build({1, 1, 1});
  PickerState state(plan, 1);
  FakeServers fake(3);
  fake.up = {false, false, false};
  PickResult result = Pick(plan, state, Args(fake));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status,
            absl::UnavailableError("no usable server: 3 of 3 unusable"));
}

TEST_P(EveryStrategyTest, FailMessageCountsDrainedServers) {
  FakeServers fake(3);
  fake.up = {false, false, false};
  Plan mixed = Build({1, 0, 1});
  PickerState mixed_state(mixed, 1);
  PickResult result = Pick(mixed, mixed_state, Args(fake));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status.message(),
            "no usable server: 2 of 3 unusable, 1 drained (weight 0)");

  Plan drained = Build({0, 0, 0});
  PickerState drained_state(drained, 1);
  result = Pick(drained, drained_state, Args(fake));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status,
            absl::UnavailableError("no usable server: all 3 drained (weight 0)"));

  Plan empty = Build({});
  PickerState empty_state(empty, 1);
  result = Pick(empty, empty_state, Args(fake));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status.message(),
            "no usable server: the service has no servers");
}

TEST_P(EveryStrategyTest, DrainedServerIsNeverPicked) {
  Plan plan = Build({1, 0, 1});
  PickerState state(plan, 7);
  FakeServers fake(3);
  std::vector<int> counts = Count(plan, state, fake, 3000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_GT(counts[0], 0);
  EXPECT_GT(counts[2], 0);
  // Not even when it is the only "usable" one: drained beats healthy.
  fake.up = {false, true, false};
  PickResult result = Pick(plan, state, Args(fake));
  EXPECT_TRUE(std::holds_alternative<Fail>(result));
}

TEST_P(EveryStrategyTest, UnusableServerIsSkipped) {
  Plan plan = Build({1, 1, 1});
  PickerState state(plan, 7);
  FakeServers fake(3);
  fake.up[1] = false;
  std::vector<int> counts = Count(plan, state, fake, 3000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[2], 3000);
  EXPECT_GT(counts[0], 1000);
  EXPECT_GT(counts[2], 1000);
}

TEST_P(EveryStrategyTest, AvoidsTriedServersWhileOthersAreUsable) {
  Plan plan = Build({1, 1, 1});
  PickerState state(plan, 7);
  FakeServers fake(3);
  const size_t tried[] = {0};
  std::vector<int> counts = Count(plan, state, fake, 3000, tried);
  EXPECT_EQ(counts[0], 0);
  EXPECT_GT(counts[1], 1000);
  EXPECT_GT(counts[2], 1000);
}

TEST_P(EveryStrategyTest, FallsBackToATriedServerWhenItIsTheOnlyUsableOne) {
  Plan plan = Build({1, 1, 1});
  PickerState state(plan, 7);
  FakeServers fake(3);
  fake.up = {true, false, false};
  const size_t tried[] = {0};
  for (int n = 0; n < 100; ++n) EXPECT_EQ(PickIndex(plan, state, Args(fake, tried)), 0u);
  // Every server tried and usable: still a pick, never a Fail.
  fake.up = {true, true, true};
  const size_t all[] = {0, 1, 2};
  for (int n = 0; n < 100; ++n) EXPECT_LT(PickIndex(plan, state, Args(fake, all)), 3u);
}

TEST_P(EveryStrategyTest, PanicThresholdSpreadsOverAllNonDrainedServers) {
  // 5 servers, one drained: the threshold is a percent of the 4 live ones.
  Plan plan = Build({1, 1, 1, 1, 0}, /*panic_threshold=*/50);
  PickerState state(plan, 7);
  FakeServers fake(5);
  // 2 of 4 usable = 50%: not below the threshold, down servers get nothing.
  fake.up = {true, true, false, false, true};
  std::vector<int> counts = Count(plan, state, fake, 4000);
  EXPECT_EQ(counts[2] + counts[3], 0);
  // 1 of 4 = 25% < 50%: panic, all four live servers share the load, the
  // drained one still gets nothing.
  fake.up = {true, false, false, false, true};
  counts = Count(plan, state, fake, 4000);
  for (size_t i = 0; i < 4; ++i) EXPECT_GT(counts[i], 700) << "server " << i;
  EXPECT_EQ(counts[4], 0);
  // None usable: panic too, so a pick rather than a Fail.
  fake.up = {false, false, false, false, false};
  EXPECT_LT(PickIndex(plan, state, Args(fake)), 4u);

  // Without a threshold the same state fails.
  Plan off = Build({1, 1, 1, 1, 0});
  PickerState off_state(off, 7);
  EXPECT_TRUE(std::holds_alternative<Fail>(Pick(off, off_state, Args(fake))));
}

// An admin drain (PickArgs::drained) is a run-time weight 0: never picked,
// not as the only server left, not for a retry that avoids every other
// server, and not in panic mode, where unhealthy servers are.
TEST_P(EveryStrategyTest, AdminDrainedServerIsNeverPickedNotEvenInPanicMode) {
  Plan plan = Build({1, 1, 1, 1}, /*panic_threshold=*/50);
  PickerState state(plan, 7);
  FakeServers fake(4);
  fake.drained[1] = true;
  std::vector<int> counts = Count(plan, state, fake, 3000);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[2] + counts[3], 3000);
  // A retry that tried every other server goes back to one of them.
  const size_t tried[] = {0, 2, 3};
  counts = Count(plan, state, fake, 300, tried);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[2] + counts[3], 300);
  // Panic: 1 of the 3 non-drained servers usable is under 50%; the two down
  // ones share the load again, the drained one still gets nothing.
  fake.up = {true, true, false, false};
  counts = Count(plan, state, fake, 3000);
  EXPECT_EQ(counts[1], 0);
  for (size_t i : {0, 2, 3}) EXPECT_GT(counts[i], 500) << "server " << i;
  // Only the drained one up: panic, and still not it.
  fake.up = {false, true, false, false};
  counts = Count(plan, state, fake, 300);
  EXPECT_EQ(counts[1], 0);
  EXPECT_EQ(counts[0] + counts[2] + counts[3], 300);
}

// Drained servers do not count toward the panic threshold: with 2 of 4
// drained and 1 of the other 2 usable (50%), a 50% threshold is not
// crossed, so the down server gets nothing.
TEST_P(EveryStrategyTest, AdminDrainedServersAreLeftOutOfThePanicThreshold) {
  Plan plan = Build({1, 1, 1, 1}, /*panic_threshold=*/50);
  PickerState state(plan, 7);
  FakeServers fake(4);
  fake.drained = {true, true, false, false};
  fake.up = {true, true, true, false};
  std::vector<int> counts = Count(plan, state, fake, 1000);
  EXPECT_EQ(counts, (std::vector<int>{0, 0, 1000, 0}));
}

TEST_P(EveryStrategyTest, EveryServerDrainedFailsSayingSo) {
  Plan plan = Build({1, 0, 1});
  PickerState state(plan, 7);
  FakeServers fake(3);
  fake.drained = {true, false, true};
  PickResult result = Pick(plan, state, Args(fake));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status,
            absl::UnavailableError("no usable server: all 3 drained (2 by admin, 1 weight 0)"));

  Plan live = Build({1, 1});
  PickerState live_state(live, 7);
  FakeServers two(2);
  two.drained = {true, true};
  result = Pick(live, live_state, Args(two));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status.message(), "no usable server: all 2 drained by admin");
  two.drained = {true, false};
  two.up = {true, false};
  result = Pick(live, live_state, Args(two));
  ASSERT_TRUE(std::holds_alternative<Fail>(result));
  EXPECT_EQ(std::get<Fail>(result).status.message(),
            "no usable server: 1 of 2 unusable, 1 drained by admin");
}

}  // namespace
}  // namespace strait::balance
