#ifndef STRAIT_TESTS_UNIT_NET_TEST_CERTS_H_
#define STRAIT_TESTS_UNIT_NET_TEST_CERTS_H_

// Certificates made at test time with the OpenSSL API, written as PEM files:
// a CA, and leaves it signs with chosen SANs. Small on purpose, local to the
// client TLS tests, so it can give way to tests/support/certs.h later.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace strait::testing {

// Certificate making cannot fail in a sane test environment: abort loudly.
#define STRAIT_CERTS_CHECK(cond)                                             \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "%s:%d: test_certs: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

// A key and its certificate, in memory and as files under a directory.
struct TestCert {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_file;
  std::string key_file;
  EVP_PKEY* key = nullptr;  // owned by TestCerts
  X509* cert = nullptr;     // owned by TestCerts
};

// What a leaf carries.
struct LeafSpec {
  std::string common_name = "test";
  // "DNS:localhost", "IP:127.0.0.1", "URI:spiffe://example.org/api", ...
  std::vector<std::string> sans;
  bool client = false;  // extendedKeyUsage clientAuth instead of serverAuth
};

// Owns a scratch directory with every file it wrote, removed at
// destruction. Test thread only.
class TestCerts {
 public:
  TestCerts() {
    char dir[] = "/tmp/strait-certs-XXXXXX";
    STRAIT_CERTS_CHECK(mkdtemp(dir) != nullptr);
    dir_ = dir;
  }
  ~TestCerts() {
    for (const std::string& file : files_) unlink(file.c_str());
    rmdir(dir_.c_str());
    for (TestCert* c : certs_) {
      X509_free(c->cert);
      EVP_PKEY_free(c->key);
      delete c;
    }
  }
  TestCerts(const TestCerts&) = delete;
  TestCerts& operator=(const TestCerts&) = delete;

  const std::string& dir() const { return dir_; }

  // A self-signed CA named `name`.
  const TestCert& MakeCa(const std::string& name) {
    TestCert* c = NewCert(name);
    X509_set_issuer_name(c->cert, X509_get_subject_name(c->cert));
    AddExtension(c->cert, c->cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(c->cert, c->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExtension(c->cert, c->cert, NID_subject_key_identifier, "hash");
    STRAIT_CERTS_CHECK(X509_sign(c->cert, c->key, EVP_sha256()) > 0);
    return Finish(c, name);
  }

  // A leaf signed by `ca`, written as `name`.pem and `name`-key.pem.
  const TestCert& MakeLeaf(const std::string& name, const TestCert& ca, const LeafSpec& spec) {
    TestCert* c = NewCert(spec.common_name);
    X509_set_issuer_name(c->cert, X509_get_subject_name(ca.cert));
    AddExtension(c->cert, ca.cert, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(c->cert, ca.cert, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
    AddExtension(c->cert, ca.cert, NID_authority_key_identifier, "keyid");
    if (!spec.sans.empty()) {
      std::string sans;
      for (const std::string& san : spec.sans) absl::StrAppend(&sans, sans.empty() ? "" : ",", san);
      AddExtension(c->cert, ca.cert, NID_subject_alt_name, sans);
    }
    STRAIT_CERTS_CHECK(X509_sign(c->cert, ca.key, EVP_sha256()) > 0);
    return Finish(c, name);
  }

  // Writes `text` to `name` in the directory; returns the path.
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = absl::StrCat(dir_, "/", name);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    STRAIT_CERTS_CHECK(out.good());
    files_.push_back(path);
    return path;
  }

 private:
  TestCert* NewCert(const std::string& common_name) {
    auto* c = new TestCert;
    certs_.push_back(c);
    c->key = EVP_EC_gen("P-256");
    STRAIT_CERTS_CHECK(c->key != nullptr);
    c->cert = X509_new();
    X509_set_version(c->cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c->cert), static_cast<long>(++serial_));
    X509_gmtime_adj(X509_getm_notBefore(c->cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c->cert), 24 * 3600);
    X509_set_pubkey(c->cert, c->key);
    X509_NAME* subject = X509_get_subject_name(c->cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                               -1, 0);
    return c;
  }

  static void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    STRAIT_CERTS_CHECK(ext != nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  const TestCert& Finish(TestCert* c, const std::string& name) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, c->cert);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    c->cert_pem.assign(data, len);
    BIO_free(bio);
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, c->key, nullptr, nullptr, 0, nullptr, nullptr);
    len = BIO_get_mem_data(bio, &data);
    c->key_pem.assign(data, len);
    BIO_free(bio);
    c->cert_file = WriteFile(name + ".pem", c->cert_pem);
    c->key_file = WriteFile(name + "-key.pem", c->key_pem);
    return *c;
  }

  std::string dir_;
  std::vector<std::string> files_;
  std::vector<TestCert*> certs_;
  int serial_ = 0;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_UNIT_NET_TEST_CERTS_H_
