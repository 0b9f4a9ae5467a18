#ifndef STRAIT_UPSTREAM_CONN_POOL_H_
#define STRAIT_UPSTREAM_CONN_POOL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "upstream/upstream_connection.h"

namespace strait::upstream {

// Where a new upstream stream went.
struct OpenedStream {
  UpstreamConnection* connection;  // valid until the handler is told it closed
  int32_t stream_id;
};

// The connections of one worker to one backend over one transport. Streams
// share connections (HTTP/2 multiplexing); a new connection is opened only
// when none takes more streams. Owned by the worker's PoolSet;
// loop-thread-only.
class ConnPool {
 public:
  ConnPool(event::Dispatcher& dispatcher, const Backend& backend,
           const TransportSettings& transport);
  ~ConnPool();
  ConnPool(const ConnPool&) = delete;
  ConnPool& operator=(const ConnPool&) = delete;

  // Opens a stream for `handler` on a connection with room, connecting anew
  // if needed. Fails only if no connection can even be started.
  absl::StatusOr<OpenedStream> Open(StreamHandler* handler,
                                    const HeaderList& headers, bool end_stream);
  size_t connection_count() const { return connections_.size(); }

 private:
  void OnConnectionClosed(UpstreamConnection* connection);

  event::Dispatcher& dispatcher_;
  const Backend backend_;
  const TransportSettings transport_;
  std::vector<std::unique_ptr<UpstreamConnection>> connections_;
};

// Every ConnPool of one worker, keyed by (transport, backend address).
class PoolSet {
 public:
  explicit PoolSet(event::Dispatcher& dispatcher) : dispatcher_(dispatcher) {}
  ConnPool& Get(const TransportSettings& transport, const Backend& backend);

 private:
  event::Dispatcher& dispatcher_;
  absl::flat_hash_map<std::string, std::unique_ptr<ConnPool>> pools_;
};

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_CONN_POOL_H_
