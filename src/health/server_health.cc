#include "health/server_health.h"

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "event/dispatcher.h"

namespace strait::health {

ServerHealth::ServerHealth(std::string url, std::string label, bool initially_up,
                           std::shared_ptr<const HealthEventSink> events)
    : url_(std::move(url)),
      label_(std::move(label)),
      events_(std::move(events)),
      active_up_(initially_up) {}

void ServerHealth::Report(HealthEvent::Kind kind, bool healthy, bool ejected,
                          std::string reason) const {
  if (events_ == nullptr) return;
  events_->Notify(HealthEvent{.kind = kind,
                              .url = url_,
                              .healthy = healthy,
                              .ejected = ejected,
                              .drained = drained(),
                              .reason = std::move(reason)});
}

bool ServerHealth::SetActive(bool up, std::string reason) {
  // One checker writes this. The reason is in place before the flip can be
  // seen, so whoever sees the server down reads why.
  if (active_up_.load(std::memory_order_acquire) == up) return false;
  {
    absl::MutexLock lock(&mu_);
    reason_ = reason;
  }
  flips_.fetch_add(1, std::memory_order_relaxed);
  active_up_.store(up, std::memory_order_release);
  // Logged once in effect: whoever reads "is down" finds new RPCs avoiding
  // the server already.
  if (up) {
    STRAIT_LOG(kInfo, "health: ", label_, " is up: ", reason);
  } else {
    STRAIT_LOG(kWarn, "health: ", label_, " is down: ", reason);
  }
  Report(HealthEvent::Kind::kHealth, up, ejected(event::Dispatcher::MonotonicNow()),
         std::move(reason));
  return true;
}

bool ServerHealth::SetDrained(bool drained) {
  return drained_.exchange(drained, std::memory_order_acq_rel) != drained;
}

bool ServerHealth::Eject(absl::Time now, absl::Duration base, absl::Duration max,
                         std::string reason) {
  const int64_t now_ns = ToNanos(now);
  int64_t until = ejected_until_ns_.load(std::memory_order_acquire);
  for (;;) {
    if (until > now_ns) return false;  // already ejected
    const int n = ejections_.load(std::memory_order_relaxed) + 1;
    const absl::Duration length = std::min(base * n, max);
    // Workers may eject at once: the one whose exchange lands counts.
    if (ejected_until_ns_.compare_exchange_weak(until, now_ns + absl::ToInt64Nanoseconds(length),
                                                std::memory_order_acq_rel)) {
      ejections_.fetch_add(1, std::memory_order_relaxed);
      STRAIT_LOG(kWarn, "health: ", label_, " ejected for ", absl::FormatDuration(length),
                 " (ejection ", n, "): ", reason);
      {
        absl::MutexLock lock(&mu_);
        reason_ = reason;
      }
      Report(HealthEvent::Kind::kEjected, active_up(), /*ejected=*/true, std::move(reason));
      return true;
    }
  }
}

absl::Time ServerHealth::ejected_until() const {
  int64_t until = ejected_until_ns_.load(std::memory_order_acquire);
  return until == 0 ? absl::InfinitePast() : absl::FromUnixNanos(until);
}

std::string ServerHealth::reason() const {
  absl::MutexLock lock(&mu_);
  return reason_;
}

}  // namespace strait::health
