#include "upstream/conn_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace strait::upstream {

ConnPool::ConnPool(event::Dispatcher& dispatcher, const Backend& backend,
                   const TransportSettings& transport)
    : dispatcher_(dispatcher),
      backend_(backend),
      transport_(transport),
      pending_timer_(dispatcher, [this] { OnPendingTimer(); }) {}

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
  pending_.push_back({handler, absl::Now() + transport_.pending_timeout});
  ArmPendingTimer();
  Dispatch();
  return absl::OkStatus();
}

void ConnPool::Cancel(StreamHandler* handler) {
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [&](const Pending& p) { return p.handler == handler; });
  if (it != pending_.end()) pending_.erase(it);
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
    // No room now. Connect more if the connections on their way cannot be
    // expected to take everything that waits.
    size_t connecting = std::count_if(connections_.begin(), connections_.end(),
                                      [](const auto& c) { return !c->ready(); });
    if (connecting * kAssumedStreamsPerConnection >= pending_.size() ||
        connections_.size() >= transport_.max_conns_per_server) {
      break;
    }
    absl::StatusOr<std::unique_ptr<UpstreamConnection>> conn =
        UpstreamConnection::Connect(dispatcher_, backend_, transport_, *this);
    if (!conn.ok()) {
      if (connections_.empty()) connect_error = conn.status();
      break;
    }
    connections_.push_back(std::move(*conn));
  }
  dispatching_ = false;
  // After the loop: failed handlers may retry into this very pool.
  if (!connect_error.ok()) FailPending(connect_error);
}

void ConnPool::FailPending(const absl::Status& reason) {
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (const Pending& p : failed) p.handler->OnUpstreamFailure(reason, /*never_sent=*/true);
}

void ConnPool::OnConnectionCapacity(UpstreamConnection*) { Dispatch(); }

void ConnPool::OnConnectionClosed(UpstreamConnection* connection,
                                  const absl::Status& reason) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const auto& c) { return c.get() == connection; });
  if (it == connections_.end()) return;
  bool was_ready = connection->ready();
  // We are inside the connection's own call stack: free it next turn.
  dispatcher_.DeferredDelete(std::move(*it));
  connections_.erase(it);
  // A server that cannot be reached fails whoever waits for it, unless
  // another connection is still on its way; a lost ready connection is
  // simply replaced.
  bool others_connecting = std::any_of(connections_.begin(), connections_.end(),
                                       [](const auto& c) { return !c->ready(); });
  if (!was_ready && !others_connecting) {
    FailPending(reason);
  } else {
    Dispatch();
  }
}

void ConnPool::ArmPendingTimer() {
  if (pending_.empty() || pending_timer_.armed()) return;
  pending_timer_.Arm(pending_.front().deadline - absl::Now());
}

void ConnPool::OnPendingTimer() {
  absl::Time now = absl::Now();
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
}

std::string PoolKey(const TransportSettings& transport, const Backend& backend) {
  return absl::StrCat(transport.Key(), "|", backend.address.ToString());
}

ConnPool& PoolSet::Get(const std::string& key, const TransportSettings& transport,
                       const Backend& backend) {
  auto& pool = pools_[key];
  if (pool == nullptr) pool = std::make_unique<ConnPool>(dispatcher_, backend, transport);
  return *pool;
}

}  // namespace strait::upstream
