#ifndef STRAIT_BALANCE_WRR_PICKER_H_
#define STRAIT_BALANCE_WRR_PICKER_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "balance/candidates.h"
#include "balance/picker.h"
#include "balance/plan.h"

namespace strait::balance {

// Smooth weighted round robin, nginx's ngx_http_upstream_get_peer: every
// candidate's current weight grows by its weight, the largest (the first on
// a tie) wins and gives back the round's total. Weights 1:3 give b a b b,
// repeated: exact proportions over every round and no bursts. Servers that
// are not candidates sit the round out, their current weights untouched,
// so the others keep their proportions among themselves (as nginx skips
// down and tried peers). Loop thread; state is the worker's current weights.
// Returns the server index, or kNoServer when no server is a candidate.
size_t PickWrr(const Plan& plan, PickerState& state, const Candidates& candidates);

// Runs `picks` rounds with every non-drained server a candidate: the
// PickerState constructor's per-worker phase.
void AdvanceWrr(const Plan& plan, absl::Span<int64_t> current, uint64_t picks);

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_WRR_PICKER_H_
