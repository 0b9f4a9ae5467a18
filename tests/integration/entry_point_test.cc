// What Server::Reload changes while strait runs, losing no stream: entry
// points added, removed, moved or re-set, and servers transports whose
// connection pools are replaced.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/raw_h2_server.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;
using test::v1::EchoRequest;
using test::v1::EchoResponse;

constexpr char kBidi[] = "/strait.test.v1.Echo/Bidi";
constexpr char kUnary[] = "/strait.test.v1.Echo/Unary";

// A serialized EchoRequest echoing `payload`.
std::string Message(const std::string& payload) {
  EchoRequest req;
  req.set_payload(payload);
  return req.SerializeAsString();
}

// A loopback port nobody listens on right now (the system's choice).
int FreePort() {
  int port = 0;
  close(ListenOnLoopback(1, &port));
  return port;
}

// Whether a plain socket (no SO_REUSEPORT) can bind `port`: nothing,
// strait's sockets included, holds it.
bool PortIsFree(int port) {
  int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(probe);
  return free;
}

class EntryPointTest : public ProxyTest {
 protected:
  // A Unary RPC through strait's `port`, on a connection of its own.
  static grpc::Status Unary(int port, EchoResponse* resp = nullptr) {
    EchoResponse ignored;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return MakeStub(port)->Unary(&ctx, EchoRequest(), resp ? resp : &ignored);
  }
  static grpc::Status Unary(test::v1::Echo::Stub& stub, EchoResponse* resp = nullptr) {
    EchoResponse ignored;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return stub.Unary(&ctx, EchoRequest(), resp ? resp : &ignored);
  }
  static std::string GrpcStatusOf(const RawH2Client::StreamResult& r) {
    const std::string* status = FindHeader(r.trailers, "grpc-status");
    if (status == nullptr) status = FindHeader(r.headers, "grpc-status");
    return status ? *status : "none";
  }
};

TEST_F(EntryPointTest, AnAddedEntryPointServesOnItsNewPortAndTheOthersKeepServing) {
  StartAll(1);
  auto before = MakeStub(proxy_port());  // a client connected before the reload
  ASSERT_TRUE(Unary(*before).ok());

  config::v1::Config config = EchoConfig(BackendAddresses());
  (*config.mutable_entry_points())["extra"].set_address("127.0.0.1:0");
  ASSERT_TRUE(server_->Reload(config).ok());
  int extra = server_->port("extra");
  ASSERT_GT(extra, 0);
  EXPECT_NE(extra, proxy_port());
  // Connections of their own, spread over the workers by SO_REUSEPORT:
  // each worker accepts on the new port.
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Unary(extra).ok()) << i;
  EXPECT_TRUE(Unary(*before).ok());
  EXPECT_TRUE(Unary(proxy_port()).ok());
  EXPECT_EQ(backends_[0]->calls(), 11);
}

TEST_F(EntryPointTest, ARemovedEntryPointSendsGoawayAtOnceAndLetsItsStreamsFinish) {
  backends_.push_back(std::make_unique<TestBackend>("backend-0"));
  config::v1::Config with_old = EchoConfig(BackendAddresses());
  config::v1::EntryPoint& old_ep = (*with_old.mutable_entry_points())["old"];
  old_ep.set_address("127.0.0.1:0");
  // The grace period outlasts the test: the stream ends when the client says.
  SetDuration(old_ep.mutable_transport()->mutable_life_cycle()->mutable_grace_time_out(),
              absl::Minutes(5));
  StartProxy(with_old);
  int old_port = server_->port("old");
  ASSERT_GT(old_port, 0);
  auto client = RawH2Client::Connect(old_port);
  ASSERT_TRUE(client.ok());
  // A bidi call held open by the client: it ends only when the client does.
  int32_t id = (*client)->OpenGrpc(kBidi, Message("first"));
  ASSERT_TRUE((*client)->RunUntil([&] { return !(*client)->stream(id).body.empty(); }));

  ASSERT_TRUE(server_->Reload(EchoConfig(BackendAddresses())).ok());
  EXPECT_EQ(server_->port("old"), -1);
  // A call the client starts before it has read the GOAWAY (it is sent
  // before anything is read): strait still serves it, by the snapshot that
  // had the entry point.
  int32_t late = (*client)->SubmitGrpc(kUnary, Message("late"));
  // GOAWAY at once, while the call is still open (the client has not even
  // finished its request).
  ASSERT_TRUE((*client)->RunUntil([&] { return (*client)->goaway_received(); }));
  EXPECT_EQ((*client)->goaway_error(), static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_FALSE((*client)->stream(id).closed);
  ASSERT_TRUE((*client)->WaitForClose(late));
  // (Refused only if it reached strait after the final GOAWAY, half a second
  // after the first: a client that slow is told to retry elsewhere.)
  if ((*client)->stream(late).close_code != NGHTTP2_REFUSED_STREAM) {
    EXPECT_EQ(GrpcStatusOf((*client)->stream(late)), "0");
  }
  // The old port takes no new connection.
  EXPECT_FALSE(RawH2Client::Connect(old_port).ok());

  // The call finishes normally: its second message echoed, then status OK.
  size_t echoed = (*client)->stream(id).body.size();
  (*client)->SendMore(id, GrpcFrame(Message("second")), /*end_stream=*/true);
  ASSERT_TRUE((*client)->WaitForClose(id));
  const RawH2Client::StreamResult& r = (*client)->stream(id);
  EXPECT_EQ(r.close_code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_GT(r.body.size(), echoed);
  EXPECT_EQ(GrpcStatusOf(r), "0");
  // Then its connection closes; the other entry point serves on.
  EXPECT_TRUE((*client)->RunUntil([&] { return (*client)->connection_closed(); }));
  EXPECT_TRUE(Unary(proxy_port()).ok());
}

TEST_F(EntryPointTest, AMovedEntryPointServesOnItsNewAddressOnly) {
  StartAll(1);
  int old_port = proxy_port();
  auto client = RawH2Client::Connect(old_port);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->PingRoundTrip());

  int new_port = FreePort();
  config::v1::Config moved = EchoConfig(BackendAddresses());
  moved.mutable_entry_points()->at("web").set_address(absl::StrCat("127.0.0.1:", new_port));
  ASSERT_TRUE(server_->Reload(moved).ok());
  EXPECT_EQ(server_->port("web"), new_port);
  // The client of the old address is told to go, and may still finish a call.
  ASSERT_TRUE((*client)->RunUntil([&] { return (*client)->goaway_received(); }));
  EXPECT_FALSE(RawH2Client::Connect(old_port).ok());
  EXPECT_TRUE(Unary(new_port).ok());
}

TEST_F(EntryPointTest, AnEntryPointThatCannotBeBoundFailsTheReloadAndChangesNothing) {
  StartAll(1);
  // A plain socket (no SO_REUSEPORT) holds the port: strait cannot share it.
  int taken_port = 0;
  int taken = ListenOnLoopback(1, &taken_port);
  int added_port = FreePort();
  config::v1::Config config = EchoConfig(BackendAddresses());
  // "added" binds first (entry points go by name), then "extra" fails.
  (*config.mutable_entry_points())["added"].set_address(absl::StrCat("127.0.0.1:", added_port));
  (*config.mutable_entry_points())["extra"].set_address(absl::StrCat("127.0.0.1:", taken_port));
  // The same reload would also route every RPC nowhere.
  config.mutable_routers()->at("echo").set_rule("GRPCService(`strait.test.v1.Nothing`)");
  absl::Status status = server_->Reload(config);
  close(taken);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(status.message(), HasSubstr("entryPoints.extra.address: "));
  EXPECT_THAT(status.message(), HasSubstr("already in use"));
  // Nothing changed: what was bound for "added" is closed again, and the
  // old entry point serves with the old routes.
  EXPECT_EQ(server_->port("added"), -1);
  EXPECT_EQ(server_->port("extra"), -1);
  EXPECT_TRUE(PortIsFree(added_port));
  EXPECT_TRUE(Unary(proxy_port()).ok());
}

TEST_F(EntryPointTest, ChangedSettingsKeepConnectionsAndTheirNewStreamsFollowTheNewRoutes) {
  backends_.push_back(std::make_unique<TestBackend>("backend-0"));
  backends_.push_back(std::make_unique<TestBackend>("backend-1"));
  config::v1::Config config = EchoConfig({backends_[0]->address()});
  config.mutable_entry_points()->at("web").mutable_http2()->set_max_concurrent_streams(50);
  StartProxy(config, /*workers=*/1);
  auto before = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE((*before)->PingRoundTrip());

  // Same address; other settings, and routes to another service.
  config.mutable_entry_points()->at("web").mutable_http2()->set_max_concurrent_streams(60);
  (*config.mutable_services())["other"].mutable_load_balancer()->add_servers()->set_url(
      absl::StrCat("h2c://", backends_[1]->address()));
  config.mutable_routers()->at("echo").set_service("other");
  ASSERT_TRUE(server_->Reload(config).ok());

  // A new connection gets the new settings.
  auto after = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(after.ok());
  ASSERT_TRUE((*after)->PingRoundTrip());
  EXPECT_EQ(nghttp2_session_get_remote_settings((*after)->session(),
                                                NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
            60u);
  // The connection of before stays, with the settings it was given; its
  // new streams take the new routes.
  int32_t id = (*before)->SubmitGrpc(kUnary, Message("x"));
  ASSERT_TRUE((*before)->WaitForClose(id));
  EXPECT_EQ(GrpcStatusOf((*before)->stream(id)), "0");
  EXPECT_EQ(backends_[1]->calls(), 1);
  EXPECT_EQ(backends_[0]->calls(), 0);
  EXPECT_FALSE((*before)->goaway_received());
  EXPECT_EQ(nghttp2_session_get_remote_settings((*before)->session(),
                                                NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
            50u);
  EXPECT_EQ(server_->Stats().connections_accepted, 2u);
}

using Bidi = grpc::ClientReaderWriter<EchoRequest, EchoResponse>;

TEST_F(EntryPointTest, AChangedTransportGivesNewRpcsANewPoolAndTheOldOneDrains) {
  // One worker: every RPC of the test shares its pools.
  StartAll(1, /*workers=*/1);
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  std::unique_ptr<Bidi> stream = stub->Bidi(&ctx);
  EchoRequest req;
  EchoResponse resp;
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  // The backend's view of strait's connection (its local address).
  const std::string old_connection = resp.peer();
  EchoResponse unary;
  ASSERT_TRUE(Unary(*stub, &unary).ok());
  EXPECT_EQ(unary.peer(), old_connection);  // shared while the transport stays

  config::v1::Config config = EchoConfig(BackendAddresses());
  config.mutable_servers_transports()->at("fast").set_max_conns_per_server(8);
  ASSERT_TRUE(server_->Reload(config).ok());
  ASSERT_TRUE(Unary(*stub, &unary).ok());
  const std::string new_connection = unary.peer();
  EXPECT_NE(new_connection, old_connection);
  proxy::ProxyCounters stats = server_->Stats();
  EXPECT_EQ(stats.pools, 2u);
  EXPECT_EQ(stats.upstream_connections, 2u);

  // The stream of before runs on, on its connection, to its end.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(stream->Write(req));
    ASSERT_TRUE(stream->Read(&resp));
    EXPECT_EQ(resp.peer(), old_connection);
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  // Then the old connection closes and its pool goes.
  EXPECT_TRUE(RawH2Server::WaitFor([&] {
    proxy::ProxyCounters s = server_->Stats();
    return s.upstream_connections == 1 && s.pools == 1;
  }));
  ASSERT_TRUE(Unary(*stub, &unary).ok());
  EXPECT_EQ(unary.peer(), new_connection);
}

TEST_F(EntryPointTest, ARetryOfAnOlderSnapshotAfterItsPoolsRetiredStillSucceeds) {
  // The first attempt is held by `first` until the reload is done, then
  // refused with UNAVAILABLE; the retry (same old snapshot) goes to backend-0.
  RawH2Server first(RawH2Server::Behavior::kHoldFirst, /*grpc_status=*/14);
  backends_.push_back(std::make_unique<TestBackend>("backend-0"));
  config::v1::Config config = EchoConfig({first.address(), backends_[0]->address()});
  config::v1::LoadBalancer* lb = config.mutable_services()->at("echo").mutable_load_balancer();
  lb->set_strategy("wrr");
  lb->mutable_servers(0)->set_weight(1000);  // the first pick
  lb->mutable_servers(1)->set_weight(1);
  lb->mutable_retry()->set_attempts(2);
  lb->mutable_passive_health_check()->set_enabled(false);
  StartProxy(config, /*workers=*/1);

  grpc::Status status;
  EchoResponse resp;
  std::thread call([&] { status = Unary(proxy_port(), &resp); });
  ASSERT_TRUE(RawH2Server::WaitFor([&] { return first.streams() == 1; }));
  config.mutable_servers_transports()->at("fast").set_max_conns_per_server(8);
  ASSERT_TRUE(server_->Reload(config).ok());
  // Both servers' pools of the old snapshot are retired now: the retry
  // opens a connection of the retired kind to backend-0.
  first.ReleaseHeld();
  call.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.backend_name(), "backend-0");
  // Nothing of the old snapshot stays: every connection closed, every pool
  // freed (no RPC of the new snapshot has run yet).
  EXPECT_TRUE(RawH2Server::WaitFor([&] {
    proxy::ProxyCounters s = server_->Stats();
    return s.upstream_connections == 0 && s.pools == 0;
  }));
  EXPECT_TRUE(RawH2Server::WaitFor([&] { return first.connections_closed() == 1; }));
  EXPECT_TRUE(Unary(proxy_port()).ok());
}

}  // namespace
}  // namespace strait::testing
