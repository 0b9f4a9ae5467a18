#include "net/tls_server_context.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include <cstdio>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "net/tls_transport.h"

namespace strait::net {
namespace {

// The forward-secret AEAD TLS 1.2 suites (what Go and Mozilla's
// "intermediate" profile allow).
constexpr char kDefaultCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// One certificate with its key and chain, owned.
struct Identity {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  STACK_OF(X509) * chain = nullptr;
};

// Which identity serves which SNI name. Owned by the SSL_CTX (ex_data), so
// it lives as long as any connection using the context.
struct SniTable {
  std::vector<Identity> identities;                   // [0] is the context's default
  absl::flat_hash_map<std::string, size_t> exact;     // "api.example.com"
  absl::flat_hash_map<std::string, size_t> wildcard;  // "example.com" for *.example.com

  ~SniTable() {
    for (Identity& id : identities) {
      X509_free(id.cert);
      EVP_PKEY_free(id.key);
      sk_X509_pop_free(id.chain, X509_free);
    }
  }
  const Identity* Find(std::string host) const {
    absl::AsciiStrToLower(&host);
    if (auto it = exact.find(host); it != exact.end()) return &identities[it->second];
    size_t dot = host.find('.');
    if (dot == std::string::npos || dot == 0) return nullptr;
    if (auto it = wildcard.find(host.substr(dot + 1)); it != wildcard.end()) {
      return &identities[it->second];
    }
    return nullptr;
  }
};

void FreeSniTable(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<SniTable*>(ptr);
}

int SniTableIndex() {
  static int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, FreeSniTable);
  return index;
}

// SNI: switch the connection to the certificate serving that name.
int OnServerName(SSL* ssl, int*, void*) {
  const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (host == nullptr) return SSL_TLSEXT_ERR_OK;  // the default
  auto* table =
      static_cast<const SniTable*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), SniTableIndex()));
  const Identity* id = table->Find(host);
  if (id == nullptr || id == &table->identities[0]) return SSL_TLSEXT_ERR_OK;
  if (SSL_use_cert_and_key(ssl, id->cert, id->key, id->chain, 1) != 1) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// ALPN: h2 or nothing.
int OnAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void*) {
  static const unsigned char kH2[] = {2, 'h', '2'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, kH2, sizeof kH2, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Opens `path` for reading, or says why not, naming `field` and the file.
absl::StatusOr<FILE*> OpenFile(const std::string& field, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required"));
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, ": ", strerror(errno)));
  }
  return f;
}

absl::Status BadFile(const std::string& field, const std::string& path, const std::string& why) {
  ERR_clear_error();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, ": ", why));
}

absl::StatusOr<Identity> LoadIdentity(const TlsCertificateFiles& files, const std::string& field) {
  Identity id;
  std::string cert_field = absl::StrCat(field, ".certFile");
  std::string key_field = absl::StrCat(field, ".keyFile");
  absl::StatusOr<FILE*> cf = OpenFile(cert_field, files.cert_file);
  if (!cf.ok()) return cf.status();
  id.cert = PEM_read_X509(*cf, nullptr, nullptr, nullptr);
  if (id.cert != nullptr) {
    id.chain = sk_X509_new_null();
    while (X509* extra = PEM_read_X509(*cf, nullptr, nullptr, nullptr)) {
      sk_X509_push(id.chain, extra);
    }
  }
  fclose(*cf);
  auto fail = [&](absl::Status s) {
    X509_free(id.cert);
    EVP_PKEY_free(id.key);
    sk_X509_pop_free(id.chain, X509_free);
    return s;
  };
  if (id.cert == nullptr) {
    return fail(BadFile(cert_field, files.cert_file, "no PEM certificate in it"));
  }
  ERR_clear_error();  // the end of the chain reads as an error
  absl::StatusOr<FILE*> kf = OpenFile(key_field, files.key_file);
  if (!kf.ok()) return fail(kf.status());
  id.key = PEM_read_PrivateKey(*kf, nullptr, nullptr, nullptr);
  fclose(*kf);
  if (id.key == nullptr) {
    return fail(BadFile(key_field, files.key_file,
                        "no PEM private key in it (" + TlsErrorString("unreadable") + ")"));
  }
  if (X509_check_private_key(id.cert, id.key) != 1) {
    return fail(BadFile(key_field, files.key_file,
                        absl::StrCat("does not match the certificate in ", files.cert_file)));
  }
  return id;
}

absl::Status LoadCaFile(SSL_CTX* ctx, STACK_OF(X509_NAME) * names, const std::string& field,
                        const std::string& path) {
  absl::StatusOr<FILE*> f = OpenFile(field, path);
  if (!f.ok()) return f.status();
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int count = 0;
  while (X509* ca = PEM_read_X509(*f, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    X509_free(ca);
    ++count;
  }
  fclose(*f);
  ERR_clear_error();
  if (count == 0) return BadFile(field, path, "no PEM certificate in it");
  return absl::OkStatus();
}

absl::StatusOr<std::string> CipherList(const std::vector<std::string>& suites) {
  if (suites.empty()) return std::string(kDefaultCiphers);
  SSL_CTX* probe = SSL_CTX_new(TLS_server_method());
  std::vector<std::string> names;
  absl::Status status;
  for (size_t i = 0; i < suites.size() && status.ok(); ++i) {
    std::string name = suites[i];
    if (absl::StartsWith(name, "TLS_")) name = OPENSSL_cipher_name(name.c_str());
    if (name == "(NONE)" || name.empty() ||
        // One suite, not a cipher list expression.
        name.find_first_of(":!@ ,") != std::string::npos || name[0] == '+' || name[0] == '-' ||
        SSL_CTX_set_cipher_list(probe, name.c_str()) != 1) {
      status = absl::InvalidArgumentError(
          absl::StrCat("cipherSuites[", i, "]: unknown TLS 1.2 cipher suite \"", suites[i], "\""));
    }
    names.push_back(name);
  }
  SSL_CTX_free(probe);
  ERR_clear_error();
  if (!status.ok()) return status;
  return absl::StrJoin(names, ":");
}

}  // namespace

std::vector<std::string> CertificateNames(X509* cert) {
  std::vector<std::string> out;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      std::string name(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                       ASN1_STRING_length(n->d.dNSName));
      out.push_back(absl::AsciiStrToLower(name));
    }
    GENERAL_NAMES_free(sans);
  }
  if (out.empty()) {
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    if (n > 0) out.push_back(absl::AsciiStrToLower(std::string(cn, n)));
  }
  return out;
}

absl::StatusOr<std::shared_ptr<const TlsServerContext>> TlsServerContext::Create(
    const TlsServerOptions& options) {
  if (options.certificates.empty()) {
    return absl::InvalidArgumentError("certificates: at least one is required");
  }
  absl::StatusOr<std::string> ciphers = CipherList(options.cipher_suites);
  if (!ciphers.ok()) return ciphers.status();

  auto table = std::make_unique<SniTable>();
  std::vector<std::vector<std::string>> names;
  for (size_t i = 0; i < options.certificates.size(); ++i) {
    absl::StatusOr<Identity> id =
        LoadIdentity(options.certificates[i], absl::StrCat("certificates[", i, "]"));
    if (!id.ok()) return id.status();
    table->identities.push_back(*id);
    names.push_back(CertificateNames(id->cert));
    for (const std::string& name : names.back()) {
      // The first certificate naming a host serves it.
      if (absl::StartsWith(name, "*.")) {
        table->wildcard.try_emplace(name.substr(2), i);
      } else {
        table->exact.try_emplace(name, i);
      }
    }
  }

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new: " + TlsErrorString("failed"));
  std::shared_ptr<TlsServerContext> out(new TlsServerContext());
  out->ctx_ = ctx;
  out->names_ = std::move(names);

  SSL_CTX_set_min_proto_version(ctx, options.min_version);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_cipher_list(ctx, ciphers->c_str());
  // Resumption: tickets (OpenSSL's default, with keys made per context)
  // and the server-side cache; both need a session id context once peers
  // are verified.
  static const unsigned char kSessionIdContext[] = "strait";
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1);
  SSL_CTX_set_alpn_select_cb(ctx, OnAlpn, nullptr);
  SSL_CTX_set_tlsext_servername_callback(ctx, OnServerName);

  const Identity& primary = table->identities[0];
  if (SSL_CTX_use_cert_and_key(ctx, primary.cert, primary.key, primary.chain, 1) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificates[0].certFile: ", options.certificates[0].cert_file, ": ",
                     TlsErrorString("unusable")));
  }
  SSL_CTX_set_ex_data(ctx, SniTableIndex(), table.release());

  if (options.client_auth != TlsClientAuth::kNone || !options.ca_files.empty()) {
    STACK_OF(X509_NAME)* ca_names = sk_X509_NAME_new_null();
    for (size_t i = 0; i < options.ca_files.size(); ++i) {
      absl::Status s = LoadCaFile(ctx, ca_names, absl::StrCat("clientAuth.caFiles[", i, "]"),
                                  options.ca_files[i]);
      if (!s.ok()) {
        sk_X509_NAME_pop_free(ca_names, X509_NAME_free);
        return s;
      }
    }
    SSL_CTX_set_client_CA_list(ctx, ca_names);
  }
  switch (options.client_auth) {
    case TlsClientAuth::kNone:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
      break;
    case TlsClientAuth::kRequest:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
      break;
    case TlsClientAuth::kRequire:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return std::shared_ptr<const TlsServerContext>(std::move(out));
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

}  // namespace strait::net
