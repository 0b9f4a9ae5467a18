#include "balance/maglev_table.h"

#include <algorithm>
#include <cassert>

#include "balance/stable_hash.h"

namespace strait::balance {
namespace {

constexpr uint16_t kEmpty = 0xffff;

// One server's walk through its permutation of the slots.
struct Walker {
  const std::string* id;
  uint16_t server;
  uint32_t weight;
  uint64_t next_slot;  // offset, then offset + k * skip (mod kSize)
  uint64_t skip;       // in [1, kSize - 1]: coprime with the prime kSize
  uint64_t target = 0;
};

}  // namespace

MaglevTable MaglevTable::Build(absl::Span<const std::string> ids,
                               absl::Span<const uint32_t> weights) {
  assert(ids.size() == weights.size());
  assert(ids.size() <= kMaxServers);
  std::vector<Walker> walkers;
  uint64_t max_weight = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (weights[i] == 0) continue;
    walkers.push_back(Walker{.id = &ids[i],
                             .server = static_cast<uint16_t>(i),
                             .weight = weights[i],
                             .next_slot = StableHash64(ids[i], /*seed=*/0) % kSize,
                             .skip = StableHash64(ids[i], /*seed=*/1) % (kSize - 1) + 1});
    max_weight = std::max<uint64_t>(max_weight, weights[i]);
  }
  MaglevTable table;
  if (walkers.empty()) return table;
  std::sort(walkers.begin(), walkers.end(),
            [](const Walker& a, const Walker& b) { return *a.id < *b.id; });

  table.slots_.assign(kSize, kEmpty);
  uint32_t filled = 0;
  for (uint64_t round = 1; filled < kSize; ++round) {
    for (Walker& w : walkers) {
      if (filled == kSize) break;
      // A server of weight max_weight takes every round; one of a third of
      // that, every third round.
      if (round * w.weight < w.target) continue;
      w.target += max_weight;
      uint64_t slot = w.next_slot;
      while (table.slots_[slot] != kEmpty) slot = (slot + w.skip) % kSize;
      table.slots_[slot] = w.server;
      w.next_slot = (slot + w.skip) % kSize;
      ++filled;
    }
  }
  return table;
}

std::vector<uint32_t> MaglevTable::SlotCounts(size_t servers) const {
  std::vector<uint32_t> counts(servers, 0);
  for (uint16_t s : slots_) ++counts[s];
  return counts;
}

}  // namespace strait::balance
