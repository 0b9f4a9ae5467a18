#include "balance/plan.h"

#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "balance/stable_hash.h"

namespace strait::balance {

absl::StatusOr<Plan> Plan::Build(Strategy strategy, std::vector<ServerSpec> servers,
                                 std::string hash_header, uint32_t panic_threshold) {
  absl::flat_hash_map<absl::string_view, size_t> seen;
  for (size_t i = 0; i < servers.size(); ++i) {
    auto [it, inserted] = seen.emplace(servers[i].id, i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("servers[", i, "].id: duplicate of servers[", it->second, "]"));
    }
  }
  if (panic_threshold > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("panic_threshold: ", panic_threshold, " is over 100 percent"));
  }
  if (strategy == Strategy::kHash) {
    if (hash_header.empty()) {
      return absl::InvalidArgumentError("hash_header: required for the hash strategy");
    }
    if (servers.size() > MaglevTable::kMaxServers) {
      return absl::InvalidArgumentError(absl::StrCat("servers: ", servers.size(),
                                                     " is over the hash strategy's limit of ",
                                                     MaglevTable::kMaxServers));
    }
  } else {
    hash_header.clear();
  }

  Plan plan;
  plan.strategy_ = strategy;
  plan.hash_header_ = absl::AsciiStrToLower(hash_header);
  plan.panic_threshold_ = panic_threshold;
  plan.cumulative_.reserve(servers.size());
  plan.id_hashes_.reserve(servers.size());
  for (const ServerSpec& s : servers) {
    plan.weights_.push_back(s.weight);
    plan.total_weight_ += s.weight;
    plan.cumulative_.push_back(plan.total_weight_);
    plan.id_hashes_.push_back(StableHash64(s.id));
    if (s.weight > 0) ++plan.live_servers_;
  }
  plan.servers_ = std::move(servers);
  if (strategy == Strategy::kHash) {
    std::vector<std::string> ids;
    std::vector<uint32_t> weights;
    for (const ServerSpec& s : plan.servers_) {
      ids.push_back(s.id);
      weights.push_back(s.weight);
    }
    plan.maglev_ = MaglevTable::Build(ids, weights);
  }
  return plan;
}

}  // namespace strait::balance
