// The foundation's data path, end to end: real gRPC C++ clients and echo
// backends on loopback, strait in process between them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// Every test runs twice: clients speak h2c to strait, and TLS (gRPC's
// SslCredentials) to a TLS entry point; backends are h2c either way.
class ProxyDataPathTest : public ProxyTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { tls_ = GetParam(); }
  // A frame-level client to strait, over TLS when tls_.
  absl::StatusOr<std::unique_ptr<RawH2Client>> RawClient() const {
    RawH2Client::Options options;
    if (tls_) options.tls_ca_pem = pki_->ca.cert().CertPem();
    return RawH2Client::Connect(proxy_port(), options);
  }
};

TEST_P(ProxyDataPathTest, UnaryRoundTrip) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  EchoRequest req;
  req.set_payload("hello through strait");
  EchoResponse resp;
  grpc::Status status = stub->Unary(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.payload(), "hello through strait");
  EXPECT_EQ(resp.backend_name(), "backend-0");
  // What the backend saw: the client's authority, and forwarding headers.
  EXPECT_EQ(resp.authority(), absl::StrCat("127.0.0.1:", proxy_port()));
  EXPECT_EQ(resp.request_metadata().at("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(resp.request_metadata().at("x-forwarded-proto"), scheme());
}

TEST_P(ProxyDataPathTest, ServerStreamingArrivesInOrder) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  EchoRequest req;
  req.set_response_count(200);
  req.set_response_size(1000);
  auto reader = stub->ServerStream(&ctx, req);
  EchoResponse resp;
  int n = 0;
  while (reader->Read(&resp)) {
    EXPECT_EQ(resp.index(), n);
    EXPECT_EQ(resp.payload().size(), 1000u);
    ++n;
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(n, 200);
}

TEST_P(ProxyDataPathTest, ClientStreamingCountsEveryMessage) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  EchoResponse resp;
  auto writer = stub->ClientStream(&ctx, &resp);
  int64_t bytes = 0;
  for (int i = 0; i < 300; ++i) {
    EchoRequest req;
    req.set_payload(std::string(i * 10, 'c'));
    bytes += i * 10;
    ASSERT_TRUE(writer->Write(req));
  }
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(resp.messages_received(), 300);
  EXPECT_EQ(resp.bytes_received(), bytes);
}

TEST_P(ProxyDataPathTest, ThousandMessagesOnOneBidiStream) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  auto stream = stub->Bidi(&ctx);
  for (int i = 0; i < 1000; ++i) {
    EchoRequest req;
    req.set_payload(absl::StrCat("message-", i));
    ASSERT_TRUE(stream->Write(req));
    EchoResponse resp;
    // Each echo comes back before the next message is sent: nothing waits
    // for the end of the stream or a whole batch.
    ASSERT_TRUE(stream->Read(&resp));
    ASSERT_EQ(resp.index(), i);
    ASSERT_EQ(resp.payload(), absl::StrCat("message-", i));
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_P(ProxyDataPathTest, MetadataTextAndBinaryBothWays) {
  StartAll(1);
  auto stub = ProxyStub();
  const std::string binary("\x00\x01\xfe\xff bin\r\n", 10);
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-custom", "custom value");
  ctx.AddMetadata("x-trace-bin", binary);
  EchoRequest req;
  req.set_echo_metadata(true);
  (*req.mutable_initial_metadata())["x-initial"] = "early";
  (*req.mutable_initial_metadata())["x-initial-bin"] = binary;
  (*req.mutable_trailing_metadata())["x-trailer"] = "late";
  (*req.mutable_trailing_metadata())["x-trailer-bin"] = binary;
  EchoResponse resp;
  ASSERT_TRUE(stub->Unary(&ctx, req, &resp).ok());

  // Request metadata reached the backend intact.
  EXPECT_EQ(resp.request_metadata().at("x-custom"), "custom value");
  EXPECT_EQ(resp.request_metadata().at("x-trace-bin"), binary);
  auto one = [](const std::multimap<grpc::string_ref, grpc::string_ref>& m,
                const std::string& key) {
    auto it = m.find(key);
    return it == m.end() ? std::string("<missing>")
                         : std::string(it->second.data(), it->second.size());
  };
  const auto& initial = ctx.GetServerInitialMetadata();
  EXPECT_EQ(one(initial, "x-custom"), "custom value");
  EXPECT_EQ(one(initial, "x-trace-bin"), binary);
  EXPECT_EQ(one(initial, "x-initial"), "early");
  EXPECT_EQ(one(initial, "x-initial-bin"), binary);
  const auto& trailing = ctx.GetServerTrailingMetadata();
  EXPECT_EQ(one(trailing, "x-trailer"), "late");
  EXPECT_EQ(one(trailing, "x-trailer-bin"), binary);
}

TEST_P(ProxyDataPathTest, EveryStatusCodeWithNonAsciiMessage) {
  StartAll(1);
  auto stub = ProxyStub();
  const std::string message = "déjà vu ✓ 状态 100% \t done";
  for (int code = 1; code <= 16; ++code) {
    grpc::ClientContext ctx;
    EchoRequest req;
    req.set_status_code(code);
    req.set_status_message(message);
    (*req.mutable_trailing_metadata())["x-code"] = absl::StrCat(code);
    EchoResponse resp;
    grpc::Status status = stub->Unary(&ctx, req, &resp);
    EXPECT_EQ(status.error_code(), code);
    EXPECT_EQ(status.error_message(), message) << "code " << code;
    auto it = ctx.GetServerTrailingMetadata().find("x-code");
    ASSERT_NE(it, ctx.GetServerTrailingMetadata().end()) << "code " << code;
    EXPECT_EQ(std::string(it->second.data(), it->second.size()), absl::StrCat(code));
  }
}

TEST_P(ProxyDataPathTest, TrailersOnlyResponseStaysTrailersOnly) {
  StartAll(1);
  auto client = RawClient();
  ASSERT_TRUE(client.ok()) << client.status();
  EchoRequest req;
  req.set_status_code(5);
  req.set_status_message("nothing here");
  int32_t id = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", req.SerializeAsString());
  ASSERT_TRUE((*client)->WaitForClose(id));
  const RawH2Client::StreamResult& s = (*client)->stream(id);
  EXPECT_EQ(s.header_blocks, 1);  // one HEADERS frame with END_STREAM
  EXPECT_TRUE(s.body.empty());
  EXPECT_EQ(s.close_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  ASSERT_NE(FindHeader(s.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(s.headers, "grpc-status"), "5");
  EXPECT_EQ(*FindHeader(s.headers, ":status"), "200");
}

TEST_P(ProxyDataPathTest, LargeMessagesBothWays) {
  StartAll(1);
  auto stub = ProxyStub();
  for (int mib : {4, 16}) {
    grpc::ClientContext ctx;
    EchoRequest req;
    std::string payload(mib << 20, '\0');
    for (size_t i = 0; i < payload.size(); i += 4093) payload[i] = static_cast<char>(i);
    req.set_payload(payload);
    EchoResponse resp;
    grpc::Status status = stub->Unary(&ctx, req, &resp);
    ASSERT_TRUE(status.ok()) << mib << " MiB: " << status.error_message();
    EXPECT_EQ(resp.payload(), payload) << mib << " MiB";
  }
}

TEST_P(ProxyDataPathTest, BackendDeadlineBecomesDeadlineExceeded) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Milliseconds(300)));
  EchoRequest req;
  req.set_sleep_ms(20'000);
  EchoResponse resp;
  grpc::Status status = stub->Unary(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
}

TEST_P(ProxyDataPathTest, GrpcTimeoutEndsTheRpcAndCancelsTheBackend) {
  StartAll(1);
  // A raw client that would wait forever: the deadline (strait's, or the
  // backend's from the forwarded grpc-timeout) must end this RPC.
  auto client = RawClient();
  ASSERT_TRUE(client.ok()) << client.status();
  EchoRequest req;
  req.set_wait_for_cancel(true);
  int32_t id = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", req.SerializeAsString(),
                                     {{"grpc-timeout", "200m"}});
  ASSERT_TRUE((*client)->WaitForClose(id, absl::Seconds(20)));
  const RawH2Client::StreamResult& s = (*client)->stream(id);
  ASSERT_NE(FindHeader(s.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(s.headers, "grpc-status"), "4");
  EXPECT_TRUE(backends_[0]->service().WaitForCancelled(1, absl::Seconds(20)));
}

TEST_P(ProxyDataPathTest, ClientCancelIsSeenByTheBackend) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  EchoRequest req;
  req.set_response_count(1);
  req.set_wait_for_cancel(true);
  auto reader = stub->ServerStream(&ctx, req);
  EchoResponse resp;
  ASSERT_TRUE(reader->Read(&resp));  // the stream is up end to end
  ctx.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(backends_[0]->service().WaitForCancelled(1, absl::Seconds(20)));
}

TEST_P(ProxyDataPathTest, ThousandUnaryRpcsOnOneChannelSpreadOverThreeBackends) {
  for (int i = 0; i < 3; ++i) {
    backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("backend-", i)));
  }
  config::v1::Config config = EchoConfig(BackendAddresses());
  // Smooth weighted round robin with equal weights: an exact spread.
  config.mutable_services()->at("echo").mutable_load_balancer()->set_strategy("wrr");
  StartProxy(config);
  auto stub = ProxyStub();
  std::map<std::string, int> served;
  for (int i = 0; i < 1000; ++i) {
    grpc::ClientContext ctx;
    EchoRequest req;
    EchoResponse resp;
    ASSERT_TRUE(stub->Unary(&ctx, req, &resp).ok());
    ++served[resp.backend_name()];
  }
  // One channel is one HTTP/2 connection: only per-RPC balancing spreads it.
  ASSERT_EQ(served.size(), 3u);
  for (const auto& [name, count] : served) {
    EXPECT_GE(count, 333) << name;
    EXPECT_LE(count, 334) << name;
  }
}

TEST_P(ProxyDataPathTest, NoRouteIsUnimplemented) {
  StartAll(1);
  auto client = RawClient();
  ASSERT_TRUE(client.ok()) << client.status();
  int32_t id = (*client)->SubmitGrpc("/other.Service/Method");
  ASSERT_TRUE((*client)->WaitForClose(id));
  const RawH2Client::StreamResult& s = (*client)->stream(id);
  ASSERT_NE(FindHeader(s.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(s.headers, "grpc-status"), "12");
  EXPECT_THAT(*FindHeader(s.headers, "grpc-message"), HasSubstr("no route"));
  EXPECT_EQ(backends_[0]->service().calls(), 0);

  // A routed service's unknown method reaches the backend, which says so.
  int32_t id2 = (*client)->SubmitGrpc("/strait.test.v1.Echo/NoSuchMethod");
  ASSERT_TRUE((*client)->WaitForClose(id2));
  ASSERT_NE(FindHeader((*client)->stream(id2).headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader((*client)->stream(id2).headers, "grpc-status"), "12");
}

TEST_P(ProxyDataPathTest, UnreachableServiceIsUnavailableNamingTheService) {
  // A port that was free a moment ago: nothing listens there.
  int dead_port;
  {
    TestBackend gone("gone");
    dead_port = gone.port();
  }
  StartProxy(EchoConfig({absl::StrCat("127.0.0.1:", dead_port)}));
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  EchoRequest req;
  EchoResponse resp;
  grpc::Status status = stub->Unary(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("service echo"));
  EXPECT_THAT(status.error_message(), HasSubstr(absl::StrCat("127.0.0.1:", dead_port)));
}

TEST_P(ProxyDataPathTest, KilledBackendEndsItsStreamsWhileOthersKeepServing) {
  backends_.push_back(std::make_unique<TestBackend>("backend-0"));
  backends_.push_back(std::make_unique<TestBackend>("backend-1"));
  ChildBackend doomed("doomed");
  std::vector<std::string> addresses = BackendAddresses();
  addresses.push_back(doomed.address());
  StartProxy(EchoConfig(addresses), /*workers=*/1);

  // One open bidi stream per backend (round robin over one connection).
  auto stub = ProxyStub();
  struct Open {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<EchoRequest, EchoResponse>> stream;
    std::string backend;
  };
  std::vector<std::unique_ptr<Open>> open;
  for (int i = 0; i < 3; ++i) {
    auto o = std::make_unique<Open>();
    o->stream = stub->Bidi(&o->ctx);
    EchoRequest req;
    req.set_payload("hi");
    ASSERT_TRUE(o->stream->Write(req));
    EchoResponse resp;
    ASSERT_TRUE(o->stream->Read(&resp));
    o->backend = resp.backend_name();
    open.push_back(std::move(o));
  }
  doomed.Kill();

  for (auto& o : open) {
    EchoRequest req;
    req.set_payload("still there?");
    EchoResponse resp;
    bool wrote = o->stream->Write(req);
    if (o->backend == "doomed") {
      EXPECT_FALSE(wrote && o->stream->Read(&resp));
      grpc::Status status = o->stream->Finish();
      EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
      EXPECT_THAT(status.error_message(), HasSubstr("service echo"));
    } else {
      ASSERT_TRUE(wrote) << o->backend;
      ASSERT_TRUE(o->stream->Read(&resp)) << o->backend;
      EXPECT_EQ(resp.payload(), "still there?");
      o->stream->WritesDone();
      EXPECT_TRUE(o->stream->Finish().ok()) << o->backend;
    }
  }
  // New RPCs keep working: the dead server's share goes elsewhere.
  for (int i = 0; i < 30; ++i) {
    grpc::ClientContext ctx;
    EchoRequest req;
    EchoResponse resp;
    grpc::Status status = stub->Unary(&ctx, req, &resp);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_NE(resp.backend_name(), "doomed");
  }
}

TEST_P(ProxyDataPathTest, ReloadMovesNewRpcsAndKeepsRunningStreams) {
  StartAll(2, /*workers=*/1);
  config::v1::Config only_second = EchoConfig({backends_[1]->address()});
  auto stub = ProxyStub();
  // A stream that starts before the reload stays where it began.
  grpc::ClientContext ctx;
  auto stream = stub->Bidi(&ctx);
  EchoRequest req;
  EchoResponse resp;
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  std::string stream_backend = resp.backend_name();

  if (tls_) AddTls(only_second);
  ASSERT_TRUE(server_->Reload(only_second).ok());
  bool moved = false;
  for (int i = 0; i < 100 && !moved; ++i) {  // workers pick it up on their next turn
    grpc::ClientContext c;
    EchoResponse r;
    ASSERT_TRUE(stub->Unary(&c, EchoRequest(), &r).ok());
    moved = r.backend_name() == "backend-1";
  }
  EXPECT_TRUE(moved);
  for (int i = 0; i < 10; ++i) {
    grpc::ClientContext c;
    EchoResponse r;
    ASSERT_TRUE(stub->Unary(&c, EchoRequest(), &r).ok());
    EXPECT_EQ(r.backend_name(), "backend-1");
  }
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.backend_name(), stream_backend);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());

  // Bad configs change nothing. (Entry points that move, come and go:
  // entry_point_test.cc.)
  config::v1::Config dangling = only_second;
  dangling.mutable_routers()->at("echo").set_service("nope");
  EXPECT_THAT(server_->Reload(dangling).message(), HasSubstr("routers.echo.service"));
}

TEST_P(ProxyDataPathTest, ShutdownLetsInFlightStreamsFinish) {
  StartAll(1);
  auto stub = ProxyStub();
  grpc::ClientContext ctx;
  EchoRequest req;
  req.set_response_count(10);
  req.set_sleep_ms(100);
  auto reader = stub->ServerStream(&ctx, req);
  EchoResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  std::thread stopper([&] { server_->Shutdown(); });
  int n = 1;
  while (reader->Read(&resp)) ++n;
  grpc::Status status = reader->Finish();
  stopper.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(n, 10);
}

INSTANTIATE_TEST_SUITE_P(Transport, ProxyDataPathTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Tls" : "H2c";
                         });

}  // namespace
}  // namespace strait::testing
