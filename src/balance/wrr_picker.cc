#include "balance/wrr_picker.h"

#include <cstddef>

namespace strait::balance {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);

// One SWRR round over the servers in_tier accepts; kNone (and no change)
// when it accepts none.
template <typename InTier>
size_t Round(const Plan& plan, absl::Span<int64_t> current, InTier in_tier) {
  int64_t total = 0;
  size_t best = kNone;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!in_tier(i)) continue;
    current[i] += plan.weight(i);
    total += plan.weight(i);
    if (best == kNone || current[i] > current[best]) best = i;
  }
  if (best != kNone) current[best] -= total;
  return best;
}

}  // namespace

PickResult PickWrr(const Plan& plan, PickerState& state, const Candidates& candidates) {
  absl::Span<int64_t> current = state.current_weights();
  size_t picked = Round(plan, current, [&](size_t i) { return candidates.Preferred(i); });
  if (picked == kNone) {
    picked = Round(plan, current, [&](size_t i) { return candidates.Usable(i); });
  }
  if (picked == kNone) return candidates.NoUsableServer();
  return Complete{picked};
}

void AdvanceWrr(const Plan& plan, absl::Span<int64_t> current, uint64_t picks) {
  for (uint64_t n = 0; n < picks; ++n) {
    Round(plan, current, [&](size_t i) { return plan.weight(i) > 0; });
  }
}

}  // namespace strait::balance
