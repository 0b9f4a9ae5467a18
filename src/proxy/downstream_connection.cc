#include "proxy/downstream_connection.h"

#include <algorithm>
#include <vector>

#include "common/log.h"
#include "h2/headers.h"

namespace strait::proxy {
namespace {

DownstreamConnection* Self(void* user_data) {
  return static_cast<DownstreamConnection*>(user_data);
}

}  // namespace

DownstreamConnection::DownstreamConnection(ProxyContext& context,
                                           const config::EntryPointEntry& entry_point,
                                           int fd, const net::SocketAddress& peer,
                                           ClosedCallback on_closed)
    : context_(context),
      entry_point_(entry_point.name),
      limits_(entry_point.http2),
      peer_(peer.ToString()),
      peer_ip_(peer.IpString()),
      on_closed_(std::move(on_closed)),
      io_(context.dispatcher(), fd, /*connecting=*/false, nullptr,
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
}

DownstreamConnection::~DownstreamConnection() = default;

void DownstreamConnection::Start() {
  nghttp2_option* option = h2::NewSessionOption(limits_, h2::Side::kDownstream);
  nghttp2_session* session = nullptr;
  nghttp2_session_server_new2(&session, Callbacks(), this, option);
  nghttp2_option_del(option);
  h2::SubmitInitialSettings(session, limits_);
  io_.Start(session);
}

void DownstreamConnection::Shutdown(absl::Duration grace) {
  if (shutting_down_ || io_.closed()) return;
  shutting_down_ = true;
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
    STRAIT_LOG(kWarn, "client ", peer_, " stream ", stream_id,
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
  nghttp2_session_consume(io_.session(), stream_id, length);
  io_.ScheduleFlush();
}

void DownstreamConnection::ConsumeConnection(size_t length) {
  if (io_.closed() || length == 0) return;
  nghttp2_session_consume_connection(io_.session(), length);
  io_.ScheduleFlush();
}

void DownstreamConnection::Terminate(absl::string_view why) {
  if (terminated_) return;
  terminated_ = true;
  STRAIT_LOG(kWarn, "client ", peer_, ": ", why, ": GOAWAY(ENHANCE_YOUR_CALM)");
  nghttp2_session_terminate_session(io_.session(), NGHTTP2_ENHANCE_YOUR_CALM);
  io_.ScheduleFlush();
}

ProxyStream* DownstreamConnection::StreamFor(int32_t stream_id) const {
  return static_cast<ProxyStream*>(
      nghttp2_session_get_stream_user_data(io_.session(), stream_id));
}

// nghttp2 callbacks

int DownstreamConnection::OnBeginFrame(nghttp2_session*, const nghttp2_frame_hd* hd,
                                       void* user_data) {
  DownstreamConnection* self = Self(user_data);
  if (self->flood_guard_.OnFrame(*hd) == h2::FloodGuard::Verdict::kFlood) {
    self->Terminate(absl::StrCat("too many frames of type ", hd->type));
  }
  return 0;
}

int DownstreamConnection::OnBeginHeaders(nghttp2_session* session,
                                         const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  DownstreamConnection* self = Self(user_data);
  auto stream = std::make_unique<ProxyStream>(*self, frame->hd.stream_id,
                                              self->context_.snapshot());
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
  if (!fits && self->flood_guard_.OnOversizedHeaders() == h2::FloodGuard::Verdict::kFlood) {
    self->Terminate("too many oversized header lists");
  }
  return 0;
}

int DownstreamConnection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame,
                                      void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  ProxyStream* stream = Self(user_data)->StreamFor(frame->hd.stream_id);
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
  ProxyStream* stream = Self(user_data)->StreamFor(stream_id);
  if (stream == nullptr) {
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
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
