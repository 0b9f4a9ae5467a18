// Tests tests/support/echo_service.cc, test_backend.cc and echo_client.cc by
// talking straight to a TestBackend: every scripted behaviour the proxy
// tests rely on is proven here first, without strait in between.
#include "tests/support/echo_service.h"

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/echo_client.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr absl::Duration kWait = absl::Seconds(20);

// Every call gets a deadline, so a broken behaviour fails instead of hanging.
void SetDeadline(grpc::ClientContext& ctx, absl::Duration d = kWait) {
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + d));
}

std::string Str(grpc::string_ref s) { return std::string(s.data(), s.size()); }

std::multimap<std::string, std::string> Copy(
    const std::multimap<grpc::string_ref, grpc::string_ref>& m) {
  std::multimap<std::string, std::string> out;
  for (const auto& [k, v] : m) out.emplace(Str(k), Str(v));
  return out;
}

class EchoServiceTest : public ::testing::Test {
 protected:
  TestBackend backend_{"alpha"};
  std::unique_ptr<test::v1::Echo::Stub> stub_ = MakeStub(backend_.port());
};

TEST_F(EchoServiceTest, BackendListensOnItsAddress) {
  EXPECT_GT(backend_.port(), 0);
  EXPECT_EQ(backend_.name(), "alpha");
  EXPECT_EQ(backend_.address(), absl::StrCat("127.0.0.1:", backend_.port()));
}

TEST_F(EchoServiceTest, UnaryEchoesPayloadAndNamesTheBackend) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  ctx.AddMetadata("x-seen", "yes");
  EchoRequest req;
  req.set_payload("hello");
  EchoResponse resp;
  ASSERT_TRUE(stub_->Unary(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.payload(), "hello");
  EXPECT_EQ(resp.backend_name(), "alpha");
  EXPECT_EQ(resp.request_metadata().at("x-seen"), "yes");
  EXPECT_EQ(resp.authority(), backend_.address());
  EXPECT_THAT(resp.peer(), HasSubstr("127.0.0.1:"));
  EXPECT_EQ(backend_.calls(), 1);
  EXPECT_EQ(backend_.cancelled(), 0);
}

TEST_F(EchoServiceTest, UnaryResponseSizeAndLargeMessages) {
  // 20 MiB each way: above gRPC's 4 MiB default, within the 64 MiB set on
  // both the channel and the backend.
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_payload(std::string(20 << 20, 'p'));
  req.set_response_size(20 << 20);
  EchoResponse resp;
  grpc::Status status = stub_->Unary(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(resp.payload(), std::string(20 << 20, 'u'));
}

TEST_F(EchoServiceTest, ServerStreamSendsCountResponsesOfSize) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_response_count(5);
  req.set_response_size(1000);
  auto reader = stub_->ServerStream(&ctx, req);
  EchoResponse resp;
  int n = 0;
  while (reader->Read(&resp)) {
    EXPECT_EQ(resp.index(), n++);
    EXPECT_EQ(resp.payload().size(), 1000u);
    EXPECT_EQ(resp.backend_name(), "alpha");
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(n, 5);
}

TEST_F(EchoServiceTest, ClientStreamCountsMessagesAndBytes) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoResponse resp;
  auto writer = stub_->ClientStream(&ctx, &resp);
  EchoRequest req;
  for (int i = 0; i < 100; ++i) {
    req.set_payload(std::string(i, 'c'));
    ASSERT_TRUE(writer->Write(req));
  }
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(resp.messages_received(), 100);
  EXPECT_EQ(resp.bytes_received(), 99 * 100 / 2);
  EXPECT_EQ(resp.backend_name(), "alpha");
}

TEST_F(EchoServiceTest, BidiEchoesThousandMessagesInOrder) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto stream = stub_->Bidi(&ctx);
  for (int i = 0; i < 1000; ++i) {
    EchoRequest req;
    req.set_payload(absl::StrCat("m", i));
    ASSERT_TRUE(stream->Write(req));
    EchoResponse resp;
    ASSERT_TRUE(stream->Read(&resp)) << i;  // one answer per message, as it arrives
    EXPECT_EQ(resp.index(), i);
    EXPECT_EQ(resp.payload(), absl::StrCat("m", i));
  }
  ASSERT_TRUE(stream->WritesDone());
  EchoResponse extra;
  EXPECT_FALSE(stream->Read(&extra));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(EchoServiceTest, ScriptedStatusAndMetadata) {
  const std::string binary("\x00\xff\x01 bin", 7);
  const std::string message = "наверно ✓ — nicht gefunden";  // non-ASCII UTF-8
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_status_code(grpc::StatusCode::NOT_FOUND);
  req.set_status_message(message);
  (*req.mutable_initial_metadata())["x-head"] = "h";
  (*req.mutable_initial_metadata())["x-head-bin"] = binary;
  (*req.mutable_trailing_metadata())["x-trail"] = "t";
  (*req.mutable_trailing_metadata())["x-trail-bin"] = binary;
  EchoResponse resp;
  grpc::Status status = stub_->Unary(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), message);
  auto initial = Copy(ctx.GetServerInitialMetadata());
  EXPECT_EQ(initial.find("x-head")->second, "h");
  EXPECT_EQ(initial.find("x-head-bin")->second, binary);
  auto trailing = Copy(ctx.GetServerTrailingMetadata());
  EXPECT_EQ(trailing.find("x-trail")->second, "t");
  EXPECT_EQ(trailing.find("x-trail-bin")->second, binary);
}

TEST_F(EchoServiceTest, EveryStatusCodeComesBack) {
  for (int code = 1; code <= 16; ++code) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    EchoRequest req;
    req.set_status_code(code);
    req.set_status_message(absl::StrCat("code ", code));
    EchoResponse resp;
    grpc::Status status = stub_->Unary(&ctx, req, &resp);
    EXPECT_EQ(status.error_code(), code);
    EXPECT_EQ(status.error_message(), absl::StrCat("code ", code));
  }
}

TEST_F(EchoServiceTest, StreamsFinishWithTheFirstMessagesScript) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  auto stream = stub_->Bidi(&ctx);
  EchoRequest req;
  req.set_status_code(grpc::StatusCode::ABORTED);
  req.set_status_message("from the first");
  (*req.mutable_trailing_metadata())["x-t"] = "1";
  ASSERT_TRUE(stream->Write(req));
  EchoResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_TRUE(stream->WritesDone());
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(status.error_message(), "from the first");
  EXPECT_EQ(Copy(ctx.GetServerTrailingMetadata()).count("x-t"), 1u);
}

TEST_F(EchoServiceTest, EchoMetadataCopiesOnlyXKeys) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  ctx.AddMetadata("x-one", "1");
  ctx.AddMetadata("x-two-bin", std::string("\x01\x02", 2));
  ctx.AddMetadata("other", "no");
  EchoRequest req;
  req.set_echo_metadata(true);
  EchoResponse resp;
  ASSERT_TRUE(stub_->Unary(&ctx, req, &resp).ok());
  std::multimap<std::string, std::string> echoed;
  for (const auto& [k, v] : Copy(ctx.GetServerInitialMetadata())) {
    if (k != "content-type" && !k.starts_with("grpc-")) echoed.emplace(k, v);
  }
  EXPECT_THAT(echoed, UnorderedElementsAre(Pair("x-one", "1"),
                                           Pair("x-two-bin", std::string("\x01\x02", 2))));
}

TEST_F(EchoServiceTest, SleepDelaysTheAnswer) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_sleep_ms(200);
  EchoResponse resp;
  absl::Time start = absl::Now();
  ASSERT_TRUE(stub_->Unary(&ctx, req, &resp).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(200));
}

TEST_F(EchoServiceTest, DeadlineEndsASleepAndCountsAsCancelled) {
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Milliseconds(100));
  EchoRequest req;
  req.set_sleep_ms(10'000);
  EchoResponse resp;
  EXPECT_EQ(stub_->Unary(&ctx, req, &resp).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(backend_.WaitForCancelled(1, kWait));
}

TEST_F(EchoServiceTest, WaitForCancelObservesTheClientsCancel) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_response_count(1);
  req.set_wait_for_cancel(true);
  auto reader = stub_->ServerStream(&ctx, req);
  EchoResponse resp;
  ASSERT_TRUE(reader->Read(&resp));  // the call is up; the handler now waits
  EXPECT_EQ(backend_.cancelled(), 0);
  ctx.TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(backend_.WaitForCancelled(1, kWait));
  EXPECT_EQ(backend_.cancelled(), 1);
}

TEST_F(EchoServiceTest, CancelDuringClientStreamIsObserved) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoResponse resp;
  auto writer = stub_->ClientStream(&ctx, &resp);
  EchoRequest req;
  req.set_payload("x");
  ASSERT_TRUE(writer->Write(req));
  ASSERT_TRUE(backend_.WaitForCalls(1, kWait));
  ctx.TryCancel();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(backend_.WaitForCancelled(1, kWait));
}

TEST_F(EchoServiceTest, GracefulShutdownLetsACallFinish) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_sleep_ms(300);
  EchoResponse resp;
  grpc::Status status;
  std::thread call([&] { status = stub_->Unary(&ctx, req, &resp); });
  ASSERT_TRUE(backend_.WaitForCalls(1, kWait));
  backend_.Shutdown(absl::Seconds(10));
  call.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(backend_.cancelled(), 0);
}

TEST_F(EchoServiceTest, KillCancelsCallsInFlight) {
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  EchoRequest req;
  req.set_wait_for_cancel(true);
  EchoResponse resp;
  grpc::Status status;
  std::thread call([&] { status = stub_->Unary(&ctx, req, &resp); });
  ASSERT_TRUE(backend_.WaitForCalls(1, kWait));
  absl::Time start = absl::Now();
  backend_.Kill();
  call.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(backend_.cancelled(), 1);
}

TEST_F(EchoServiceTest, RestartServesAgainOnTheSamePort) {
  int port = backend_.port();
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    EchoResponse resp;
    ASSERT_TRUE(stub_->Unary(&ctx, EchoRequest(), &resp).ok());
  }
  backend_.Kill();
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx, absl::Seconds(1));
    EchoResponse resp;
    EXPECT_FALSE(stub_->Unary(&ctx, EchoRequest(), &resp).ok());
  }
  backend_.Restart();
  EXPECT_EQ(backend_.port(), port);
  EXPECT_EQ(backend_.calls(), 0);  // a fresh service
  grpc::ClientContext ctx;
  SetDeadline(ctx);
  ctx.set_wait_for_ready(true);  // the channel reconnects on its own schedule
  EchoResponse resp;
  ASSERT_TRUE(MakeStub(port)->Unary(&ctx, EchoRequest(), &resp).ok());
  EXPECT_EQ(resp.backend_name(), "alpha");
  EXPECT_EQ(backend_.calls(), 1);
}

TEST_F(EchoServiceTest, EachChannelHasItsOwnConnection) {
  auto peer_of = [&](test::v1::Echo::Stub& stub) {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    EchoResponse resp;
    EXPECT_TRUE(stub.Unary(&ctx, EchoRequest(), &resp).ok());
    return resp.peer();
  };
  auto other = MakeStub(backend_.port());
  EXPECT_EQ(peer_of(*stub_), peer_of(*stub_));
  EXPECT_NE(peer_of(*stub_), peer_of(*other));
}

TEST(ChildBackendTest, ServesUntilKilled) {
  ChildBackend child("child");
  auto stub = MakeStub(child.port());
  {
    grpc::ClientContext ctx;
    SetDeadline(ctx);
    EchoResponse resp;
    ASSERT_TRUE(stub->Unary(&ctx, EchoRequest(), &resp).ok());
    EXPECT_EQ(resp.backend_name(), "child");
  }
  child.Kill();
  grpc::ClientContext ctx;
  SetDeadline(ctx, absl::Seconds(2));
  EchoResponse resp;
  EXPECT_EQ(stub->Unary(&ctx, EchoRequest(), &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace strait::testing
