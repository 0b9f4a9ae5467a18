#ifndef STRAIT_HEALTH_CHECK_SETTINGS_H_
#define STRAIT_HEALTH_CHECK_SETTINGS_H_

#include <string>

#include "absl/time/time.h"

namespace strait::health {

// How a server is probed.
enum class CheckMode {
  kGrpc,  // grpc.health.v1.Health/Check (and /Watch when `watch`)
  kHttp,  // GET `path` over HTTP/2 cleartext (prior knowledge); 2xx = up
};

// The compiled form of a load balancer's `healthCheck` (plus the dial timeout
// of its servers transport): a plain value, built by the config compiler on
// the control thread and copied into each checker. Defaults follow Traefik
// where Traefik has the setting (interval 30s, timeout 5s, dial 30s).
struct CheckSettings {
  CheckMode mode = CheckMode::kGrpc;
  // grpc.health.v1 service name; "" is the whole server.
  std::string service;
  // kHttp: the request's :path.
  std::string path = "/";
  // Port to probe instead of the server's own (0: the server's).
  int port = 0;
  // :authority of the probes ("": the server's authority).
  std::string hostname;
  // Between the end of one Check and the start of the next while the server
  // is up...
  absl::Duration interval = absl::Seconds(30);
  // ...and while it is down (zero: `interval`).
  absl::Duration unhealthy_interval = absl::ZeroDuration();
  // Deadline of one Check or HTTP probe.
  absl::Duration timeout = absl::Seconds(5);
  // kGrpc: also hold one Watch stream open, whose reports flip the server at
  // once (see GrpcChecker).
  bool watch = false;
  // Consecutive Check successes that bring a down server up, and failures
  // that take an up server down.
  int healthy_threshold = 1;
  int unhealthy_threshold = 1;
  // The state before the first verdict.
  bool initially_healthy = true;
  // Connect timeout, from the servers transport.
  absl::Duration dial_timeout = absl::Seconds(30);

  absl::Duration EffectiveUnhealthyInterval() const {
    return unhealthy_interval > absl::ZeroDuration() ? unhealthy_interval : interval;
  }
  // Identifies these settings: equal keys, equal behaviour. A reload keeps
  // a server's checker (and its state) exactly when the key is unchanged.
  std::string Key() const;
};

}  // namespace strait::health

#endif  // STRAIT_HEALTH_CHECK_SETTINGS_H_
