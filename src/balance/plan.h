#ifndef STRAIT_BALANCE_PLAN_H_
#define STRAIT_BALANCE_PLAN_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "balance/maglev_table.h"

namespace strait::balance {

// loadBalancer.strategy.
enum class Strategy {
  kP2C,  // power of two choices on in-flight streams, weight-proportional (the default)
  kWrr,  // smooth weighted round robin (nginx)
  kHash  // Maglev consistent hashing on a request header; p2c for RPCs without it
};

// One server as the picker sees it. `id` is the server's stable identity
// (its URL): the hash table is built from it, so a key stays on the same
// server across reloads and whatever order the servers are listed in.
struct ServerSpec {
  std::string id;
  uint32_t weight = 1;  // 0 = drained: never picked, not even in panic mode
                        // (an admin drain, PickArgs::drained, acts the same
                        // at run time)
};

// The immutable half of one load-balancer service's picker: weights, their
// prefix sums, the Maglev table, the hash header and the panic threshold.
// Built once per snapshot per service on the control thread, then shared
// read-only by every worker (const after Build, so no synchronisation).
// Servers are addressed by their index in the `servers` passed to Build.
class Plan {
 public:
  // hash_header: the request header / metadata key for kHash, stored
  // lowercased; must be non-empty for kHash. panic_threshold: percent, 0 =
  // off; when fewer than that percent of the non-drained servers (by weight
  // or by admin) are usable, Pick treats every non-drained server as usable
  // (Envoy's panic mode).
  // Errors: duplicate ids ("servers[2].id: duplicate of servers[0]"), a
  // missing hash header, a threshold over 100, more than 65,535 servers
  // for kHash. No servers at all is allowed: every Pick then fails.
  static absl::StatusOr<Plan> Build(Strategy strategy, std::vector<ServerSpec> servers,
                                    std::string hash_header = "", uint32_t panic_threshold = 0);

  Strategy strategy() const { return strategy_; }
  size_t size() const { return servers_.size(); }
  const ServerSpec& server(size_t i) const { return servers_[i]; }
  uint32_t weight(size_t i) const { return weights_[i]; }
  absl::Span<const uint32_t> weights() const { return weights_; }
  // Empty unless strategy() is kHash.
  const std::string& hash_header() const { return hash_header_; }
  uint32_t panic_threshold() const { return panic_threshold_; }
  // Sum of all weights and the number of servers with weight > 0.
  uint64_t total_weight() const { return total_weight_; }
  size_t live_servers() const { return live_servers_; }

  // The server at weighted position r in [0, total_weight()): server i
  // covers [cumulative(i) - weight(i), cumulative(i)). Never a drained one.
  size_t ServerAtWeight(uint64_t r) const {
    if (cumulative_.size() <= kLinearSearchMax) {
      size_t i = 0;
      while (cumulative_[i] <= r) ++i;
      return i;
    }
    return std::upper_bound(cumulative_.begin(), cumulative_.end(), r) - cumulative_.begin();
  }
  // The sum of the weights of servers 0..i.
  uint64_t cumulative(size_t i) const { return cumulative_[i]; }
  // StableHash64 of server i's id, for the hash fallback.
  uint64_t id_hash(size_t i) const { return id_hashes_[i]; }
  // Empty unless strategy() is kHash (or every server is drained).
  const MaglevTable& maglev() const { return maglev_; }

 private:
  // Below this many servers a linear scan of the prefix sums beats a binary search.
  static constexpr size_t kLinearSearchMax = 8;

  Plan() = default;

  Strategy strategy_ = Strategy::kP2C;
  std::vector<ServerSpec> servers_;
  std::vector<uint32_t> weights_;  // servers_[i].weight, contiguous for the pick loops
  std::vector<uint64_t> cumulative_;
  std::vector<uint64_t> id_hashes_;
  uint64_t total_weight_ = 0;
  size_t live_servers_ = 0;
  std::string hash_header_;
  uint32_t panic_threshold_ = 0;
  MaglevTable maglev_;
};

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_PLAN_H_
