#ifndef STRAIT_HEALTH_CHECKER_H_
#define STRAIT_HEALTH_CHECKER_H_

#include <memory>
#include <string>

#include "health/check_settings.h"
#include "net/client_tls_context.h"
#include "health/server_health.h"

namespace strait::health {

// What a checker probes: the server's dial address and :authority, with the
// settings' port and hostname overrides already applied.
struct ProbeTarget {
  std::string address;    // "host:port" to dial
  std::string authority;  // :authority of every probe
  // An https:// server: its transport's TLS (roots, client certificate);
  // null for h2c. `tls_name` is the name its certificate must carry
  // (serverName, else the URL's host).
  std::shared_ptr<const net::ClientTlsContext> tls;
  std::string tls_name;
};

// One server's active health checker: runs from construction, writes its
// verdicts into the ServerHealth, and stops in its destructor, which returns
// once none of its callbacks runs any more (so it never outlives what it
// points to, and never blocks longer than it takes to cancel a probe). Owned
// by the HealthStore; created and destroyed on the control thread.
class Checker {
 public:
  virtual ~Checker() = default;
};

// grpc (Check, and Watch when settings.watch) or http, per settings.mode.
std::unique_ptr<Checker> MakeChecker(const ProbeTarget& target, const CheckSettings& settings,
                                     std::shared_ptr<ServerHealth> health);

// The thresholds of consecutive probe results: `healthy_threshold`
// successes in a row bring a down server up, `unhealthy_threshold`
// failures in a row take an up server down. Not thread-safe: owned by one
// checker, under its lock.
class Streak {
 public:
  explicit Streak(const CheckSettings& settings)
      : healthy_threshold_(settings.healthy_threshold),
        unhealthy_threshold_(settings.unhealthy_threshold),
        up_(settings.initially_healthy) {}

  // Records one probe result; returns the verdict after it.
  bool Record(bool ok) {
    if (ok) {
      failures_ = 0;
      if (!up_ && ++successes_ >= healthy_threshold_) up_ = true;
    } else {
      successes_ = 0;
      if (up_ && ++failures_ >= unhealthy_threshold_) up_ = false;
    }
    if (up_) successes_ = 0;
    if (!up_) failures_ = 0;
    return up_;
  }
  // A verdict from elsewhere (a Watch report) that starts the counts over.
  void Reset(bool up) {
    up_ = up;
    successes_ = failures_ = 0;
  }
  bool up() const { return up_; }

 private:
  const int healthy_threshold_;
  const int unhealthy_threshold_;
  bool up_;
  int successes_ = 0;  // in a row, while down
  int failures_ = 0;   // in a row, while up
};

}  // namespace strait::health

#endif  // STRAIT_HEALTH_CHECKER_H_
