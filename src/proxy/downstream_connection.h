#ifndef STRAIT_PROXY_DOWNSTREAM_CONNECTION_H_
#define STRAIT_PROXY_DOWNSTREAM_CONNECTION_H_

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/header.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "h2/flood_guard.h"
#include "h2/socket_session.h"
#include "net/socket.h"
#include "proxy/proxy_context.h"
#include "proxy/proxy_stream.h"

namespace strait::proxy {

// One client connection on an entry point: the nghttp2 server session and
// the ProxyStreams of its requests, which it owns. Owned by its Worker (freed
// deferred once closed); loop-thread-only.
class DownstreamConnection : public event::Deletable {
 public:
  using ClosedCallback = std::function<void(DownstreamConnection*)>;

  DownstreamConnection(ProxyContext& context, const config::EntryPointEntry& entry_point,
                       int fd, const net::SocketAddress& peer, ClosedCallback on_closed);
  ~DownstreamConnection() override;

  // Sends the server preface and starts serving.
  void Start();
  // Graceful: GOAWAY now, let open streams finish, close after `grace`.
  // Streams the client still opens meanwhile use `snapshot` if given (the
  // last one with this connection's entry point, once a reload removed it)
  // instead of the worker's running one.
  void Shutdown(absl::Duration grace,
                std::shared_ptr<const config::Snapshot> snapshot = nullptr);

  // For ProxyStream.
  ProxyContext& context() { return context_; }
  const std::string& entry_point() const { return entry_point_; }
  // The client's address ("127.0.0.1:51234", "[::1]:51234").
  const std::string& peer() const { return peer_; }
  // The client's IP address ("127.0.0.1", "::1"), for x-forwarded-for.
  const std::string& peer_ip() const { return peer_ip_; }
  // "https" on a TLS entry point, else "http": :scheme and x-forwarded-proto.
  absl::string_view scheme() const { return scheme_; }
  int SubmitResponse(int32_t stream_id, const HeaderList& headers, bool end_stream);
  void SubmitTrailer(int32_t stream_id, const HeaderList& trailers);
  void ResumeData(int32_t stream_id);
  // Request bytes of `stream_id` have left strait (or are dropped): credits
  // the stream window and releases them from the connection's budget.
  void Consume(int32_t stream_id, size_t length);
  // Replay copies (a retry policy's) count against the connection's budget
  // too, but never hold back its window: past the budget, a stream is
  // refused the copy (and so its retries) instead. True if `length` more
  // bytes fit; Release gives them back.
  bool ReserveReplay(size_t length) {
    if (buffered_bytes_ + replay_bytes_ + length > max_buffer_bytes_) return false;
    replay_bytes_ += length;
    return true;
  }
  void ReleaseReplay(size_t length) { replay_bytes_ -= std::min(replay_bytes_, length); }
  // The window the client gives this response stream now (stream and
  // connection windows, whichever is smaller).
  int32_t ClientWindow(int32_t stream_id) const;
  void ResetStream(int32_t stream_id, uint32_t error_code);
  absl::Duration stream_stall_timeout() const { return stream_stall_timeout_; }
  void ScheduleFlush() { io_.ScheduleFlush(); }

 private:
  void OnClosed(absl::string_view reason);
  ProxyStream* StreamFor(int32_t stream_id) const;

  // Answers a flooding client with GOAWAY(ENHANCE_YOUR_CALM); the session
  // closes once it is sent.
  void Terminate(h2::FloodGuard::Offence offence);
  // Request DATA arrived: the connection window is credited now, within
  // max_buffer_bytes_.
  void OnRequestBytes(size_t length);
  // A HEADERS frame began on `stream_id`: RFC 9113 5.1.1 stream id order.
  void OnStreamId(int32_t stream_id);

  // nghttp2 callbacks
  static nghttp2_session_callbacks* Callbacks();
  static int OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd*, void*);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*,
                      size_t, const uint8_t*, size_t, uint8_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnDataChunkRecv(nghttp2_session*, uint8_t, int32_t, const uint8_t*,
                             size_t, void*);
  static int OnStreamClose(nghttp2_session*, int32_t, uint32_t, void*);
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                          nghttp2_data_source*, void*);
  static int SendData(nghttp2_session*, nghttp2_frame*, const uint8_t*, size_t,
                      nghttp2_data_source*, void*);

  ProxyContext& context_;
  const std::string entry_point_;
  // This worker's counters of the entry point (ProxyCounters::entry_points).
  EntryPointCounters& counters_;
  const bool tls_;
  const h2::Http2Limits limits_;
  const std::string peer_;     // "ip:port" of the client, for logs
  const std::string peer_ip_;  // the client's address without port
  const absl::Duration stream_stall_timeout_;
  const size_t max_buffer_bytes_;
  const char* const scheme_;  // static storage
  // Request bytes received and not yet taken by backends (or dropped), over
  // all streams; and of them, those whose connection window credit is held
  // back because buffered_bytes_ exceeded max_buffer_bytes_.
  size_t buffered_bytes_ = 0;
  size_t connection_debt_ = 0;
  size_t replay_bytes_ = 0;  // held by this connection's streams for retries
  // Client stream ids: the lowest a new stream may have, and the ranges of
  // ids the client skipped (bounded: an old skip may be forgotten).
  int32_t next_stream_id_ = 1;
  static constexpr size_t kMaxSkippedRanges = 16;
  std::vector<std::pair<int32_t, int32_t>> skipped_;
  ClosedCallback on_closed_;
  // Open streams; a stream's nghttp2 user data points into this map's values.
  absl::flat_hash_map<int32_t, std::unique_ptr<ProxyStream>> streams_;
  h2::SocketSession io_;
  event::Timer grace_timer_;
  event::Timer final_goaway_timer_;  // second step of a graceful shutdown
  // Time between the shutdown notice and the final GOAWAY.
  static constexpr absl::Duration kGoawayNoticePeriod = absl::Milliseconds(500);
  h2::FloodGuard flood_guard_;
  bool shutting_down_ = false;
  // Set by Shutdown for the streams still to come; null: the running one.
  std::shared_ptr<const config::Snapshot> final_snapshot_;
  bool terminated_ = false;  // GOAWAY(ENHANCE_YOUR_CALM) queued
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_DOWNSTREAM_CONNECTION_H_
