#include "proxy/downstream_connection.h"

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "h2/headers.h"
#include "net/tls_transport.h"

namespace strait::proxy {
namespace {

DownstreamConnection* Self(void* user_data) {
  return static_cast<DownstreamConnection*>(user_data);
}

std::unique_ptr<net::Transport> TransportFor(const config::EntryPointEntry& entry_point,
                                             int fd) {
  if (entry_point.tls == nullptr) return std::make_unique<net::PlainTransport>(fd);
  return std::make_unique<net::TlsTransport>(fd, entry_point.tls->ctx(),
                                             net::TlsTransport::Role::kServer);
}

}  // namespace

DownstreamConnection::DownstreamConnection(ProxyContext& context,
                                           const config::EntryPointEntry& entry_point,
                                           int fd, const net::SocketAddress& peer,
                                           ClosedCallback on_closed)
    : context_(context),
      entry_point_(entry_point.name),
      counters_(context.counters().entry_points[entry_point.name]),
      tls_(entry_point.tls != nullptr),
      limits_(entry_point.http2),
      peer_(peer.ToString()),
      peer_ip_(peer.IpString()),
      stream_stall_timeout_(entry_point.stream_stall_timeout),
      max_buffer_bytes_(entry_point.max_connection_buffer_bytes),
      scheme_(entry_point.scheme()),
      on_closed_(std::move(on_closed)),
      io_(context.dispatcher(), TransportFor(entry_point, fd), /*connecting=*/false, nullptr,
          [this](absl::string_view reason) { OnClosed(reason); }),
      grace_timer_(context.dispatcher(),
                   [this] { io_.Close("grace period over while draining"); }),
      final_goaway_timer_(context.dispatcher(), [this] {
        nghttp2_session* s = io_.session();
        nghttp2_submit_goaway(s, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(s), NGHTTP2_NO_ERROR,
                              nullptr, 0);
        io_.Flush();
      }) {
  io_.set_write_stall_timeout(entry_point.write_stall_timeout);
  io_.set_keepalive(entry_point.keep_alive_time, entry_point.keep_alive_timeout);
  if (entry_point.tls != nullptr) io_.set_handshake_timeout(entry_point.handshake_timeout);
  ++counters_.connections_accepted;
  ++counters_.connections_open;
}

DownstreamConnection::~DownstreamConnection() { --counters_.connections_open; }

void DownstreamConnection::Start() {
  nghttp2_option* option = h2::NewSessionOption(limits_, h2::Side::kDownstream);
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new2(&session, Callbacks(), this, option);
  nghttp2_option_del(option);
  h2::SubmitInitialSettings(session, limits_);
  io_.Start(session);
}

void DownstreamConnection::Shutdown(absl::Duration grace,
                                    std::shared_ptr<const config::Snapshot> snapshot) {
  if (shutting_down_ || io_.closed()) return;
  shutting_down_ = true;
  final_snapshot_ = std::move(snapshot);
  // Two steps, as gRPC servers do: a GOAWAY announcing the end (streams the
  // client sends meanwhile are still served), then, once it has had time to
  // arrive, the GOAWAY naming the last stream strait will serve.
  nghttp2_submit_shutdown_notice(io_.session());
  final_goaway_timer_.Arm(std::min(kGoawayNoticePeriod, grace));
  grace_timer_.Arm(grace);
  io_.Flush();
}

void DownstreamConnection::OnClosed(absl::string_view reason) {
  grace_timer_.Disarm();
  final_goaway_timer_.Disarm();
  STRAIT_LOG(kDebug, "client ", peer_, " closed: ", reason);
  if (io_.flooded()) {
    STRAIT_LOG_EVERY(entry_point_, absl::Seconds(10), kWarn, "client ", peer_,
                     ": left too many ACKs unread: GOAWAY(ENHANCE_YOUR_CALM)");
    ++counters_.abuse_goaways["control_frame_flood"];
  }
  if (tls_ && io_.handshaking()) ++counters_.tls_handshake_failures;
  if (io_.ping_timed_out()) ++counters_.ping_timeouts;
  for (auto& [id, stream] : streams_) {
    stream->OnDownstreamClose(NGHTTP2_CANCEL);
    context_.dispatcher().DeferredDelete(std::move(stream));
  }
  streams_.clear();
  if (on_closed_) on_closed_(this);
}

int DownstreamConnection::SubmitResponse(int32_t stream_id, const HeaderList& headers,
                                         bool end_stream) {
  std::vector<nghttp2_nv> nv = h2::ToNv(headers);
  nghttp2_data_provider body{};
  body.read_callback = &DownstreamConnection::ReadBody;
  int rv = nghttp2_submit_response(io_.session(), stream_id, nv.data(), nv.size(),
                                   end_stream ? nullptr : &body);
  if (rv != 0) {
    STRAIT_LOG_EVERY(entry_point_, absl::Seconds(10), kWarn, "client ", peer_, " stream ", stream_id,
               ": cannot submit response: ", nghttp2_strerror(rv));
    nghttp2_submit_rst_stream(io_.session(), NGHTTP2_FLAG_NONE, stream_id,
                              NGHTTP2_INTERNAL_ERROR);
  }
  io_.ScheduleFlush();
  return rv;
}

void DownstreamConnection::SubmitTrailer(int32_t stream_id, const HeaderList& trailers) {
  std::vector<nghttp2_nv> nv = h2::ToNv(trailers);
  nghttp2_submit_trailer(io_.session(), stream_id, nv.data(), nv.size());
}

void DownstreamConnection::ResumeData(int32_t stream_id) {
  if (io_.closed()) return;
  nghttp2_session_resume_data(io_.session(), stream_id);
  io_.ScheduleFlush();
}

void DownstreamConnection::Consume(int32_t stream_id, size_t length) {
  if (io_.closed() || length == 0) return;
  nghttp2_session* s = io_.session();
  // Fails harmlessly for a stream that is already closed.
  nghttp2_session_consume_stream(s, stream_id, length);
  buffered_bytes_ -= std::min(buffered_bytes_, length);
  // Connection credit held back while over budget is paid back as the
  // buffers drain.
  if (connection_debt_ > 0 && buffered_bytes_ < max_buffer_bytes_) {
    size_t pay = std::min(connection_debt_, max_buffer_bytes_ - buffered_bytes_);
    connection_debt_ -= pay;
    nghttp2_session_consume_connection(s, pay);
  }
  io_.ScheduleFlush();
}

void DownstreamConnection::OnRequestBytes(size_t length) {
  buffered_bytes_ += length;
  // Credit the connection at once, so that a stream whose backend is slow
  // holds back only itself, unless this client already has its budget's
  // worth of bytes waiting in strait.
  if (buffered_bytes_ <= max_buffer_bytes_) {
    nghttp2_session_consume_connection(io_.session(), length);
  } else {
    connection_debt_ += length;
  }
}

int32_t DownstreamConnection::ClientWindow(int32_t stream_id) const {
  nghttp2_session* s = io_.session();
  return std::min(nghttp2_session_get_stream_remote_window_size(s, stream_id),
                  nghttp2_session_get_remote_window_size(s));
}

void DownstreamConnection::ResetStream(int32_t stream_id, uint32_t error_code) {
  if (io_.closed()) return;
  nghttp2_submit_rst_stream(io_.session(), NGHTTP2_FLAG_NONE, stream_id, error_code);
  io_.ScheduleFlush();
}

void DownstreamConnection::Terminate(h2::FloodGuard::Offence offence) {
  if (terminated_) return;
  terminated_ = true;
  const char* name = h2::FloodGuard::OffenceName(offence);
  STRAIT_LOG_EVERY(name, absl::Seconds(10), kWarn, "client ", peer_, ": ", name, " (", flood_guard_.streams(),
             " streams): GOAWAY(ENHANCE_YOUR_CALM)");
  ++counters_.abuse_goaways[name];
  nghttp2_session_terminate_session(io_.session(), NGHTTP2_ENHANCE_YOUR_CALM);
  io_.ScheduleFlush();
}

void DownstreamConnection::OnStreamId(int32_t stream_id) {
  if (stream_id <= 0 || !(stream_id & 1)) return;  // nghttp2 rejects these itself
  if (stream_id >= next_stream_id_) {
    if (stream_id > next_stream_id_) {
      if (skipped_.size() == kMaxSkippedRanges) skipped_.erase(skipped_.begin());
      skipped_.push_back({next_stream_id_, stream_id - 2});
    }
    next_stream_id_ = stream_id + 2;
    return;
  }
  // A lower id than one already opened. nghttp2 ignores such HEADERS,
  // since they may be trailers racing a reset of a stream that did exist;
  // but an id the client skipped never existed, and opening it now breaks
  // RFC 9113 section 5.1.1.
  for (const auto& [first, last] : skipped_) {
    if (stream_id >= first && stream_id <= last) {
      STRAIT_LOG_EVERY(entry_point_, absl::Seconds(10), kInfo, "client ", peer_, ": HEADERS on stream ", stream_id,
                 " below stream ", next_stream_id_ - 2, ": GOAWAY(PROTOCOL_ERROR)");
      nghttp2_session_terminate_session(io_.session(), NGHTTP2_PROTOCOL_ERROR);
      io_.ScheduleFlush();
      return;
    }
  }
}

ProxyStream* DownstreamConnection::StreamFor(int32_t stream_id) const {
  return static_cast<ProxyStream*>(
      nghttp2_session_get_stream_user_data(io_.session(), stream_id));
}

// nghttp2 callbacks

int DownstreamConnection::OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd,
                                       void* user_data) {
  DownstreamConnection* self = Self(user_data);
  h2::FloodGuard::Offence offence = self->flood_guard_.OnFrame(*hd);
  if (offence != h2::FloodGuard::Offence::kNone) self->Terminate(offence);
  if (hd->type == NGHTTP2_HEADERS) self->OnStreamId(hd->stream_id);
  return 0;
}

int DownstreamConnection::OnBeginHeaders(nghttp2_session* session,
                                         const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  DownstreamConnection* self = Self(user_data);
  self->flood_guard_.OnStreamOpened();
  auto stream = std::make_unique<ProxyStream>(
      *self, frame->hd.stream_id,
      self->final_snapshot_ ? self->final_snapshot_ : self->context_.snapshot());
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
  self->streams_[frame->hd.stream_id] = std::move(stream);
  return 0;
}

int DownstreamConnection::OnHeader(nghttp2_session*, const nghttp2_frame* frame,
                                   const uint8_t* name, size_t namelen,
                                   const uint8_t* value, size_t valuelen, uint8_t,
                                   void* user_data) {
  // Request trailers (rare in gRPC) carry nothing we forward.
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  DownstreamConnection* self = Self(user_data);
  ProxyStream* stream = self->StreamFor(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  bool fits = stream->OnRequestHeader(
      absl::string_view(reinterpret_cast<const char*>(name), namelen),
      absl::string_view(reinterpret_cast<const char*>(value), valuelen),
      self->limits_.max_header_list_size);
  if (!fits) {
    h2::FloodGuard::Offence offence = self->flood_guard_.OnOversizedHeaders();
    if (offence != h2::FloodGuard::Offence::kNone) self->Terminate(offence);
  }
  return 0;
}

int DownstreamConnection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame,
                                      void* user_data) {
  DownstreamConnection* self = Self(user_data);
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    ProxyStream* stream = self->StreamFor(frame->hd.stream_id);
    if (stream != nullptr && stream->premature()) {
      h2::FloodGuard::Offence offence = self->flood_guard_.OnPrematureReset();
      if (offence != h2::FloodGuard::Offence::kNone) self->Terminate(offence);
    }
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  ProxyStream* stream = self->StreamFor(frame->hd.stream_id);
  if (stream == nullptr) return 0;
  bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    stream->OnRequestHeadersDone(end_stream);
  } else if (end_stream) {
    stream->OnRequestEnd();
  }
  return 0;
}

int DownstreamConnection::OnDataChunkRecv(nghttp2_session* session, uint8_t,
                                          int32_t stream_id, const uint8_t* data,
                                          size_t len, void* user_data) {
  DownstreamConnection* self = Self(user_data);
  ProxyStream* stream = self->StreamFor(stream_id);
  if (stream == nullptr) {
    nghttp2_session_consume(session, stream_id, len);
    self->io_.ScheduleFlush();
    return 0;
  }
  self->OnRequestBytes(len);
  stream->OnRequestData(data, len);
  return 0;
}

int DownstreamConnection::OnStreamClose(nghttp2_session* session, int32_t stream_id,
                                        uint32_t error_code, void* user_data) {
  DownstreamConnection* self = Self(user_data);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  nghttp2_session_set_stream_user_data(session, stream_id, nullptr);
  it->second->OnDownstreamClose(error_code);
  // nghttp2 is still on the stack: free the stream on the next loop turn.
  self->context_.dispatcher().DeferredDelete(std::move(it->second));
  self->streams_.erase(it);
  return 0;
}

ssize_t DownstreamConnection::ReadBody(nghttp2_session* session, int32_t stream_id,
                                       uint8_t*, size_t length, uint32_t* data_flags,
                                       nghttp2_data_source*, void*) {
  auto* stream =
      static_cast<ProxyStream*>(nghttp2_session_get_stream_user_data(session, stream_id));
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return stream->ReadResponseBody(length, data_flags);
}

int DownstreamConnection::SendData(nghttp2_session* session, nghttp2_frame* frame,
                                   const uint8_t* framehd, size_t length,
                                   nghttp2_data_source*, void* user_data) {
  auto* stream = static_cast<ProxyStream*>(
      nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Self(user_data)->flood_guard_.OnDataSent();
  return Self(user_data)->io_.SendDataFrame(
      framehd, [&](std::string* out) { stream->WriteResponseBody(length, out); });
}

nghttp2_session_callbacks* DownstreamConnection::Callbacks() {
  static nghttp2_session_callbacks* callbacks = [] {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_frame_callback(cb,
                                                          &DownstreamConnection::OnBeginFrame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(
        cb, &DownstreamConnection::OnBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &DownstreamConnection::OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, &DownstreamConnection::OnFrameRecv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, &DownstreamConnection::OnDataChunkRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, &DownstreamConnection::OnStreamClose);
    nghttp2_session_callbacks_set_send_data_callback(cb, &DownstreamConnection::SendData);
    return cb;
  }();
  return callbacks;
}

}  // namespace strait::proxy
