// SocketSession's keepalive on the dispatcher's manual clock: a session over
// one end of a socketpair, a hand-driven nghttp2 client on the other, and
// time that moves only when the test says so. No sleeps, no real waiting.
#include "h2/socket_session.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "event/dispatcher.h"
#include "upstream/backend.h"

namespace strait::h2 {
namespace {

// The other end: an nghttp2 client that reads what the session sends and
// writes only when told to. It never answers a PING by itself.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_on_frame_recv_callback(
        cbs, [](nghttp2_session*, const nghttp2_frame* frame, void* self) {
          if (frame->hd.type == NGHTTP2_PING && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            ++static_cast<Peer*>(self)->pings_;
          }
          return 0;
        });
    nghttp2_option* opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_ping_ack(opt, 1);
    nghttp2_session_client_new2(&session_, cbs, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~Peer() {
    nghttp2_session_del(session_);
    close(fd_);
  }

  // Reads whatever arrived.
  void Read() {
    uint8_t buf[16 * 1024];
    ssize_t n;
    while ((n = read(fd_, buf, sizeof buf)) > 0) {
      ASSERT_GE(nghttp2_session_mem_recv(session_, buf, n), 0);
    }
  }
  // Answers every PING read so far, and sends what else is queued.
  void Answer() {
    for (; answered_ < pings_; ++answered_) {
      nghttp2_submit_ping(session_, NGHTTP2_FLAG_ACK, nullptr);
    }
    Write();
  }
  void Write() {
    const uint8_t* data;
    ssize_t n;
    while ((n = nghttp2_session_mem_send(session_, &data)) > 0) {
      ASSERT_EQ(write(fd_, data, n), n);
    }
  }
  void SendSettings() {
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
    Write();
  }
  int pings() const { return pings_; }

 private:
  int fd_;
  nghttp2_session* session_ = nullptr;
  int pings_ = 0;
  int answered_ = 0;
};

class SocketSessionKeepaliveTest : public ::testing::Test {
 protected:
  // A server session with keepalive (`time`, `timeout`) at time 0, the
  // handshake done: the peer's preface, SETTINGS and SETTINGS ACK were read.
  void Start(absl::Duration time, absl::Duration timeout) {
    dispatcher_.UseManualClockForTest(absl::UnixEpoch());
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    session_.emplace(dispatcher_, fds[0], /*connecting=*/false, nullptr,
                     [this](absl::string_view reason) { closed_ = std::string(reason); });
    session_->set_keepalive(time, timeout);
    nghttp2_session_callbacks* cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session* server;
    nghttp2_session_server_new(&server, cbs, nullptr);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(server, NGHTTP2_FLAG_NONE, nullptr, 0);
    session_->Start(server);
    peer_.emplace(fds[1]);
    peer_->Write();
    Pump();
    peer_->Write();  // the ACK of the session's SETTINGS
    Pump();
  }

  // Lets both sides move their bytes: the session's loop, then the peer.
  void Pump() {
    for (int i = 0; i < 3; ++i) {
      dispatcher_.RunOnceForTest();
      peer_->Read();
    }
  }
  void Advance(absl::Duration by) {
    dispatcher_.AdvanceClockForTest(by);
    Pump();
  }

  event::Dispatcher dispatcher_;
  std::optional<SocketSession> session_;
  std::optional<Peer> peer_;
  std::optional<std::string> closed_;
};

TEST_F(SocketSessionKeepaliveTest, ASilentPeerIsPingedThenClosed) {
  Start(absl::Seconds(60), absl::Seconds(20));
  // The preface was heard during the first period: no PING at 60 s.
  Advance(absl::Seconds(60));
  EXPECT_EQ(peer_->pings(), 0);
  // A whole period of silence: the PING goes out at 120 s.
  Advance(absl::Seconds(59));
  EXPECT_EQ(peer_->pings(), 0);
  Advance(absl::Seconds(1));
  EXPECT_EQ(peer_->pings(), 1);
  // Unanswered: the connection ends exactly 20 s later, not sooner.
  Advance(absl::Seconds(20) - absl::Nanoseconds(1));
  EXPECT_FALSE(closed_.has_value());
  Advance(absl::Nanoseconds(1));
  ASSERT_TRUE(closed_.has_value());
  EXPECT_EQ(*closed_, "no PING answer within 20s");
  EXPECT_EQ(peer_->pings(), 1);
}

TEST_F(SocketSessionKeepaliveTest, AQuietPeerThatAnswersPingsLivesForever) {
  Start(absl::Seconds(60), absl::Seconds(20));
  // Ten keepalive periods with nothing but PING answers: one PING every
  // other period (an answered period counts as heard), never a close.
  for (int i = 0; i < 10; ++i) {
    Advance(absl::Seconds(60));
    peer_->Answer();
    Pump();
  }
  EXPECT_FALSE(closed_.has_value()) << *closed_;
  EXPECT_EQ(peer_->pings(), 5);
}

TEST_F(SocketSessionKeepaliveTest, AnyFrameAfterThePingCountsAsAnAnswer) {
  Start(absl::Seconds(60), absl::Seconds(20));
  Advance(absl::Seconds(120));
  ASSERT_EQ(peer_->pings(), 1);
  // Not the ACK: a SETTINGS frame 19 s later shows the peer is alive.
  Advance(absl::Seconds(19));
  peer_->SendSettings();
  Pump();
  Advance(absl::Seconds(1));
  EXPECT_FALSE(closed_.has_value()) << *closed_;
}

TEST_F(SocketSessionKeepaliveTest, TheUpstreamDefaultsDetectASilentBackend) {
  // strait's defaults toward backends: readIdleTimeout 5m, pingTimeout 20s.
  upstream::TransportSettings defaults;
  Start(defaults.read_idle_timeout, defaults.ping_timeout);
  ASSERT_EQ(defaults.read_idle_timeout, absl::Minutes(5));
  ASSERT_EQ(defaults.ping_timeout, absl::Seconds(20));
  Advance(absl::Minutes(10) - absl::Nanoseconds(1));
  EXPECT_EQ(peer_->pings(), 0);
  Advance(absl::Nanoseconds(1));
  EXPECT_EQ(peer_->pings(), 1);
  Advance(absl::Seconds(20));
  ASSERT_TRUE(closed_.has_value());
  EXPECT_EQ(*closed_, "no PING answer within 20s");
}

TEST_F(SocketSessionKeepaliveTest, ZeroTimeSendsNoPingsAndNeverCloses) {
  Start(absl::ZeroDuration(), absl::Seconds(20));
  Advance(absl::Hours(24));
  EXPECT_EQ(peer_->pings(), 0);
  EXPECT_FALSE(closed_.has_value());
}

}  // namespace
}  // namespace strait::h2
