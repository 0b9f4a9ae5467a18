#ifndef STRAIT_PROXY_PROXY_CONTEXT_H_
#define STRAIT_PROXY_PROXY_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "balance/picker.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "proxy/proxy_counters.h"
#include "upstream/conn_pool.h"

namespace strait::proxy {

// What this worker knows of one server (by URL), across snapshots: its
// streams in flight here (p2c's load signal) and its failures in a row here
// (passive ejection counts per worker; the ejection itself is published to
// every worker through the server's health::ServerHealth).
struct ServerLoad {
  uint32_t in_flight = 0;
  uint32_t consecutive_failures = 0;
};

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
  void SetSnapshot(std::shared_ptr<const config::Snapshot> snapshot);

  // The mutable half of one service's picker on this worker, with the load
  // of each of its servers (same index as the service's backends).
  struct ServiceState {
    ServiceState(const balance::Plan& plan, uint64_t seed) : picker(plan, seed) {}
    balance::PickerState picker;
    std::vector<ServerLoad*> loads;
  };
  // Keyed by the service's compile id, so an entry of a freed snapshot is
  // never mistaken for a new one.
  ServiceState& StateOf(const config::ServiceEntry& service);

 private:
  event::Dispatcher& dispatcher_;
  upstream::PoolSet pools_;
  ProxyCounters counters_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<ServiceState>> services_;
  // By server URL; node-based: streams hold pointers into it. An entry goes
  // only when nothing is in flight on it and the running snapshot does not
  // list its server.
  absl::node_hash_map<std::string, ServerLoad> loads_;
  uint64_t seed_;
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_PROXY_CONTEXT_H_
