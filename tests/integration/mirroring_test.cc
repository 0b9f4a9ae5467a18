// Mirroring services end to end: a main service whose answers reach the
// client, and mirrors that get copies of a share of the RPCs (headers and
// body, as they stream) whose answers strait drops. What each mirror saw is
// read from its backend's EchoService::last_seen(); what strait did with
// each copy from its counters (Server::Stats). The sampler is a counter,
// so shares are exact on one worker.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "tests/integration/load_loops.h"
#include "tests/integration/proxy_fixture.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

constexpr absl::Duration kWait = absl::Seconds(20);

// Polls `condition` (every millisecond, at most kWait): for strait's
// counters, which have no event to wait on.
bool Eventually(const std::function<bool()>& condition) {
  absl::Time give_up = absl::Now() + kWait;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

std::chrono::system_clock::time_point In(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(d);
}

// What a client stream of `messages` messages of `size` bytes each got back.
struct Upload {
  grpc::Status status;
  EchoResponse response;
};

Upload ClientStreamCall(test::v1::Echo::Stub& stub, int messages, size_t size,
                        const std::map<std::string, std::string>& metadata = {}) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(60)));
  for (const auto& [key, value] : metadata) ctx.AddMetadata(key, value);
  Upload upload;
  auto writer = stub.ClientStream(&ctx, &upload.response);
  EchoRequest req;
  for (int i = 0; i < messages; ++i) {
    req.set_payload(std::string(size, static_cast<char>('a' + i % 26)));
    if (!writer->Write(req)) break;
  }
  writer->WritesDone();
  upload.status = writer->Finish();
  return upload;
}

class MirroringTest : public ProxyTest {
 protected:
  // `n` sequential unary RPCs on one channel, each of which must succeed.
  void ExpectUnaryCallsSucceed(int n) {
    auto stub = MakeStub(proxy_port());
    for (int i = 0; i < n; ++i) {
      grpc::Status status = UnaryCall(*stub, 0);
      ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
    }
  }
  // Service "echo" (the router's) mirrors service "main" (over
  // `main_address`) to service "shadow" (over `mirror_address`) for
  // `percent` of RPCs.
  config::v1::Config MirrorConfig(const std::string& main_address,
                                  const std::string& mirror_address, uint32_t percent) {
    config::v1::Config config = EchoConfig({main_address});
    auto& services = *config.mutable_services();
    services["main"] = services["echo"];
    services["shadow"] = services["echo"];
    services["shadow"].mutable_load_balancer()->mutable_servers(0)->set_url(
        absl::StrCat("h2c://", mirror_address));
    config::v1::Mirroring* mirroring = services["echo"].mutable_mirroring();
    mirroring->set_service("main");
    config::v1::Mirror* mirror = mirroring->add_mirrors();
    mirror->set_name("shadow");
    mirror->set_percent(percent);
    return config;
  }
  config::v1::Mirroring& Mirroring(config::v1::Config& config) {
    return *(*config.mutable_services())["echo"].mutable_mirroring();
  }

  // Every copy strait started has ended (completed, cancelled or failed).
  bool AllCopiesEnded() {
    proxy::ProxyCounters c = server_->Stats();
    return c.mirror_copies_live == 0 &&
           c.mirror_copies_completed + c.mirror_copies_behind + c.mirror_copies_too_large +
                   c.mirror_copies_cancelled + c.mirror_copies_failed ==
               c.mirror_copies_started;
  }
};

// 100%: each of 20 unary RPCs (own metadata, payload, scripted trailers and
// status) reaches the mirror with the metadata, :authority and payload the
// main backend saw, and a grpc-timeout of the client's budget;
// the client's answer is the main backend's alone (its name, payload,
// echoed headers, trailers, status). A client stream's messages arrive at
// the mirror whole too.
TEST_F(MirroringTest, HundredPercentCopiesEveryRequestWhileTheClientSeesOnlyTheMain) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  TestBackend& main = *backends_[0];
  TestBackend& mirror = *backends_[1];
  StartProxy(MirrorConfig(main.address(), mirror.address(), 100));
  auto stub = MakeStub(proxy_port());

  constexpr int kRpcs = 20;
  for (int i = 0; i < kRpcs; ++i) {
    grpc::ClientContext ctx;
    std::chrono::system_clock::time_point deadline = In(absl::Seconds(30));
    ctx.set_deadline(deadline);
    ctx.AddMetadata("x-trace", absl::StrCat("trace-", i));
    ctx.AddMetadata("x-user-bin", std::string("\0\1\2", 3) + std::to_string(i));
    EchoRequest req;
    req.set_payload(absl::StrCat("payload-", i));
    req.set_echo_metadata(true);
    (*req.mutable_trailing_metadata())["x-trailer"] = absl::StrCat("t-", i);
    // Odd RPCs fail on purpose: a failure is the main backend's to give.
    if (i % 2 == 1) {
      req.set_status_code(static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
      req.set_status_message(absl::StrCat("scripted ", i));
    }
    EchoResponse resp;
    grpc::Status status = stub->Unary(&ctx, req, &resp);
    if (i % 2 == 1) {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << i;
      EXPECT_EQ(status.error_message(), absl::StrCat("scripted ", i));
    } else {
      ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
      EXPECT_EQ(resp.backend_name(), "main");
      EXPECT_EQ(resp.payload(), absl::StrCat("payload-", i));
    }
    auto echoed = ctx.GetServerInitialMetadata().find("x-trace");
    ASSERT_NE(echoed, ctx.GetServerInitialMetadata().end()) << i;
    EXPECT_EQ(std::string(echoed->second.data(), echoed->second.size()),
              absl::StrCat("trace-", i));
    auto trailer = ctx.GetServerTrailingMetadata().find("x-trailer");
    ASSERT_NE(trailer, ctx.GetServerTrailingMetadata().end()) << i;
    EXPECT_EQ(std::string(trailer->second.data(), trailer->second.size()),
              absl::StrCat("t-", i));

    ASSERT_TRUE(mirror.service().WaitForSeen(i + 1, kWait)) << i;
    EchoService::SeenRequest seen = mirror.service().last_seen();
    EchoService::SeenRequest at_main = main.service().last_seen();
    EXPECT_EQ(seen.method, "Unary");
    EXPECT_EQ(seen.first_payload, absl::StrCat("payload-", i));
    EXPECT_EQ(seen.metadata, at_main.metadata) << i;
    EXPECT_EQ(seen.metadata["x-trace"], absl::StrCat("trace-", i));
    EXPECT_EQ(seen.metadata["x-user-bin"], std::string("\0\1\2", 3) + std::to_string(i));
    EXPECT_EQ(seen.authority, at_main.authority);
    // grpc-timeout is the budget left: the backend's deadline is the
    // client's, give or take the time on the wire and its rounding.
    EXPECT_LT(seen.deadline, deadline + std::chrono::seconds(1)) << "grpc-timeout sent";
    EXPECT_GT(seen.deadline, deadline - std::chrono::seconds(1));
  }
  EXPECT_EQ(main.calls(), kRpcs);
  EXPECT_EQ(mirror.calls(), kRpcs);

  Upload upload = ClientStreamCall(*stub, 5, 1000, {{"x-upload", "yes"}});
  ASSERT_TRUE(upload.status.ok()) << upload.status.error_message();
  EXPECT_EQ(upload.response.backend_name(), "main");
  EXPECT_EQ(upload.response.messages_received(), 5);
  ASSERT_TRUE(mirror.service().WaitForSeen(kRpcs + 1, kWait));
  EchoService::SeenRequest seen = mirror.service().last_seen();
  EXPECT_EQ(seen.method, "ClientStream");
  EXPECT_EQ(seen.messages, 5);
  EXPECT_EQ(seen.bytes, 5000);
  EXPECT_EQ(seen.metadata["x-upload"], "yes");

  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  proxy::ProxyCounters c = server_->Stats();
  EXPECT_EQ(c.mirror_copies_started, static_cast<uint64_t>(kRpcs + 1));
  EXPECT_EQ(c.mirror_copies_completed, static_cast<uint64_t>(kRpcs + 1));
}

// A router timeout (strait's own deadline, the client set none) reaches the
// mirror as grpc-timeout, as it reaches the main service.
TEST_F(MirroringTest, ACopyCarriesStraitsDeadline) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  config::v1::Config config =
      MirrorConfig(backends_[0]->address(), backends_[1]->address(), 100);
  SetDuration((*config.mutable_routers())["echo"].mutable_timeout(), absl::Seconds(20));
  StartProxy(config);
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  std::chrono::system_clock::time_point deadline = In(absl::Seconds(20));
  EchoRequest req;
  EchoResponse resp;
  ASSERT_TRUE(stub->Unary(&ctx, req, &resp).ok());
  ASSERT_TRUE(backends_[1]->service().WaitForSeen(1, kWait));
  std::chrono::system_clock::time_point seen = backends_[1]->service().last_seen().deadline;
  EXPECT_LT(seen, deadline + std::chrono::seconds(1));
  EXPECT_GT(seen, deadline - std::chrono::seconds(1));
}

// 10% on one worker: the counter sampler copies exactly every tenth RPC,
// 100 of 1,000.
TEST_F(MirroringTest, TenPercentCopiesExactlyOneRpcInTen) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  StartProxy(MirrorConfig(backends_[0]->address(), backends_[1]->address(), 10),
             /*workers=*/1);
  ASSERT_NO_FATAL_FAILURE(ExpectUnaryCallsSucceed(1000));
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  proxy::ProxyCounters c = server_->Stats();
  EXPECT_EQ(c.mirror_copies_started, 100u);
  EXPECT_EQ(c.mirror_copies_completed, 100u);
  EXPECT_EQ(backends_[0]->calls(), 1000);
  EXPECT_EQ(backends_[1]->calls(), 100);
}

// A mirror may be any service but a mirroring one: here a weighted service
// over two load balancers, 1:1, which its wrr splits exactly.
TEST_F(MirroringTest, AMirrorThatIsAWeightedServiceSplitsItsCopies) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("left"));
  backends_.push_back(std::make_unique<TestBackend>("right"));
  config::v1::Config config =
      MirrorConfig(backends_[0]->address(), backends_[1]->address(), 100);
  auto& services = *config.mutable_services();
  services["right"] = services["shadow"];
  services["right"].mutable_load_balancer()->mutable_servers(0)->set_url(
      absl::StrCat("h2c://", backends_[2]->address()));
  services["left"] = services["shadow"];
  config::v1::Weighted* weighted = services["shadow"].mutable_weighted();
  weighted->add_services()->set_name("left");
  weighted->add_services()->set_name("right");
  StartProxy(config, /*workers=*/1);
  auto stub = MakeStub(proxy_port());
  for (int i = 0; i < 100; ++i) {
    grpc::Status status = UnaryCall(*stub, 0);
    ASSERT_TRUE(status.ok()) << i << ": " << status.error_message();
  }
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  EXPECT_EQ(server_->Stats().mirror_copies_completed, 100u);
  EXPECT_EQ(backends_[0]->calls(), 100);
  EXPECT_EQ(backends_[1]->calls(), 50);
  EXPECT_EQ(backends_[2]->calls(), 50);
}

// The mirror's answer is read and dropped as it comes: a 1.6 MiB server
// stream (25 windows' worth) from the mirror completes, the client getting
// only the main backend's.
TEST_F(MirroringTest, AMirrorsLongAnswerIsReadAndDropped) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  StartProxy(MirrorConfig(backends_[0]->address(), backends_[1]->address(), 100));
  auto stub = MakeStub(proxy_port());
  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(60)));
  EchoRequest req;
  req.set_response_count(100);
  req.set_response_size(16 * 1024);
  auto reader = stub->ServerStream(&ctx, req);
  EchoResponse resp;
  int received = 0;
  while (reader->Read(&resp)) {
    EXPECT_EQ(resp.backend_name(), "main");
    ++received;
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(received, 100);
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  EXPECT_EQ(server_->Stats().mirror_copies_completed, 1u);
}

// A frozen mirror (SIGSTOP: connections accepted by the kernel, nothing
// answered) holds every copy in its pool's queue; the main RPCs never
// notice.
TEST_F(MirroringTest, AFrozenMirrorFailsNoneOfAThousandRpcs) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  ChildBackend frozen("frozen");
  StartProxy(MirrorConfig(backends_[0]->address(), frozen.address(), 100));
  frozen.Freeze();
  ASSERT_NO_FATAL_FAILURE(ExpectUnaryCallsSucceed(1000));
  proxy::ProxyCounters c = server_->Stats();
  EXPECT_EQ(c.mirror_copies_started, 1000u);
  EXPECT_EQ(c.mirror_copies_completed, 0u);
  EXPECT_EQ(backends_[0]->calls(), 1000);
  frozen.Kill();
}

// A dead mirror (nothing listens): every copy fails to connect, is counted,
// and the main RPCs never notice.
TEST_F(MirroringTest, ADeadMirrorFailsNoneOfAThousandRpcs) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  ChildBackend dead("dead");
  std::string dead_address = dead.address();
  dead.Kill();
  StartProxy(MirrorConfig(backends_[0]->address(), dead_address, 100));
  ASSERT_NO_FATAL_FAILURE(ExpectUnaryCallsSucceed(1000));
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  proxy::ProxyCounters c = server_->Stats();
  EXPECT_EQ(c.mirror_copies_started, 1000u);
  EXPECT_EQ(c.mirror_copies_failed, 1000u);
}

// A 1 MiB upload, maxBodySize at its default (65,535): the main RPC gets
// every byte; the copy is cancelled once it outgrows the limit, so the
// mirror never sees the request end. (A first RPC opens the mirror's
// connection, so the copy's stream is open when the upload starts.)
TEST_F(MirroringTest, AnUploadLargerThanMaxBodySizeCancelsOnlyTheCopy) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  TestBackend& mirror = *backends_[1];
  StartProxy(MirrorConfig(backends_[0]->address(), mirror.address(), 100));
  auto stub = MakeStub(proxy_port());
  ASSERT_TRUE(UnaryCall(*stub, 0).ok());
  ASSERT_TRUE(mirror.service().WaitForSeen(1, kWait));

  Upload upload = ClientStreamCall(*stub, 64, 16 * 1024);
  ASSERT_TRUE(upload.status.ok()) << upload.status.error_message();
  EXPECT_EQ(upload.response.backend_name(), "main");
  EXPECT_EQ(upload.response.bytes_received(), 64 * 16 * 1024);
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  proxy::ProxyCounters c = server_->Stats();
  EXPECT_EQ(c.mirror_copies_started, 2u);
  EXPECT_EQ(c.mirror_copies_too_large, 1u);
  EXPECT_EQ(c.mirror_copies_behind, 0u);
  EXPECT_EQ(mirror.service().seen(), 1) << "the cut copy never ended its request";
}

// maxBodySize 16 MiB, mirror frozen: the copy's stream never opens, so its
// unsent bytes pass one stream window and it is dropped, while the 1 MiB
// upload goes through the main service at its own pace.
TEST_F(MirroringTest, ACopyThatFallsBehindIsCancelledAndTheMainUploadCompletes) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  ChildBackend frozen("frozen");
  config::v1::Config config = MirrorConfig(backends_[0]->address(), frozen.address(), 100);
  Mirroring(config).set_max_body_size(16 << 20);
  StartProxy(config);
  frozen.Freeze();
  auto stub = MakeStub(proxy_port());
  Upload upload = ClientStreamCall(*stub, 64, 16 * 1024);
  ASSERT_TRUE(upload.status.ok()) << upload.status.error_message();
  EXPECT_EQ(upload.response.bytes_received(), 64 * 16 * 1024);
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  proxy::ProxyCounters c = server_->Stats();
  EXPECT_EQ(c.mirror_copies_started, 1u);
  EXPECT_EQ(c.mirror_copies_behind, 1u);
  EXPECT_EQ(c.mirror_copies_too_large, 0u);
  frozen.Kill();
}

// The client half-closes, then cancels, a bidi stream both backends hold
// open: strait resets
// the copy too (the mirror backend observes the cancellation), and counts
// it as cancelled with its RPC.
TEST_F(MirroringTest, AClientCancelCancelsTheCopy) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  TestBackend& main = *backends_[0];
  TestBackend& mirror = *backends_[1];
  StartProxy(MirrorConfig(main.address(), mirror.address(), 100));
  auto stub = MakeStub(proxy_port());

  grpc::ClientContext ctx;
  ctx.set_deadline(In(absl::Seconds(60)));
  auto stream = stub->Bidi(&ctx);
  EchoRequest req;
  req.set_wait_for_cancel(true);
  ASSERT_TRUE(stream->Write(req));
  // A whole request: only the cancel ends the copy.
  ASSERT_TRUE(stream->WritesDone());
  ASSERT_TRUE(main.WaitForCalls(1, kWait));
  ASSERT_TRUE(mirror.WaitForCalls(1, kWait));
  ctx.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);

  EXPECT_TRUE(mirror.WaitForCancelled(1, kWait));
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  EXPECT_EQ(server_->Stats().mirror_copies_cancelled, 1u);
}

// mirrorBody: false: the mirror gets the headers (and metadata) of a
// 3-message client stream, and an empty body.
TEST_F(MirroringTest, MirrorBodyFalseSendsTheHeadersAndAnEmptyBody) {
  backends_.push_back(std::make_unique<TestBackend>("main"));
  backends_.push_back(std::make_unique<TestBackend>("mirror"));
  TestBackend& mirror = *backends_[1];
  config::v1::Config config = MirrorConfig(backends_[0]->address(), mirror.address(), 100);
  Mirroring(config).set_mirror_body(false);
  StartProxy(config);
  auto stub = MakeStub(proxy_port());

  Upload upload = ClientStreamCall(*stub, 3, 100, {{"x-only", "headers"}});
  ASSERT_TRUE(upload.status.ok()) << upload.status.error_message();
  EXPECT_EQ(upload.response.messages_received(), 3);
  ASSERT_TRUE(mirror.service().WaitForSeen(1, kWait));
  EchoService::SeenRequest seen = mirror.service().last_seen();
  EXPECT_EQ(seen.method, "ClientStream");
  EXPECT_EQ(seen.metadata["x-only"], "headers");
  EXPECT_EQ(seen.messages, 0);
  EXPECT_EQ(seen.bytes, 0);
  ASSERT_TRUE(Eventually([&] { return AllCopiesEnded(); }));
  EXPECT_EQ(server_->Stats().mirror_copies_completed, 1u);
}

}  // namespace
}  // namespace strait::testing
