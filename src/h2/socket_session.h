#ifndef STRAIT_H2_SOCKET_SESSION_H_
#define STRAIT_H2_SOCKET_SESSION_H_

#include <nghttp2/nghttp2.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "event/dispatcher.h"
#include "net/transport.h"

namespace strait::h2 {

// Owns one connection (its net::Transport: the socket, plain or TLS) and the
// nghttp2 session speaking over it, and moves bytes between them: reads feed
// nghttp2_session_mem_recv, and Flush() drains nghttp2_session_mem_send to
// the transport without ever buffering more than one high-water mark of
// output. A TLS handshake runs first, driven by the fd's readiness; the
// session neither knows nor cares which transport it has. Owned by a
// DownstreamConnection or an UpstreamConnection; loop-thread-only.
//
// The owner learns of the end through `on_close`, called exactly once and
// never from inside an nghttp2 callback, so the owner may tear down its
// streams there (it must defer its own deletion: this object is still on the
// stack).
class SocketSession {
 public:
  using CloseCallback = std::function<void(absl::string_view reason)>;

  // `connecting`: the fd is a non-blocking connect still in progress;
  // `on_connected` runs once it completes, before the first write.
  // The transport is plain TCP on `fd`.
  SocketSession(event::Dispatcher& dispatcher, int fd, bool connecting,
                std::function<void()> on_connected, CloseCallback on_close);
  // Over `transport` (which owns the fd). A TLS handshake runs after the
  // connect (if `connecting`) and before `on_connected` and the first frame.
  SocketSession(event::Dispatcher& dispatcher, std::unique_ptr<net::Transport> transport,
                bool connecting, std::function<void()> on_connected, CloseCallback on_close);
  ~SocketSession();
  SocketSession(const SocketSession&) = delete;
  SocketSession& operator=(const SocketSession&) = delete;

  // Closes the connection when pending output makes no progress for
  // `timeout` (a peer that never reads). Zero disables.
  void set_write_stall_timeout(absl::Duration timeout) { write_stall_timeout_ = timeout; }
  // Keepalive: once the peer has sent nothing for `time`, sends a PING, and
  // closes the connection if nothing at all arrives within `timeout` after
  // it. Silence is checked once per `time`, so the PING goes out between
  // `time` and twice that after the last frame, never sooner (servers punish
  // clients that PING too often). A peer that answers PINGs lives forever.
  // Zero `time` disables. Call before Start().
  void set_keepalive(absl::Duration time, absl::Duration timeout) {
    keepalive_time_ = time;
    keepalive_timeout_ = timeout;
  }
  // Closes the connection if the transport's handshake has not finished
  // within `timeout` of Start() (a client stuck in a TLS handshake). Zero
  // disables. Call before Start().
  void set_handshake_timeout(absl::Duration timeout) { handshake_timeout_ = timeout; }
  // Takes ownership of `session` and starts reading.
  void Start(nghttp2_session* session);
  nghttp2_session* session() const { return session_; }

  // Arranges a Flush() later in this loop turn: call after submitting frames
  // or resuming data from outside this session's own I/O.
  void ScheduleFlush() { flush_.Schedule(); }
  // Sends what nghttp2 has queued; closes when the session is finished.
  void Flush();
  // The body of nghttp2's send_data_callback (DATA sent without a copy into
  // nghttp2): appends the 9-byte frame header, then lets `write_payload`
  // append exactly the frame's payload to the output. strait never pads.
  // Returns what the callback returns: NGHTTP2_ERR_PAUSE once the output
  // buffer is full, so nghttp2 waits until it was written.
  template <typename WritePayload>
  int SendDataFrame(const uint8_t* framehd, WritePayload&& write_payload) {
    out_.append(reinterpret_cast<const char*>(framehd), 9);
    write_payload(&out_);
    return out_.size() - out_offset_ >= kOutHighWater ? NGHTTP2_ERR_PAUSE : 0;
  }
  // Closes the socket now (what is still queued is dropped).
  void Close(absl::string_view reason);
  bool closed() const { return closed_; }
  bool connecting() const { return connecting_; }
  // Connected, but the transport's handshake is still running.
  bool handshaking() const { return handshaking_; }
  const net::Transport& transport() const { return *transport_; }
  // The session failed because the peer let too many ACKs pile up unread
  // (NGHTTP2_ERR_FLOODED); GOAWAY(ENHANCE_YOUR_CALM) was queued.
  bool flooded() const { return flooded_; }
  // The connection was closed because a keepalive PING went unanswered.
  bool ping_timed_out() const { return ping_timed_out_; }

 private:
  void OnReady(uint32_t ready);
  // Drives the transport's handshake; once done, the session starts.
  void ContinueHandshake();
  // The connection is up (connected, handshake done).
  void OnEstablished();
  // Returns false if the session closed while reading.
  bool ReadSome();
  void UpdateInterest();
  void ArmKeepalive();
  void OnKeepaliveTimer();

  // Output is gathered up to here before writing.
  static constexpr size_t kOutHighWater = 64 * 1024;

  std::unique_ptr<net::Transport> transport_;
  // transport_ when it is plain TCP, called without a virtual call; else null.
  net::PlainTransport* plain_;
  bool connecting_;
  bool handshaking_ = true;  // until the transport's Handshake() said kOk
  bool closed_ = false;
  bool flooded_ = false;
  bool ping_timed_out_ = false;
  nghttp2_session* session_ = nullptr;
  std::function<void()> on_connected_;
  CloseCallback on_close_;
  std::string out_;        // bytes taken from nghttp2, not yet written
  size_t out_offset_ = 0;  // how much of out_ is already written
  absl::Duration write_stall_timeout_ = absl::ZeroDuration();
  event::FileEvent io_;
  event::DeferredCall flush_;
  event::Timer write_stall_timer_;
  absl::Duration handshake_timeout_ = absl::ZeroDuration();
  event::Timer handshake_timer_;
  absl::Duration keepalive_time_ = absl::ZeroDuration();
  absl::Duration keepalive_timeout_ = absl::ZeroDuration();
  bool heard_ = false;            // a read since the keepalive timer was armed
  event::Timer keepalive_timer_;  // every keepalive_time_: was the peer silent?
  event::Timer ping_ack_timer_;   // a keepalive PING is out: any frame will do
};

}  // namespace strait::h2

#endif  // STRAIT_H2_SOCKET_SESSION_H_
