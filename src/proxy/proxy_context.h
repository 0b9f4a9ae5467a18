#ifndef STRAIT_PROXY_PROXY_CONTEXT_H_
#define STRAIT_PROXY_PROXY_CONTEXT_H_

#include <memory>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "balance/round_robin.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "proxy/proxy_counters.h"
#include "upstream/conn_pool.h"

namespace strait::proxy {

// What one worker's proxy objects share: the loop, the running snapshot, the
// worker's upstream pools and its balancer state. Owned by the Worker and
// touched only on its loop thread, so the hot path takes no locks.
class ProxyContext {
 public:
  explicit ProxyContext(event::Dispatcher& dispatcher)
      : dispatcher_(dispatcher), pools_(dispatcher), seed_(std::random_device{}()) {}

  event::Dispatcher& dispatcher() { return dispatcher_; }
  upstream::PoolSet& pools() { return pools_; }
  ProxyCounters& counters() { return counters_; }
  const std::shared_ptr<const config::Snapshot>& snapshot() const { return snapshot_; }

  // New streams use `snapshot` from now on; streams already running keep
  // theirs.
  void SetSnapshot(std::shared_ptr<const config::Snapshot> snapshot) {
    snapshot_ = std::move(snapshot);
    pickers_.clear();
    pools_.EvictIdle();
  }

  // The backend for the next RPC of `service` (which belongs to the current
  // snapshot or one a stream still holds).
  const upstream::Backend& Pick(const config::ServiceEntry& service) {
    auto [it, inserted] = pickers_.try_emplace(
        &service, service.backends.size(), seed_ % service.backends.size());
    // An entry of a freed snapshot may share this address: start afresh.
    if (!inserted && it->second.size() != service.backends.size()) {
      it->second = balance::RoundRobin(service.backends.size(), 0);
    }
    return service.backends[it->second.Pick()];
  }

 private:
  event::Dispatcher& dispatcher_;
  upstream::PoolSet pools_;
  ProxyCounters counters_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  // Keyed by the service entry of whichever snapshot the stream holds.
  absl::flat_hash_map<const config::ServiceEntry*, balance::RoundRobin> pickers_;
  unsigned seed_;
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_PROXY_CONTEXT_H_
