#include "balance/picker.h"

#include <algorithm>
#include <cassert>

#include "absl/strings/str_cat.h"
#include "balance/candidates.h"
#include "balance/hash_picker.h"
#include "balance/p2c_picker.h"
#include "balance/stable_hash.h"
#include "balance/wrr_picker.h"

namespace strait::balance {
namespace {

// Bounds the wrr warm-up in the PickerState constructor.
constexpr uint64_t kMaxWrrPhase = 1024;

}  // namespace

PickerState::PickerState(const Plan& plan, uint64_t seed) : rng_(seed), plan_size_(plan.size()) {
  if (plan.strategy() != Strategy::kWrr) return;
  current_weights_.assign(plan.size(), 0);
  // Start each worker at its own point of the round, as if it had already
  // made `phase` picks: SWRR's sequence is deterministic, and N workers
  // starting at zero would send their first RPCs to the same server.
  uint64_t period = std::min(plan.total_weight(), kMaxWrrPhase);
  if (period > 0) AdvanceWrr(plan, current_weights(), MixHash64(seed) % period);
}

bool Candidates::InPanic() const {
  // Drained servers (by weight or by an admin) count on neither side.
  size_t usable = 0, live = 0;
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (plan_.weight(i) == 0) continue;
    if (args_.usable(i)) {
      ++usable;
      ++live;
    } else if (!args_.drained(i)) {
      ++live;
    }
  }
  return usable * 100 < plan_.panic_threshold() * live;
}

Fail Candidates::NoUsableServer() const {
  if (plan_.size() == 0) {
    return Fail{absl::UnavailableError("no usable server: the service has no servers")};
  }
  const size_t by_weight = plan_.size() - plan_.live_servers();
  size_t by_admin = 0, unusable = 0;
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (plan_.weight(i) == 0 || args_.usable(i)) continue;
    if (args_.drained(i)) {
      ++by_admin;
    } else {
      ++unusable;
    }
  }
  if (by_weight + by_admin == plan_.size()) {
    std::string how = by_admin == 0 ? " (weight 0)"
                      : by_weight == 0
                          ? " by admin"
                          : absl::StrCat(" (", by_admin, " by admin, ", by_weight, " weight 0)");
    return Fail{absl::UnavailableError(
        absl::StrCat("no usable server: all ", plan_.size(), " drained", how))};
  }
  std::string message =
      absl::StrCat("no usable server: ", unusable, " of ", plan_.size(), " unusable");
  if (by_admin > 0) absl::StrAppend(&message, ", ", by_admin, " drained by admin");
  if (by_weight > 0) absl::StrAppend(&message, ", ", by_weight, " drained (weight 0)");
  return Fail{absl::UnavailableError(message)};
}

PickResult Pick(const Plan& plan, PickerState& state, const PickArgs& args) {
  assert(state.plan_size() == plan.size());
  Candidates candidates(plan, args);
  size_t picked = kNoServer;
  switch (plan.strategy()) {
    case Strategy::kWrr:
      picked = PickWrr(plan, state, candidates);
      break;
    case Strategy::kHash:
      picked = args.hash_value.has_value() ? PickHash(plan, candidates, *args.hash_value)
                                           : PickP2c(plan, state, candidates, args.in_flight);
      break;
    case Strategy::kP2C:
      picked = PickP2c(plan, state, candidates, args.in_flight);
      break;
  }
  if (picked == kNoServer) return candidates.NoUsableServer();
  return Complete{picked};
}

}  // namespace strait::balance
