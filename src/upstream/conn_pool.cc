#include "upstream/conn_pool.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace strait::upstream {

ConnPool::ConnPool(event::Dispatcher& dispatcher, const Backend& backend,
                   const TransportSettings& transport)
    : dispatcher_(dispatcher), backend_(backend), transport_(transport) {}

ConnPool::~ConnPool() = default;

absl::StatusOr<OpenedStream> ConnPool::Open(StreamHandler* handler,
                                            const HeaderList& headers,
                                            bool end_stream) {
  for (auto& conn : connections_) {
    if (!conn->accepting()) continue;
    absl::StatusOr<int32_t> id = conn->Submit(handler, headers, end_stream);
    if (id.ok()) return OpenedStream{conn.get(), *id};
  }
  absl::StatusOr<std::unique_ptr<UpstreamConnection>> conn =
      UpstreamConnection::Connect(
          dispatcher_, backend_, transport_,
          [this](UpstreamConnection* c) { OnConnectionClosed(c); });
  if (!conn.ok()) return conn.status();
  UpstreamConnection* raw = conn->get();
  connections_.push_back(std::move(*conn));
  absl::StatusOr<int32_t> id = raw->Submit(handler, headers, end_stream);
  if (!id.ok()) return id.status();
  return OpenedStream{raw, *id};
}

void ConnPool::OnConnectionClosed(UpstreamConnection* connection) {
  auto it = std::find_if(connections_.begin(), connections_.end(),
                         [&](const auto& c) { return c.get() == connection; });
  if (it == connections_.end()) return;
  // We may be inside the connection's own call stack: free it next turn.
  dispatcher_.DeferredDelete(std::move(*it));
  connections_.erase(it);
}

ConnPool& PoolSet::Get(const TransportSettings& transport, const Backend& backend) {
  std::string key = absl::StrCat(transport.Key(), "|", backend.address.ToString());
  auto& pool = pools_[key];
  if (pool == nullptr) pool = std::make_unique<ConnPool>(dispatcher_, backend, transport);
  return *pool;
}

}  // namespace strait::upstream
