#include "health/grpc_checker.h"

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/support/health_backend.h"

namespace strait::health {
namespace {

using ::strait::testing::HealthBackend;
using ::strait::testing::RawH2Server;
using ::strait::testing::WaitUntil;

// Short intervals only make the waits short; nothing asserts on durations.
constexpr absl::Duration kShort = absl::Milliseconds(20);
// Long enough that a test's outcome cannot come from it.
constexpr absl::Duration kNever = absl::Hours(1);

CheckSettings Settings() {
  CheckSettings settings;
  settings.interval = kShort;
  settings.timeout = absl::Seconds(5);
  settings.dial_timeout = absl::Seconds(5);
  return settings;
}

std::unique_ptr<GrpcChecker> Start(const std::string& address, const CheckSettings& settings,
                                   const std::shared_ptr<ServerHealth>& health) {
  return std::make_unique<GrpcChecker>(ProbeTarget{address, address}, settings, health,
                                       grpc::InsecureChannelCredentials());
}

std::shared_ptr<ServerHealth> NewHealth(const CheckSettings& settings) {
  return std::make_shared<ServerHealth>("h2c://test", "server test", settings.initially_healthy);
}

TEST(GrpcCheckerTest, CheckFollowsTheServingStatus) {
  HealthBackend backend;
  CheckSettings settings = Settings();
  settings.initially_healthy = false;
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);

  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
  backend.SetServing("", false);
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  EXPECT_NE(health->reason().find("NOT_SERVING"), std::string::npos) << health->reason();
  backend.SetServing("", true);
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
}

TEST(GrpcCheckerTest, OnlyTheCheckedServiceCounts) {
  HealthBackend backend;
  backend.SetServing("foo", true);
  CheckSettings settings = Settings();
  settings.service = "foo";
  settings.initially_healthy = false;
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));

  // The whole server goes NOT_SERVING: two full Checks later foo is still up.
  backend.SetServing("", false);
  const int seen = backend.checks();
  ASSERT_TRUE(backend.WaitForChecks(seen + 3));
  EXPECT_TRUE(health->active_up());
  EXPECT_EQ(health->flips(), 1);

  backend.SetServing("foo", false);
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
}

TEST(GrpcCheckerTest, UnknownServiceIsDown) {
  HealthBackend backend;
  CheckSettings settings = Settings();
  settings.service = "never-registered";
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
}

TEST(GrpcCheckerTest, UnhealthyThresholdTakesExactlyThatManyFailedChecks) {
  HealthBackend backend;
  backend.SetServing("", false);
  CheckSettings settings = Settings();
  settings.unhealthy_threshold = 3;
  settings.unhealthy_interval = kNever;  // no Check after the verdict
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  EXPECT_EQ(backend.checks(), 3);
}

TEST(GrpcCheckerTest, HealthyThresholdTakesExactlyThatManySuccessfulChecks) {
  HealthBackend backend;
  CheckSettings settings = Settings();
  settings.initially_healthy = false;
  settings.healthy_threshold = 2;
  settings.interval = kNever;  // no Check after the verdict
  settings.unhealthy_interval = kShort;
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
  EXPECT_EQ(backend.checks(), 2);
}

TEST(GrpcCheckerTest, StoppedServerIsDownAndComesBack) {
  HealthBackend backend;
  CheckSettings settings = Settings();
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(backend.WaitForChecks(1));
  backend.Stop();
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  backend.Start();
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
}

TEST(GrpcCheckerTest, WatchReportIsActedOnWithoutWaitingForAnInterval) {
  HealthBackend backend;
  CheckSettings settings = Settings();
  settings.watch = true;
  settings.interval = kNever;  // only Watch can explain a flip
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(backend.WaitForWatches(1));

  backend.SetServing("", false);
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  EXPECT_NE(health->reason().find("Watch"), std::string::npos) << health->reason();
  // strait lets go of the stream after NOT_SERVING (it would hold up the
  // server's graceful shutdown) and watches again after a backoff.
  ASSERT_TRUE(backend.WaitForWatches(2));
  EXPECT_FALSE(health->active_up());
  backend.SetServing("", true);
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
  EXPECT_EQ(backend.checks(), 0);
}

TEST(GrpcCheckerTest, BrokenWatchStreamMarksDownAndIsReopened) {
  HealthBackend backend;
  CheckSettings settings = Settings();
  settings.watch = true;
  settings.interval = kNever;
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(backend.WaitForWatches(1));

  backend.Stop();
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  backend.Start();
  ASSERT_TRUE(backend.WaitForWatches(2));
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
  EXPECT_EQ(backend.checks(), 0);
}

TEST(GrpcCheckerTest, WatchUnimplementedFallsBackToCheck) {
  HealthBackend backend(HealthBackend::Kind::kCheckOnly);
  CheckSettings settings = Settings();
  settings.watch = true;
  auto health = NewHealth(settings);
  auto checker = Start(backend.address(), settings, health);
  ASSERT_TRUE(backend.WaitForWatches(1));
  ASSERT_TRUE(backend.WaitForChecks(3));
  EXPECT_TRUE(health->active_up());

  backend.SetServing("", false);
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  backend.SetServing("", true);
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
  EXPECT_EQ(backend.watches(), 1);  // never re-opened
}

// A server that never answers: stopping must cancel the Check in flight
// (deadline an hour away) and the Watch stream, not wait for them.
TEST(GrpcCheckerTest, StopCancelsWhatIsInFlight) {
  RawH2Server frozen(RawH2Server::Behavior::kStuck);
  CheckSettings settings = Settings();
  settings.watch = true;
  settings.interval = absl::Milliseconds(1);
  settings.timeout = kNever;
  auto health = NewHealth(settings);
  auto checker = Start(frozen.address(), settings, health);
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return frozen.streams() >= 2; }));  // Watch + Check

  absl::Notification stopped;
  std::thread stopper([&] {
    checker.reset();
    stopped.Notify();
  });
  bool prompt = stopped.WaitForNotificationWithTimeout(absl::Seconds(20));
  EXPECT_TRUE(prompt) << "the checker's destructor hangs";
  if (prompt) {
    stopper.join();
  } else {
    stopper.detach();
  }
}

}  // namespace
}  // namespace strait::health
