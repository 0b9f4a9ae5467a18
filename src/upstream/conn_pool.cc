#include "upstream/conn_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace strait::upstream {

ConnPool::ConnPool(event::Dispatcher& dispatcher, const Backend& backend,
                   const TransportSettings& transport, std::function<void()> on_retired_idle)
    : dispatcher_(dispatcher),
      backend_(backend),
      transport_(transport),
      pending_timer_(dispatcher, [this] { OnPendingTimer(); }),
      on_retired_idle_(std::move(on_retired_idle)) {}

ConnPool::~ConnPool() = default;

absl::Status ConnPool::Open(StreamHandler* handler) {
  for (auto& conn : connections_) {
    if (conn->accepting() && conn->Submit(handler).ok()) return absl::OkStatus();
  }
  if (pending_.size() >= transport_.max_pending_requests) {
    return absl::ResourceExhaustedError(
        absl::StrCat(pending_.size(), " RPCs already wait for a stream to ", backend_.url,
                     " (maxConnsPerServer ", transport_.max_conns_per_server,
                     ", maxPendingRequests ", transport_.max_pending_requests, ")"));
  }
  pending_.push_back({handler, dispatcher_.Now() + transport_.pending_timeout});
  ArmPendingTimer();
  Dispatch();
  return absl::OkStatus();
}

size_t ConnPool::open_connection_count() const {
  return std::count_if(connections_.begin(), connections_.end(),
                       [](const auto& c) { return c->connected() && !c->closed(); });
}

void ConnPool::Cancel(StreamHandler* handler) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.handler == handler; });
  if (it != pending_.end()) pending_.erase(it);
  MaybeRetireConnections();
}

void ConnPool::SetRetired(bool retired) {
  retired_ = retired;
  MaybeRetireConnections();
}

void ConnPool::MaybeRetireConnections() {
  if (!retired_ || !pending_.empty()) return;
  // Retire() closes nothing from here: no callback re-enters the pool.
  for (auto& conn : connections_) conn->Retire();
  if (connections_.empty() && on_retired_idle_) on_retired_idle_();
}

void ConnPool::Dispatch() {
  if (dispatching_) return;
  dispatching_ = true;
  absl::Status connect_error;
  while (!pending_.empty()) {
    auto ready = std::find_if(connections_.begin(), connections_.end(),
                              [](const auto& c) { return c->accepting(); });
    if (ready != connections_.end()) {
      StreamHandler* handler = pending_.front().handler;
      pending_.pop_front();
      absl::Status status = (*ready)->Submit(handler);
      if (!status.ok()) handler->OnUpstreamFailure(status, /*never_sent=*/true);
      continue;
    }
    if (!ShouldConnect()) break;
    absl::StatusOr<std::unique_ptr<UpstreamConnection>> conn =
        UpstreamConnection::Connect(dispatcher_, backend_, transport_, *this);
    if (!conn.ok()) {
      if (FailsTheQueue()) connect_error = conn.status();
      break;
    }
    connections_.push_back(std::move(*conn));
  }
  dispatching_ = false;
  // After the loop: failed handlers may retry into this very pool.
  if (!connect_error.ok()) FailPending(connect_error);
  // A retired pool's connections took what waited: they go once it is done.
  MaybeRetireConnections();
}

bool ConnPool::ShouldConnect() const {
  // Draining connections take no new RPCs and do not count toward the limit.
  size_t live = 0, connecting = 0;
  for (const auto& c : connections_) {
    if (c->draining()) continue;
    ++live;
    if (!c->ready()) ++connecting;
  }
  if (live >= transport_.max_conns_per_server) return false;
  // Those on their way are expected to take everything that waits.
  if (connecting * kAssumedStreamsPerConnection >= pending_.size()) return false;
  // A dial just failed: live connections will call Dispatch again as their
  // streams free up; with none left, dial now (its failure fails the queue).
  return live == 0 || dispatcher_.Now() >= redial_after_;
}

bool ConnPool::FailsTheQueue() {
  if (!HasLiveConnection()) return true;
  redial_after_ = dispatcher_.Now() + kRedialDelay;
  return false;
}

bool ConnPool::HasLiveConnection() const {
  return std::any_of(connections_.begin(), connections_.end(),
                     [](const auto& c) { return !c->draining(); });
}

void ConnPool::FailPending(const absl::Status& reason) {
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (const Pending& p : failed) p.handler->OnUpstreamFailure(reason, /*never_sent=*/true);
  MaybeRetireConnections();
}

void ConnPool::OnConnectionCapacity(UpstreamConnection*) { Dispatch(); }

void ConnPool::OnConnectionClosed(UpstreamConnection* connection,
                                  const absl::Status& reason) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const auto& c) { return c.get() == connection; });
  if (it == connections_.end()) return;
  // A retired connection closing is no dial failure, whatever its state.
  bool was_ready = connection->ready() || connection->retired();
  if (counters_ != nullptr) {
    if (!was_ready) ++counters_->connect_failures;
    if (connection->ping_timed_out()) ++counters_->ping_timeouts;
  }
  // We are inside the connection's own call stack: free it next turn.
  dispatcher_.DeferredDelete(std::move(*it));
  connections_.erase(it);
  // A lost ready connection is simply replaced. A failed dial fails whoever
  // waits only when no live connection is left to take them: one that is
  // ready will as its streams free up, one on its way may still succeed,
  // and pendingTimeout bounds the wait either way. (Failing "its share" of
  // the queue instead would turn RPCs a reachable server can still serve
  // into errors, final ones for a one-server service.)
  if (!was_ready && FailsTheQueue()) {
    FailPending(reason);
    return;
  }
  Dispatch();
}

void ConnPool::ArmPendingTimer() {
  if (pending_.empty() || pending_timer_.armed()) return;
  pending_timer_.Arm(pending_.front().deadline - dispatcher_.Now());
}

void ConnPool::OnPendingTimer() {
  absl::Time now = dispatcher_.Now();
  while (!pending_.empty() && pending_.front().deadline <= now) {
    StreamHandler* handler = pending_.front().handler;
    pending_.pop_front();
    handler->OnUpstreamFailure(
        absl::UnavailableError(absl::StrCat(
            "no stream to ", backend_.url, " became free within ",
            absl::FormatDuration(transport_.pending_timeout), " (",
            connections_.size(), " connections, maxConnsPerServer ",
            transport_.max_conns_per_server, ")")),
        /*never_sent=*/true);
  }
  ArmPendingTimer();
  MaybeRetireConnections();
}

std::string PoolKey(const TransportSettings& transport, const Backend& backend) {
  // A TLS connection is also bound to the name it verified: two https URLs
  // of one address but different hosts never share one.
  if (backend.tls) {
    return absl::StrCat(transport.Key(), "|https://", backend.authority, "@",
                        backend.address.ToString());
  }
  return absl::StrCat(transport.Key(), "|", backend.address.ToString());
}

PoolSet::PoolSet(event::Dispatcher& dispatcher)
    : dispatcher_(dispatcher), evict_retired_(dispatcher, [this] { EvictRetired(); }) {}

void PoolSet::SetLiveKeys(absl::flat_hash_set<std::string> keys) {
  live_keys_ = std::move(keys);
  for (auto& [key, pool] : pools_) pool->SetRetired(!live_keys_->contains(key));
}

void PoolSet::EvictRetired() {
  absl::erase_if(pools_, [](const auto& entry) {
    const ConnPool& pool = *entry.second;
    return pool.retired() && pool.connection_count() == 0 && pool.pending_count() == 0;
  });
}

size_t PoolSet::connection_count() const {
  size_t n = 0;
  for (const auto& [key, pool] : pools_) n += pool->connection_count();
  return n;
}

void PoolSet::EvictIdle() {
  for (auto it = pools_.begin(); it != pools_.end();) {
    const ConnPool& pool = *it->second;
    if (pool.connection_count() == 0 && pool.pending_count() == 0) {
      pools_.erase(it++);
    } else {
      ++it;
    }
  }
}

void PoolSet::AddOpenConnections(absl::flat_hash_map<std::string, uint32_t>& by_address) const {
  for (const auto& [key, pool] : pools_) {
    size_t open = pool->open_connection_count();
    if (open > 0) by_address[pool->backend().address.ToString()] += open;
  }
}

ConnPool& PoolSet::Get(const std::string& key, const TransportSettings& transport,
                       const Backend& backend) {
  auto& pool = pools_[key];
  if (pool == nullptr) {
    pool = std::make_unique<ConnPool>(dispatcher_, backend, transport,
                                      [this] { evict_retired_.Schedule(); });
    if (live_keys_.has_value() && !live_keys_->contains(key)) pool->SetRetired(true);
    pool->set_counters(&counters_[backend.url]);
  }
  return *pool;
}

}  // namespace strait::upstream
