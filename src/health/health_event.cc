#include "health/health_event.h"

#include <utility>

namespace strait::health {

void HealthEventSink::SetListener(HealthListener listener) {
  auto next = listener ? std::make_shared<const HealthListener>(std::move(listener)) : nullptr;
  absl::MutexLock lock(&mu_);
  listener_ = std::move(next);
}

void HealthEventSink::Notify(const HealthEvent& event) const {
  std::shared_ptr<const HealthListener> listener;
  {
    absl::MutexLock lock(&mu_);
    listener = listener_;
  }
  if (listener != nullptr) (*listener)(event);
}

}  // namespace strait::health
