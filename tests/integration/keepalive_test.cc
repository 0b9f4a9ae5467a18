// Keepalive toward clients: a client that goes silent is found by strait's
// PINGs and its streams end (the backend sees CANCEL); a quiet stream whose
// client answers PINGs lives on however long it stays quiet.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_client.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

class KeepaliveTest : public ProxyTest {
 protected:
  void Start() {
    backends_.push_back(std::make_unique<TestBackend>("b"));
    config::v1::Config config = EchoConfig(BackendAddresses());
    auto* transport = config.mutable_entry_points()->at("web").mutable_transport();
    SetDuration(transport->mutable_keep_alive_time(), absl::Milliseconds(100));
    SetDuration(transport->mutable_keep_alive_timeout(), absl::Milliseconds(200));
    StartProxy(config, /*workers=*/1);
  }
  static std::string Message(const std::string& payload) {
    EchoRequest req;
    req.set_payload(payload);
    return GrpcFrame(req.SerializeAsString());
  }
};

TEST_F(KeepaliveTest, ASilentClientIsFoundAndItsStreamsEnd) {
  Start();
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  EchoRequest wait;
  wait.set_wait_for_cancel(true);
  std::string body = GrpcFrame(wait.SerializeAsString());
  (*client)->Submit({{":method", "POST"}, {":scheme", "http"}, {":authority", "t"},
                     {":path", "/strait.test.v1.Echo/Bidi"}, {"content-type", "application/grpc"},
                     {"te", "trailers"}},
                    &body, /*keep_open=*/true);
  ASSERT_TRUE((*client)->RunUntil([&] { return backends_[0]->calls() == 1; }));
  // From now on the client neither reads nor answers: a SIGSTOPped process,
  // or a peer behind a dead link, as the kernel still ACKs.
  EXPECT_TRUE(backends_[0]->WaitForCancelled(1, absl::Seconds(20)));
  // strait has closed the connection: the client sees its end once it reads.
  EXPECT_TRUE((*client)->RunUntil([&] { return (*client)->connection_closed(); }));
}

TEST_F(KeepaliveTest, AQuietStreamWhoseClientAnswersPingsLivesOn) {
  Start();
  auto client = RawH2Client::Connect(proxy_port());
  ASSERT_TRUE(client.ok());
  std::string first = Message("first");
  int32_t id = (*client)->Submit(
      {{":method", "POST"}, {":scheme", "http"}, {":authority", "t"},
       {":path", "/strait.test.v1.Echo/Bidi"}, {"content-type", "application/grpc"},
       {"te", "trailers"}},
      &first, /*keep_open=*/true);
  ASSERT_TRUE((*client)->RunUntil([&] { return !(*client)->stream(id).body.empty(); }));
  // Quiet for 5 keepalive periods and more: strait PINGs, the client answers.
  ASSERT_TRUE((*client)->RunUntil([&] { return (*client)->pings_received() >= 5; }));
  EXPECT_FALSE((*client)->stream(id).closed);
  size_t before = (*client)->stream(id).body.size();
  (*client)->SendMore(id, Message("second"), /*end_stream=*/true);
  ASSERT_TRUE((*client)->WaitForClose(id));
  const RawH2Client::StreamResult& r = (*client)->stream(id);
  EXPECT_GT(r.body.size(), before);  // the second echo
  ASSERT_NE(FindHeader(r.trailers, "grpc-status"), nullptr);
  EXPECT_EQ(*FindHeader(r.trailers, "grpc-status"), "0");
  EXPECT_FALSE((*client)->connection_closed());
  EXPECT_EQ(backends_[0]->cancelled(), 0);
}

}  // namespace
}  // namespace strait::testing
