#ifndef STRAIT_TESTS_INTEGRATION_GREETER_PROCESS_H_
#define STRAIT_TESTS_INTEGRATION_GREETER_PROCESS_H_

#include <optional>
#include <string>

#include "absl/time/time.h"
#include "tests/support/peer_process.h"

namespace strait::testing {

// A greeter_server child (examples/greeter) on a port it picks itself, for
// the tests that run the examples and the README's tour. Driven by the test
// thread.
class Greeter {
 public:
  explicit Greeter(const std::string& name);

  bool started() const { return port_ > 0; }
  // SIGUSR1 flips the greeter's grpc.health.v1 status; it says so
  // ("greeter NAME health NOT_SERVING").
  void FlipHealth();
  // Waits (at most `timeout`) for a line of the greeter's output that starts
  // with `prefix`; the rest of it, or nullopt.
  std::optional<std::string> WaitForLine(const std::string& prefix, absl::Duration timeout);
  // SIGTERM: the greeter stops (its Shutdown ends open streams).
  void Stop();
  std::string address() const;  // 127.0.0.1:PORT
  std::string url() const { return "h2c://" + address(); }
  std::string output() const { return process_.output(); }

 private:
  PeerProcess process_;
  int port_ = -1;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_GREETER_PROCESS_H_
