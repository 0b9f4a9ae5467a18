#include "proxy/rpc_stats.h"

namespace strait::proxy {

absl::string_view RetryReasonName(RetryReason reason) {
  switch (reason) {
    case RetryReason::kTransparent: return "transparent";
    case RetryReason::kStatus: return "status";
    case RetryReason::kPerTryTimeout: return "per_try_timeout";
  }
  return "unknown";
}

void RpcStats::Add(const RpcStats& other) {
  active += other.active;
  for (size_t i = 0; i < finished.size(); ++i) finished[i] += other.finished[i];
  headers_seconds.Add(other.headers_seconds);
  duration_seconds.Add(other.duration_seconds);
  request_bytes += other.request_bytes;
  response_bytes += other.response_bytes;
  for (size_t i = 0; i < retries.size(); ++i) retries[i] += other.retries[i];
}

RpcStats& RpcStatsTable::Get(absl::string_view entry_point, absl::string_view router,
                             absl::string_view service, absl::string_view method) {
  View view{entry_point, router, service, method};
  auto it = table_.find(view);
  if (it != table_.end()) return it->second;
  return table_[RpcKey{std::string(entry_point), std::string(router), std::string(service),
                       std::string(method)}];
}

void RpcStatsTable::AddTo(RpcStatsTable& sum) const {
  for (const auto& [key, stats] : table_) {
    sum.Get(key.entry_point, key.router, key.service, key.method).Add(stats);
  }
}

}  // namespace strait::proxy
