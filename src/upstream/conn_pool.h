#ifndef STRAIT_UPSTREAM_CONN_POOL_H_
#define STRAIT_UPSTREAM_CONN_POOL_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "upstream/upstream_connection.h"

namespace strait::upstream {

// The connections of one worker to one backend over one transport. RPCs
// share connections (HTTP/2 multiplexing); another connection is opened only
// when every open one is at the server's SETTINGS_MAX_CONCURRENT_STREAMS, up
// to maxConnsPerServer. Draining connections (GOAWAY received or sent) finish
// their streams outside that limit: they take no new RPCs. RPCs that find no
// room wait in a bounded queue, each for at most pendingTimeout. A pool the
// running snapshot no longer uses is retired (SetRetired): its connections
// close as their last streams end. Owned by the worker's PoolSet;
// loop-thread-only.
// What a worker counts of its connections to one server (by URL), over
// every pool (transport) and across pools evicted and made again.
struct UpstreamCounters {
  // Connections that closed before they were ready (TCP connect, TLS
  // handshake or peer verification failed, no SETTINGS in time).
  uint64_t connect_failures = 0;
  // Connections closed because a keepalive PING went unanswered.
  uint64_t ping_timeouts = 0;
};

class ConnPool : public UpstreamConnection::Owner {
 public:
  // `on_retired_idle` (may be empty) runs whenever the pool is retired and
  // has no connection and no queued RPC left, from inside the pool's own
  // calls: it may only arrange for the pool's deletion later.
  ConnPool(event::Dispatcher& dispatcher, const Backend& backend,
           const TransportSettings& transport, std::function<void()> on_retired_idle = nullptr);
  ~ConnPool() override;
  ConnPool(const ConnPool&) = delete;
  ConnPool& operator=(const ConnPool&) = delete;
  // Where connection failures are counted (may stay null: not counted).
  void set_counters(UpstreamCounters* counters) { counters_ = counters; }

  // Opens a stream for `handler` now (handler->OnUpstreamOpened runs before
  // this returns) or queues it (it runs later, or OnUpstreamFailure with
  // never_sent). An error means the queue is full: nothing was queued.
  absl::Status Open(StreamHandler* handler);
  // Forgets a queued handler (it is going away or gave up).
  void Cancel(StreamHandler* handler);

  size_t connection_count() const { return connections_.size(); }
  // Of them, those connected and not closed yet.
  size_t open_connection_count() const;
  size_t pending_count() const { return pending_.size(); }
  const Backend& backend() const { return backend_; }

  // Retired: the running snapshot no longer uses this pool (its transport
  // or its server changed or went). Every connection it has is retired
  // (UpstreamConnection::Retire): it takes no new RPC, and closes once its
  // last stream has ended. RPCs queued here, or opened here later by an
  // older snapshot's stream that retries, still get a connection, which is
  // retired in turn once nothing waits. Un-retiring (the key came back)
  // leaves connections retired so far as they are: new RPCs get new ones.
  void SetRetired(bool retired);
  bool retired() const { return retired_; }

  // UpstreamConnection::Owner
  void OnConnectionCapacity(UpstreamConnection* connection) override;
  void OnConnectionClosed(UpstreamConnection* connection,
                          const absl::Status& reason) override;

 private:
  struct Pending {
    StreamHandler* handler;
    absl::Time deadline;
  };

  // Moves queued RPCs onto connections with room, connecting more if needed.
  void Dispatch();
  // Whether Dispatch should open one more connection for what waits now.
  bool ShouldConnect() const;
  // Whether a connection that is not draining is ready or on its way: one
  // that will take queued RPCs (or fail) later, so they may keep waiting.
  bool HasLiveConnection() const;
  // A dial failed: true if the queued RPCs must fail now (no live
  // connection is left to take them); otherwise they wait, and the next
  // dial waits kRedialDelay.
  bool FailsTheQueue();
  // Streams one connection is assumed to take before its SETTINGS arrive
  // (RFC 9113 recommends servers allow at least 100).
  static constexpr size_t kAssumedStreamsPerConnection = 100;
  // After a failed dial, no new one for this long while live connections
  // remain: their freed streams serve the queue meanwhile, and a refusing
  // server is not dialled once per loop turn.
  static constexpr absl::Duration kRedialDelay = absl::Seconds(1);
  void FailPending(const absl::Status& reason);
  void OnPendingTimer();
  void ArmPendingTimer();
  // Retired and nothing waits: retires every connection, and reports a
  // pool left empty (on_retired_idle_).
  void MaybeRetireConnections();

  event::Dispatcher& dispatcher_;
  const Backend backend_;
  const TransportSettings transport_;
  std::vector<std::unique_ptr<UpstreamConnection>> connections_;
  std::deque<Pending> pending_;
  event::Timer pending_timer_;
  bool dispatching_ = false;  // Dispatch() is on the stack
  // No dial before this while HasLiveConnection() (see kRedialDelay).
  absl::Time redial_after_ = absl::InfinitePast();
  bool retired_ = false;
  std::function<void()> on_retired_idle_;
  UpstreamCounters* counters_ = nullptr;
};

// The key of the pool for `backend` over `transport`: the same for equal
// settings and address, so a changed transport gets fresh connections.
// Computed once per snapshot, not per RPC.
std::string PoolKey(const TransportSettings& transport, const Backend& backend);

// Every ConnPool of one worker, keyed by PoolKey. Owned by the worker's
// ProxyContext; loop-thread-only.
class PoolSet {
 public:
  explicit PoolSet(event::Dispatcher& dispatcher);
  // The pool of `key`, made if needed: a new pool whose key the running
  // snapshot does not use (SetLiveKeys; an older snapshot's stream that
  // retries) is retired from the start.
  ConnPool& Get(const std::string& key, const TransportSettings& transport,
                const Backend& backend);
  // The running snapshot uses exactly the pools of `keys`: every other pool
  // is retired (ConnPool::SetRetired) and freed once it is empty, on a
  // later loop turn; a pool whose key is among them again is un-retired.
  // Off the hot path: the worker calls it when it takes a new snapshot.
  // Until the first call every key counts as used.
  void SetLiveKeys(absl::flat_hash_set<std::string> keys);
  // Frees every pool with no connection and no queued RPC: pools of servers
  // or transports a reload removed would otherwise live forever. Safe
  // whenever no pool is on the stack (the worker calls it when it takes a
  // new snapshot): a pool with a queued RPC is never idle, so no
  // ProxyStream::waiting_in_ can point at a freed pool, and connections,
  // which call back into their pool, keep it busy until they are gone.
  void EvictIdle();
  size_t size() const { return pools_.size(); }
  // Upstream connections over every pool (for Stats; not on the hot path).
  size_t connection_count() const;
  // Adds each pool's open connections to its server address's count
  // (net::SocketAddress::ToString()).
  void AddOpenConnections(absl::flat_hash_map<std::string, uint32_t>& by_address) const;
  // By server URL, kept for as long as the worker lives.
  const absl::node_hash_map<std::string, UpstreamCounters>& counters() const {
    return counters_;
  }

 private:
  // Frees retired pools left empty (evict_retired_, outside any pool call).
  void EvictRetired();

  event::Dispatcher& dispatcher_;
  // nullopt until SetLiveKeys: every key is live.
  std::optional<absl::flat_hash_set<std::string>> live_keys_;
  absl::flat_hash_map<std::string, std::unique_ptr<ConnPool>> pools_;
  absl::node_hash_map<std::string, UpstreamCounters> counters_;
  // Scheduled by a retired pool that became empty; cancelled with the set.
  event::DeferredCall evict_retired_;
};

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_CONN_POOL_H_
