#include "balance/hash_picker.h"

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "balance/stable_hash.h"

namespace strait::balance {
namespace {

// The in_tier server with the highest weighted rendezvous score for the key.
template <typename InTier>
size_t Rendezvous(const Plan& plan, uint64_t key_hash, InTier in_tier) {
  size_t best = kNoServer;
  double best_score = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (!in_tier(i)) continue;
    // u in (0, 1), so -log(u) > 0.
    double u = (static_cast<double>(MixHash64(key_hash ^ plan.id_hash(i)) >> 11) + 0.5) * 0x1p-53;
    double score = -static_cast<double>(plan.weight(i)) / std::log(u);
    if (best == kNoServer || score > best_score) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

}  // namespace

size_t PickHash(const Plan& plan, const Candidates& candidates, absl::string_view key) {
  if (plan.maglev().empty()) return kNoServer;
  const uint64_t key_hash = StableHash64(key);
  const size_t owner = plan.maglev().Lookup(key_hash);
  if (candidates.Preferred(owner)) return owner;
  size_t picked = Rendezvous(plan, key_hash, [&](size_t i) { return candidates.Preferred(i); });
  if (picked == kNoServer && candidates.Usable(owner)) picked = owner;
  if (picked == kNoServer) {
    picked = Rendezvous(plan, key_hash, [&](size_t i) { return candidates.Usable(i); });
  }
  return picked;
}

}  // namespace strait::balance
