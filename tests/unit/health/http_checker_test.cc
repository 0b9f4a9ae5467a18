#include "health/http_checker.h"

#include <memory>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "health/health_store.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/support/health_backend.h"

namespace strait::health {
namespace {

using ::strait::testing::RawH2Server;
using ::strait::testing::WaitUntil;

CheckSettings HttpSettings() {
  CheckSettings settings;
  settings.mode = CheckMode::kHttp;
  settings.path = "/healthz";
  settings.hostname = "health.internal";
  settings.interval = absl::Milliseconds(20);
  settings.timeout = absl::Seconds(5);
  settings.dial_timeout = absl::Seconds(5);
  return settings;
}

TEST(HttpCheckerTest, TwoHundredIsUpFiveOhThreeIsDown) {
  RawH2Server server(RawH2Server::Behavior::kGrpcStatus);
  server.set_response_headers({{":status", "200"}});
  CheckSettings settings = HttpSettings();
  settings.initially_healthy = false;
  auto health = std::make_shared<ServerHealth>("h2c://test", "server test", false);
  Target target{"h2c://" + server.address(), server.address(), "", settings};
  auto checker = MakeChecker(ProbeTargetOf(target, settings), settings, health);

  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
  std::vector<HeaderList> requests = server.requests();
  ASSERT_FALSE(requests.empty());
  EXPECT_EQ(*FindHeader(requests[0], ":method"), "GET");
  EXPECT_EQ(*FindHeader(requests[0], ":path"), "/healthz");
  EXPECT_EQ(*FindHeader(requests[0], ":authority"), "health.internal");

  server.set_response_headers({{":status", "503"}});
  ASSERT_TRUE(WaitUntil([&] { return !health->active_up(); }));
  EXPECT_NE(health->reason().find("503"), std::string::npos) << health->reason();
  server.set_response_headers({{":status", "204"}});
  ASSERT_TRUE(WaitUntil([&] { return health->active_up(); }));
}

TEST(HttpCheckerTest, ResetStreamAndRefusedConnectionAreFailures) {
  RawH2Server reset(RawH2Server::Behavior::kReset);
  CheckSettings settings = HttpSettings();
  absl::StatusOr<int> status =
      HttpChecker::Probe(ProbeTarget{reset.address(), "x"}, settings, /*wake_fd=*/-1);
  EXPECT_FALSE(status.ok());

  int port = 0;
  int fd = testing::ListenOnLoopback(1, &port);
  close(fd);  // nobody listens there now
  status = HttpChecker::Probe(ProbeTarget{"127.0.0.1:" + std::to_string(port), "x"}, settings,
                              /*wake_fd=*/-1);
  EXPECT_FALSE(status.ok());
}

// A server that never answers: stopping must not wait for the probe's
// timeout (an hour).
TEST(HttpCheckerTest, StopInterruptsAProbeInFlight) {
  RawH2Server frozen(RawH2Server::Behavior::kStuck);
  CheckSettings settings = HttpSettings();
  settings.timeout = absl::Hours(1);
  auto health = std::make_shared<ServerHealth>("h2c://test", "server test", true);
  auto checker =
      std::make_unique<HttpChecker>(ProbeTarget{frozen.address(), "x"}, settings, health);
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return frozen.streams() >= 1; }));

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
  EXPECT_TRUE(health->active_up());  // a stop is no verdict
}

}  // namespace
}  // namespace strait::health
