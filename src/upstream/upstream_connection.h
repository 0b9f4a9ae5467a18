#ifndef STRAIT_UPSTREAM_UPSTREAM_CONNECTION_H_
#define STRAIT_UPSTREAM_UPSTREAM_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/header.h"
#include "event/dispatcher.h"
#include "h2/socket_session.h"
#include "upstream/backend.h"
#include "upstream/stream_handler.h"

namespace strait::upstream {

// One HTTP/2 client connection from a worker to a backend, carrying many
// concurrent streams. Owned by its ConnPool; loop-thread-only. Each stream's
// nghttp2 user data is its StreamHandler, which outlives it or detaches
// first (Detach), so callbacks never see a dangling handler.
class UpstreamConnection : public event::Deletable {
 public:
  // Called once when the connection is closed and must be released.
  using ClosedCallback = std::function<void(UpstreamConnection*)>;

  // Starts connecting at once; failures are reported to streams (and
  // `on_closed`) from the loop, never from here.
  static absl::StatusOr<std::unique_ptr<UpstreamConnection>> Connect(
      event::Dispatcher& dispatcher, const Backend& backend,
      const TransportSettings& transport, ClosedCallback on_closed);
  ~UpstreamConnection() override;

  // Opens a stream carrying `headers`; with `end_stream` there is no body.
  // Returns the stream id, or an error if this connection cannot take it.
  absl::StatusOr<int32_t> Submit(StreamHandler* handler, const HeaderList& headers,
                                 bool end_stream);
  // Wakes a stream whose body source returned NGHTTP2_ERR_DEFERRED.
  void ResumeData(int32_t stream_id);
  // Credits `length` bytes of received response DATA back to the backend.
  void Consume(int32_t stream_id, size_t length);
  // Credits connection-level window only (for bytes of a closed stream).
  void ConsumeConnection(size_t length);
  // The handler is going away: reset the stream with `error_code` if it is
  // still open, and never call the handler again.
  void Detach(int32_t stream_id, uint32_t error_code);

  // Whether new streams may be put on this connection.
  bool accepting() const;
  size_t active_streams() const { return streams_.size(); }
  const Backend& backend() const { return backend_; }

 private:
  UpstreamConnection(event::Dispatcher& dispatcher, int fd, const Backend& backend,
                     const TransportSettings& transport, ClosedCallback on_closed);
  void Init();
  void OnConnected();
  void OnClosed(absl::string_view reason);
  void UpdateIdleTimer();
  StreamHandler* HandlerFor(int32_t stream_id) const;

  // nghttp2 callbacks
  static nghttp2_session_callbacks* Callbacks();
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*,
                      size_t, const uint8_t*, size_t, uint8_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnDataChunkRecv(nghttp2_session*, uint8_t, int32_t, const uint8_t*,
                             size_t, void*);
  static int OnStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t,
                          uint32_t*, nghttp2_data_source*, void*);

  event::Dispatcher& dispatcher_;
  // Copies: the snapshot that named them may be replaced while we live.
  const Backend backend_;
  const TransportSettings transport_;
  ClosedCallback on_closed_;
  bool connected_ = false;  // the TCP connect completed
  bool goaway_received_ = false;
  // Open streams by id; a detached stream is removed at once.
  absl::flat_hash_map<int32_t, StreamHandler*> streams_;
  std::unique_ptr<h2::SocketSession> io_;
  event::Timer dial_timer_;
  event::Timer idle_timer_;
};

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_UPSTREAM_CONNECTION_H_
