#include "net/address.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace strait::net {
namespace {

using ::testing::HasSubstr;

TEST(AddressTest, ParsesHostPortForms) {
  auto v4 = ParseHostPort("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->host, "127.0.0.1");
  EXPECT_EQ(v4->port, 8080);
  auto any = ParseHostPort(":80");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "");
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(FormatHostPort(*v6), "[::1]:0");
  EXPECT_TRUE(ParseHostPort("localhost:65535").ok());
}

TEST(AddressTest, HostPortErrorsSayWhatIsWrong) {
  EXPECT_THAT(ParseHostPort("").status().message(), HasSubstr("empty"));
  EXPECT_THAT(ParseHostPort("localhost").status().message(), HasSubstr("missing port"));
  EXPECT_THAT(ParseHostPort("a:65536").status().message(), HasSubstr("0..65535"));
  EXPECT_THAT(ParseHostPort("a:http").status().message(), HasSubstr("0..65535"));
  EXPECT_THAT(ParseHostPort("[::1:80").status().message(), HasSubstr("unbalanced"));
  EXPECT_THAT(ParseHostPort("::1:80").status().message(), HasSubstr("brackets"));
}

TEST(AddressTest, ServerUrls) {
  auto url = ParseServerUrl("h2c://backend.local:50051");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->scheme, "h2c");
  EXPECT_EQ(url->host_port.host, "backend.local");
  EXPECT_EQ(url->host_port.port, 50051);
  EXPECT_FALSE(url->tls());
  EXPECT_TRUE(ParseServerUrl("h2c://[::1]:1/").ok());
  auto https = ParseServerUrl("https://10.0.0.7:443");
  ASSERT_TRUE(https.ok()) << https.status();
  EXPECT_TRUE(https->tls());
  EXPECT_EQ(https->host_port.host, "10.0.0.7");
  EXPECT_THAT(ParseServerUrl("https://a").status().message(), HasSubstr("missing port"));
  EXPECT_THAT(ParseServerUrl("HTTPS://a:1").status().message(),
              HasSubstr("scheme must be h2c or https"));
  EXPECT_THAT(ParseServerUrl("http://a:1").status().message(), HasSubstr("scheme must be h2c"));
  EXPECT_THAT(ParseServerUrl("a:1").status().message(), HasSubstr("h2c://host:port"));
  EXPECT_THAT(ParseServerUrl("h2c://a").status().message(), HasSubstr("missing port"));
  EXPECT_THAT(ParseServerUrl("h2c://:80").status().message(), HasSubstr("missing host"));
  EXPECT_THAT(ParseServerUrl("h2c://a:0").status().message(), HasSubstr("1..65535"));
  EXPECT_THAT(ParseServerUrl("h2c://a:1/x").status().message(), HasSubstr("no path"));
}

}  // namespace
}  // namespace strait::net
