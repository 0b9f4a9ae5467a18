#include "upstream/upstream_connection.h"

#include <vector>

#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "h2/headers.h"
#include "net/socket.h"
#include "net/tls_transport.h"

namespace strait::upstream {
namespace {

UpstreamConnection* Self(void* user_data) {
  return static_cast<UpstreamConnection*>(user_data);
}

}  // namespace

std::string TransportSettings::Key() const {
  return absl::StrCat(name, "#", absl::Hex(fingerprint, absl::kZeroPad16));
}

absl::StatusOr<std::unique_ptr<UpstreamConnection>> UpstreamConnection::Connect(
    event::Dispatcher& dispatcher, const Backend& backend,
    const TransportSettings& transport, Owner& owner) {
  // An https:// server is never spoken to in cleartext.
  if (backend.tls && transport.tls == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("TLS to ", backend.url, ": the servers transport has no TLS context"));
  }
  absl::StatusOr<int> fd = net::ConnectNonBlocking(backend.address);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<net::Transport> io;
  if (backend.tls) {
    auto tls = std::make_unique<net::TlsTransport>(*fd, transport.tls->ssl_ctx(),
                                                   net::TlsTransport::Role::kClient);
    // SNI, the name or IP verified, ALPN h2 and a cached session.
    if (absl::Status prepared = transport.tls->PrepareConnection(tls->ssl(), backend.host_port);
        !prepared.ok()) {
      return absl::UnavailableError(
          absl::StrCat("TLS to ", backend.url, ": ", prepared.message()));
    }
    io = std::move(tls);
  } else {
    io = std::make_unique<net::PlainTransport>(*fd);
  }
  std::unique_ptr<UpstreamConnection> conn(
      new UpstreamConnection(dispatcher, std::move(io), backend, transport, owner));
  conn->Init();
  return conn;
}

UpstreamConnection::UpstreamConnection(event::Dispatcher& dispatcher,
                                       std::unique_ptr<net::Transport> io,
                                       const Backend& backend,
                                       const TransportSettings& transport, Owner& owner)
    : backend_(backend),
      transport_(transport),
      owner_(owner),
      io_(std::make_unique<h2::SocketSession>(
          dispatcher, std::move(io), /*connecting=*/true, [this] { OnConnected(); },
          [this](absl::string_view reason) { OnClosed(reason); })),
      dial_timer_(dispatcher,
                  [this] {
                    io_->Close(absl::StrCat("no connection within ",
                                            absl::FormatDuration(transport_.dial_timeout)));
                  }),
      idle_timer_(dispatcher,
                  [this] {
                    if (!connected_) {  // retired while dialling
                      io_->Close("retired before it connected");
                      return;
                    }
                    // Say goodbye politely; the session closes once GOAWAY is out.
                    goaway_ = true;
                    nghttp2_session_terminate_session(io_->session(), NGHTTP2_NO_ERROR);
                    io_->Flush();
                  }) {
  io_->set_keepalive(transport_.read_idle_timeout, transport_.ping_timeout);
}

UpstreamConnection::~UpstreamConnection() = default;

void UpstreamConnection::Init() {
  nghttp2_option* option = h2::NewSessionOption(transport_.http2, h2::Side::kUpstream);
  nghttp2_session* session = nullptr;
  nghttp2_session_client_new2(&session, Callbacks(), this, option);
  nghttp2_option_del(option);
  h2::SubmitInitialSettings(session, transport_.http2);
  if (transport_.dial_timeout > absl::ZeroDuration()) {
    dial_timer_.Arm(transport_.dial_timeout);
  }
  io_->Start(session);
}

void UpstreamConnection::OnConnected() {
  if (backend_.tls) {
    // The handshake is done: the chain and name were verified by OpenSSL;
    // ALPN h2 and peerCertURI are checked here.
    const auto& tls = static_cast<const net::TlsTransport&>(io_->transport());
    if (absl::Status verified = transport_.tls->VerifyPeer(tls.ssl()); !verified.ok()) {
      io_->Close(absl::StrCat(net::kTlsHandshakeError, verified.message()));
      return;
    }
  }
  connected_ = true;
  dial_timer_.Disarm();
  STRAIT_LOG(kDebug, "connected to ", backend_.url);
}

void UpstreamConnection::OnClosed(absl::string_view reason) {
  dial_timer_.Disarm();
  idle_timer_.Disarm();
  if (!streams_.empty()) {
    STRAIT_LOG_EVERY(backend_.url, absl::Seconds(10), kWarn, "connection to ", backend_.url,
                     " lost with ", streams_.size(),
               " streams open: ", reason);
  }
  absl::Status status;
  if (connected_) {
    status = absl::UnavailableError(absl::StrCat("connection to ", backend_.url, ": ", reason));
  } else {
    // A failed attempt is said once, here, however many RPCs waited on it.
    if (absl::ConsumePrefix(&reason, net::kTlsHandshakeError)) {
      status = absl::UnavailableError(absl::StrCat("TLS to ", backend_.url, ": ", reason));
    } else {
      status = absl::UnavailableError(absl::StrCat("cannot connect to ", backend_.url, ": ", reason));
    }
    STRAIT_LOG_EVERY(backend_.url, absl::Seconds(10), kWarn, status.message());
  }
  // Handlers may detach others while we notify; work on a copy.
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, handler] : streams) {
    nghttp2_session_set_stream_user_data(io_->session(), id, nullptr);
    handler->OnUpstreamFailure(status, /*never_sent=*/!connected_);
  }
  owner_.OnConnectionClosed(this, status);
}

bool UpstreamConnection::accepting() const {
  if (!ready_ || goaway_ || io_->closed()) return false;
  nghttp2_session* s = io_->session();
  // A session that is ending (a GOAWAY queued after a connection error in
  // this very read) would refuse the stream at once.
  if (!nghttp2_session_check_request_allowed(s)) return false;
  if (nghttp2_session_get_next_stream_id(s) > (1u << 31) - 2) return false;
  uint32_t max = nghttp2_session_get_remote_settings(
      s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return streams_.size() < max;
}

absl::Status UpstreamConnection::Submit(StreamHandler* handler) {
  if (!accepting()) {
    return absl::UnavailableError(
        absl::StrCat("connection to ", backend_.url, " takes no new streams"));
  }
  bool end_stream = false;
  HeaderList headers = handler->RequestHeaders(&end_stream);
  std::vector<nghttp2_nv> nv = h2::ToNv(headers);
  nghttp2_data_provider body{};
  body.read_callback = &UpstreamConnection::ReadBody;
  int32_t id = nghttp2_submit_request(io_->session(), nullptr, nv.data(), nv.size(),
                                      end_stream ? nullptr : &body, handler);
  if (id < 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot open a stream to ", backend_.url, ": ", nghttp2_strerror(id)));
  }
  streams_[id] = handler;
  idle_timer_.Disarm();
  io_->ScheduleFlush();
  handler->OnUpstreamOpened(this, id);
  return absl::OkStatus();
}

void UpstreamConnection::ResumeData(int32_t stream_id) {
  if (io_->closed()) return;
  nghttp2_session_resume_data(io_->session(), stream_id);
  io_->ScheduleFlush();
}

void UpstreamConnection::Consume(int32_t stream_id, size_t length) {
  if (io_->closed() || length == 0) return;
  nghttp2_session_consume_stream(io_->session(), stream_id, length);
  io_->ScheduleFlush();
}

void UpstreamConnection::Detach(int32_t stream_id, uint32_t error_code) {
  if (streams_.erase(stream_id) == 0) return;
  if (!io_->closed()) {
    nghttp2_session* s = io_->session();
    nghttp2_session_set_stream_user_data(s, stream_id, nullptr);
    if (nghttp2_session_find_stream(s, stream_id) != nullptr) {
      nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, stream_id, error_code);
    }
    io_->ScheduleFlush();
  }
  UpdateIdleTimer();
  owner_.OnConnectionCapacity(this);
}

void UpstreamConnection::Retire() {
  if (retired_) return;
  retired_ = true;
  goaway_ = true;  // no new streams; the pool no longer counts it
  UpdateIdleTimer();
}

void UpstreamConnection::UpdateIdleTimer() {
  if (!streams_.empty() || io_->closed()) return;
  if (retired_) {
    // Not from here: this may run inside an nghttp2 callback.
    idle_timer_.Arm(absl::ZeroDuration());
  } else if (connected_ && transport_.idle_conn_timeout > absl::ZeroDuration()) {
    idle_timer_.Arm(transport_.idle_conn_timeout);
  }
}

StreamHandler* UpstreamConnection::HandlerFor(int32_t stream_id) const {
  return static_cast<StreamHandler*>(
      nghttp2_session_get_stream_user_data(io_->session(), stream_id));
}

// nghttp2 callbacks

int UpstreamConnection::OnHeader(nghttp2_session*, const nghttp2_frame* frame,
                                 const uint8_t* name, size_t namelen,
                                 const uint8_t* value, size_t valuelen, uint8_t,
                                 void* user_data) {
  StreamHandler* handler = Self(user_data)->HandlerFor(frame->hd.stream_id);
  if (handler == nullptr) return 0;
  HeaderBlock block = frame->headers.cat == NGHTTP2_HCAT_RESPONSE
                          ? HeaderBlock::kResponse
                          : HeaderBlock::kTrailers;
  handler->OnResponseHeader(
      block, absl::string_view(reinterpret_cast<const char*>(name), namelen),
      absl::string_view(reinterpret_cast<const char*>(value), valuelen));
  return 0;
}

int UpstreamConnection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame,
                                    void* user_data) {
  UpstreamConnection* self = Self(user_data);
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      StreamHandler* handler = self->HandlerFor(frame->hd.stream_id);
      if (handler == nullptr) return 0;
      bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
      if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        handler->OnResponseHeadersDone(HeaderBlock::kResponse, end_stream);
      } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS && end_stream) {
        handler->OnResponseHeadersDone(HeaderBlock::kTrailers, true);
      }
      return 0;
    }
    case NGHTTP2_DATA: {
      if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
      StreamHandler* handler = self->HandlerFor(frame->hd.stream_id);
      if (handler != nullptr) handler->OnResponseEnd();
      return 0;
    }
    case NGHTTP2_GOAWAY:
      // Streams above last_stream_id are closed by nghttp2 with
      // REFUSED_STREAM; the rest may finish. No new streams here.
      self->goaway_ = true;
      // A draining connection no longer counts toward maxConnsPerServer:
      // what waits may get a new connection now.
      self->owner_.OnConnectionCapacity(self);
      return 0;
    case NGHTTP2_SETTINGS:
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) return 0;
      // The server's limits are known now (and may have grown).
      self->ready_ = true;
      // A connection that never gets a stream must idle out too.
      self->UpdateIdleTimer();
      self->owner_.OnConnectionCapacity(self);
      return 0;
    default:
      return 0;
  }
}

int UpstreamConnection::OnFrameSend(nghttp2_session*, const nghttp2_frame* frame,
                                    void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  StreamHandler* handler = Self(user_data)->HandlerFor(frame->hd.stream_id);
  if (handler != nullptr) handler->OnRequestHeadersSent();
  return 0;
}

int UpstreamConnection::OnDataChunkRecv(nghttp2_session* session, uint8_t,
                                        int32_t stream_id, const uint8_t* data,
                                        size_t len, void* user_data) {
  UpstreamConnection* self = Self(user_data);
  // The connection window is shared by every client whose RPCs ride on this
  // connection: credit it on arrival, so a client that stops reading holds
  // back only its own stream (whose window is credited as the client takes
  // the bytes). Memory stays bounded by open streams x stream window.
  nghttp2_session_consume_connection(session, len);
  self->io_->ScheduleFlush();
  StreamHandler* handler = self->HandlerFor(stream_id);
  if (handler == nullptr) {
    // Nobody wants these bytes: give the stream window back at once.
    nghttp2_session_consume_stream(session, stream_id, len);
    return 0;
  }
  handler->OnResponseData(data, len);
  return 0;
}

int UpstreamConnection::OnStreamClose(nghttp2_session*, int32_t stream_id,
                                      uint32_t error_code, void* user_data) {
  UpstreamConnection* self = Self(user_data);
  StreamHandler* handler = self->HandlerFor(stream_id);
  self->streams_.erase(stream_id);
  if (handler != nullptr) handler->OnUpstreamClose(error_code);
  self->UpdateIdleTimer();
  self->owner_.OnConnectionCapacity(self);
  return 0;
}

ssize_t UpstreamConnection::ReadBody(nghttp2_session* session, int32_t stream_id, uint8_t*,
                                     size_t length, uint32_t* data_flags,
                                     nghttp2_data_source*, void*) {
  auto* handler = static_cast<StreamHandler*>(
      nghttp2_session_get_stream_user_data(session, stream_id));
  if (handler == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return handler->ReadRequestBody(length, data_flags);
}

int UpstreamConnection::SendData(nghttp2_session* session, nghttp2_frame* frame,
                                 const uint8_t* framehd, size_t length,
                                 nghttp2_data_source*, void* user_data) {
  auto* handler = static_cast<StreamHandler*>(
      nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
  if (handler == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return Self(user_data)->io_->SendDataFrame(
      framehd, [&](std::string* out) { handler->WriteRequestBody(length, out); });
}

nghttp2_session_callbacks* UpstreamConnection::Callbacks() {
  static nghttp2_session_callbacks* callbacks = [] {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &UpstreamConnection::OnHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cb, &UpstreamConnection::OnFrameRecv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &UpstreamConnection::OnFrameSend);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, &UpstreamConnection::OnDataChunkRecv);
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, &UpstreamConnection::OnStreamClose);
    nghttp2_session_callbacks_set_send_data_callback(cb, &UpstreamConnection::SendData);
    return cb;
  }();
  return callbacks;
}

}  // namespace strait::upstream
