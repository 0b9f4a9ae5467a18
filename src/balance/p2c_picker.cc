#include "balance/p2c_picker.h"

#include <cstddef>

namespace strait::balance {
namespace {

constexpr size_t kNone = static_cast<size_t>(-1);
// Draws from the prefix sums before scanning; a miss means a drawn server
// was not a candidate (down, tried, or the first choice again).
constexpr int kDraws = 4;

// One candidate drawn with probability proportional to weight among the
// servers in the tier other than `exclude`, in one pass (weighted reservoir
// sampling), so a server flipping health mid-scan cannot break the draw.
template <typename InTier>
size_t ScanDraw(const Plan& plan, PickerState& state, InTier in_tier, size_t exclude) {
  uint64_t seen = 0;
  size_t chosen = kNone;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (i == exclude || !in_tier(i)) continue;
    seen += plan.weight(i);
    if (state.NextBelow(seen) < plan.weight(i)) chosen = i;
  }
  return chosen;
}

}  // namespace

PickResult PickP2c(const Plan& plan, PickerState& state, const Candidates& candidates,
                   absl::FunctionRef<uint32_t(size_t)> in_flight) {
  const uint64_t total = plan.total_weight();
  if (total == 0) return candidates.NoUsableServer();
  bool prefer = true;  // the tier: untried candidates, else any candidate
  auto in_tier = [&](size_t i) { return prefer ? candidates.Preferred(i) : candidates.Usable(i); };

  size_t first = kNone;
  for (int t = 0; t < kDraws && first == kNone; ++t) {
    size_t i = plan.ServerAtWeight(state.NextBelow(total));
    if (in_tier(i)) first = i;
  }
  if (first == kNone) first = ScanDraw(plan, state, in_tier, kNone);
  if (first == kNone) {
    prefer = false;
    first = ScanDraw(plan, state, in_tier, kNone);
    if (first == kNone) return candidates.NoUsableServer();
  }

  // The second draw skips first's range of the prefix sums, so it is
  // weight-proportional over the others without rejecting `first`.
  const uint64_t first_weight = plan.weight(first);
  const uint64_t first_start = plan.cumulative(first) - first_weight;
  const uint64_t rest = total - first_weight;
  size_t second = kNone;
  for (int t = 0; t < kDraws && second == kNone && rest > 0; ++t) {
    uint64_t r = state.NextBelow(rest);
    size_t j = plan.ServerAtWeight(r < first_start ? r : r + first_weight);
    if (in_tier(j)) second = j;
  }
  if (second == kNone && rest > 0) second = ScanDraw(plan, state, in_tier, first);
  if (second == kNone) return Complete{first};

  // in_flight(second) / w(second) < in_flight(first) / w(first), without division.
  uint64_t first_load = uint64_t{in_flight(first)} * plan.weight(second);
  uint64_t second_load = uint64_t{in_flight(second)} * first_weight;
  return Complete{second_load < first_load ? second : first};
}

}  // namespace strait::balance
