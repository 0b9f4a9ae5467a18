// Upstream pools and backends that misbehave: connection limits, queues,
// idle and keepalive timeouts, refused streams, GOAWAY, resets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;
using Bidi = grpc::ClientReaderWriter<EchoRequest, EchoResponse>;

class UpstreamTest : public ProxyTest {
 protected:
  config::v1::ServersTransport& Transport(config::v1::Config& config) {
    return config.mutable_servers_transports()->at("fast");
  }
  grpc::Status Unary(EchoResponse* resp = nullptr) {
    EchoResponse ignored;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return stub_->Unary(&ctx, EchoRequest(), resp ? resp : &ignored);
  }
  // An open bidi stream that has seen one echo: it occupies a backend stream.
  struct OpenStream {
    grpc::ClientContext ctx;
    std::unique_ptr<Bidi> stream;
    EchoResponse first;
  };
  std::unique_ptr<OpenStream> Open() {
    auto o = std::make_unique<OpenStream>();
    o->stream = stub_->Bidi(&o->ctx);
    EchoRequest req;
    req.set_payload("hold");
    EXPECT_TRUE(o->stream->Write(req));
    EXPECT_TRUE(o->stream->Read(&o->first));
    return o;
  }
  void Close(OpenStream& o) {
    o.stream->WritesDone();
    EXPECT_TRUE(o.stream->Finish().ok());
  }
  void Connect() { stub_ = MakeStub(proxy_port()); }
  // Returns once strait's (one) worker has handled every event that was
  // ready for it before this call: strait writes its SETTINGS to a fresh
  // client on the loop turn that accepts it, or later.
  void SyncWithWorker() {
    auto client = RawH2Client::Connect(proxy_port());
    ASSERT_TRUE(client.ok());
    nghttp2_session* s = (*client)->session();
    ASSERT_TRUE((*client)->RunUntil([&] {
      return nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_ENABLE_PUSH) == 0;
    }));
  }

  std::unique_ptr<test::v1::Echo::Stub> stub_;
};

TEST_F(UpstreamTest, OpensAnotherConnectionWhenTheServerStreamLimitIsReached) {
  backends_.push_back(std::make_unique<TestBackend>("b", BackendOptions{2}));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Transport(config).set_max_conns_per_server(3);
  StartProxy(config, /*workers=*/1);
  Connect();
  std::vector<std::unique_ptr<OpenStream>> open;
  std::set<std::string> peers;
  for (int i = 0; i < 6; ++i) {
    open.push_back(Open());
    peers.insert(open.back()->first.peer());
  }
  // Six concurrent streams, at most two per connection: three connections.
  EXPECT_EQ(peers.size(), 3u);
  for (auto& o : open) Close(*o);
}

TEST_F(UpstreamTest, QueuesBeyondMaxConnsAndRefusesBeyondTheQueue) {
  backends_.push_back(std::make_unique<TestBackend>("b", BackendOptions{1}));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Transport(config).set_max_conns_per_server(1);
  Transport(config).set_max_pending_requests(1);
  StartProxy(config, /*workers=*/1);
  Connect();
  std::unique_ptr<OpenStream> holder = Open();  // takes the only stream

  // Three more RPCs at once: one fits the queue and waits for the holder,
  // the others are refused at once.
  std::vector<grpc::Status> results(3);
  std::atomic<int> finished{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < 3; ++i) {
    callers.emplace_back([&, i] {
      results[i] = Unary();
      ++finished;
    });
  }
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return finished == 2; }));
  EXPECT_EQ(backends_[0]->service().calls(), 1);  // only the holder got through
  Close(*holder);
  for (auto& t : callers) t.join();
  int ok = 0, refused = 0;
  for (const grpc::Status& s : results) {
    if (s.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
      EXPECT_THAT(s.error_message(), HasSubstr("maxPendingRequests 1"));
      EXPECT_THAT(s.error_message(), HasSubstr("service echo"));
      ++refused;
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(backends_[0]->service().calls(), 2);
}

TEST_F(UpstreamTest, QueuedRpcGivesUpAfterPendingTimeout) {
  backends_.push_back(std::make_unique<TestBackend>("b", BackendOptions{1}));
  config::v1::Config config = EchoConfig(BackendAddresses());
  Transport(config).set_max_conns_per_server(1);
  SetDuration(Transport(config).mutable_forwarding_timeouts()->mutable_pending_timeout(),
              absl::Milliseconds(200));
  StartProxy(config, /*workers=*/1);
  Connect();
  std::unique_ptr<OpenStream> holder = Open();
  grpc::Status s = Unary();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("became free within 200ms"));
  Close(*holder);
}

// A listening socket whose accept queue is full: the kernel drops further
// SYNs, so a connect to it hangs, as to a blackholed address, without
// leaving loopback.
class FullListener {
 public:
  FullListener() {
    fd_ = ListenOnLoopback(0, &port_);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Fill the queue (never accepted).
    for (int i = 0; i < 4; ++i) {
      int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      fillers_.push_back(c);
    }
    absl::SleepFor(absl::Milliseconds(50));  // let the handshakes settle
  }
  ~FullListener() {
    for (int c : fillers_) close(c);
    close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_;
  std::vector<int> fillers_;
};

TEST_F(UpstreamTest, DialTimeoutIsUnavailableNamingTheService) {
  FullListener blackhole;
  config::v1::Config config = EchoConfig({blackhole.address()});
  SetDuration(Transport(config).mutable_forwarding_timeouts()->mutable_dial_timeout(),
              absl::Milliseconds(200));
  StartProxy(config, 1);
  Connect();
  grpc::Status s = Unary();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("service echo"));
  EXPECT_THAT(s.error_message(), HasSubstr("no connection within 200ms"));
}

// An https:// server is spoken to in TLS only: a cleartext backend behind
// an https:// URL fails the handshake and sees no RPC.
TEST_F(UpstreamTest, AnHttpsServerIsNeverSpokenToInCleartext) {
  backends_.push_back(std::make_unique<TestBackend>("plain"));
  config::v1::Config config = EchoConfig({});
  config.mutable_services()->at("echo").mutable_load_balancer()->add_servers()->set_url(
      "https://" + backends_[0]->address());
  StartProxy(config, 1);
  Connect();
  grpc::Status s = Unary();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("https://" + backends_[0]->address()));
  EXPECT_EQ(backends_[0]->calls(), 0);
}

TEST_F(UpstreamTest, IdleConnectionsAreClosed) {
  RawH2Server backend(RawH2Server::Behavior::kGrpcStatus, /*grpc_status=*/5);
  config::v1::Config config = EchoConfig({backend.address()});
  SetDuration(Transport(config).mutable_forwarding_timeouts()->mutable_idle_conn_timeout(),
              absl::Milliseconds(100));
  StartProxy(config, /*workers=*/1);
  Connect();
  EXPECT_EQ(Unary().error_code(), grpc::StatusCode::NOT_FOUND);  // the scripted answer
  EXPECT_EQ(backend.connections_accepted(), 1);
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.connections_closed() == 1; }));
  // The next RPC simply connects again.
  EXPECT_EQ(Unary().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(backend.connections_accepted(), 2);
}

// A reload that changes a transport gives new RPCs a new pool; the old
// pool is retired: its idle connection closes and the pool is freed. The
// running snapshot's own pool, idle, is freed when the worker takes its
// next snapshot.
TEST_F(UpstreamTest, PoolsOfReplacedTransportsAreFreed) {
  RawH2Server backend(RawH2Server::Behavior::kGrpcStatus, /*grpc_status=*/5);
  config::v1::Config config = EchoConfig({backend.address()});
  SetDuration(Transport(config).mutable_forwarding_timeouts()->mutable_idle_conn_timeout(),
              absl::Milliseconds(100));
  StartProxy(config, /*workers=*/1);
  Connect();
  for (int i = 0; i < 5; ++i) {
    Transport(config).mutable_forwarding_timeouts()->mutable_dial_timeout()->set_seconds(10 + i);
    ASSERT_TRUE(server_->Reload(config).ok());
    EXPECT_EQ(Unary().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return backend.connections_closed() == 5; }));
  // Four retired and freed; the running one idle, but no new snapshot yet.
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return server_->Stats().pools == 1u; }));
  ASSERT_TRUE(server_->Reload(config).ok());
  EXPECT_EQ(server_->Stats().pools, 0u);
  EXPECT_EQ(Unary().error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(server_->Stats().pools, 1u);
}

TEST_F(UpstreamTest, BlackholedBackendIsDetectedByPing) {
  RawH2Server backend(RawH2Server::Behavior::kBlackhole);
  config::v1::Config config = EchoConfig({backend.address()});
  auto* timeouts = Transport(config).mutable_forwarding_timeouts();
  SetDuration(timeouts->mutable_read_idle_timeout(), absl::Milliseconds(100));
  SetDuration(timeouts->mutable_ping_timeout(), absl::Milliseconds(200));
  StartProxy(config, /*workers=*/1);
  Connect();
  grpc::Status s = Unary();  // would hang forever without keepalive
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(s.error_message(), HasSubstr("no PING answer within 200ms"));
}

TEST_F(UpstreamTest, RefusedStreamsAreRetriedOnAnotherServer) {
  RawH2Server refusing(RawH2Server::Behavior::kRefuse);
  backends_.push_back(std::make_unique<TestBackend>("good"));
  StartProxy(EchoConfig({refusing.address(), backends_[0]->address()}), /*workers=*/1);
  Connect();
  for (int i = 0; i < 10; ++i) {
    EchoResponse resp;
    grpc::Status s = Unary(&resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.backend_name(), "good");
  }
  EXPECT_GE(refusing.streams(), 1);
}

TEST_F(UpstreamTest, StreamsAboveGoawayAreRetriedOnAnotherServer) {
  RawH2Server leaving(RawH2Server::Behavior::kGoawayBeforeStream);
  backends_.push_back(std::make_unique<TestBackend>("good"));
  StartProxy(EchoConfig({leaving.address(), backends_[0]->address()}), /*workers=*/1);
  Connect();
  for (int i = 0; i < 10; ++i) {
    grpc::Status s = Unary();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_GE(leaving.streams(), 1);
}

// The connection fails in the very read that made it ready: the RPC that
// waited for it was handed to nghttp2 but its HEADERS never left strait, so
// no backend can have seen it. It goes again, transparently, without a retry
// policy and to the same (only) server, and gets that server's answer.
TEST_F(UpstreamTest, AStreamWhoseHeadersNeverLeftIsRetriedTransparently) {
  RawH2Server server(RawH2Server::Behavior::kGrpcStatus, /*grpc_status=*/5);
  server.BreakNextConnections(1);
  StartProxy(EchoConfig({server.address()}), /*workers=*/1);
  Connect();
  grpc::Status s = Unary();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_EQ(server.connections_accepted(), 2);
  EXPECT_EQ(server.streams(), 1);
}

TEST_F(UpstreamTest, BackendResetsMapToGrpcStatuses) {
  struct Case {
    uint32_t rst;
    grpc::StatusCode want;
  } cases[] = {
      {NGHTTP2_INTERNAL_ERROR, grpc::StatusCode::INTERNAL},
      {NGHTTP2_ENHANCE_YOUR_CALM, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {NGHTTP2_CANCEL, grpc::StatusCode::CANCELLED},
  };
  for (const Case& c : cases) {
    RawH2Server backend(RawH2Server::Behavior::kReset, 0, c.rst);
    if (server_) server_->Shutdown();
    StartProxy(EchoConfig({backend.address()}), /*workers=*/1);
    Connect();
    grpc::Status s = Unary();
    EXPECT_EQ(s.error_code(), c.want) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("reset the stream"));
  }
}

TEST_F(UpstreamTest, NoRetryOnceTheResponseHasStarted) {
  RawH2Server backend(RawH2Server::Behavior::kHeadersThenReset);
  config::v1::Config config = EchoConfig({backend.address()});
  auto* retry = config.mutable_services()->at("echo").mutable_load_balancer()->mutable_retry();
  retry->set_attempts(3);
  retry->add_retry_on("INTERNAL");
  StartProxy(config, /*workers=*/1);
  Connect();
  grpc::Status s = Unary();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(backend.streams(), 1);
}

TEST_F(UpstreamTest, ConfiguredHttp2SettingsAreAdvertisedOnBothSides) {
  RawH2Server backend(RawH2Server::Behavior::kGrpcStatus, 5);
  config::v1::Config config = EchoConfig({backend.address()});
  auto* up = Transport(config).mutable_http2();
  up->set_max_concurrent_streams(33);
  up->set_initial_stream_window_size(200000);
  up->set_max_frame_size(65536);
  up->set_max_header_list_size(12345);
  auto* down = config.mutable_entry_points()->at("web").mutable_http2();
  down->set_max_concurrent_streams(7);
  down->set_initial_stream_window_size(100000);
  down->set_max_frame_size(32768);
  down->set_max_header_list_size(9000);
  StartProxy(config, 1);

  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  nghttp2_session* s = (*client)->session();
  ASSERT_TRUE((*client)->RunUntil([&] {
    return nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) == 7;
  }));
  EXPECT_EQ(nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE),
            100000u);
  EXPECT_EQ(nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_FRAME_SIZE), 32768u);
  EXPECT_EQ(nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
            9000u);

  Connect();
  EXPECT_EQ(Unary().error_code(), grpc::StatusCode::NOT_FOUND);  // reached the backend
  std::map<int32_t, uint32_t> sent = backend.settings_received();
  EXPECT_EQ(sent[NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS], 33u);
  EXPECT_EQ(sent[NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE], 200000u);
  EXPECT_EQ(sent[NGHTTP2_SETTINGS_MAX_FRAME_SIZE], 65536u);
  EXPECT_EQ(sent[NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE], 12345u);
}

// A connection that received GOAWAY only finishes its streams: it must not
// hold the maxConnsPerServer place a new RPC needs.
TEST_F(UpstreamTest, DrainingConnectionsDoNotCountTowardMaxConns) {
  RawH2Server backend(RawH2Server::Behavior::kHoldFirstThenGoaway, /*grpc_status=*/5);
  config::v1::Config config = EchoConfig({backend.address()});
  Transport(config).set_max_conns_per_server(1);
  StartProxy(config, /*workers=*/1);
  Connect();
  grpc::Status first;
  std::atomic<bool> first_done{false};
  std::thread long_rpc([&] {
    first = Unary();
    first_done = true;
  });
  // Its stream stays open below the GOAWAY's last stream id.
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.goaways_seen() == 1; }));

  grpc::Status second = Unary();
  EXPECT_EQ(second.error_code(), grpc::StatusCode::NOT_FOUND) << second.error_message();
  EXPECT_EQ(backend.connections_accepted(), 2);  // a new one, beside the draining one
  EXPECT_EQ(backend.streams(), 2);
  EXPECT_FALSE(first_done);

  backend.ReleaseHeld();
  long_rpc.join();
  EXPECT_EQ(first.error_code(), grpc::StatusCode::NOT_FOUND) << first.error_message();
  EXPECT_EQ(backend.connections_accepted(), 2);
}

// A connection dialled for a queued RPC that then went elsewhere never
// carries a stream; idleConnTimeout must close it all the same.
//
// DISABLED: needs UpstreamConnection to arm its idle timer when the server's
// first SETTINGS arrive (the pool cannot reach that timer). In
// upstream_connection.cc, OnFrameRecv, case NGHTTP2_SETTINGS, before
// `self->owner_.OnConnectionCapacity(self);` add `self->UpdateIdleTimer();`
// (Submit disarms it again when the pool puts a stream there).
TEST_F(UpstreamTest, ConnectionsThatNeverCarriedAStreamAreIdledOut) {
  RawH2Server backend(RawH2Server::Behavior::kHoldFirst, /*grpc_status=*/5);
  backend.set_max_concurrent_streams(1);
  config::v1::Config config = EchoConfig({backend.address()});
  Transport(config).set_max_conns_per_server(2);
  SetDuration(Transport(config).mutable_forwarding_timeouts()->mutable_idle_conn_timeout(),
              absl::Milliseconds(100));
  StartProxy(config, /*workers=*/1);
  Connect();
  grpc::Status first, second;
  std::thread held([&] { first = Unary(); });
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.streams() == 1; }));
  // The queued RPC makes strait dial a second connection, which hangs
  // before the server's SETTINGS.
  backend.set_hold_new_connections(true);
  std::thread queued([&] { second = Unary(); });
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.connections_accepted() == 2; }));
  // The first connection's stream frees up first and takes the queued RPC.
  backend.ReleaseHeld();
  held.join();
  queued.join();
  EXPECT_EQ(first.error_code(), grpc::StatusCode::NOT_FOUND) << first.error_message();
  EXPECT_EQ(second.error_code(), grpc::StatusCode::NOT_FOUND) << second.error_message();
  EXPECT_EQ(backend.streams(), 2);
  // Now the second connection becomes ready with nothing to carry.
  backend.set_hold_new_connections(false);
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.connections_closed() == 2; }));
  EXPECT_EQ(backend.connections_accepted(), 2);
  EXPECT_EQ(backend.streams(), 2);
}

// A dial that fails while a ready connection exists only meant to add
// room: the queued RPC waits for that connection's stream instead of failing,
// and the server is not dialled again at once.
TEST_F(UpstreamTest, AFailedDialLeavesQueuedRpcsToTheReadyConnection) {
  RawH2Server backend(RawH2Server::Behavior::kHoldFirst, /*grpc_status=*/5);
  backend.set_max_concurrent_streams(1);
  config::v1::Config config = EchoConfig({backend.address()});
  Transport(config).set_max_conns_per_server(2);
  StartProxy(config, /*workers=*/1);
  Connect();
  grpc::Status first, second;
  std::thread held([&] { first = Unary(); });
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.streams() == 1; }));

  backend.RejectNewConnections();
  std::atomic<bool> second_done{false};
  std::thread queued([&] {
    second = Unary();
    second_done = true;
  });
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return backend.connections_rejected() >= 1; }));
  SyncWithWorker();  // strait has seen that dial fail
  EXPECT_FALSE(second_done) << second.error_message();

  backend.ReleaseHeld();
  held.join();
  queued.join();
  EXPECT_EQ(first.error_code(), grpc::StatusCode::NOT_FOUND) << first.error_message();
  EXPECT_EQ(second.error_code(), grpc::StatusCode::NOT_FOUND) << second.error_message();
  EXPECT_EQ(backend.streams(), 2);
  EXPECT_EQ(backend.connections_accepted(), 1);
  EXPECT_EQ(backend.connections_rejected(), 1);
}

}  // namespace
}  // namespace strait::testing
