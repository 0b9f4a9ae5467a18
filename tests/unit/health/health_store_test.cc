#include "health/health_store.h"

#include <vector>

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

// Passive-only targets: no checker, no backend needed.
Target Passive(const std::string& url, const std::string& authority = "") {
  return Target{url, url.substr(6), authority, std::nullopt};
}

// A drain reaches every identity of its URL (here two, by :authority),
// survives an Update that keeps the URL — a new identity of it, too,
// starts drained — and is forgotten by one that drops the URL.
TEST(HealthStoreTest, DrainCoversEveryIdentityOfTheUrlAndLastsWhileItIsListed) {
  HealthStore store;
  const std::string a = "h2c://10.0.0.1:1", b = "h2c://10.0.0.2:1";
  auto healths = store.Update({Passive(a), Passive(a, "api"), Passive(b)});
  ASSERT_EQ(healths.size(), 3u);
  ASSERT_NE(healths[0], healths[1]);

  EXPECT_TRUE(store.SetDrained(a, true));
  EXPECT_TRUE(healths[0]->drained());
  EXPECT_TRUE(healths[1]->drained());
  EXPECT_FALSE(healths[2]->drained());
  EXPECT_EQ(store.drained_urls(), std::vector<std::string>{a});

  // Kept: the same (drained) object; a new identity of a: drained from
  // the start.
  auto reloaded = store.Update({Passive(a), Passive(a, "other"), Passive(b)});
  EXPECT_EQ(reloaded[0], healths[0]);
  EXPECT_NE(reloaded[1], healths[1]);
  EXPECT_TRUE(reloaded[0]->drained());
  EXPECT_TRUE(reloaded[1]->drained());
  EXPECT_FALSE(reloaded[2]->drained());
  EXPECT_EQ(store.drained_urls(), std::vector<std::string>{a});

  // Unlisted: forgotten, so a comes back undrained.
  store.Update({Passive(b)});
  EXPECT_TRUE(store.drained_urls().empty());
  auto back = store.Update({Passive(a), Passive(b)});
  EXPECT_FALSE(back[0]->drained());
  EXPECT_TRUE(back[0]->Usable(absl::FromUnixSeconds(1)));

  // Undrain.
  EXPECT_TRUE(store.SetDrained(b, true));
  EXPECT_TRUE(store.SetDrained(b, false));
  EXPECT_FALSE(back[1]->drained());
  EXPECT_TRUE(store.drained_urls().empty());
}

TEST(HealthStoreTest, DrainingAnUnlistedUrlDoesNothing) {
  HealthStore store;
  store.Update({Passive("h2c://10.0.0.1:1")});
  EXPECT_FALSE(store.SetDrained("h2c://10.0.0.9:1", true));
  EXPECT_TRUE(store.drained_urls().empty());
  // Not remembered for a later Update that lists it either.
  auto healths = store.Update({Passive("h2c://10.0.0.9:1")});
  EXPECT_FALSE(healths[0]->drained());
}

// One kDrain event per change of a URL's drain (not per identity), none
// when nothing changes; drained_urls() are sorted.
TEST(HealthStoreTest, DrainChangesAreReportedOncePerUrl) {
  HealthStore store;
  std::vector<HealthEvent> events;
  store.SetListener([&](const HealthEvent& e) { events.push_back(e); });
  const std::string a = "h2c://10.0.0.2:1", b = "h2c://10.0.0.1:1";
  store.Update({Passive(a), Passive(a, "api"), Passive(b)});
  store.SetDrained(a, true);
  store.SetDrained(a, true);
  store.SetDrained(b, true);
  EXPECT_EQ(store.drained_urls(), (std::vector<std::string>{b, a}));
  store.SetDrained(a, false);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, HealthEvent::Kind::kDrain);
  EXPECT_EQ(events[0].url, a);
  EXPECT_TRUE(events[0].drained);
  EXPECT_TRUE(events[0].healthy);
  EXPECT_EQ(events[0].reason, "drained by admin");
  EXPECT_EQ(events[1].url, b);
  EXPECT_EQ(events[2].url, a);
  EXPECT_FALSE(events[2].drained);
  EXPECT_EQ(events[2].reason, "undrained by admin");
}

// The store's ServerHealths report to its listener too.
TEST(HealthStoreTest, ItsServerHealthsReportToItsListener) {
  HealthStore store;
  std::vector<HealthEvent> events;
  store.SetListener([&](const HealthEvent& e) { events.push_back(e); });
  auto healths = store.Update({Passive("h2c://10.0.0.1:1")});
  healths[0]->Eject(absl::FromUnixSeconds(1), absl::Seconds(1), absl::Seconds(1), "failures");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, HealthEvent::Kind::kEjected);
  EXPECT_EQ(events[0].url, "h2c://10.0.0.1:1");
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
