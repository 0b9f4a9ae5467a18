#include "tests/support/certs.h"

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace strait::testing {
namespace {

using ::testing::ElementsAre;

bool Verifies(X509* leaf, X509* root) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

TEST(CertsTest, LeafVerifiesAgainstItsCaOnly) {
  CertAuthority ca = CertAuthority::Create("test CA");
  CertAuthority other = CertAuthority::Create("other CA");
  Cert leaf = ca.Issue({.common_name = "api",
                        .dns_names = {"api.example.com", "*.example.org"},
                        .uris = {"spiffe://example.org/ns/x/sa/y"}});
  EXPECT_TRUE(Verifies(leaf.x509(), ca.cert().x509()));
  EXPECT_FALSE(Verifies(leaf.x509(), other.cert().x509()));
  EXPECT_EQ(SubjectCommonName(leaf.x509()), "api");
  EXPECT_THAT(DnsNames(leaf.x509()), ElementsAre("api.example.com", "*.example.org"));
  EXPECT_EQ(X509_check_host(leaf.x509(), "x.example.org", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ca(ca.cert().x509()), 1);
  EXPECT_EQ(X509_check_ca(leaf.x509()), 0);
  EXPECT_EQ(X509_check_private_key(leaf.x509(), leaf.key()), 1);
}

TEST(CertsTest, WritesPemFilesIntoTheTempDir) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    CertAuthority ca = CertAuthority::Create("ca");
    ca.WriteTo(dir.path(), "ca");
    Cert leaf = SelfSigned({.common_name = "self"});
    leaf.WriteTo(dir.path(), "self");
    EXPECT_EQ(leaf.cert_file(), dir.File("self.crt"));
    std::ifstream in(leaf.key_file());
    std::stringstream s;
    s << in.rdbuf();
    EXPECT_EQ(s.str(), leaf.KeyPem());
    EXPECT_NE(s.str().find("BEGIN PRIVATE KEY"), std::string::npos);
  }
  struct stat st;
  EXPECT_NE(stat(path.c_str(), &st), 0) << "TempDir removed on destruction";
}

}  // namespace
}  // namespace strait::testing
