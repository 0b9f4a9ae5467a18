// Flow control between clients: a client that stops reading holds back only
// its own streams, never another client's, on a shared or a fresh upstream
// connection; and its stalled streams end after streamStallTimeout.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <vector>

#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

constexpr int kStalledStreams = 20;
constexpr size_t kClientWindow = 65535;  // HTTP/2's initial windows, never credited

class FlowControlTest : public ProxyTest {
 protected:
  // One worker, so every RPC to the backend shares one upstream pool.
  void Start(absl::Duration stream_stall_timeout = absl::ZeroDuration()) {
    backends_.push_back(std::make_unique<TestBackend>("b"));
    config_ = EchoConfig(BackendAddresses());
    if (stream_stall_timeout > absl::ZeroDuration()) {
      SetDuration(config_.mutable_entry_points()->at("web").mutable_transport()
                      ->mutable_stream_stall_timeout(),
                  stream_stall_timeout);
    }
    StartProxy(config_, /*workers=*/1);
  }

  // A client that opens kStalledStreams server streams of 100 x 64 KiB and
  // never sends WINDOW_UPDATE: it takes exactly its initial connection
  // window, then nothing more arrives for it.
  std::unique_ptr<RawH2Client> StallingClient(std::vector<int32_t>* ids) {
    auto client = RawH2Client::Connect(proxy_port(), {.window_updates = false});
    EXPECT_TRUE(client.ok());
    EchoRequest flood;
    flood.set_response_count(100);
    flood.set_response_size(64 * 1024);
    for (int i = 0; i < kStalledStreams; ++i) {
      ids->push_back((*client)->SubmitGrpc("/strait.test.v1.Echo/ServerStream",
                                           flood.SerializeAsString()));
    }
    EXPECT_TRUE((*client)->RunUntil([&] { return (*client)->body_bytes() == kClientWindow; }));
    return std::move(*client);
  }

  // A unary RPC and a 4 MiB server stream on a connection of their own.
  void BystanderWorks() {
    auto stub = MakeStub(proxy_port());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest req;
    req.set_payload("not stalled");
    EchoResponse resp;
    grpc::Status status = stub->Unary(&ctx, req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(resp.payload(), "not stalled");

    grpc::ClientContext stream_ctx;
    stream_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest many;
    many.set_response_count(64);
    many.set_response_size(64 * 1024);
    auto reader = stub->ServerStream(&stream_ctx, many);
    int received = 0;
    while (reader->Read(&resp)) ++received;
    status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(received, 64);
  }

  // Lets the stalled client read again: every stream then delivers all its
  // 100 responses and ends with OK.
  static void ExpectCompleteAfterResuming(RawH2Client& client, const std::vector<int32_t>& ids) {
    client.ResumeWindowUpdates();
    ASSERT_TRUE(client.RunUntil(
        [&] {
          for (int32_t id : ids) {
            if (!client.stream(id).closed) return false;
          }
          return true;
        },
        absl::Seconds(30)));
    for (int32_t id : ids) {
      const RawH2Client::StreamResult& r = client.stream(id);
      ASSERT_NE(FindHeader(r.trailers, "grpc-status"), nullptr) << id;
      EXPECT_EQ(*FindHeader(r.trailers, "grpc-status"), "0") << id;
      // 100 length-prefixed messages, in order, none short.
      size_t at = 0;
      int index = 0;
      for (; at + 5 <= r.body.size(); ++index) {
        uint32_t length = (uint8_t(r.body[at + 1]) << 24) | (uint8_t(r.body[at + 2]) << 16) |
                          (uint8_t(r.body[at + 3]) << 8) | uint8_t(r.body[at + 4]);
        EchoResponse message;
        ASSERT_TRUE(message.ParseFromString(r.body.substr(at + 5, length))) << id;
        EXPECT_EQ(message.index(), index);
        EXPECT_EQ(message.payload().size(), 64u * 1024);
        at += 5 + length;
      }
      EXPECT_EQ(at, r.body.size()) << id;
      EXPECT_EQ(index, 100) << id;
    }
  }

  config::v1::Config config_;
};

TEST_F(FlowControlTest, AClientThatStopsReadingDoesNotStallOthersOnTheSharedConnection) {
  Start();
  std::vector<int32_t> ids;
  auto stalled = StallingClient(&ids);
  // The backend has long filled strait's upstream stream windows for the
  // stalled streams (20 x 64 KiB > the upstream connection's first window
  // of 64 KiB): the shared connection must still carry others' bytes.
  BystanderWorks();
  EXPECT_EQ(stalled->body_bytes(), kClientWindow);  // and the stalled one got nothing more
  // Once the client reads again, its streams complete.
  ExpectCompleteAfterResuming(*stalled, ids);
}

TEST_F(FlowControlTest, AClientThatStopsReadingDoesNotStallOthersOnAFreshConnection) {
  Start();
  std::vector<int32_t> ids;
  auto stalled = StallingClient(&ids);
  // Another transport for the same server: new RPCs get a new pool, and so
  // a new upstream connection.
  config_.mutable_servers_transports()->at("fast").mutable_forwarding_timeouts()
      ->mutable_dial_timeout()->set_seconds(3);
  ASSERT_TRUE(server_->Reload(config_).ok());
  BystanderWorks();
  EXPECT_EQ(stalled->body_bytes(), kClientWindow);
  ExpectCompleteAfterResuming(*stalled, ids);
}

TEST_F(FlowControlTest, StreamsStalledPastStreamStallTimeoutAreResetBothWays) {
  Start(/*stream_stall_timeout=*/absl::Milliseconds(200));
  std::vector<int32_t> ids;
  auto stalled = StallingClient(&ids);
  ASSERT_TRUE(stalled->RunUntil([&] {
    for (int32_t id : ids) {
      if (!stalled->stream(id).closed) return false;
    }
    return true;
  }));
  for (int32_t id : ids) EXPECT_EQ(stalled->stream(id).close_code, NGHTTP2_CANCEL) << id;
  EXPECT_TRUE(backends_[0]->WaitForCancelled(kStalledStreams, absl::Seconds(10)));
  EXPECT_EQ(server_->Stats().stalled_streams_reset, static_cast<uint64_t>(kStalledStreams));
  EXPECT_FALSE(stalled->goaway_received());  // the connection itself lives on
  BystanderWorks();
}

// The request direction, counted at the writer: against a backend that
// takes no more (sends no WINDOW_UPDATE), strait accepts exactly the
// backend's stream window plus its own stream window from the client, and
// not a byte more, until the backend opens its window again.
TEST_F(FlowControlTest, AWriterStopsAtTheWindowsAndResumesWhenTheReaderReads) {
  RawH2Server backend(RawH2Server::Behavior::kStuck);
  backend.WithholdCredit(true);
  StartProxy(EchoConfig({backend.address()}), /*workers=*/1);
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  const std::string body(1 << 20, 'w');
  int32_t id = (*client)->Submit({{":method", "POST"}, {":scheme", "http"},
                                  {":authority", "t"}, {":path", "/strait.test.v1.Echo/ClientStream"},
                                  {"content-type", "application/grpc"}, {"te", "trailers"}},
                                 &body);
  constexpr size_t kWindows = 65535 + 65535;  // the backend's, then strait's
  ASSERT_TRUE((*client)->RunUntil(
      [&] { return body.size() - (*client)->unsent_body_bytes(id) == kWindows; }));
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return backend.data_bytes() == 65535; }));
  // Anything strait credited before answering this PING has arrived now.
  ASSERT_TRUE((*client)->PingRoundTrip());
  EXPECT_EQ(body.size() - (*client)->unsent_body_bytes(id), kWindows);
  EXPECT_EQ(nghttp2_session_get_stream_remote_window_size((*client)->session(), id), 0);
  EXPECT_EQ(backend.data_bytes(), 65535u);

  backend.WithholdCredit(false);
  ASSERT_TRUE((*client)->RunUntil([&] { return (*client)->unsent_body_bytes(id) == 0; }));
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.data_bytes() == body.size(); }));
}

// One client cannot pin maxConcurrentStreams x stream window bytes: past
// maxConnectionBufferBytes of request bytes waiting in strait, its
// connection window is credited only as they drain.
TEST_F(FlowControlTest, OneClientsBufferedRequestBytesStopAtTheConnectionBudget) {
  RawH2Server backend(RawH2Server::Behavior::kStuck);
  backend.WithholdCredit(true);  // takes 65535 bytes in all, then nothing
  config::v1::Config config = EchoConfig({backend.address()});
  constexpr size_t kBudget = 256 * 1024;
  config.mutable_entry_points()->at("web").mutable_transport()->set_max_connection_buffer_bytes(
      kBudget);
  StartProxy(config, /*workers=*/1);
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  // 100 streams, each allowed a full 64 KiB stream window by strait: 6.4 MB
  // that strait would hold without the budget.
  constexpr int kStreams = 100;
  const std::string body(65535, 'b');
  std::vector<int32_t> ids;
  for (int i = 0; i < kStreams; ++i) {
    ids.push_back((*client)->Submit({{":method", "POST"}, {":scheme", "http"},
                                     {":authority", "t"},
                                     {":path", "/strait.test.v1.Echo/ClientStream"},
                                     {"content-type", "application/grpc"}, {"te", "trailers"}},
                                    &body));
  }
  auto sent = [&] {
    size_t n = 0;
    for (int32_t id : ids) n += body.size() - (*client)->unsent_body_bytes(id);
    return n;
  };
  // The client sends until its connection window is spent; a PING round
  // trip after that shows strait credits nothing more.
  ASSERT_TRUE((*client)->RunUntil(
      [&] { return nghttp2_session_get_remote_window_size((*client)->session()) == 0; }));
  ASSERT_TRUE((*client)->PingRoundTrip());
  EXPECT_EQ(nghttp2_session_get_remote_window_size((*client)->session()), 0);
  // What the client got to send: its initial connection window (1 MiB), the
  // budget, and what the backend took, plus at most one frame of each
  // crediting step's rounding.
  constexpr size_t kConnectionWindow = 1 << 20;
  EXPECT_GE(sent(), kConnectionWindow);
  EXPECT_LE(sent(), kConnectionWindow + kBudget + 65535 + 16384);
  // Once the backend reads again, every byte goes through.
  backend.WithholdCredit(false);
  ASSERT_TRUE((*client)->RunUntil([&] { return sent() == kStreams * body.size(); },
                                  absl::Seconds(30)));
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.data_bytes() == kStreams * body.size(); }));
}

// A retry policy's replay copies count against the same budget: past it,
// streams get no copy (so no policy retry) rather than more memory, and
// nothing waits for it.
TEST_F(FlowControlTest, ReplayCopiesStopAtTheConnectionBudget) {
  RawH2Server backend(RawH2Server::Behavior::kStuck);  // takes everything, never answers
  config::v1::Config config = EchoConfig({backend.address()});
  constexpr size_t kBudget = 1 << 20;
  config.mutable_entry_points()->at("web").mutable_transport()->set_max_connection_buffer_bytes(
      kBudget);
  auto* retry = config.mutable_services()->at("echo").mutable_load_balancer()->mutable_retry();
  retry->set_attempts(2);
  retry->add_retry_on("UNAVAILABLE");
  StartProxy(config, /*workers=*/1);
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  constexpr int kStreams = 100;
  const std::string message(60 * 1024, 'r');
  for (int i = 0; i < kStreams; ++i) {
    (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", message);
  }
  const size_t body = GrpcFrame(message).size();
  // Every request reaches the backend: the budget never blocks them.
  ASSERT_TRUE((*client)->RunUntil([&] { return backend.data_bytes() == kStreams * body; },
                                  absl::Seconds(30)));
  // 100 x 60 KiB would be 6 MB of copies. The budget holds at most 17 of
  // them (fewer while other bytes of the connection wait in strait, so the
  // exact number depends on how the frames interleave), in whole copies.
  uint64_t replay = server_->Stats().replay_bytes;
  EXPECT_LE(replay, kBudget);
  EXPECT_GE(replay, body);
  EXPECT_EQ(replay % body, 0u);
}

}  // namespace
}  // namespace strait::testing
