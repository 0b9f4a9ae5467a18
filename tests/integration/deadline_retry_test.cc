// Deadlines, retry policies and forwarding headers, against backends that
// get stuck or fail on purpose.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include "absl/strings/str_cat.h"
#include "h2/grpc.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;

class DeadlineRetryTest : public ProxyTest {
 protected:
  config::v1::RetryPolicy* Retry(config::v1::Config& config) {
    return config.mutable_services()->at("echo").mutable_load_balancer()->mutable_retry();
  }
  // Runs one raw gRPC request with `extra` headers; returns its result.
  RawH2Client::StreamResult RawCall(const HeaderList& extra) {
    auto client = RawH2Client::Connect(proxy_port());
    EXPECT_TRUE(client.ok());
    int32_t id = (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "", extra);
    EXPECT_TRUE((*client)->WaitForClose(id, absl::Seconds(20)));
    return (*client)->stream(id);
  }
  static absl::Duration ForwardedTimeout(const HeaderList& request) {
    const std::string* value = FindHeader(request, "grpc-timeout");
    if (value == nullptr) return absl::InfiniteDuration();
    return h2::ParseGrpcTimeout(*value).value_or(absl::InfiniteDuration());
  }
};

TEST_F(DeadlineRetryTest, StraitEndsTheRpcAtItsDeadlineEvenWhenTheBackendIsStuck) {
  RawH2Server stuck(RawH2Server::Behavior::kStuck);
  StartProxy(EchoConfig({stuck.address()}), 1);
  RawH2Client::StreamResult r = RawCall({{"grpc-timeout", "300m"}});
  ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), "4");
  EXPECT_THAT(*FindHeader(r.headers, "grpc-message"), HasSubstr("enforced by strait"));
  // The backend's stream was cancelled, and it was told the budget left.
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return !stuck.resets_received().empty(); }));
  EXPECT_THAT(stuck.resets_received(), Contains(static_cast<uint32_t>(NGHTTP2_CANCEL)));
  ASSERT_EQ(stuck.requests().size(), 1u);
  absl::Duration forwarded = ForwardedTimeout(stuck.requests()[0]);
  EXPECT_LE(forwarded, absl::Milliseconds(300));
  EXPECT_GT(forwarded, absl::ZeroDuration());
}

TEST_F(DeadlineRetryTest, RouterTimeoutAppliesWhenTheClientSentNone) {
  RawH2Server stuck(RawH2Server::Behavior::kStuck);
  config::v1::Config config = EchoConfig({stuck.address()});
  SetDuration(config.mutable_routers()->at("echo").mutable_timeout(), absl::Milliseconds(250));
  StartProxy(config, 1);
  RawH2Client::StreamResult r = RawCall({});
  ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), "4");
  ASSERT_EQ(stuck.requests().size(), 1u);
  EXPECT_LE(ForwardedTimeout(stuck.requests()[0]), absl::Milliseconds(250));
}

TEST_F(DeadlineRetryTest, RouterTimeoutCapsALongerClientDeadline) {
  RawH2Server stuck(RawH2Server::Behavior::kStuck);
  config::v1::Config config = EchoConfig({stuck.address()});
  SetDuration(config.mutable_routers()->at("echo").mutable_timeout(), absl::Milliseconds(250));
  StartProxy(config, 1);
  RawH2Client::StreamResult r = RawCall({{"grpc-timeout", "10S"}});
  ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), "4");
  ASSERT_EQ(stuck.requests().size(), 1u);
  EXPECT_LE(ForwardedTimeout(stuck.requests()[0]), absl::Milliseconds(250));
}

TEST_F(DeadlineRetryTest, RetryPolicyRetriesUnavailableOnAnotherServer) {
  RawH2Server failing(RawH2Server::Behavior::kGrpcStatus, 14);
  backends_.push_back(std::make_unique<TestBackend>("good"));
  config::v1::Config config = EchoConfig({failing.address(), backends_[0]->address()});
  Retry(config)->set_attempts(2);
  Retry(config)->add_retry_on("UNAVAILABLE");
  StartProxy(config, 1);
  auto stub = MakeStub(proxy_port());
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    EchoRequest req;
    req.set_payload(absl::StrCat("request ", i));
    EchoResponse resp;
    grpc::Status s = stub->Unary(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.payload(), absl::StrCat("request ", i));  // the replayed body
  }
  EXPECT_GE(failing.streams(), 5);  // round robin sent it its share first
}

TEST_F(DeadlineRetryTest, WithoutAPolicyTheFailureReachesTheClient) {
  RawH2Server failing(RawH2Server::Behavior::kGrpcStatus, 14);
  StartProxy(EchoConfig({failing.address()}), 1);
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  EchoResponse resp;
  grpc::Status s = stub->Unary(&ctx, EchoRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "scripted");  // the backend's own status, untouched
  EXPECT_EQ(failing.streams(), 1);
}

TEST_F(DeadlineRetryTest, AttemptsAreCapped) {
  RawH2Server a(RawH2Server::Behavior::kGrpcStatus, 14);
  RawH2Server b(RawH2Server::Behavior::kGrpcStatus, 14);
  config::v1::Config config = EchoConfig({a.address(), b.address()});
  Retry(config)->set_attempts(3);
  StartProxy(config, 1);
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  EchoResponse resp;
  grpc::Status s = stub->Unary(&ctx, EchoRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(a.streams() + b.streams(), 3);
}

TEST_F(DeadlineRetryTest, RequestsLargerThanTheBufferAreNotRetried) {
  RawH2Server a(RawH2Server::Behavior::kGrpcStatus, 14);
  RawH2Server b(RawH2Server::Behavior::kGrpcStatus, 14);
  config::v1::Config config = EchoConfig({a.address(), b.address()});
  Retry(config)->set_attempts(3);
  Retry(config)->set_buffer_bytes(1024);
  StartProxy(config, 1);
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  EchoRequest req;
  req.set_payload(std::string(100 * 1024, 'p'));
  EchoResponse resp;
  EXPECT_EQ(stub->Unary(&ctx, req, &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(a.streams() + b.streams(), 1);
}

TEST_F(DeadlineRetryTest, PerTryTimeoutMovesOnFromAStuckServer) {
  RawH2Server stuck(RawH2Server::Behavior::kStuck);
  backends_.push_back(std::make_unique<TestBackend>("good"));
  config::v1::Config config = EchoConfig({stuck.address(), backends_[0]->address()});
  Retry(config)->set_attempts(2);
  SetDuration(Retry(config)->mutable_per_try_timeout(), absl::Milliseconds(200));
  StartProxy(config, 1);
  auto stub = MakeStub(proxy_port());
  // p2c may pick the good server for the first RPCs (its choice is random
  // between idle servers): go on until the stuck one has had some, each
  // answered by the good one after the stuck attempt's per-try timeout.
  for (int i = 0; i < 4 || (stuck.streams() == 0 && i < 64); ++i) {
    grpc::ClientContext ctx;
    EchoResponse resp;
    grpc::Status s = stub->Unary(&ctx, EchoRequest(), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.backend_name(), "good");
  }
  ASSERT_GT(stuck.streams(), 0);
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return !stuck.resets_received().empty(); }));
}

TEST_F(DeadlineRetryTest, ForwardingHeaders) {
  backends_.push_back(std::make_unique<TestBackend>("b"));
  config::v1::Config config = EchoConfig(BackendAddresses());
  config.mutable_services()->at("echo").mutable_load_balancer()->set_pass_host_header(false);
  StartProxy(config, 1);
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-forwarded-for", "203.0.113.7");
  ctx.AddMetadata("x-forwarded-proto", "https");
  EchoResponse resp;
  ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &resp).ok());
  EXPECT_EQ(resp.request_metadata().at("x-forwarded-for"), "203.0.113.7, 127.0.0.1");
  EXPECT_EQ(resp.request_metadata().at("x-forwarded-proto"), "http");
  // passHostHeader: false sends the server's own host:port.
  EXPECT_EQ(resp.authority(), backends_[0]->address());
}

// The backend's trailers arrive well before the deadline, but the client
// reads slowly: it must still get them, not a DEADLINE_EXCEEDED that strait
// made up once the deadline passed while the bytes waited for the client.
TEST_F(DeadlineRetryTest, TrailersThatArrivedBeforeTheDeadlineReachASlowClientIntact) {
  backends_.push_back(std::make_unique<TestBackend>("b"));
  RawH2Server stuck(RawH2Server::Behavior::kStuck);
  config::v1::Config config = EchoConfig(BackendAddresses());
  // A large upstream window: the whole response, trailers included, reaches
  // strait at once and waits there for the client.
  config.mutable_servers_transports()->at("fast").mutable_http2()->set_initial_stream_window_size(
      1 << 20);
  // Unary calls go to a backend that never answers: the clock for the test.
  config::v1::Router& clock = (*config.mutable_routers())["clock"];
  clock.set_rule("GRPCMethod(`/strait.test.v1.Echo/Unary`)");
  clock.set_service("stuck");
  (*config.mutable_services())["stuck"].mutable_load_balancer()->add_servers()->set_url(
      absl::StrCat("h2c://", stuck.address()));
  StartProxy(config, 1);

  auto client = RawH2Client::Connect(proxy_port(), {.window_updates = false});
  ASSERT_TRUE(client.ok());
  EchoRequest two;
  two.set_response_count(2);
  two.set_response_size(64 * 1024);  // 2 x 64 KiB: more than the client's 64 KiB window
  int32_t slow = (*client)->SubmitGrpc("/strait.test.v1.Echo/ServerStream",
                                       two.SerializeAsString(), {{"grpc-timeout", "300m"}});
  ASSERT_TRUE((*client)->RunUntil([&] { return (*client)->body_bytes() == 65535; }));
  // A second RPC with the same deadline, started later, on the stuck
  // backend: once strait ends it, the first one's deadline has passed too.
  int32_t clock_call =
      (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", "", {{"grpc-timeout", "300m"}});
  ASSERT_TRUE((*client)->WaitForClose(clock_call, absl::Seconds(20)));
  EXPECT_EQ(*FindHeader((*client)->stream(clock_call).headers, "grpc-status"), "4");
  EXPECT_FALSE((*client)->stream(slow).closed);

  (*client)->ResumeWindowUpdates();
  ASSERT_TRUE((*client)->WaitForClose(slow, absl::Seconds(20)));
  const RawH2Client::StreamResult& r = (*client)->stream(slow);
  ASSERT_NE(FindHeader(r.trailers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.trailers, "grpc-status"), "0");
  EXPECT_GT(r.body.size(), 2u * 64 * 1024);  // both messages
}

// A non-gRPC answer (a load balancer's 503 page, a 404 from a web server)
// becomes the gRPC status gRPC's HTTP mapping gives it.
TEST_F(DeadlineRetryTest, HttpStatusesWithoutGrpcStatusMapToGrpcStatuses) {
  RawH2Server web(RawH2Server::Behavior::kGrpcStatus);
  StartProxy(EchoConfig({web.address()}), 1);
  const std::vector<std::pair<std::string, std::string>> mapping = {
      {"400", "13"}, {"401", "16"}, {"403", "7"}, {"404", "12"}, {"429", "14"},
      {"500", "2"},  {"502", "14"}, {"503", "14"}, {"504", "14"}};
  for (const auto& [http, grpc] : mapping) {
    web.set_response_headers({{":status", http}, {"content-type", "text/html"}});
    RawH2Client::StreamResult r = RawCall({});
    ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr) << http;
    EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), grpc) << http;
    EXPECT_EQ(*FindHeader(r.headers, ":status"), "200") << http;
    EXPECT_THAT(*FindHeader(r.headers, "grpc-message"),
                HasSubstr(absl::StrCat("answered HTTP ", http, " without a gRPC status")));
  }
}

TEST_F(DeadlineRetryTest, AnHttp503IsRetriedLikeUnavailable) {
  RawH2Server overloaded(RawH2Server::Behavior::kGrpcStatus);
  overloaded.set_response_headers({{":status", "503"}});
  RawH2Server good(RawH2Server::Behavior::kGrpcStatus, 0);
  config::v1::Config config = EchoConfig({overloaded.address(), good.address()});
  Retry(config)->set_attempts(2);
  Retry(config)->add_retry_on("UNAVAILABLE");
  // Every 503 counts toward ejecting the server; here it must stay, and
  // get every other first attempt (round robin).
  auto* lb = config.mutable_services()->at("echo").mutable_load_balancer();
  lb->mutable_passive_health_check()->set_enabled(false);
  lb->set_strategy("wrr");
  StartProxy(config, 1);
  for (int i = 0; i < 10; ++i) {
    RawH2Client::StreamResult r = RawCall({});
    ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr) << i;
    EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), "0") << i;
  }
  EXPECT_EQ(good.streams(), 10);  // every call ended there, some after a 503
  // Round robin alternates the two servers over the (at least 10) picks.
  EXPECT_GE(overloaded.streams(), 5);
}

TEST_F(DeadlineRetryTest, ResponseHeadersOverTheAdvertisedLimitAreInternal) {
  RawH2Server big(RawH2Server::Behavior::kGrpcStatus, 0);
  big.set_response_headers({{":status", "200"}, {"content-type", "application/grpc"},
                            {"grpc-status", "0"}, {"x-big", std::string(20000, 'b')}});
  config::v1::Config config = EchoConfig({big.address()});
  config.mutable_servers_transports()->at("fast").mutable_http2()->set_max_header_list_size(8192);
  StartProxy(config, 1);
  RawH2Client::StreamResult r = RawCall({});
  ASSERT_NE(FindHeader(r.headers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.headers, "grpc-status"), "13");
  EXPECT_THAT(*FindHeader(r.headers, "grpc-message"), HasSubstr("response headers too large"));
  EXPECT_EQ(FindHeader(r.headers, "x-big"), nullptr);
}

// 400 open streams, each with a 60 KiB request the backend has taken and
// not answered: the replay copies exist only where a retry policy can use
// them, and then at most bufferBytes each.
class ReplayBufferTest : public DeadlineRetryTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ReplayBufferTest, ReplayCopiesOnlyForARetryPolicy) {
  const bool policy = GetParam();
  constexpr int kStreams = 400;
  RawH2Server stuck(RawH2Server::Behavior::kStuck);
  config::v1::Config config = EchoConfig({stuck.address()});
  if (policy) {
    Retry(config)->set_attempts(2);  // bufferBytes: 64 KiB by default
    Retry(config)->add_retry_on("UNAVAILABLE");
  }
  // Room for every copy in the connection's budget (which copies count
  // against: FlowControlTest.ReplayCopiesStopAtTheConnectionBudget).
  config.mutable_entry_points()->at("web").mutable_transport()->set_max_connection_buffer_bytes(
      32 << 20);
  StartProxy(config, 1);
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  const std::string message(60 * 1024, 'r');
  for (int i = 0; i < kStreams; ++i) {
    (*client)->SubmitGrpc("/strait.test.v1.Echo/Unary", message);
  }
  const size_t body = GrpcFrame(message).size();
  ASSERT_TRUE((*client)->RunUntil([&] { return stuck.data_bytes() == kStreams * body; },
                                  absl::Seconds(30)));
  EXPECT_EQ(server_->Stats().replay_bytes, policy ? kStreams * body : 0u);
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutPolicy, ReplayBufferTest, ::testing::Bool());

}  // namespace
}  // namespace strait::testing
