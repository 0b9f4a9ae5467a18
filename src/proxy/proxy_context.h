#ifndef STRAIT_PROXY_PROXY_CONTEXT_H_
#define STRAIT_PROXY_PROXY_CONTEXT_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "balance/picker.h"
#include "common/header.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "h2/grpc.h"
#include "observe/access_log.h"
#include "proxy/proxy_counters.h"
#include "proxy/rpc_stats.h"
#include "upstream/conn_pool.h"

namespace strait::proxy {

class MirrorStream;

// What this worker knows of one server (by URL), across snapshots: its
// streams in flight here (p2c's load signal), its failures in a row here
// (passive ejection counts per worker; the ejection itself is published to
// every worker through the server's health::ServerHealth), and the RPC
// attempts that ended on it here by the status they ended with. Plain
// integers, loop-thread-only; shared by every service that lists the URL.
// Forgotten (counts and all) once its server is unlisted and idle.
struct ServerLoad {
  uint32_t in_flight = 0;
  uint32_t consecutive_failures = 0;
  // Index: gRPC status code. Each attempt of a client's RPC counts once,
  // on the server it ran on, with the status it ended with: the backend's,
  // or the one strait made for it (UNAVAILABLE when it could not connect,
  // DEADLINE_EXCEEDED, CANCELLED when the client went away first, ...),
  // also when the RPC went on to another server. Mirror copies count only
  // in in_flight.
  std::array<uint64_t, h2::kGrpcStatusCount> rpcs_by_status{};
};

// The workers' ServerLoads and upstream connections, summed for
// Server::ListServers; a worker adds its own with ProxyContext::AddTotals.
// Totals restart for a URL that every snapshot stopped listing while
// nothing ran on it (its ServerLoads are gone).
struct ServerTotals {
  struct Rpcs {
    uint64_t in_flight = 0;
    std::array<uint64_t, h2::kGrpcStatusCount> by_status{};
  };
  absl::flat_hash_map<std::string, Rpcs> by_url;
  // Open (connected) upstream connections by server address
  // (net::SocketAddress::ToString()), over every transport.
  absl::flat_hash_map<std::string, uint32_t> connections_by_address;
  // Connection failures by server URL (over every transport).
  absl::flat_hash_map<std::string, upstream::UpstreamCounters> connection_failures_by_url;
};

// What one worker's proxy objects share: the loop, the running snapshot, the
// worker's upstream pools, its balancer state and its live mirror copies.
// Owned by the Worker and touched only on its loop thread, so the hot path
// takes no locks.
class ProxyContext {
 public:
  explicit ProxyContext(event::Dispatcher& dispatcher);
  // Cancels the mirror copies still alive (before the pools they use go).
  ~ProxyContext();
  ProxyContext(const ProxyContext&) = delete;
  ProxyContext& operator=(const ProxyContext&) = delete;

  event::Dispatcher& dispatcher() { return dispatcher_; }
  upstream::PoolSet& pools() { return pools_; }
  ProxyCounters& counters() { return counters_; }
  RpcStatsTable& rpc_stats() { return rpc_stats_; }
  // This worker's access log buffer; null when the access log is off.
  observe::AccessLog::Producer* access_log() const { return access_log_; }
  void set_access_log(observe::AccessLog::Producer* producer) { access_log_ = producer; }
  const RpcStatsTable& rpc_stats() const { return rpc_stats_; }
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

  // The load balancer below `routed` for one attempt: a weighted service
  // picks a child (this worker's smooth wrr), failover its service or
  // fallback by health, mirroring its main service; every level chooses
  // again on every call. Null (with `why`) when a weighted service has no
  // usable child.
  const config::ServiceEntry* Resolve(const config::ServiceEntry& routed, absl::Time now,
                                      std::string* why);
  // A server of load balancer `service`, by its strategy among its usable
  // servers (health, weight), preferring those not in `avoid`, with this
  // worker's in-flight counts; a hash strategy hashes its header from
  // `request_headers`. Nullopt when none is usable.
  struct ServerPick {
    size_t index;      // into service.backends
    ServerLoad* load;  // that server's load here (see loads_)
  };
  std::optional<ServerPick> PickServer(const config::ServiceEntry& service, absl::Time now,
                                       const HeaderList& request_headers,
                                       absl::Span<const size_t> avoid);

  // Adds this worker's ServerLoads and open upstream connections to `sum`.
  void AddTotals(ServerTotals& sum) const;

  // Mirror copies. The context owns every live one, so a copy may outlive
  // the ProxyStream that feeds it (and finish on its own) while the stream
  // refers to it only by id: mirror(id) is null once it ended.
  uint64_t NewMirrorId() { return next_mirror_id_++; }
  // Takes `mirror` (made with NewMirrorId()) until ReleaseMirror.
  void AddMirror(std::unique_ptr<MirrorStream> mirror);
  MirrorStream* mirror(uint64_t id) const;
  // An ended copy: freed on the next loop turn (it may end inside an
  // nghttp2 callback).
  void ReleaseMirror(uint64_t id);
  // The number of this RPC among those routed to mirroring service
  // `service` on this worker: 0, 1, 2, ... (the mirror sampler's counter).
  uint64_t NextMirrorSample(const config::ServiceEntry& service) {
    return mirror_samples_[service.id]++;
  }

 private:
  event::Dispatcher& dispatcher_;
  upstream::PoolSet pools_;
  ProxyCounters counters_;
  RpcStatsTable rpc_stats_;
  observe::AccessLog::Producer* access_log_ = nullptr;
  std::shared_ptr<const config::Snapshot> snapshot_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<ServiceState>> services_;
  // By server URL; node-based: streams hold pointers into it. An entry goes
  // only when nothing is in flight on it and the running snapshot does not
  // list its server.
  absl::node_hash_map<std::string, ServerLoad> loads_;
  uint64_t seed_;
  // By mirroring service compile id: RPCs routed to it here so far.
  absl::flat_hash_map<uint64_t, uint64_t> mirror_samples_;
  // Live mirror copies by id. Last member: destroyed first, while the
  // pools and loads their destructors let go of still exist.
  uint64_t next_mirror_id_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<MirrorStream>> mirrors_;
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_PROXY_CONTEXT_H_
