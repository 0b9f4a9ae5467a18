// Hostile HTTP/2 clients, frame by frame: each abuse ends the offending
// connection (GOAWAY, mostly ENHANCE_YOUR_CALM) and no other.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

constexpr uint32_t kEnhanceYourCalm = NGHTTP2_ENHANCE_YOUR_CALM;

// A client that writes raw frames and reads only frame headers back: what a
// well-behaved HTTP/2 library would refuse to send.
class FrameClient {
 public:
  explicit FrameClient(int port, int receive_buffer = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    nghttp2_hd_deflate_new(&deflater_, 4096);
    Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  }
  ~FrameClient() {
    nghttp2_hd_deflate_del(deflater_);
    close(fd_);
  }
  int fd() const { return fd_; }

  void Frame(uint8_t type, uint8_t flags, uint32_t stream, const std::string& payload) {
    std::string out(9, '\0');
    out[0] = static_cast<char>(payload.size() >> 16);
    out[1] = static_cast<char>(payload.size() >> 8);
    out[2] = static_cast<char>(payload.size());
    out[3] = static_cast<char>(type);
    out[4] = static_cast<char>(flags);
    uint32_t id = htonl(stream);
    memcpy(&out[5], &id, 4);
    Write(out + payload);
  }
  void Settings(std::vector<std::pair<uint16_t, uint32_t>> entries = {}) {
    std::string payload;
    for (auto [id, value] : entries) {
      uint16_t i = htons(id);
      uint32_t v = htonl(value);
      payload.append(reinterpret_cast<char*>(&i), 2);
      payload.append(reinterpret_cast<char*>(&v), 4);
    }
    Frame(NGHTTP2_SETTINGS, 0, 0, payload);
  }
  void Reset(uint32_t stream, uint32_t code) {
    uint32_t c = htonl(code);
    Frame(NGHTTP2_RST_STREAM, 0, stream, std::string(reinterpret_cast<char*>(&c), 4));
  }
  std::string HeaderBlock(const HeaderList& headers) {
    std::vector<nghttp2_nv> nv;
    for (const Header& h : headers) {
      nv.push_back({(uint8_t*)h.name.data(), (uint8_t*)h.value.data(), h.name.size(),
                    h.value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    std::string block(nghttp2_hd_deflate_bound(deflater_, nv.data(), nv.size()), '\0');
    ssize_t n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(block.data()),
                                      block.size(), nv.data(), nv.size());
    block.resize(n > 0 ? n : 0);
    return block;
  }
  // A gRPC request on `stream`: HEADERS, then one DATA frame with `message`
  // and END_STREAM unless `keep_open`.
  void Request(uint32_t stream, const std::string& path, const std::string& message = "",
               bool keep_open = false, const HeaderList& extra = {}) {
    HeaderList headers = {{":method", "POST"}, {":scheme", "http"},
                          {":authority", "strait.test"}, {":path", path},
                          {"content-type", "application/grpc"}, {"te", "trailers"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, stream, HeaderBlock(headers));
    Frame(NGHTTP2_DATA, keep_open ? 0 : NGHTTP2_FLAG_END_STREAM, stream, GrpcFrame(message));
  }

  // Reads frames until `done` holds, the connection ends, or `timeout`.
  bool ReadUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(20)) {
    absl::Time deadline = absl::Now() + timeout;
    while (!done() && !closed_) {
      if (absl::Now() > deadline) return false;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buf[16384];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      in_.append(buf, n);
      Parse();
    }
    return done();
  }
  bool WaitForGoaway() {
    return ReadUntil([&] { return goaway_code_ >= 0; });
  }
  bool WaitForClose() {
    ReadUntil([] { return false; });
    return closed_;
  }

  int64_t goaway_code() const { return goaway_code_; }
  bool closed() const { return closed_ || write_failed_; }
  bool saw_settings() const { return saw_settings_; }
  int ping_acks() const { return ping_acks_; }
  const std::map<uint32_t, uint32_t>& resets() const { return resets_; }
  const std::map<uint32_t, bool>& ended() const { return ended_; }

 private:
  void Write(const std::string& bytes) {
    // A failed send (strait already hung up) still leaves its last frames
    // to read.
    if (send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) write_failed_ = true;
  }
  void Parse() {
    while (in_.size() >= 9) {
      size_t length = (uint8_t(in_[0]) << 16) | (uint8_t(in_[1]) << 8) | uint8_t(in_[2]);
      if (in_.size() < 9 + length) return;
      uint8_t type = in_[3], flags = in_[4];
      uint32_t stream;
      memcpy(&stream, &in_[5], 4);
      stream = ntohl(stream) & 0x7fffffff;
      const char* payload = in_.data() + 9;
      auto u32 = [&](size_t at) {
        uint32_t v;
        memcpy(&v, payload + at, 4);
        return ntohl(v);
      };
      if (type == NGHTTP2_GOAWAY && length >= 8) goaway_code_ = u32(4);
      if (type == NGHTTP2_RST_STREAM && length >= 4) resets_[stream] = u32(0);
      if (type == NGHTTP2_PING && (flags & NGHTTP2_FLAG_ACK)) ++ping_acks_;
      if (type == NGHTTP2_SETTINGS && !(flags & NGHTTP2_FLAG_ACK)) {
        saw_settings_ = true;
        Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
      }
      if ((type == NGHTTP2_HEADERS || type == NGHTTP2_DATA) && (flags & NGHTTP2_FLAG_END_STREAM)) {
        ended_[stream] = true;
      }
      in_.erase(0, 9 + length);
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  bool write_failed_ = false;
  bool saw_settings_ = false;
  int ping_acks_ = 0;
  int64_t goaway_code_ = -1;
  std::string in_;
  nghttp2_hd_deflater* deflater_ = nullptr;
  std::map<uint32_t, uint32_t> resets_;
  std::map<uint32_t, bool> ended_;
};

class AbuseTest : public ProxyTest {
 protected:
  void Start(const std::function<void(config::v1::EntryPoint&)>& tune = nullptr) {
    backends_.push_back(std::make_unique<TestBackend>("b"));
    config::v1::Config config = EchoConfig(BackendAddresses());
    if (tune) tune(config.mutable_entry_points()->at("web"));
    StartProxy(config, /*workers=*/1);  // one loop: a flood cannot hide on another worker
    bystander_ = MakeStub(proxy_port());
    ASSERT_TRUE(BystanderWorks());  // its connection exists before the attack
  }
  // A well-behaved client on its own connection.
  bool BystanderWorks() {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest req;
    req.set_payload("still fine");
    EchoResponse resp;
    return bystander_->Unary(&ctx, req, &resp).ok() && resp.payload() == "still fine";
  }
  // A client with a tiny receive buffer that never reads a byte.
  std::unique_ptr<FrameClient> NonReader() {
    auto c = std::make_unique<FrameClient>(proxy_port(), /*receive_buffer=*/4096);
    c->Settings();
    return c;
  }
  // Connections strait ended for abuse, by budget.
  std::map<std::string, uint64_t> Abuse() { return server_->Stats().abuse_goaways; }
  bool WaitForAbuse(const std::string& budget) {
    return RawH2Server::WaitFor([&] { return Abuse()[budget] == 1; });
  }
  std::unique_ptr<FrameClient> Attacker() {
    auto c = std::make_unique<FrameClient>(proxy_port());
    c->Settings();
    EXPECT_TRUE(c->ReadUntil([&] { return c->saw_settings(); }));
    return c;
  }

  std::unique_ptr<test::v1::Echo::Stub> bystander_;
};

TEST_F(AbuseTest, RapidResetGetsGoaway) {
  Start();
  auto c = Attacker();
  // CVE-2023-44487's pattern: HEADERS and RST_STREAM back to back, 10,000
  // streams as fast as the socket takes them.
  for (uint32_t i = 0; i < 10000 && !c->closed(); ++i) {
    uint32_t id = 2 * i + 1;
    c->Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, id,
             c->HeaderBlock({{":method", "POST"}, {":scheme", "http"},
                             {":authority", "x"}, {":path", "/strait.test.v1.Echo/Unary"}}));
    c->Reset(id, NGHTTP2_CANCEL);
  }
  ASSERT_TRUE(c->WaitForGoaway());
  EXPECT_EQ(c->goaway_code(), kEnhanceYourCalm);  // strait's budget, not nghttp2's limiter
  EXPECT_TRUE(c->WaitForClose());
  EXPECT_EQ(Abuse(), (std::map<std::string, uint64_t>{{"premature_resets", 1}}));
  // Streams reset before strait sent their HEADERS never reach the backend.
  EXPECT_EQ(backends_[0]->calls(), 1);  // the bystander's first call
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, AClientCancellingEveryForwardedRpcKeepsItsConnection) {
  Start();
  auto c = Attacker();
  EchoRequest slow;
  slow.set_sleep_ms(20000);
  // 2,000 RPCs, 50 at a time, each cancelled once the backend has it: what a
  // client whose deadlines all expire does. Not one reset is premature.
  uint32_t id = 1;
  for (int batch = 0; batch < 40; ++batch) {
    std::vector<uint32_t> ids;
    for (int i = 0; i < 50; ++i, id += 2) {
      c->Request(id, "/strait.test.v1.Echo/Unary", slow.SerializeAsString());
      ids.push_back(id);
    }
    int expected = 1 + 50 * (batch + 1);
    ASSERT_TRUE(c->ReadUntil([&] { return backends_[0]->calls() == expected; }));
    for (uint32_t r : ids) c->Reset(r, NGHTTP2_CANCEL);
  }
  ASSERT_TRUE(backends_[0]->WaitForCancelled(2000, absl::Seconds(20)));
  c->Request(id, "/strait.test.v1.Echo/Unary", "");
  ASSERT_TRUE(c->ReadUntil([&] { return c->ended().count(id) > 0; }));
  EXPECT_EQ(c->goaway_code(), -1);
  EXPECT_FALSE(c->closed());
  EXPECT_TRUE(Abuse().empty());
}

TEST_F(AbuseTest, AClientThatPingsWithoutPauseButReadsKeepsItsConnection) {
  Start();
  auto c = Attacker();
  // 5,000 PINGs one at a time, each as soon as the last ACK is back (far
  // more than 1,000 a second), then 20 bursts of 200 before reading.
  for (int i = 0; i < 5000; ++i) {
    c->Frame(NGHTTP2_PING, 0, 0, std::string(8, char(i)));
    ASSERT_TRUE(c->ReadUntil([&] { return c->ping_acks() == i + 1; })) << i;
  }
  for (int burst = 0; burst < 20; ++burst) {
    for (int i = 0; i < 200; ++i) c->Frame(NGHTTP2_PING, 0, 0, std::string(8, char(i)));
    ASSERT_TRUE(c->ReadUntil([&] { return c->ping_acks() == 5000 + 200 * (burst + 1); }));
  }
  c->Request(1, "/strait.test.v1.Echo/Unary", "");
  ASSERT_TRUE(c->ReadUntil([&] { return c->ended().count(1) > 0; }));
  EXPECT_EQ(c->goaway_code(), -1);
  EXPECT_FALSE(c->closed());
  EXPECT_TRUE(Abuse().empty());
}

TEST_F(AbuseTest, PingFloodFromAClientThatNeverReadsEndsTheConnection) {
  Start();
  auto c = NonReader();
  // Up to 2 M PINGs (34 MB): far more than the socket buffers and the ACK
  // queue hold, so strait must give up on the connection first.
  for (int i = 0; i < 2'000'000 && !c->closed(); ++i) {
    c->Frame(NGHTTP2_PING, 0, 0, std::string(8, char(i)));
  }
  EXPECT_TRUE(c->closed());
  EXPECT_TRUE(WaitForAbuse("control_frame_flood"));
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, SettingsFloodFromAClientThatNeverReadsEndsTheConnection) {
  Start();
  auto c = NonReader();
  for (int i = 0; i < 2'000'000 && !c->closed(); ++i) c->Settings();
  EXPECT_TRUE(c->closed());
  EXPECT_TRUE(WaitForAbuse("control_frame_flood"));
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, WindowUpdateFloodGetsGoaway) {
  Start();
  auto c = Attacker();
  std::string one(4, '\0');
  one[3] = 1;
  for (int i = 0; i < 10000 && !c->closed(); ++i) c->Frame(NGHTTP2_WINDOW_UPDATE, 0, 0, one);
  ASSERT_TRUE(c->WaitForGoaway());
  EXPECT_EQ(c->goaway_code(), kEnhanceYourCalm);
  EXPECT_EQ(Abuse(), (std::map<std::string, uint64_t>{{"window_update_flood", 1}}));
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, PriorityFloodGetsGoaway) {
  Start();
  auto c = Attacker();
  std::string priority(5, '\0');  // depends on stream 0, weight 1
  for (uint32_t i = 0; i < 10000 && !c->closed(); ++i) {
    c->Frame(NGHTTP2_PRIORITY, 0, 2 * i + 1, priority);
  }
  ASSERT_TRUE(c->WaitForGoaway());
  EXPECT_EQ(c->goaway_code(), kEnhanceYourCalm);
  EXPECT_EQ(Abuse(), (std::map<std::string, uint64_t>{{"priority_flood", 1}}));
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, ConsecutiveEmptyDataFramesGetGoaway) {
  Start();
  auto c = Attacker();
  c->Request(1, "/strait.test.v1.Echo/Bidi", "", /*keep_open=*/true);
  for (int i = 0; i < 10000 && !c->closed(); ++i) c->Frame(NGHTTP2_DATA, 0, 1, "");
  ASSERT_TRUE(c->WaitForGoaway());
  EXPECT_EQ(c->goaway_code(), kEnhanceYourCalm);
  EXPECT_EQ(Abuse(), (std::map<std::string, uint64_t>{{"empty_frames", 1}}));
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, ContinuationFloodEndsTheConnection) {
  Start();
  auto c = Attacker();
  std::string block = c->HeaderBlock({{":method", "POST"}, {":scheme", "http"}});
  c->Frame(NGHTTP2_HEADERS, 0, 1, block);  // no END_HEADERS: CONTINUATIONs follow
  for (int i = 0; i < 50 && !c->closed(); ++i) {
    c->Frame(NGHTTP2_CONTINUATION, 0, 1, std::string(1, char(0x84)));  // ":path: /"
  }
  EXPECT_TRUE(c->WaitForClose());
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, OversizedHeaderListsAreRefusedThenTheConnectionEnds) {
  Start([](config::v1::EntryPoint& ep) { ep.mutable_http2()->set_max_header_list_size(8192); });
  int calls_before = backends_[0]->service().calls();
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  HeaderList big = {{"x-big", std::string(20000, 'h')}};
  int32_t first = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "", big);
  ASSERT_TRUE((*client)->WaitForClose(first));
  const RawH2Client::StreamResult& r = (*client)->stream(first);
  ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), "8");  // RESOURCE_EXHAUSTED
  EXPECT_EQ(backends_[0]->service().calls(), calls_before);  // never forwarded
  // One offender in three streams: each fails alone, the connection stays.
  // Its list is 40 headers of 1 KB, so that it is counted once, not once
  // per header past the limit.
  HeaderList many;
  for (int h = 0; h < 40; ++h) many.push_back({absl::StrCat("x-h", h), std::string(1000, 'm')});
  for (int i = 0; i < 20; ++i) {
    int32_t a = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "");
    int32_t b = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "");
    int32_t bad = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "", many);
    for (int32_t id : {a, b, bad}) ASSERT_TRUE((*client)->WaitForClose(id));
    EXPECT_EQ(*FindHeader((*client)->stream(a).trailers, "grpc-status"), "0");
    EXPECT_EQ(*FindHeader((*client)->stream(b).trailers, "grpc-status"), "0");
    EXPECT_EQ(*FindHeader((*client)->stream(bad).headers, "grpc-status"), "8");
  }
  EXPECT_FALSE((*client)->goaway_received());
  EXPECT_EQ(backends_[0]->service().calls(), calls_before + 40);
  // Then only offenders: once they are most of the streams, the connection goes.
  for (int i = 0; i < 30; ++i) (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "", big);
  ASSERT_TRUE((*client)->RunUntil([&] { return (*client)->goaway_received(); }));
  EXPECT_EQ((*client)->goaway_error(), kEnhanceYourCalm);
  EXPECT_EQ(Abuse(), (std::map<std::string, uint64_t>{{"oversized_headers", 1}}));
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, StreamsBeyondTheAcknowledgedLimitEndTheConnection) {
  Start([](config::v1::EntryPoint& ep) { ep.mutable_http2()->set_max_concurrent_streams(10); });
  int calls_before = backends_[0]->service().calls();
  auto c = Attacker();  // has acknowledged strait's SETTINGS (10 streams)
  EchoRequest wait;
  wait.set_wait_for_cancel(true);
  for (uint32_t i = 0; i < 50; ++i) {
    c->Request(2 * i + 1, "/strait.test.v1.Echo/Unary", wait.SerializeAsString());
  }
  // Past an acknowledged limit nghttp2 answers with a connection error
  // (RFC 9113 §5.1.2 allows it): GOAWAY(PROTOCOL_ERROR), then the end.
  ASSERT_TRUE(c->WaitForGoaway());
  EXPECT_EQ(c->goaway_code(), static_cast<int64_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_TRUE(c->WaitForClose());
  EXPECT_LE(backends_[0]->service().calls() - calls_before, 10);
  EXPECT_TRUE(BystanderWorks());
}

// RFC 9113 section 5.1.1: a new stream's id must exceed every id the client
// opened before (h2spec 5.1.1/2). nghttp2 alone ignores such HEADERS.
TEST_F(AbuseTest, HeadersOnALowerSkippedStreamIdGetProtocolError) {
  Start();
  auto c = Attacker();
  c->Request(5, "/strait.test.v1.Echo/Unary", "");
  ASSERT_TRUE(c->ReadUntil([&] { return c->ended().count(5) > 0; }));
  c->Request(3, "/strait.test.v1.Echo/Unary", "");
  ASSERT_TRUE(c->WaitForGoaway());
  EXPECT_EQ(c->goaway_code(), static_cast<int64_t>(NGHTTP2_PROTOCOL_ERROR));
  EXPECT_TRUE(c->WaitForClose());
  EXPECT_TRUE(BystanderWorks());
}

// The race nghttp2 guards against: the client's trailers (HEADERS with
// END_STREAM) for a stream strait already reset are no offence.
TEST_F(AbuseTest, TrailersForAStreamStraitResetAreNoProtocolError) {
  Start();
  auto c = Attacker();
  HeaderList bad_request = {{":method", "POST"}, {":scheme", "http"},
                            {":authority", "x"}, {":path", "/strait.test.v1.Echo/Unary"},
                            {"te", "trailers"}, {"content-length", "3"}};
  // Content-length that the body will contradict: nghttp2 resets stream 1.
  c->Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 1, c->HeaderBlock(bad_request));
  c->Frame(NGHTTP2_DATA, 0, 1, GrpcFrame("longer than three"));
  ASSERT_TRUE(c->ReadUntil([&] { return c->resets().count(1) > 0; }));
  c->Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
           c->HeaderBlock({{"x-trailer", "late"}}));
  c->Request(3, "/strait.test.v1.Echo/Unary", "");
  ASSERT_TRUE(c->ReadUntil([&] { return c->ended().count(3) > 0; }));
  EXPECT_EQ(c->goaway_code(), -1);
}

// The rest of section 5.1, as nghttp2 answers it: frames on idle streams
// are connection errors.
TEST_F(AbuseTest, FramesOnIdleStreamsGetProtocolError) {
  Start();
  for (uint8_t type : {NGHTTP2_DATA, NGHTTP2_RST_STREAM, NGHTTP2_WINDOW_UPDATE}) {
    auto c = Attacker();
    std::string payload(type == NGHTTP2_DATA ? 0 : 4, '\0');
    if (type != NGHTTP2_DATA) payload[3] = 1;
    c->Frame(type, 0, 7, payload);
    ASSERT_TRUE(c->WaitForGoaway()) << int(type);
    EXPECT_EQ(c->goaway_code(), static_cast<int64_t>(NGHTTP2_PROTOCOL_ERROR)) << int(type);
  }
  EXPECT_TRUE(BystanderWorks());
}

TEST_F(AbuseTest, AClientThatNeverReadsIsDisconnected) {
  Start([](config::v1::EntryPoint& ep) {
    ep.mutable_transport()->mutable_write_stall_timeout()->set_nanos(300'000'000);
  });
  auto c = std::make_unique<FrameClient>(proxy_port(), /*receive_buffer=*/4096);
  // Huge windows, so flow control never stops strait: only the socket does.
  c->Settings({{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 30}});
  std::string increment(4, '\0');
  uint32_t inc = htonl((1u << 30) - 65535);
  memcpy(increment.data(), &inc, 4);
  c->Frame(NGHTTP2_WINDOW_UPDATE, 0, 0, increment);
  EchoRequest flood;
  flood.set_response_count(2000);
  flood.set_response_size(64 * 1024);
  c->Request(1, "/strait.test.v1.Echo/ServerStream", flood.SerializeAsString());
  // Never read. strait must give up on the connection by itself: the socket
  // leaves ESTABLISHED (reset by strait) without this side doing anything.
  EXPECT_TRUE(RawH2Server::WaitFor([&] {
    tcp_info info{};
    socklen_t len = sizeof info;
    getsockopt(c->fd(), IPPROTO_TCP, TCP_INFO, &info, &len);
    return info.tcpi_state != TCP_ESTABLISHED;
  }));
  EXPECT_TRUE(BystanderWorks());
}

}  // namespace
}  // namespace strait::testing
