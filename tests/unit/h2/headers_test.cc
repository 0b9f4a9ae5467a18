#include "h2/headers.h"

#include <gtest/gtest.h>

namespace strait::h2 {
namespace {

TEST(HeadersTest, ConnectionSpecificFieldsAreRecognized) {
  for (const char* name : {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                           "upgrade"}) {
    EXPECT_TRUE(IsConnectionSpecific(name, "anything")) << name;
  }
  EXPECT_TRUE(IsConnectionSpecific("te", "gzip"));
  EXPECT_FALSE(IsConnectionSpecific("te", "trailers"));  // gRPC needs this one
  EXPECT_FALSE(IsConnectionSpecific("content-type", "application/grpc"));
  EXPECT_FALSE(IsConnectionSpecific("grpc-timeout", "1S"));
}

TEST(HeadersTest, NvViewsPointAtTheListWithoutCopying) {
  HeaderList headers = {{":status", "200"}, {"x-bin", std::string("\0\1", 2)}};
  std::vector<nghttp2_nv> nv = ToNv(headers);
  ASSERT_EQ(nv.size(), 2u);
  EXPECT_EQ(nv[1].valuelen, 2u);
  EXPECT_EQ(reinterpret_cast<const char*>(nv[1].value), headers[1].value.data());
  EXPECT_EQ(HeaderListSize(headers), (7 + 3 + 32) + (5 + 2 + 32));
}

}  // namespace
}  // namespace strait::h2
