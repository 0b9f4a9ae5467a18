#include "h2/socket_session.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "net/socket.h"

namespace strait::h2 {

SocketSession::SocketSession(event::Dispatcher& dispatcher, int fd, bool connecting,
                             std::function<void()> on_connected, CloseCallback on_close)
    : SocketSession(dispatcher, std::make_unique<net::PlainTransport>(fd), connecting,
                    std::move(on_connected), std::move(on_close)) {}

SocketSession::SocketSession(event::Dispatcher& dispatcher,
                             std::unique_ptr<net::Transport> transport, bool connecting,
                             std::function<void()> on_connected, CloseCallback on_close)
    : transport_(std::move(transport)),
      plain_(dynamic_cast<net::PlainTransport*>(transport_.get())),
      connecting_(connecting),
      on_connected_(std::move(on_connected)),
      on_close_(std::move(on_close)),
      io_(dispatcher, transport_->fd(), [this](uint32_t ready) { OnReady(ready); }),
      flush_(dispatcher, [this] { Flush(); }),
      write_stall_timer_(dispatcher,
                         [this] {
                           Close(absl::StrCat("peer took no bytes for ",
                                              absl::FormatDuration(write_stall_timeout_)));
                         }),
      handshake_timer_(dispatcher,
                       [this] {
                         Close(absl::StrCat("TLS handshake not done within ",
                                            absl::FormatDuration(handshake_timeout_)));
                       }),
      keepalive_timer_(dispatcher, [this] { OnKeepaliveTimer(); }),
      ping_ack_timer_(dispatcher, [this] {
        ping_timed_out_ = true;
        Close(absl::StrCat("no PING answer within ", absl::FormatDuration(keepalive_timeout_)));
      }) {}

// The transport (and its fd) goes after io_, whose event is removed first.
SocketSession::~SocketSession() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

void SocketSession::Start(nghttp2_session* session) {
  session_ = session;
  if (connecting_) {
    io_.SetInterest(false, true);
  } else {
    ContinueHandshake();
  }
}

void SocketSession::ContinueHandshake() {
  switch (transport_->Handshake()) {
    case net::Transport::Status::kOk:
      handshaking_ = false;
      handshake_timer_.Disarm();
      OnEstablished();
      return;
    case net::Transport::Status::kAgain:
      if (handshake_timeout_ > absl::ZeroDuration() && !handshake_timer_.armed()) {
        handshake_timer_.Arm(handshake_timeout_);
      }
      io_.SetInterest(transport_->wants_read(), transport_->wants_write());
      return;
    case net::Transport::Status::kClosed:
      Close("peer closed the connection during the handshake");
      return;
    case net::Transport::Status::kError:
      Close(transport_->error());
      return;
  }
}

void SocketSession::OnEstablished() {
  ArmKeepalive();
  if (on_connected_) on_connected_();
  if (!closed_) Flush();
}

void SocketSession::ArmKeepalive() {
  if (keepalive_time_ > absl::ZeroDuration()) keepalive_timer_.Arm(keepalive_time_);
}

void SocketSession::OnKeepaliveTimer() {
  if (closed_) return;
  ArmKeepalive();
  if (heard_ || ping_ack_timer_.armed()) {
    heard_ = false;
    return;
  }
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
  ping_ack_timer_.Arm(keepalive_timeout_);
  ScheduleFlush();
}

void SocketSession::OnReady(uint32_t ready) {
  if (closed_) return;
  if (connecting_) {
    int err = net::PendingSocketError(transport_->fd());
    if (err != 0) {
      Close(absl::StrCat("connect: ", strerror(err)));
      return;
    }
    connecting_ = false;
    ContinueHandshake();
    return;
  }
  if (handshaking_) {
    ContinueHandshake();
    return;
  }
  if ((ready & event::FileEvent::kRead) && !ReadSome()) return;
  Flush();
}

bool SocketSession::ReadSome() {
  uint8_t buf[32 * 1024];
  // Bounded: level-triggered events bring us back for the rest, and other
  // connections get their turn meanwhile.
  for (int i = 0; i < 8; ++i) {
    net::Transport::Result r = plain_ != nullptr ? plain_->PlainTransport::Read(buf, sizeof buf)
                                                 : transport_->Read(buf, sizeof buf);
    if (r.status == net::Transport::Status::kOk) {
      size_t n = r.bytes;
      ssize_t rv = nghttp2_session_mem_recv(session_, buf, n);
      if (rv < 0) {
        if (rv == NGHTTP2_ERR_FLOODED) {
          // Too many ACKs queued for a peer that does not read them.
          flooded_ = true;
          nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        // nghttp2 has queued a GOAWAY for most errors: try to send it.
        Flush();
        if (!closed_) Close(absl::StrCat("HTTP/2 error: ", nghttp2_strerror(rv)));
        return false;
      }
      heard_ = true;
      ping_ack_timer_.Disarm();  // any frame shows the peer is alive
      if (closed_) return false;
      // A short plain read drained the socket; TLS returns one record per
      // read, so only kAgain says it is drained.
      if (n < sizeof buf && plain_ != nullptr) return true;
      // More to read: first move what nghttp2 queued meanwhile (ACKs, say)
      // out, so that a peer which reads what it is sent never piles up
      // control frames inside nghttp2 (max_outbound_ack).
      Flush();
      if (closed_) return false;
      continue;
    }
    if (r.status == net::Transport::Status::kAgain) return true;
    if (r.status == net::Transport::Status::kClosed) {
      Close("peer closed the connection");
    } else {
      Close(transport_->error());
    }
    return false;
  }
  return true;
}

void SocketSession::Flush() {
  if (closed_ || connecting_ || handshaking_ || session_ == nullptr) return;
  for (;;) {
    while (out_.size() - out_offset_ < kOutHighWater) {
      const uint8_t* data = nullptr;
      size_t before = out_.size();
      ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n < 0) {
        Close(absl::StrCat("HTTP/2 send error: ", nghttp2_strerror(n)));
        return;
      }
      // DATA frames sent without a copy were appended by the send_data
      // callback and make mem_send return 0: keep going while it produced.
      if (n == 0 && out_.size() == before) break;
      out_.append(reinterpret_cast<const char*>(data), n);
    }
    if (out_offset_ == out_.size()) break;
    const uint8_t* pending = reinterpret_cast<const uint8_t*>(out_.data()) + out_offset_;
    size_t pending_length = out_.size() - out_offset_;
    net::Transport::Result r = plain_ != nullptr
                                   ? plain_->PlainTransport::Write(pending, pending_length)
                                   : transport_->Write(pending, pending_length);
    if (r.status == net::Transport::Status::kAgain) break;
    if (r.status != net::Transport::Status::kOk) {
      Close(transport_->error());
      return;
    }
    size_t w = r.bytes;
    out_offset_ += w;
    if (w > 0) write_stall_timer_.Disarm();  // progress
    if (out_offset_ < out_.size()) break;    // the kernel's buffer is full
    out_.clear();
    out_offset_ = 0;
  }
  if (out_offset_ == out_.size() && !nghttp2_session_want_read(session_) &&
      !nghttp2_session_want_write(session_)) {
    Close("session finished");
    return;
  }
  UpdateInterest();
}

void SocketSession::UpdateInterest() {
  bool pending_output = out_offset_ < out_.size();
  if (!pending_output) {
    write_stall_timer_.Disarm();
  } else if (write_stall_timeout_ > absl::ZeroDuration() && !write_stall_timer_.armed()) {
    write_stall_timer_.Arm(write_stall_timeout_);
  }
  bool want_read = nghttp2_session_want_read(session_) != 0;
  bool want_write = pending_output;
  // TLS may need the other direction to finish a write: a write waiting
  // for the peer's bytes, a read waiting to send (never for plain TCP).
  if (pending_output && plain_ == nullptr && !transport_->wants_write()) want_read = true;
  io_.SetInterest(want_read, want_write);
}

void SocketSession::Close(absl::string_view reason) {
  if (closed_) return;
  closed_ = true;
  flush_.Cancel();
  write_stall_timer_.Disarm();
  handshake_timer_.Disarm();
  keepalive_timer_.Disarm();
  ping_ack_timer_.Disarm();
  io_.SetInterest(false, false);
  // Output the peer never took would keep the connection alive in the
  // kernel (a FIN cannot pass unread data): abort with a reset instead.
  int fd = transport_->fd();
  if (out_offset_ < out_.size()) {
    linger abort{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  // Bytes the peer sent that were never read make close() answer with a
  // reset, which can overtake our last frames (a GOAWAY saying why): read
  // them away first, then send FIN. The fd number is released in the
  // destructor, after the event is gone.
  char discard[16 * 1024];
  for (int i = 0; i < 64 && recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0; ++i) {
  }
  // TLS: close_notify first.
  transport_->ShutdownWrite();
  if (on_close_) on_close_(reason);
}

}  // namespace strait::h2
