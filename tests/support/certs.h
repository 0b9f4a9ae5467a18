#ifndef STRAIT_TESTS_SUPPORT_CERTS_H_
#define STRAIT_TESTS_SUPPORT_CERTS_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace strait::testing {

// Throwaway certificates made at test time with the OpenSSL API: EC P-256
// keys, X509v3 certificates valid from an hour ago to a day from now,
// written as PEM into a directory the test owns. Thread-compatible; tests
// use it from their own thread.
//
//   TempDir dir;
//   CertAuthority ca = CertAuthority::Create("test CA");
//   Cert leaf = ca.Issue({.common_name = "api", .dns_names = {"api.example.com"}});
//   leaf.WriteTo(dir.path(), "api");  // api.crt, api.key; paths in leaf
//   ca.WriteTo(dir.path(), "ca");     // ca.crt (and ca.key)

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;

// What a certificate says about its subject.
struct CertSpec {
  std::string common_name;             // subject CN; empty: none
  std::vector<std::string> dns_names;  // SAN DNS:..., "*.example.com" allowed
  std::vector<std::string> uris;       // SAN URI:..., e.g. "spiffe://example.org/ns/x/sa/y"
  std::vector<std::string> ips;        // SAN IP:..., "127.0.0.1" or "::1"
  bool is_ca = false;                  // basicConstraints CA:TRUE, keyCertSign
  bool server_auth = true;             // extendedKeyUsage serverAuth
  bool client_auth = true;             // extendedKeyUsage clientAuth
  int valid_from_hours = -1;           // notBefore, relative to now
  int valid_to_hours = 24;             // notAfter, relative to now
};

// A key and its certificate; once written, where their PEM files are.
class Cert {
 public:
  Cert(PkeyPtr key, X509Ptr cert) : key_(std::move(key)), cert_(std::move(cert)) {}

  EVP_PKEY* key() const { return key_.get(); }
  X509* x509() const { return cert_.get(); }
  std::string CertPem() const;
  std::string KeyPem() const;  // PKCS#8, unencrypted

  // Writes `dir`/`name`.crt and `dir`/`name`.key; remembers the paths.
  void WriteTo(const std::string& dir, const std::string& name);
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }

 private:
  PkeyPtr key_;
  X509Ptr cert_;
  std::string cert_file_;
  std::string key_file_;
};

// A self-signed CA that issues leaves (or intermediate CAs).
class CertAuthority {
 public:
  static CertAuthority Create(const std::string& common_name);

  // A new key and a certificate for it signed by this CA.
  Cert Issue(const CertSpec& spec) const;
  // An intermediate CA signed by this one.
  CertAuthority IssueIntermediate(const std::string& common_name) const;

  const Cert& cert() const { return cert_; }
  void WriteTo(const std::string& dir, const std::string& name) { cert_.WriteTo(dir, name); }
  const std::string& cert_file() const { return cert_.cert_file(); }

 private:
  explicit CertAuthority(Cert cert) : cert_(std::move(cert)) {}
  Cert cert_;
};

// A self-signed leaf (no CA behind it).
Cert SelfSigned(const CertSpec& spec);

// A fresh directory under $TMPDIR, removed with everything in it on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // `path()`/`name`.
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `content` to `path` atomically (a temp file renamed over it), as
// certificate rotation tools do.
void WriteFileAtomically(const std::string& path, const std::string& content);

// The subject CN and SAN DNS names of `cert`, for asserting which
// certificate a server presented.
std::string SubjectCommonName(X509* cert);
std::vector<std::string> DnsNames(X509* cert);

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_CERTS_H_
