#include "balance/wrr_picker.h"

#include <cstddef>

namespace strait::balance {
namespace {

// One SWRR round over the servers in_tier accepts; kNoServer (and no change)
// when it accepts none.
// Locals rather than plan/span accessors: in_tier calls out to the caller's
// lambdas, after which the compiler would reload every member.
template <typename InTier>
size_t Round(const Plan& plan, absl::Span<int64_t> current, InTier in_tier) {
  const size_t n = plan.size();
  const uint32_t* weights = plan.weights().data();
  int64_t* cur = current.data();
  int64_t total = 0;
  int64_t best_current = 0;
  size_t best = kNoServer;
  for (size_t i = 0; i < n; ++i) {
    if (!in_tier(i)) continue;
    cur[i] += weights[i];
    total += weights[i];
    if (best == kNoServer || cur[i] > best_current) {
      best = i;
      best_current = cur[i];
    }
  }
  if (best != kNoServer) cur[best] -= total;
  return best;
}

}  // namespace

size_t PickWrr(const Plan& plan, PickerState& state, const Candidates& candidates) {
  absl::Span<int64_t> current = state.current_weights();
  size_t picked = Round(plan, current, [&](size_t i) { return candidates.Preferred(i); });
  if (picked == kNoServer) {
    picked = Round(plan, current, [&](size_t i) { return candidates.Usable(i); });
  }
  return picked;
}

void AdvanceWrr(const Plan& plan, absl::Span<int64_t> current, uint64_t picks) {
  for (uint64_t n = 0; n < picks; ++n) {
    Round(plan, current, [&](size_t i) { return plan.weight(i) > 0; });
  }
}

}  // namespace strait::balance
