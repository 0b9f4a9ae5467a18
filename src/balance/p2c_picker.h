#ifndef STRAIT_BALANCE_P2C_PICKER_H_
#define STRAIT_BALANCE_P2C_PICKER_H_

#include <cstddef>
#include <cstdint>

#include "absl/functional/function_ref.h"
#include "balance/candidates.h"
#include "balance/picker.h"
#include "balance/plan.h"

namespace strait::balance {

// Power of two choices (Mitzenmacher), weighted: draw two distinct
// candidates with probability proportional to weight (without replacement),
// keep the one with the lower in_flight / weight, the first drawn on a tie.
// Weight-proportional draws make an idle service (in_flight all 0: every
// comparison a tie) split exactly by weight, and the ratio makes a loaded
// one converge to in-flight proportional to weight, so weights hold at any
// load while a slow server, holding its streams longer, gets fewer new ones.
// One candidate: it wins. Draws are rejection-sampled from the plan's
// prefix sums (O(log N) when most servers are candidates) with a one-pass
// weighted scan after a few misses, so the result is exact either way.
// Also the fallback for hash requests without the key. Loop thread; state
// is the worker's RNG.
// Returns the server index, or kNoServer when no server is a candidate.
size_t PickP2c(const Plan& plan, PickerState& state, const Candidates& candidates,
               absl::FunctionRef<uint32_t(size_t)> in_flight);

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_P2C_PICKER_H_
