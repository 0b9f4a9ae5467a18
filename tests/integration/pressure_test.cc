// Memory bounded by windows, read off the real process at a moment when it
// cannot change: every stream of a client that grants no window is pinned.
// (The same promise under moving traffic, 1 GiB to slow readers with RSS
// sampled, is a bench: bench/memory.sh.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/strait_process.h"
#include "tests/integration/warm_strait.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

class PressureTest : public WarmStraitTest {};

// 100 response streams whose client never sends WINDOW_UPDATE, each asking
// for 6.4 MB: strait holds at most one upstream stream window (64 KiB) for
// each (docs/operations.md, "Memory"), not what the backend would send, while a
// bystander's RPCs go through.
TEST_F(PressureTest, AZeroWindowClientPinsNoMoreThanItsStreamWindows) {
  constexpr int kStreams = 100;
  auto stalled = RawH2Client::Connect(strait_->port("web"), {.window_updates = false});
  ASSERT_TRUE(stalled.ok());
  EchoRequest flood;
  flood.set_response_count(100);
  flood.set_response_size(64 * 1024);
  for (int i = 0; i < kStreams; ++i) {
    (*stalled)->SubmitGrpc("/strait.test.v1.Echo/ServerStream", flood.SerializeAsString());
  }
  ASSERT_TRUE((*stalled)->RunUntil([&] { return (*stalled)->body_bytes() == 65535; }));
  auto stub = MakeStub(strait_->port("web"));
  for (int i = 0; i < 20; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest req;
    req.set_response_size(kMiB);
    EchoResponse resp;
    ASSERT_TRUE(stub->Unary(&ctx, req, &resp).ok()) << i;
    EXPECT_EQ(resp.payload().size(), kMiB);
  }
  EXPECT_EQ((*stalled)->body_bytes(), 65535u);
  // Nothing moves now: strait holds what the pinned streams pin.
  size_t pinned = strait_->ResidentBytes();
  std::cout << "zero_window_client: strait RSS baseline " << baseline_ / kMiB
            << " MiB, with the streams pinned " << pinned / kMiB << " MiB\n";
  // 100 x 64 KiB of response bytes, plus allocator and buffer slack.
  EXPECT_LT(pinned, baseline_ + kStreams * 64 * 1024 + 16 * kMiB);
}

}  // namespace
}  // namespace strait::testing
