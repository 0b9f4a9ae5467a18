#include "h2/flood_guard.h"

#include <gtest/gtest.h>

namespace strait::h2 {
namespace {

nghttp2_frame_hd Frame(uint8_t type, size_t length = 8, uint8_t flags = 0) {
  nghttp2_frame_hd hd{};
  hd.type = type;
  hd.length = length;
  hd.flags = flags;
  hd.stream_id = 1;
  return hd;
}

TEST(TokenBucketTest, AllowsTheBurstThenRefillsOverTime) {
  TokenBucket bucket(3, 1);
  absl::Time t = absl::Now();
  EXPECT_TRUE(bucket.Take(t));
  EXPECT_TRUE(bucket.Take(t));
  EXPECT_TRUE(bucket.Take(t));
  EXPECT_FALSE(bucket.Take(t));
  EXPECT_TRUE(bucket.Take(t + absl::Seconds(1)));
  EXPECT_FALSE(bucket.Take(t + absl::Seconds(1)));
}

TEST(FloodGuardTest, PingFloodIsCaughtButOrdinaryTrafficIsNot) {
  FloodGuard guard;
  for (int i = 0; i < 10000; ++i) {
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_HEADERS)), FloodGuard::Verdict::kOk);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 100)), FloodGuard::Verdict::kOk);
  }
  FloodGuard::Verdict last = FloodGuard::Verdict::kOk;
  for (int i = 0; i < 500 && last == FloodGuard::Verdict::kOk; ++i) {
    last = guard.OnFrame(Frame(NGHTTP2_PING));
  }
  EXPECT_EQ(last, FloodGuard::Verdict::kFlood);
}

TEST(FloodGuardTest, EmptyDataCountsOnlyWithoutEndStream) {
  FloodGuard guard;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 0, NGHTTP2_FLAG_END_STREAM)),
              FloodGuard::Verdict::kOk);
  }
  FloodGuard::Verdict last = FloodGuard::Verdict::kOk;
  for (int i = 0; i < 500 && last == FloodGuard::Verdict::kOk; ++i) {
    last = guard.OnFrame(Frame(NGHTTP2_DATA, 0));
  }
  EXPECT_EQ(last, FloodGuard::Verdict::kFlood);
}

TEST(FloodGuardTest, ResetsSettingsAndOversizedHeadersHaveBudgets) {
  FloodGuard guard;
  auto floods = [&](auto event) {
    for (int i = 0; i < 5000; ++i) {
      if (event() == FloodGuard::Verdict::kFlood) return true;
    }
    return false;
  };
  EXPECT_TRUE(floods([&] { return guard.OnFrame(Frame(NGHTTP2_RST_STREAM)); }));
  EXPECT_TRUE(floods([&] { return guard.OnFrame(Frame(NGHTTP2_SETTINGS)); }));
  EXPECT_TRUE(floods([&] { return guard.OnOversizedHeaders(); }));
}

}  // namespace
}  // namespace strait::h2
