#ifndef STRAIT_BALANCE_MAGLEV_TABLE_H_
#define STRAIT_BALANCE_MAGLEV_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"

namespace strait::balance {

// Maglev's lookup table (Eisenbud et al., NSDI 2016, section 3.4) with
// Envoy's weighted fill (maglev_lb.cc): each server walks its own
// permutation of the slots, derived from its id, and a server of weight w
// takes a turn in w / max_weight of the rounds. A key goes to
// slots_[hash % kSize]; when a server joins or leaves, close to 1/N of the
// slots change owner. The fill visits servers sorted by id, so the table
// depends only on the (id, weight) set, not on the order servers are listed.
// Immutable after Build; part of a Plan, read by every worker.
class MaglevTable {
 public:
  // Prime, as Maglev needs, and Envoy's default: 128 KiB per table, and
  // within a few percent of an even share for up to ~650 servers (M/N >= 100).
  static constexpr uint32_t kSize = 65537;
  // Slot entries are 16-bit server indices; one value is kept for "empty".
  static constexpr size_t kMaxServers = 65535;

  MaglevTable() = default;
  // ids[i] and weights[i] describe server i; ids are distinct; at most
  // kMaxServers. Weight-0 servers get no slots; if every weight is 0 the
  // table stays empty.
  static MaglevTable Build(absl::Span<const std::string> ids, absl::Span<const uint32_t> weights);

  bool empty() const { return slots_.empty(); }
  // The server index owning the key's slot; the table must not be empty.
  size_t Lookup(uint64_t key_hash) const { return slots_[key_hash % kSize]; }
  // Slots owned by each server (for tests and the admin view).
  std::vector<uint32_t> SlotCounts(size_t servers) const;

 private:
  std::vector<uint16_t> slots_;
};

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_MAGLEV_TABLE_H_
