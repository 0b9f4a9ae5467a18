#ifndef STRAIT_HEALTH_SERVER_HEALTH_H_
#define STRAIT_HEALTH_SERVER_HEALTH_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "health/health_event.h"

namespace strait::health {

// What strait knows of one server identity (server URL + health check
// settings): the active checker's verdict, the passive ejection state and
// the admin drain.
// Created by the HealthStore on the control thread and shared through
// std::shared_ptr by the store and every snapshot that lists the server, so
// that a reload which keeps the identity keeps the state.
//
// Threads: Usable(), active_up(), drained() and ejected() are read by every
// worker on the data path and touch atomics only. SetActive() is called by
// the one checker of this server (on gRPC's or the HTTP checker's thread);
// Eject() by any worker (atomics; only the winner of an ejection takes mu_
// to set the reason); SetDrained() by the HealthStore on the control side.
// reason() takes mu_: for log lines and error messages, not for picking.
//
// Flips and ejections are reported to `events` (if any) from the thread
// that made them, after the change is visible to workers.
class ServerHealth {
 public:
  // `url` is the server's stable name, as in events. `label` names the
  // server (and the checked service) in logs and errors: `server
  // h2c://10.0.0.1:50051 service "foo"`. `events` may be null (no one
  // listens: `--check`, tests).
  ServerHealth(std::string url, std::string label, bool initially_up,
               std::shared_ptr<const HealthEventSink> events = nullptr);
  ServerHealth(const ServerHealth&) = delete;
  ServerHealth& operator=(const ServerHealth&) = delete;

  const std::string& url() const { return url_; }
  const std::string& label() const { return label_; }

  // Whether the server may get new RPCs now: up by its active check (always
  // up without one), not drained and not passively ejected.
  bool Usable(absl::Time now) const { return active_up() && !drained() && !ejected(now); }
  bool active_up() const { return active_up_.load(std::memory_order_acquire); }
  bool ejected(absl::Time now) const {
    return ejected_until_ns_.load(std::memory_order_acquire) > ToNanos(now);
  }
  // Drained by an admin: no new RPCs, not even in panic mode; those in
  // flight finish.
  bool drained() const { return drained_.load(std::memory_order_acquire); }

  // The active checker's verdict. On a flip (only), records `reason`, logs
  // one line and reports a kHealth event; returns whether it flipped.
  bool SetActive(bool up, std::string reason);

  // The admin drain; returns whether it changed. Reports no event: the
  // HealthStore reports one per URL, which several identities may share.
  bool SetDrained(bool drained);

  // Passive ejection, with times from event::Dispatcher::MonotonicNow():
  // ejects the server until now + min(base × ejections so far including
  // this one, max). False (and nothing changes) if it is already ejected at
  // `now`. The ejection ends by itself when the time passes. The winner
  // reports a kEjected event (on its worker's thread).
  bool Eject(absl::Time now, absl::Duration base, absl::Duration max, std::string reason);
  // Ejections so far (the multiplier of the next one is this + 1).
  int ejections() const { return ejections_.load(std::memory_order_relaxed); }
  // When the current (or last) ejection ends; InfinitePast() if never.
  absl::Time ejected_until() const;

  // Why the server last went down (by check or ejection), or last came up.
  std::string reason() const;
  // Active flips so far (for tests and counters).
  int flips() const { return flips_.load(std::memory_order_relaxed); }

 private:
  static int64_t ToNanos(absl::Time t) { return absl::ToUnixNanos(t); }
  // Reports `kind` with the state as it is now.
  void Report(HealthEvent::Kind kind, bool healthy, bool ejected, std::string reason) const;

  const std::string url_;
  const std::string label_;
  const std::shared_ptr<const HealthEventSink> events_;  // may be null
  std::atomic<bool> active_up_;
  std::atomic<bool> drained_{false};
  // Monotonic nanoseconds; 0: never ejected.
  std::atomic<int64_t> ejected_until_ns_{0};
  std::atomic<int> ejections_{0};
  std::atomic<int> flips_{0};
  mutable absl::Mutex mu_;
  std::string reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strait::health

#endif  // STRAIT_HEALTH_SERVER_HEALTH_H_
