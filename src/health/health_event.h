#ifndef STRAIT_HEALTH_HEALTH_EVENT_H_
#define STRAIT_HEALTH_HEALTH_EVENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace strait::health {

// One change of what strait knows of a server, for watchers (the admin
// service's Watch). The state fields are the server's state just after
// the change.
struct HealthEvent {
  enum class Kind {
    kHealth,   // its active check flipped it up or down (checker thread)
    kEjected,  // passive health ejected it (the worker that ejected it)
    kDrain,    // an admin drained or undrained it (the caller's thread)
  };
  Kind kind = Kind::kHealth;
  std::string url;
  bool healthy = true;  // by its active check (true without one)
  bool ejected = false;
  bool drained = false;
  std::string reason;  // why: the check's or ejection's reason, or the admin's
};

// Called from the thread that caused the event (see Kind). It runs on a
// worker's loop for ejections, so it must be cheap and never block: push
// into a queue and return. It must not call back into the HealthStore or
// the Server.
using HealthListener = std::function<void(const HealthEvent&)>;

// Where the ServerHealths of one HealthStore send their events: holds the
// listener, which may be set or replaced at any time from any thread.
// Shared (std::shared_ptr) by the store and each of its ServerHealths, so a
// ServerHealth an old snapshot still holds never points at a freed store.
class HealthEventSink {
 public:
  void SetListener(HealthListener listener);
  // Calls the listener, if any, outside the lock (so events of different
  // threads may reach it at once).
  void Notify(const HealthEvent& event) const;

 private:
  mutable absl::Mutex mu_;
  // Replaced, never changed in place: Notify copies the pointer and calls
  // it unlocked.
  std::shared_ptr<const HealthListener> listener_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strait::health

#endif  // STRAIT_HEALTH_HEALTH_EVENT_H_
