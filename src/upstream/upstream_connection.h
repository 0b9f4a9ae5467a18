#ifndef STRAIT_UPSTREAM_UPSTREAM_CONNECTION_H_
#define STRAIT_UPSTREAM_UPSTREAM_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/header.h"
#include "event/dispatcher.h"
#include "h2/socket_session.h"
#include "net/transport.h"
#include "upstream/backend.h"
#include "upstream/stream_handler.h"

namespace strait::upstream {

// One HTTP/2 client connection from a worker to a backend, carrying many
// concurrent streams. Owned by its ConnPool; loop-thread-only. Each stream's
// nghttp2 user data is its StreamHandler, which outlives it or detaches
// first (Detach), so callbacks never see a dangling handler.
class UpstreamConnection : public event::Deletable {
 public:
  // What the owning pool hears from its connections.
  class Owner {
   public:
    virtual ~Owner() = default;
    // The connection became ready (server SETTINGS arrived) or a stream slot
    // freed up: queued RPCs may go now.
    virtual void OnConnectionCapacity(UpstreamConnection* connection) = 0;
    // The connection is closed and must be released (deferred).
    virtual void OnConnectionClosed(UpstreamConnection* connection,
                                    const absl::Status& reason) = 0;
  };

  // Starts connecting; the outcome is reported to `owner` from the loop.
  static absl::StatusOr<std::unique_ptr<UpstreamConnection>> Connect(
      event::Dispatcher& dispatcher, const Backend& backend,
      const TransportSettings& transport, Owner& owner);
  ~UpstreamConnection() override;

  // Opens a stream for `handler` (headers from handler->RequestHeaders)
  // and tells it through OnUpstreamOpened. Only when accepting().
  absl::Status Submit(StreamHandler* handler);
  // Wakes a stream whose body source returned NGHTTP2_ERR_DEFERRED.
  void ResumeData(int32_t stream_id);
  // Credits the stream window for `length` bytes of received response DATA
  // the client has taken (the connection window was credited on arrival).
  void Consume(int32_t stream_id, size_t length);
  // The handler is going away: reset the stream with `error_code` if it is
  // still open, and never call the handler again.
  void Detach(int32_t stream_id, uint32_t error_code);
  // The pool has no more use for this connection (ConnPool::SetRetired): it
  // takes no new stream from now on, and once its last stream has ended it
  // says GOAWAY and closes (on a later loop turn: at once, if it has none).
  // Its open streams finish normally.
  void Retire();

  // The TCP connect completed.
  bool connected() const { return connected_; }
  // The server's SETTINGS arrived: its stream limit is known.
  bool ready() const { return ready_; }
  bool closed() const { return io_->closed(); }
  // Whether a new stream may be opened here now.
  bool accepting() const;
  // GOAWAY was received or sent: no new streams, open ones may finish.
  bool draining() const { return goaway_; }
  bool retired() const { return retired_; }
  // Closed because a keepalive PING went unanswered.
  bool ping_timed_out() const { return io_->ping_timed_out(); }
  size_t active_streams() const { return streams_.size(); }
  const Backend& backend() const { return backend_; }

 private:
  UpstreamConnection(event::Dispatcher& dispatcher, std::unique_ptr<net::Transport> io,
                     const Backend& backend,
                     const TransportSettings& transport, Owner& owner);
  void Init();
  void OnConnected();
  void OnClosed(absl::string_view reason);
  void UpdateIdleTimer();
  StreamHandler* HandlerFor(int32_t stream_id) const;

  // nghttp2 callbacks
  static nghttp2_session_callbacks* Callbacks();
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*,
                      size_t, const uint8_t*, size_t, uint8_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnDataChunkRecv(nghttp2_session*, uint8_t, int32_t, const uint8_t*,
                             size_t, void*);
  static int OnStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t,
                          uint32_t*, nghttp2_data_source*, void*);
  static int SendData(nghttp2_session*, nghttp2_frame*, const uint8_t*, size_t,
                      nghttp2_data_source*, void*);

  // Copies: the snapshot that named them may be replaced while we live.
  const Backend backend_;
  const TransportSettings transport_;
  Owner& owner_;
  bool connected_ = false;  // the TCP connect completed
  bool ready_ = false;      // the server's first SETTINGS arrived
  bool goaway_ = false;     // GOAWAY received or sent: no new streams
  bool retired_ = false;    // Retire(): closes once streams_ is empty
  // Open streams by id; a detached stream is removed at once.
  absl::flat_hash_map<int32_t, StreamHandler*> streams_;
  std::unique_ptr<h2::SocketSession> io_;
  event::Timer dial_timer_;
  // Closes the connection once it has been idle for idleConnTimeout, or on
  // the next loop turn once retired and idle.
  event::Timer idle_timer_;
};

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_UPSTREAM_CONNECTION_H_
