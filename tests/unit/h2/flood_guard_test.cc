#include "h2/flood_guard.h"

#include <gtest/gtest.h>

namespace strait::h2 {
namespace {

using Offence = FloodGuard::Offence;

nghttp2_frame_hd Frame(uint8_t type, size_t length = 8, uint8_t flags = 0) {
  nghttp2_frame_hd hd{};
  hd.type = type;
  hd.length = length;
  hd.flags = flags;
  hd.stream_id = 1;
  return hd;
}

// How many calls of `event` pass before one is an offence (the limit + 1),
// or -1 if none of `tries` is.
template <typename Event>
int FirstOffence(Event event, int tries) {
  for (int i = 1; i <= tries; ++i) {
    if (event() != Offence::kNone) return i;
  }
  return -1;
}

TEST(FloodGuardTest, NoFrameRateBudget) {
  // What real stacks send at any rate: PINGs (grpc-go's BDP estimator),
  // SETTINGS, RST_STREAM of forwarded streams, headers and data.
  FloodGuard guard;
  for (int i = 0; i < 100000; ++i) {
    guard.OnStreamOpened();
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_HEADERS, 40)), Offence::kNone);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 100)), Offence::kNone);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_PING)), Offence::kNone);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_SETTINGS, 0)), Offence::kNone);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_RST_STREAM, 4)), Offence::kNone);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 0, NGHTTP2_FLAG_END_STREAM)), Offence::kNone);
  }
}

TEST(FloodGuardTest, ConsecutiveEmptyFramesHoldThenANonEmptyOneRefills) {
  FloodGuard guard;
  const int limit = FloodGuard::kMaxConsecutiveEmptyFrames;
  for (uint8_t type : {NGHTTP2_DATA, NGHTTP2_HEADERS, NGHTTP2_CONTINUATION}) {
    FloodGuard g;
    EXPECT_EQ(FirstOffence([&] { return g.OnFrame(Frame(type, 0)); }, 10 * limit), limit + 1)
        << "frame type " << int(type);
  }
  // limit empties, a frame with payload, limit empties again: never an offence.
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < limit; ++i) ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 0)), Offence::kNone);
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 1)), Offence::kNone);
  }
  // END_STREAM on an empty DATA frame ends a stream: not counted.
  for (int i = 0; i < 10 * limit; ++i) {
    ASSERT_EQ(guard.OnFrame(Frame(NGHTTP2_DATA, 0, NGHTTP2_FLAG_END_STREAM)), Offence::kNone);
  }
  EXPECT_EQ(FirstOffence([&] { return guard.OnFrame(Frame(NGHTTP2_DATA, 0)); }, 10 * limit),
            limit + 1);
  EXPECT_STREQ(FloodGuard::OffenceName(Offence::kEmptyFrames), "empty_frames");
}

TEST(FloodGuardTest, PrematureResetsNeedAMinimumAndHalfOfAllStreams) {
  FloodGuard attack;
  auto premature = [&] {
    attack.OnStreamOpened();
    return attack.OnPrematureReset();
  };
  EXPECT_EQ(FirstOffence(premature, 10000), int(FloodGuard::kMinPrematureResets));

  // One premature reset in three streams holds forever: the ratio, not
  // the count, decides.
  FloodGuard mixed;
  for (int i = 0; i < 10000; ++i) {
    mixed.OnStreamOpened();
    mixed.OnStreamOpened();
    ASSERT_EQ(mixed.OnPrematureReset(), Offence::kNone) << i;
    mixed.OnStreamOpened();
  }
  // Then only premature resets: they catch up with half of all streams.
  int extra = FirstOffence([&] {
    mixed.OnStreamOpened();
    return mixed.OnPrematureReset();
  }, 100000);
  // 10000 premature of 30000 streams; each attack stream adds one to both:
  // 10000 + n >= (30000 + n) / 2 when n = 10000.
  EXPECT_EQ(extra, 10000);
}

TEST(FloodGuardTest, WindowUpdatesAreBoundedByDataSentAndStreams) {
  FloodGuard guard;
  auto update = [&] { return guard.OnFrame(Frame(NGHTTP2_WINDOW_UPDATE, 4)); };
  // With nothing sent yet: the slack.
  EXPECT_EQ(FirstOffence(update, 100000), int(FloodGuard::kWindowUpdateSlack) + 1);

  // An honest receiver: a stream and a connection update per DATA frame,
  // and window growth per stream; the budget refills as strait sends.
  FloodGuard reader;
  for (int s = 0; s < 100; ++s) {
    reader.OnStreamOpened();
    for (uint64_t i = 0; i < FloodGuard::kWindowUpdatesPerStream; ++i) {
      ASSERT_EQ(reader.OnFrame(Frame(NGHTTP2_WINDOW_UPDATE, 4)), Offence::kNone);
    }
    for (int d = 0; d < 1000; ++d) {
      reader.OnDataSent();
      ASSERT_EQ(reader.OnFrame(Frame(NGHTTP2_WINDOW_UPDATE, 4)), Offence::kNone);
      ASSERT_EQ(reader.OnFrame(Frame(NGHTTP2_WINDOW_UPDATE, 4)), Offence::kNone);
    }
  }
  // Past what strait sent, only the slack is left.
  EXPECT_EQ(FirstOffence([&] { return reader.OnFrame(Frame(NGHTTP2_WINDOW_UPDATE, 4)); },
                         100000),
            int(FloodGuard::kWindowUpdateSlack) + 1);
}

TEST(FloodGuardTest, PriorityFramesAreBoundedByStreams) {
  FloodGuard guard;
  auto priority = [&] { return guard.OnFrame(Frame(NGHTTP2_PRIORITY, 5)); };
  EXPECT_EQ(FirstOffence(priority, 100000), int(FloodGuard::kPrioritySlack) + 1);
  FloodGuard browser;
  for (int s = 0; s < 1000; ++s) {
    browser.OnStreamOpened();
    ASSERT_EQ(browser.OnFrame(Frame(NGHTTP2_PRIORITY, 5)), Offence::kNone);
    ASSERT_EQ(browser.OnFrame(Frame(NGHTTP2_PRIORITY, 5)), Offence::kNone);
  }
}

TEST(FloodGuardTest, OversizedHeadersEndTheConnectionOnlyWhenMostStreamsOffend) {
  FloodGuard guard;
  // One oversized list in three streams: each fails its own RPC only.
  for (int i = 0; i < 1000; ++i) {
    guard.OnStreamOpened();
    guard.OnStreamOpened();
    guard.OnStreamOpened();
    ASSERT_EQ(guard.OnOversizedHeaders(), Offence::kNone);
  }
  FloodGuard offender;
  EXPECT_EQ(FirstOffence([&] {
              offender.OnStreamOpened();
              return offender.OnOversizedHeaders();
            }, 1000),
            int(FloodGuard::kMinOversizedHeaders));
}

}  // namespace
}  // namespace strait::h2
