#include "config/snapshot.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "tests/unit/net/test_certs.h"
#include "upstream/conn_pool.h"

namespace strait::config {
namespace {

using ::testing::HasSubstr;

v1::Config Parse(const std::string& yaml) {
  absl::StatusOr<v1::Config> c = ParseConfig(yaml, "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : v1::Config();
}

// How https:// servers compile (issue 18): their transport's client TLS
// context is built with the snapshot and keys their pools.
class SnapshotTlsTest : public ::testing::Test {
 protected:
  SnapshotTlsTest() : ca_(certs_.MakeCa("ca")), other_ca_(certs_.MakeCa("other")) {
    roots_ = certs_.WriteFile("roots.pem", ca_.cert_pem);
  }
  std::string Yaml() const {
    return "entryPoints: {web: {address: '127.0.0.1:0'}}\n"
           "services:\n"
           "  secure: {loadBalancer: {serversTransport: t, servers: "
           "[{url: 'https://127.0.0.1:9443'}, {url: 'h2c://127.0.0.1:9443'}]}}\n"
           "  plain: {loadBalancer: {serversTransport: t, servers: [{url: 'h2c://127.0.0.1:1'}]}}\n"
           "  default: {loadBalancer: {servers: [{url: 'https://127.0.0.1:9443'}]}}\n"
           "serversTransports: {t: {serverName: api.internal, rootCAs: ['" +
           roots_ + "']}}\n";
  }
  std::shared_ptr<const Snapshot> Compile() {
    absl::StatusOr<std::shared_ptr<const Snapshot>> s = Snapshot::Compile(Parse(Yaml()));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }

  strait::testing::TestCerts certs_;
  const strait::testing::TestCert& ca_;
  const strait::testing::TestCert& other_ca_;
  std::string roots_;
};

TEST_F(SnapshotTlsTest, HttpsServersGetTheirTransportsContext) {
  auto snapshot = Compile();
  ASSERT_NE(snapshot, nullptr);
  const ServiceEntry* secure = snapshot->service("secure");
  ASSERT_NE(secure->transport.tls, nullptr);
  EXPECT_EQ(secure->transport.tls->options().server_name, "api.internal");
  EXPECT_EQ(secure->transport.tls->root_certs_pem(), ca_.cert_pem);
  EXPECT_TRUE(secure->backends[0].tls);
  EXPECT_EQ(secure->backends[0].host_port.host, "127.0.0.1");
  EXPECT_FALSE(secure->backends[1].tls);
  // Same address and transport, h2c and https: never one pool.
  EXPECT_NE(secure->pool_keys[0], secure->pool_keys[1]);
  // A service without https:// servers builds no context.
  EXPECT_EQ(snapshot->service("plain")->transport.tls, nullptr);
  // The defaults: the system's roots.
  const ServiceEntry* by_default = snapshot->service("default");
  ASSERT_NE(by_default->transport.tls, nullptr);
  EXPECT_TRUE(by_default->transport.tls->options().root_ca_files.empty());
}

TEST_F(SnapshotTlsTest, ARotatedFileGivesNewPoolKeys) {
  auto before = Compile();
  auto same = Compile();
  EXPECT_EQ(before->service("secure")->pool_keys, same->service("secure")->pool_keys);
  // A service of the same transport without https:// servers has no TLS in
  // its key: "plain" keeps its pools.
  certs_.WriteFile("roots.pem", other_ca_.cert_pem);
  auto after = Compile();
  EXPECT_NE(after->service("secure")->pool_keys[0], before->service("secure")->pool_keys[0]);
  EXPECT_EQ(after->service("plain")->pool_keys, before->service("plain")->pool_keys);
}

TEST_F(SnapshotTlsTest, AnUnreadableFileFailsTheCompileNamingTheField) {
  unlink(roots_.c_str());
  absl::StatusOr<std::shared_ptr<const Snapshot>> s = Snapshot::Compile(Parse(Yaml()));
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()),
              HasSubstr("serversTransports.t.rootCAs[0]: \"" + roots_ + "\": open: No such file"));
}

}  // namespace
}  // namespace strait::config
