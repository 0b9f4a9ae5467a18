#include "health/server_health.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "health/check_settings.h"
#include "health/checker.h"
#include "health/health_event.h"

namespace strait::health {
namespace {

// A fake monotonic clock: any absl::Time works, only differences matter.
const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(ServerHealthTest, EjectionLastsBaseTimesEjectionsCappedAndEndsByItself) {
  ServerHealth health("h2c://a:1", "server h2c://a:1", /*initially_up=*/true);
  const absl::Duration base = absl::Seconds(30), max = absl::Seconds(100);
  absl::Time now = kStart;
  ASSERT_TRUE(health.Usable(now));

  // 1st: 30 s.
  EXPECT_TRUE(health.Eject(now, base, max, "5 consecutive failures"));
  EXPECT_EQ(health.ejections(), 1);
  EXPECT_EQ(health.ejected_until(), now + absl::Seconds(30));
  EXPECT_FALSE(health.Usable(now + absl::Seconds(29)));
  // Already ejected: nothing changes.
  EXPECT_FALSE(health.Eject(now + absl::Seconds(10), base, max, "again"));
  EXPECT_EQ(health.ejections(), 1);
  EXPECT_EQ(health.ejected_until(), now + absl::Seconds(30));
  // Returns by itself.
  EXPECT_TRUE(health.Usable(now + absl::Seconds(30)));

  // 2nd: 60 s; 3rd: 90 s; 4th: 120 s capped at 100 s.
  now += absl::Seconds(40);
  EXPECT_TRUE(health.Eject(now, base, max, "reset"));
  EXPECT_EQ(health.ejected_until(), now + absl::Seconds(60));
  now += absl::Seconds(60);
  EXPECT_TRUE(health.Eject(now, base, max, "reset"));
  EXPECT_EQ(health.ejected_until(), now + absl::Seconds(90));
  now += absl::Seconds(90);
  EXPECT_TRUE(health.Eject(now, base, max, "reset"));
  EXPECT_EQ(health.ejections(), 4);
  EXPECT_EQ(health.ejected_until(), now + absl::Seconds(100));
  EXPECT_FALSE(health.Usable(now + absl::Seconds(99)));
  EXPECT_TRUE(health.Usable(now + absl::Seconds(100)));
  EXPECT_EQ(health.reason(), "reset");
}

TEST(ServerHealthTest, EjectionAndActiveVerdictAreIndependent) {
  ServerHealth health("h2c://a:1", "server h2c://a:1", /*initially_up=*/true);
  EXPECT_TRUE(health.Eject(kStart, absl::Seconds(1), absl::Seconds(1), "ejected"));
  EXPECT_TRUE(health.SetActive(false, "Check answered NOT_SERVING"));
  EXPECT_FALSE(health.Usable(kStart + absl::Seconds(5)));  // ejection over, still down
  EXPECT_TRUE(health.SetActive(true, "Check answered SERVING"));
  EXPECT_TRUE(health.Usable(kStart + absl::Seconds(5)));
  EXPECT_FALSE(health.Usable(kStart));  // still ejected then
}

TEST(ServerHealthTest, SetActiveReportsOnlyFlips) {
  ServerHealth health("h2c://a:1", "server h2c://a:1", /*initially_up=*/false);
  EXPECT_FALSE(health.active_up());
  EXPECT_FALSE(health.SetActive(false, "still down"));
  EXPECT_TRUE(health.SetActive(true, "up now"));
  EXPECT_FALSE(health.SetActive(true, "still up"));
  EXPECT_EQ(health.flips(), 1);
  EXPECT_EQ(health.reason(), "up now");
}

TEST(ServerHealthTest, ADrainedServerIsUnusableWhateverItsHealth) {
  ServerHealth health("h2c://a:1", "server h2c://a:1", /*initially_up=*/true);
  EXPECT_FALSE(health.drained());
  EXPECT_TRUE(health.SetDrained(true));
  EXPECT_FALSE(health.SetDrained(true));  // no change
  EXPECT_TRUE(health.drained());
  EXPECT_TRUE(health.active_up());
  EXPECT_FALSE(health.Usable(kStart));
  // Health keeps changing underneath; the drain holds until undrained.
  EXPECT_TRUE(health.SetActive(false, "down"));
  EXPECT_TRUE(health.SetActive(true, "up"));
  EXPECT_FALSE(health.Usable(kStart));
  EXPECT_TRUE(health.SetDrained(false));
  EXPECT_TRUE(health.Usable(kStart));
  // Undrained while ejected: still out until the ejection ends.
  EXPECT_TRUE(health.Eject(kStart, absl::Seconds(1), absl::Seconds(1), "failures"));
  EXPECT_TRUE(health.SetDrained(true));
  EXPECT_TRUE(health.SetDrained(false));
  EXPECT_FALSE(health.Usable(kStart));
  EXPECT_TRUE(health.Usable(kStart + absl::Seconds(1)));
}

// Flips and ejections are reported, with the URL and the state after the
// change; non-changes (no flip, an ejection of an ejected server) are not.
TEST(ServerHealthTest, FlipsAndEjectionsAreReportedOnce) {
  auto sink = std::make_shared<HealthEventSink>();
  std::vector<HealthEvent> events;
  sink->SetListener([&](const HealthEvent& e) { events.push_back(e); });
  ServerHealth health("h2c://a:1", "server h2c://a:1", /*initially_up=*/true, sink);

  EXPECT_FALSE(health.SetActive(true, "still up"));
  EXPECT_TRUE(health.SetActive(false, "Check answered NOT_SERVING"));
  EXPECT_TRUE(health.Eject(kStart, absl::Seconds(1), absl::Seconds(1), "5 failures in a row"));
  EXPECT_FALSE(health.Eject(kStart, absl::Seconds(1), absl::Seconds(1), "again"));
  health.SetDrained(true);  // the store reports drains, not the ServerHealth
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, HealthEvent::Kind::kHealth);
  EXPECT_EQ(events[0].url, "h2c://a:1");
  EXPECT_FALSE(events[0].healthy);
  EXPECT_FALSE(events[0].ejected);
  EXPECT_FALSE(events[0].drained);
  EXPECT_EQ(events[0].reason, "Check answered NOT_SERVING");
  EXPECT_EQ(events[1].kind, HealthEvent::Kind::kEjected);
  EXPECT_EQ(events[1].url, "h2c://a:1");
  EXPECT_FALSE(events[1].healthy);
  EXPECT_TRUE(events[1].ejected);
  EXPECT_EQ(events[1].reason, "5 failures in a row");

  // A listener replaced (or cleared) takes effect for the next event.
  std::vector<HealthEvent> later;
  sink->SetListener([&](const HealthEvent& e) { later.push_back(e); });
  EXPECT_TRUE(health.SetActive(true, "Check answered SERVING"));
  sink->SetListener(nullptr);
  EXPECT_TRUE(health.SetActive(false, "down again"));
  EXPECT_EQ(events.size(), 2u);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(later[0].healthy);
  EXPECT_TRUE(later[0].drained);
}

TEST(StreakTest, ThresholdsCountConsecutiveResults) {
  CheckSettings settings;
  settings.healthy_threshold = 2;
  settings.unhealthy_threshold = 3;
  Streak streak(settings);
  EXPECT_TRUE(streak.Record(false));
  EXPECT_TRUE(streak.Record(false));
  EXPECT_TRUE(streak.Record(true));  // breaks the run
  EXPECT_TRUE(streak.Record(false));
  EXPECT_TRUE(streak.Record(false));
  EXPECT_FALSE(streak.Record(false));  // 3 in a row
  EXPECT_FALSE(streak.Record(true));
  EXPECT_FALSE(streak.Record(false));  // breaks the run
  EXPECT_FALSE(streak.Record(true));
  EXPECT_TRUE(streak.Record(true));  // 2 in a row
}

TEST(CheckSettingsTest, KeyChangesWithEverySetting) {
  CheckSettings base;
  std::vector<CheckSettings> changed(12, base);
  changed[0].mode = CheckMode::kHttp;
  changed[1].service = "foo";
  changed[2].path = "/healthz";
  changed[3].port = 9000;
  changed[4].hostname = "api.internal";
  changed[5].interval = absl::Seconds(1);
  changed[6].unhealthy_interval = absl::Seconds(1);
  changed[7].timeout = absl::Seconds(1);
  changed[8].watch = true;
  changed[9].healthy_threshold = 2;
  changed[10].unhealthy_threshold = 2;
  changed[11].initially_healthy = false;
  CheckSettings dial = base;
  dial.dial_timeout = absl::Seconds(1);
  changed.push_back(dial);
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_NE(changed[i].Key(), base.Key()) << i;
  }
  EXPECT_EQ(CheckSettings().Key(), base.Key());
  // An unhealthy interval equal to the interval is the default's behaviour.
  CheckSettings same = base;
  same.unhealthy_interval = base.interval;
  EXPECT_EQ(same.Key(), base.Key());
}

}  // namespace
}  // namespace strait::health
