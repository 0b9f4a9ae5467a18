#ifndef STRAIT_BALANCE_HASH_PICKER_H_
#define STRAIT_BALANCE_HASH_PICKER_H_

#include <cstddef>

#include "absl/strings/string_view.h"
#include "balance/candidates.h"
#include "balance/picker.h"
#include "balance/plan.h"

namespace strait::balance {

// Consistent hashing on the hash header's value: the key's server is its
// slot's owner in the plan's Maglev table. When that server is not a
// candidate (down, ejected, or already tried by this RPC) the key falls
// through to the highest-scoring other candidate by weighted rendezvous
// hashing (score = -weight / ln(u), u from hash(key, server id)): the same
// fallback for the same key every time, whatever the server order, and the
// keys of a down server spread over the others by weight. The key's own
// server, if usable, beats an avoided fallback. Stateless: no PickerState.
// Loop thread (only because Candidates calls the caller's lambdas).
// Returns the server index, or kNoServer when no server is a candidate.
size_t PickHash(const Plan& plan, const Candidates& candidates, absl::string_view key);

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_HASH_PICKER_H_
