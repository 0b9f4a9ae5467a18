#ifndef STRAIT_BALANCE_CANDIDATES_H_
#define STRAIT_BALANCE_CANDIDATES_H_

#include <cstddef>

#include "absl/status/status.h"
#include "balance/picker.h"
#include "balance/plan.h"

namespace strait::balance {

// What a policy returns when it has no candidate; Pick turns it into Fail.
inline constexpr size_t kNoServer = static_cast<size_t>(-1);

// Which servers one Pick may choose from, in two tiers: `Usable` (weight
// above 0, and healthy, or in panic mode not drained by an admin) and
// `Preferred` (usable and not yet tried by this RPC). Policies try
// Preferred first, then Usable. Lives on the stack of one Pick; holds
// references to its arguments.
class Candidates {
 public:
  // Counts the usable servers only when the plan has a panic threshold.
  Candidates(const Plan& plan, const PickArgs& args) : plan_(plan), args_(args) {
    if (plan.panic_threshold() > 0) panic_ = InPanic();
  }

  bool Usable(size_t i) const {
    return plan_.weight(i) > 0 && (panic_ ? !args_.drained(i) : args_.usable(i));
  }
  bool Avoided(size_t i) const {
    for (size_t tried : args_.avoid) {
      if (tried == i) return true;
    }
    return false;
  }
  bool Preferred(size_t i) const { return Usable(i) && !Avoided(i); }
  bool panic() const { return panic_; }

  // UNAVAILABLE naming why no server is usable; scans the servers again.
  Fail NoUsableServer() const;

 private:
  bool InPanic() const;

  const Plan& plan_;
  const PickArgs& args_;
  bool panic_ = false;
};

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_CANDIDATES_H_
