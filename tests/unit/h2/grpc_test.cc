#include "h2/grpc.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

namespace strait::h2 {
namespace {

TEST(GrpcTest, StatusNames) {
  EXPECT_EQ(GrpcStatusName(GrpcStatus::kOk), "OK");
  EXPECT_EQ(GrpcStatusName(GrpcStatus::kDeadlineExceeded), "DEADLINE_EXCEEDED");
  EXPECT_EQ(GrpcStatusName(GrpcStatus::kUnavailable), "UNAVAILABLE");
  EXPECT_EQ(GrpcStatusName(GrpcStatus::kUnauthenticated), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcStatusName(static_cast<GrpcStatus>(17)), "UNKNOWN_STATUS");
}

TEST(GrpcTest, RstCodesMapAsTheSpecSays) {
  EXPECT_EQ(StatusForRstCode(NGHTTP2_NO_ERROR), GrpcStatus::kInternal);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_PROTOCOL_ERROR), GrpcStatus::kInternal);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_INTERNAL_ERROR), GrpcStatus::kInternal);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_FLOW_CONTROL_ERROR), GrpcStatus::kInternal);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_REFUSED_STREAM), GrpcStatus::kUnavailable);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_CANCEL), GrpcStatus::kCancelled);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_ENHANCE_YOUR_CALM), GrpcStatus::kResourceExhausted);
  EXPECT_EQ(StatusForRstCode(NGHTTP2_INADEQUATE_SECURITY), GrpcStatus::kPermissionDenied);
  EXPECT_EQ(StatusForRstCode(0x77), GrpcStatus::kInternal);
}

TEST(GrpcTest, PercentEncodingRoundTrips) {
  for (std::string m : {std::string("plain"), std::string("déjà vu ✓"), std::string("100%"),
                        std::string("tab\there\nnewline"), std::string("\x00\x7f\xff", 3)}) {
    std::string encoded = PercentEncodeGrpcMessage(m);
    for (unsigned char c : encoded) {
      EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << "raw byte " << int(c) << " in " << encoded;
    }
    EXPECT_EQ(PercentDecodeGrpcMessage(encoded), m);
  }
  EXPECT_EQ(PercentEncodeGrpcMessage("a%b"), "a%25b");
  EXPECT_EQ(PercentEncodeGrpcMessage("é"), "%C3%A9");
  EXPECT_EQ(PercentDecodeGrpcMessage("%c3%a9"), "é");
  EXPECT_EQ(PercentDecodeGrpcMessage("bad %zz and %4"), "bad %zz and %4");
}

TEST(GrpcTest, ParsesEveryTimeoutUnit) {
  EXPECT_EQ(ParseGrpcTimeout("2H"), absl::Hours(2));
  EXPECT_EQ(ParseGrpcTimeout("3M"), absl::Minutes(3));
  EXPECT_EQ(ParseGrpcTimeout("4S"), absl::Seconds(4));
  EXPECT_EQ(ParseGrpcTimeout("500m"), absl::Milliseconds(500));
  EXPECT_EQ(ParseGrpcTimeout("7u"), absl::Microseconds(7));
  EXPECT_EQ(ParseGrpcTimeout("99999999n"), absl::Nanoseconds(99999999));
}

TEST(GrpcTest, RejectsMalformedTimeouts) {
  for (const char* bad : {"", "S", "100", "123456789S", "10x", "-5S", "1.5S", " 5S"}) {
    EXPECT_FALSE(ParseGrpcTimeout(bad).has_value()) << bad;
  }
}

TEST(GrpcTest, FormattedTimeoutFitsNeverExceedsAndNeverVanishes) {
  EXPECT_EQ(FormatGrpcTimeout(absl::ZeroDuration()), "1n");
  EXPECT_EQ(FormatGrpcTimeout(-absl::Seconds(1)), "1n");
  EXPECT_EQ(FormatGrpcTimeout(absl::Nanoseconds(5)), "5n");
  EXPECT_EQ(FormatGrpcTimeout(absl::Milliseconds(250)), "250000u");
  for (absl::Duration d : {absl::Nanoseconds(1), absl::Microseconds(123), absl::Milliseconds(1500),
                           absl::Seconds(59), absl::Minutes(90), absl::Hours(1000)}) {
    std::string text = FormatGrpcTimeout(d);
    EXPECT_LE(text.size(), 9u) << text;
    std::optional<absl::Duration> back = ParseGrpcTimeout(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_LE(*back, d) << text;
    EXPECT_GT(*back, absl::ZeroDuration()) << text;
    EXPECT_GE(*back, d * 0.999) << text;
  }
}

}  // namespace
}  // namespace strait::h2
