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

uint64_t PickerState::NextRandom() {
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  return MixHash64(z);
}

uint64_t PickerState::NextBelow(uint64_t bound) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(NextRandom()) * bound) >> 64);
}

Candidates::Candidates(const Plan& plan, const PickArgs& args) : plan_(plan), args_(args) {
  if (plan.panic_threshold() == 0 || plan.live_servers() == 0) return;
  size_t usable = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan.weight(i) > 0 && args.usable(i)) ++usable;
  }
  panic_ = usable * 100 < plan.panic_threshold() * plan.live_servers();
}

Fail Candidates::NoUsableServer() const {
  if (plan_.size() == 0) {
    return Fail{absl::UnavailableError("no usable server: the service has no servers")};
  }
  size_t drained = plan_.size() - plan_.live_servers();
  if (drained == plan_.size()) {
    return Fail{absl::UnavailableError(
        absl::StrCat("no usable server: all ", drained, " drained (weight 0)"))};
  }
  size_t unusable = 0;
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (plan_.weight(i) > 0 && !args_.usable(i)) ++unusable;
  }
  return Fail{absl::UnavailableError(
      absl::StrCat("no usable server: ", unusable, " of ", plan_.size(), " unusable",
                   drained > 0 ? absl::StrCat(", ", drained, " drained (weight 0)") : ""))};
}

PickResult Pick(const Plan& plan, PickerState& state, const PickArgs& args) {
  assert(state.plan_size() == plan.size());
  Candidates candidates(plan, args);
  switch (plan.strategy()) {
    case Strategy::kWrr:
      return PickWrr(plan, state, candidates);
    case Strategy::kHash:
      if (args.hash_value.has_value()) return PickHash(plan, candidates, *args.hash_value);
      return PickP2c(plan, state, candidates, args.in_flight);
    case Strategy::kP2C:
      return PickP2c(plan, state, candidates, args.in_flight);
  }
  return candidates.NoUsableServer();
}

}  // namespace strait::balance
