#include "health/health_store.h"

#include "gtest/gtest.h"
#include "tests/support/health_backend.h"

namespace strait::health {
namespace {

using ::strait::testing::HealthBackend;
using ::strait::testing::WaitUntil;

Target Watched(const HealthBackend& backend) {
  CheckSettings settings;
  settings.watch = true;
  settings.interval = absl::Hours(1);  // Watch alone acts
  return Target{"h2c://" + backend.address(), backend.address(), "", settings};
}

Target Checked(const HealthBackend& backend) {
  CheckSettings settings;
  settings.interval = absl::Milliseconds(20);
  return Target{"h2c://" + backend.address(), backend.address(), "", settings};
}

TEST(HealthStoreTest, UnchangedTargetKeepsItsStateAndWatchStreamChangedOneRestarts) {
  HealthBackend a, b;
  HealthStore store;
  Target target_a = Watched(a), target_b = Watched(b);
  auto first = store.Update({target_a, target_b});
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(a.WaitForWatches(1));
  ASSERT_TRUE(b.WaitForWatches(1));

  Target changed_b = target_b;
  changed_b.check->interval = absl::Hours(2);
  auto second = store.Update({target_a, changed_b});
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0], first[0]);
  EXPECT_NE(second[1], first[1]);
  ASSERT_TRUE(b.WaitForWatches(2));      // b's checker restarted...
  EXPECT_EQ(a.watches(), 1);  // ...a's kept its stream (and its state: the same object)
  EXPECT_EQ(store.size(), 2u);
  // a's kept stream still reports.
  a.SetServing("", false);
  ASSERT_TRUE(WaitUntil([&] { return !second[0]->active_up(); }));
}

TEST(HealthStoreTest, RemovedTargetsCheckerStops) {
  HealthBackend a, b;
  HealthStore store;
  Target target_a = Checked(a), target_b = Checked(b);
  store.Update({target_a, target_b});
  ASSERT_TRUE(a.WaitForChecks(2));

  store.Update({target_b});
  EXPECT_EQ(store.Find(target_a), nullptr);
  const int after = a.checks();
  // While b is checked five more times, a is not checked again. (At most
  // one Check, cancelled by the stop while on the wire, may still arrive.)
  ASSERT_TRUE(b.WaitForChecks(b.checks() + 5));
  EXPECT_LE(a.checks(), after + 1);
}

TEST(HealthStoreTest, PassiveOnlyTargetsAreUpAndDuplicatesShareOneHealth) {
  HealthBackend a;
  HealthStore store;
  Target passive{"h2c://" + a.address(), a.address(), "", std::nullopt};
  Target watched = Watched(a);
  auto healths = store.Update({passive, watched, watched});
  ASSERT_EQ(healths.size(), 3u);
  EXPECT_TRUE(healths[0]->active_up());
  EXPECT_NE(healths[0], healths[1]);  // same URL, different check: another identity
  EXPECT_EQ(healths[1], healths[2]);
  EXPECT_EQ(store.size(), 2u);
  ASSERT_TRUE(a.WaitForWatches(1));
  a.SetServing("", false);
  ASSERT_TRUE(WaitUntil([&] { return !healths[1]->active_up(); }));
  EXPECT_TRUE(healths[0]->active_up());
  EXPECT_EQ(a.watches(), 1);  // one checker for the two listings
}

TEST(ProbeTargetTest, PortAndHostnameOverridesApply) {
  CheckSettings settings;
  Target target{"h2c://10.0.0.1:50051", "10.0.0.1:50051", "api", settings};
  ProbeTarget plain = ProbeTargetOf(target, settings);
  EXPECT_EQ(plain.address, "10.0.0.1:50051");
  EXPECT_EQ(plain.authority, "api");
  settings.port = 9000;
  settings.hostname = "health.internal";
  ProbeTarget overridden = ProbeTargetOf(target, settings);
  EXPECT_EQ(overridden.address, "10.0.0.1:9000");
  EXPECT_EQ(overridden.authority, "health.internal");
  Target v6{"h2c://[::1]:80", "[::1]:80", "", CheckSettings{}};
  EXPECT_EQ(ProbeTargetOf(v6, settings).address, "[::1]:9000");
}

}  // namespace
}  // namespace strait::health
