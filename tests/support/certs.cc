#include "tests/support/certs.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace strait::testing {
namespace {

// Certificates are made by tests: a failure is a broken test, loudly.
void Check(bool ok, const std::string& what) {
  if (ok) return;
  fprintf(stderr, "certs: %s\n", what.c_str());
  abort();
}

PkeyPtr NewKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  Check(key != nullptr, "EC P-256 key generation failed");
  return key;
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n);
}

void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, absl::StrCat("bad extension ", OBJ_nid2sn(nid), "=", value));
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// `issuer`/`issuer_key` null: self-signed.
X509Ptr MakeCert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  // A random 64-bit serial: several certificates of one CA must differ.
  BIGNUM* serial = BN_new();
  BN_rand(serial, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.valid_from_hours * 3600L);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.valid_to_hours * 3600L);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!spec.common_name.empty()) {
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                               -1, 0);
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));

  AddExtension(cert.get(), signer, NID_basic_constraints,
               spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  AddExtension(cert.get(), signer, NID_key_usage,
               spec.is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                          : "critical,digitalSignature,keyAgreement");
  AddExtension(cert.get(), signer, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) AddExtension(cert.get(), signer, NID_authority_key_identifier, "keyid");
  if (!spec.is_ca) {
    std::vector<std::string> usages;
    if (spec.server_auth) usages.push_back("serverAuth");
    if (spec.client_auth) usages.push_back("clientAuth");
    if (!usages.empty()) {
      AddExtension(cert.get(), signer, NID_ext_key_usage, absl::StrJoin(usages, ","));
    }
  }
  std::vector<std::string> sans;
  for (const auto& d : spec.dns_names) sans.push_back(absl::StrCat("DNS:", d));
  for (const auto& u : spec.uris) sans.push_back(absl::StrCat("URI:", u));
  for (const auto& ip : spec.ips) sans.push_back(absl::StrCat("IP:", ip));
  if (!sans.empty()) {
    AddExtension(cert.get(), signer, NID_subject_alt_name, absl::StrJoin(sans, ","));
  }
  Check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
        "X509_sign");
  return cert;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  Check(out.good(), "cannot write " + path);
}

}  // namespace

std::string Cert::CertPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert_.get());
  std::string pem = BioString(bio);
  BIO_free(bio);
  return pem;
}

std::string Cert::KeyPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::string pem = BioString(bio);
  BIO_free(bio);
  return pem;
}

void Cert::WriteTo(const std::string& dir, const std::string& name) {
  cert_file_ = absl::StrCat(dir, "/", name, ".crt");
  key_file_ = absl::StrCat(dir, "/", name, ".key");
  WriteFile(cert_file_, CertPem());
  WriteFile(key_file_, KeyPem());
}

CertAuthority CertAuthority::Create(const std::string& common_name) {
  PkeyPtr key = NewKey();
  CertSpec spec{.common_name = common_name, .is_ca = true};
  X509Ptr cert = MakeCert(spec, key.get(), nullptr, nullptr);
  return CertAuthority(Cert(std::move(key), std::move(cert)));
}

Cert CertAuthority::Issue(const CertSpec& spec) const {
  PkeyPtr key = NewKey();
  X509Ptr cert = MakeCert(spec, key.get(), cert_.x509(), cert_.key());
  return Cert(std::move(key), std::move(cert));
}

CertAuthority CertAuthority::IssueIntermediate(const std::string& common_name) const {
  CertSpec spec{.common_name = common_name, .is_ca = true};
  return CertAuthority(Issue(spec));
}

Cert SelfSigned(const CertSpec& spec) {
  PkeyPtr key = NewKey();
  X509Ptr cert = MakeCert(spec, key.get(), nullptr, nullptr);
  return Cert(std::move(key), std::move(cert));
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base ? base : "/tmp", "/strait-test-XXXXXX");
  Check(mkdtemp(tmpl.data()) != nullptr, "mkdtemp " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFileAtomically(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  WriteFile(tmp, content);
  Check(std::rename(tmp.c_str(), path.c_str()) == 0, "rename to " + path);
}

std::string SubjectCommonName(X509* cert) {
  char buf[256] = {0};
  if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf) < 0) {
    return "";
  }
  return buf;
}

std::vector<std::string> DnsNames(X509* cert) {
  std::vector<std::string> out;
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type != GEN_DNS) continue;
    const ASN1_STRING* s = n->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace strait::testing
