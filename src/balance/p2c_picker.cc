#include "balance/p2c_picker.h"

#include <cstddef>

namespace strait::balance {
namespace {

// Draws from the prefix sums before scanning; a miss means a drawn server
// was not a candidate (down, tried, or the first choice again).
constexpr int kDraws = 4;

// One candidate drawn with probability proportional to weight among the
// servers in the tier other than `exclude`, in one pass (weighted reservoir
// sampling), so a server flipping health mid-scan cannot break the draw.
template <typename InTier>
size_t ScanDraw(const Plan& plan, PickerState& state, InTier in_tier, size_t exclude) {
  uint64_t seen = 0;
  size_t chosen = kNoServer;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (i == exclude || !in_tier(i)) continue;
    seen += plan.weight(i);
    if (state.NextBelow(seen) < plan.weight(i)) chosen = i;
  }
  return chosen;
}

bool InTier(const Candidates& candidates, bool prefer, size_t i) {
  return prefer ? candidates.Preferred(i) : candidates.Usable(i);
}

// The first draw after the fast path's one try missed: more tries, then a
// scan, then the same over tried servers (*prefer becomes false).
size_t DrawFirst(const Plan& plan, PickerState& state, const Candidates& candidates, bool* prefer) {
  for (int t = 1; t < kDraws; ++t) {
    size_t i = plan.ServerAtWeight(state.NextBelow(plan.total_weight()));
    if (candidates.Preferred(i)) return i;
  }
  auto preferred = [&](size_t i) { return candidates.Preferred(i); };
  size_t first = ScanDraw(plan, state, preferred, kNoServer);
  if (first != kNoServer) return first;
  *prefer = false;
  auto usable = [&](size_t i) { return candidates.Usable(i); };
  return ScanDraw(plan, state, usable, kNoServer);
}

// A draw over the servers other than `first`: it skips first's range of the
// prefix sums, so it is weight-proportional over the others without ever
// rejecting `first`. kNoServer when first is the only candidate.
size_t DrawSecond(const Plan& plan, PickerState& state, const Candidates& candidates, bool prefer,
                  size_t first) {
  const uint64_t first_weight = plan.weight(first);
  const uint64_t first_start = plan.cumulative(first) - first_weight;
  const uint64_t rest = plan.total_weight() - first_weight;
  if (rest == 0) return kNoServer;
  for (int t = 0; t < kDraws; ++t) {
    uint64_t r = state.NextBelow(rest);
    size_t j = plan.ServerAtWeight(r < first_start ? r : r + first_weight);
    if (InTier(candidates, prefer, j)) return j;
  }
  auto in_tier = [&](size_t i) { return InTier(candidates, prefer, i); };
  return ScanDraw(plan, state, in_tier, first);
}

}  // namespace

size_t PickP2c(const Plan& plan, PickerState& state, const Candidates& candidates,
               absl::FunctionRef<uint32_t(size_t)> in_flight) {
  if (plan.total_weight() == 0) return kNoServer;
  bool prefer = true;  // the tier: untried candidates, else any candidate
  size_t first = plan.ServerAtWeight(state.NextBelow(plan.total_weight()));
  if (!candidates.Preferred(first)) {
    first = DrawFirst(plan, state, candidates, &prefer);
    if (first == kNoServer) return kNoServer;
  }
  size_t second = DrawSecond(plan, state, candidates, prefer, first);
  if (second == kNoServer) return first;
  // in_flight(second) / w(second) < in_flight(first) / w(first), without division.
  uint64_t first_load = uint64_t{in_flight(first)} * plan.weight(second);
  uint64_t second_load = uint64_t{in_flight(second)} * plan.weight(first);
  return second_load < first_load ? second : first;
}

}  // namespace strait::balance
