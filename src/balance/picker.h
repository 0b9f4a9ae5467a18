#ifndef STRAIT_BALANCE_PICKER_H_
#define STRAIT_BALANCE_PICKER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "balance/plan.h"
#include "balance/stable_hash.h"

namespace strait::balance {

// The mutable half of one service's picker on one worker: SWRR's current
// weights and the RNG of p2c (and of hash requests without a key). Created
// by the worker from a Plan, owned by it, loop-thread-only; when the Plan
// changes the worker makes a new one (keyed by service name and plan
// identity, never by pointer). Never reallocates after construction.
class PickerState {
 public:
  // `seed` seeds the RNG and, for wrr, the phase of the round, so workers
  // built from one Plan do not all start on the same server.
  PickerState(const Plan& plan, uint64_t seed);

  // splitmix64: small, fast, and the same sequence everywhere for a seed.
  uint64_t NextRandom() { return MixHash64(rng_ += 0x9e3779b97f4a7c15ULL); }
  // Uniform in [0, bound); bound > 0. Multiply-shift, no division.
  uint64_t NextBelow(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(NextRandom()) * bound) >> 64);
  }
  // SWRR's current weight per server (empty unless the plan is wrr).
  absl::Span<int64_t> current_weights() { return absl::MakeSpan(current_weights_); }
  size_t plan_size() const { return plan_size_; }

 private:
  uint64_t rng_;
  size_t plan_size_;
  std::vector<int64_t> current_weights_;
};

// PickArgs::drained for callers without an admin drain.
inline bool NeverDrained(size_t) { return false; }

struct PickArgs {
  // The value of the plan's hash header in this request, if present.
  std::optional<absl::string_view> hash_value;
  // Servers (indices into the plan) this RPC already tried: a soft
  // preference — pick another usable server if there is one, else one of
  // these.
  absl::Span<const size_t> avoid;
  // Whether server i may take new RPCs now (healthy by active check, not
  // ejected, not drained). Callers pass a cheap lambda reading atomics.
  absl::FunctionRef<bool(size_t)> usable;
  // This worker's in-flight streams on server i (for p2c).
  absl::FunctionRef<uint32_t(size_t)> in_flight;
  // Whether server i is drained by an admin: then `usable` must say false
  // too, and it stays out even in panic mode, like a weight-0 server. Asked
  // only with a panic threshold (in panic mode instead of `usable`) and
  // when no server is left (for the message).
  absl::FunctionRef<bool(size_t)> drained = NeverDrained;
};

// The pick succeeded: send the RPC to server `server` (an index into the plan).
struct Complete {
  size_t server;
};
// Reserved, never returned today: nothing to pick yet, wait and pick again
// (for a picker that will wait on a server's first health result or on a
// per-server concurrency limit). Callers should treat it as Fail until then.
struct Queue {};
// No server can take the RPC: UNAVAILABLE, the message says why ("no usable
// server: 3 of 3 unusable", "no usable server: all 2 drained by admin");
// the caller adds the service name.
struct Fail {
  absl::Status status;
};
using PickResult = std::variant<Complete, Queue, Fail>;

// Chooses a server for one RPC with the plan's strategy. Allocates nothing,
// takes no lock; loop-thread-only through `state`. A server is a candidate
// when its weight is non-zero and args.usable says so (or, when the plan's
// panic threshold is crossed, when it is not args.drained); among
// candidates, ones not in args.avoid win.
PickResult Pick(const Plan& plan, PickerState& state, const PickArgs& args);

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_PICKER_H_
