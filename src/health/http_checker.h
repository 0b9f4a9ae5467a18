#ifndef STRAIT_HEALTH_HTTP_CHECKER_H_
#define STRAIT_HEALTH_HTTP_CHECKER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "health/checker.h"

namespace strait::health {

// `mode: http`: GET `path` over HTTP/2 cleartext with prior knowledge, on a
// fresh connection each time (so a probe also proves the server accepts
// connections); a 2xx :status is a success, anything else — another status,
// a refused or timed-out connect, no answer within `timeout` — a failure.
// Probes run `interval` apart (`unhealthy_interval` while down), the first
// at once, through the Streak.
//
// Runs on one thread of its own, which blocks only in poll(2) on the
// connection and an eventfd: the destructor (control thread) writes the
// eventfd and joins, so stopping takes no longer than a wake-up, even in
// the middle of a probe or a DNS-free connect. (Names are resolved with
// getaddrinfo, which cannot be interrupted; numeric addresses need none.)
class HttpChecker final : public Checker {
 public:
  HttpChecker(const ProbeTarget& target, const CheckSettings& settings,
              std::shared_ptr<ServerHealth> health);
  ~HttpChecker() override;

  // One probe of `target`: the response's :status, or why there is none.
  // Returns early (kCancelled) once `wake_fd` turns readable. Public for
  // tests.
  static absl::StatusOr<int> Probe(const ProbeTarget& target, const CheckSettings& settings,
                                   int wake_fd);

 private:
  void Run();

  const ProbeTarget target_;
  const CheckSettings settings_;
  const std::shared_ptr<ServerHealth> health_;
  const int wake_fd_;  // eventfd: written once by the destructor
  std::thread thread_;
};

}  // namespace strait::health

#endif  // STRAIT_HEALTH_HTTP_CHECKER_H_
