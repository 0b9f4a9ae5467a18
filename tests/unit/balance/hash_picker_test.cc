// Maglev hashing is deterministic: exact counts for a fixed key set.
#include "balance/hash_picker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "balance/maglev_table.h"
#include "balance/picker.h"
#include "balance/plan.h"
#include "fake_servers.h"

namespace strait::balance {
namespace {

using ::strait::balance::testing::FakeServers;
using ::strait::balance::testing::MustBuild;
using ::strait::balance::testing::PickIndex;
using ::strait::balance::testing::Servers;

std::vector<std::string> Keys(int n) {
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back(absl::StrCat("user-", i));
  return keys;
}

// The server id each key is picked for.
std::vector<std::string> Owners(const Plan& plan, const FakeServers& fake,
                                const std::vector<std::string>& keys,
                                absl::Span<const size_t> avoid = {}) {
  PickerState state(plan, 1);
  std::vector<std::string> owners;
  for (const std::string& key : keys) {
    size_t i = PickIndex(plan, state, fake.Args(avoid, key));
    owners.push_back(i < plan.size() ? plan.server(i).id : "");
  }
  return owners;
}

Plan HashPlan(std::vector<ServerSpec> servers) {
  return MustBuild(Strategy::kHash, std::move(servers), "x-user-id");
}

TEST(MaglevTableTest, EqualWeightsSplitTheSlotsEvenly) {
  Plan plan = HashPlan(Servers({1, 1, 1}));
  std::vector<uint32_t> slots = plan.maglev().SlotCounts(3);
  // 65,537 = 3 * 21,845 + 2: the fill takes turns, so counts differ by <= 1.
  EXPECT_EQ(slots[0] + slots[1] + slots[2], MaglevTable::kSize);
  EXPECT_LE(
      *std::max_element(slots.begin(), slots.end()) - *std::min_element(slots.begin(), slots.end()),
      1u);
}

TEST(MaglevTableTest, WeightsSplitTheSlotsByWeight) {
  Plan plan = HashPlan(Servers({1, 2, 3, 0}));
  std::vector<uint32_t> slots = plan.maglev().SlotCounts(4);
  EXPECT_NEAR(slots[0], MaglevTable::kSize / 6.0, MaglevTable::kSize * 0.005);
  EXPECT_NEAR(slots[1], MaglevTable::kSize * 2 / 6.0, MaglevTable::kSize * 0.005);
  EXPECT_NEAR(slots[2], MaglevTable::kSize * 3 / 6.0, MaglevTable::kSize * 0.005);
  EXPECT_EQ(slots[3], 0u);
}

TEST(MaglevTableTest, EverySlotHasTheSameOwnerWhateverTheServerOrder) {
  std::vector<ServerSpec> servers = Servers({1, 2, 3, 1, 5});
  Plan plan = HashPlan(servers);
  std::reverse(servers.begin(), servers.end());
  std::swap(servers[0], servers[2]);
  Plan reordered = HashPlan(servers);
  int differ = 0;
  for (uint64_t slot = 0; slot < MaglevTable::kSize; ++slot) {
    if (plan.server(plan.maglev().Lookup(slot)).id !=
        reordered.server(reordered.maglev().Lookup(slot)).id) {
      ++differ;
    }
  }
  EXPECT_EQ(differ, 0);
}

TEST(HashPickerTest, SameKeySameServerWhateverTheServerOrder) {
  std::vector<ServerSpec> servers = Servers({1, 1, 1});
  Plan plan = HashPlan(servers);
  std::reverse(servers.begin(), servers.end());
  std::rotate(servers.begin(), servers.begin() + 1, servers.end());
  Plan reordered = HashPlan(servers);
  FakeServers fake(3);
  std::vector<std::string> keys = Keys(1000);
  std::vector<std::string> owners = Owners(plan, fake, keys);
  EXPECT_EQ(Owners(plan, fake, keys), owners);  // again: no state, same answers
  EXPECT_EQ(Owners(reordered, fake, keys), owners);
  // And the keys spread: 1,000 keys over 3 servers, each within 333 +- 60.
  std::map<std::string, int> per_server;
  for (const std::string& owner : owners) ++per_server[owner];
  ASSERT_EQ(per_server.size(), 3u);
  for (const auto& [id, n] : per_server) EXPECT_NEAR(n, 333, 60) << id;
}

TEST(HashPickerTest, MappingIsPinned) {
  // Replicas and versions of strait must agree on where a key goes: a change
  // to StableHash64 or the Maglev fill moves every key, so it fails here.
  Plan plan = HashPlan(Servers({1, 1, 1}));
  FakeServers fake(3);
  PickerState state(plan, 1);
  std::string picks;
  for (const std::string& key : Keys(16)) {
    picks += absl::StrCat(PickIndex(plan, state, fake.Args({}, key)));
  }
  EXPECT_EQ(picks, "1100201010221220");
}

TEST(HashPickerTest, AddingAFourthServerMovesAboutAQuarterOfTheKeys) {
  std::vector<std::string> keys = Keys(1000);
  FakeServers fake3(3);
  FakeServers fake4(4);
  std::vector<std::string> before = Owners(HashPlan(Servers({1, 1, 1})), fake3, keys);
  std::vector<std::string> after = Owners(HashPlan(Servers({1, 1, 1, 1})), fake4, keys);
  const std::string added = Servers({1, 1, 1, 1})[3].id;
  int moved = 0;
  int moved_to_added = 0;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (before[k] == after[k]) continue;
    ++moved;
    if (after[k] == added) ++moved_to_added;
  }
  // Ideal: exactly the new server's quarter moves, all of it to the new
  // server. For this key set Maglev moves 260, every one to the new server.
  // The bound for any key set: 250 +- 50 moved (sd of a binomial 1000 x 1/4
  // is 14), and fewer than 3% of the keys moved between the old servers.
  EXPECT_EQ(moved, 260);
  EXPECT_EQ(moved_to_added, 260);
  EXPECT_NEAR(moved, 250, 50);
  EXPECT_LT(moved - moved_to_added, 30);
}

TEST(HashPickerTest, KeysOfAnUnusableServerFallBackConsistently) {
  std::vector<ServerSpec> servers = Servers({1, 1, 1});
  Plan plan = HashPlan(servers);
  std::reverse(servers.begin(), servers.end());
  Plan reversed = HashPlan(servers);  // server 0 of plan is server 2 here
  std::vector<std::string> keys = Keys(1000);
  FakeServers all_up(3);
  std::vector<std::string> healthy = Owners(plan, all_up, keys);

  FakeServers down(3);
  down.up[0] = false;
  FakeServers down_reversed(3);
  down_reversed.up[2] = false;
  std::vector<std::string> fallback = Owners(plan, down, keys);
  EXPECT_EQ(Owners(plan, down, keys), fallback);
  EXPECT_EQ(Owners(reversed, down_reversed, keys), fallback);
  const std::string& gone = plan.server(0).id;
  std::map<std::string, int> moved_to;
  for (size_t k = 0; k < keys.size(); ++k) {
    EXPECT_NE(fallback[k], gone);
    if (healthy[k] != gone) {
      EXPECT_EQ(fallback[k], healthy[k]) << keys[k] << " moved though its server is up";
    } else {
      ++moved_to[fallback[k]];
    }
  }
  // The down server's ~333 keys spread over both others (rendezvous: each
  // about half, +- 60).
  ASSERT_EQ(moved_to.size(), 2u);
  for (const auto& [id, n] : moved_to) EXPECT_NEAR(n, 167, 60) << id;
}

TEST(HashPickerTest, AvoidedServerFallsThroughLikeAnUnusableOne) {
  Plan plan = HashPlan(Servers({1, 1, 1}));
  std::vector<std::string> keys = Keys(1000);
  FakeServers all_up(3);
  FakeServers down(3);
  down.up[0] = false;
  const size_t tried[] = {0};
  // Keys not on server 0 ignore the avoid list (it is not theirs); keys on
  // it go where they go when it is down.
  EXPECT_EQ(Owners(plan, all_up, keys, tried), Owners(plan, down, keys));
  // Every server tried: each key goes back to its own server, not to a
  // (tried) fallback.
  const size_t tried_all[] = {0, 1, 2};
  EXPECT_EQ(Owners(plan, all_up, keys, tried_all), Owners(plan, all_up, keys));
  // Only server 0 usable, and tried: every key goes to it.
  FakeServers only_zero(3);
  only_zero.up = {true, false, false};
  for (const std::string& owner : Owners(plan, only_zero, keys, tried_all)) {
    EXPECT_EQ(owner, plan.server(0).id);
  }
}

TEST(HashPickerTest, RpcsWithoutTheKeyUseP2c) {
  Plan plan = HashPlan(Servers({1, 1, 1}));
  PickerState state(plan, 42);
  FakeServers fake(3);
  fake.in_flight = {4, 2, 0};
  std::vector<int> counts(3, 0);
  for (int n = 0; n < 3000; ++n) {
    size_t i = PickIndex(plan, state, fake.Args());
    ASSERT_LT(i, 3u);
    ++counts[i];
  }
  // As in P2cPickerTest.SendsLessToTheServerWithMoreInFlight: 0, 1/3, 2/3
  // (sd ~= 26, tolerance 130).
  EXPECT_EQ(counts[0], 0);
  EXPECT_NEAR(counts[1], 1000, 130);
  EXPECT_NEAR(counts[2], 2000, 130);
}

TEST(HashPickerTest, WeightsShareTheKeys) {
  Plan plan = HashPlan(Servers({1, 1, 2}));
  FakeServers fake(3);
  std::vector<std::string> keys = Keys(10000);
  std::map<std::string, int> per_server;
  for (const std::string& owner : Owners(plan, fake, keys)) ++per_server[owner];
  // 2,500 / 2,500 / 5,000, sd <= 50, tolerance 250.
  EXPECT_NEAR(per_server[plan.server(0).id], 2500, 250);
  EXPECT_NEAR(per_server[plan.server(1).id], 2500, 250);
  EXPECT_NEAR(per_server[plan.server(2).id], 5000, 250);

  // Server 0 down: its ~2,500 keys fall back by weight too, 1:2 over the
  // others (~833 / ~1,667, sd <= 30, tolerance 150).
  FakeServers down(3);
  down.up[0] = false;
  std::vector<std::string> before = Owners(plan, fake, keys);
  std::vector<std::string> after = Owners(plan, down, keys);
  std::map<std::string, int> moved_to;
  for (size_t k = 0; k < keys.size(); ++k) {
    if (before[k] != after[k]) ++moved_to[after[k]];
  }
  EXPECT_NEAR(moved_to[plan.server(1).id], 833, 150);
  EXPECT_NEAR(moved_to[plan.server(2).id], 1667, 150);
}

}  // namespace
}  // namespace strait::balance
