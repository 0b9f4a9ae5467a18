#include "net/client_tls_context.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace strait::net {
namespace {

// TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3's are all fine).
constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// ALPN wire format: length-prefixed protocol names.
constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;

// The reason of the oldest error in this thread's OpenSSL queue ("" if
// none); empties the queue.
std::string TakeOpenSslError() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    out = reason != nullptr ? reason : absl::StrCat("OpenSSL error ", code);
  }
  ERR_clear_error();
  return out;
}

absl::StatusOr<std::string> ReadFile(const std::string& field, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": a path is required"));
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", path, "\": open: ", std::strerror(errno)));
  }
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", path, "\": read: ", std::strerror(errno)));
  }
  return text.str();
}

// Every certificate of a PEM text, in order; an error if there is none or
// one does not parse.
absl::StatusOr<std::vector<X509Ptr>> ParseCertificates(const std::string& field,
                                                       const std::string& path,
                                                       const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<X509Ptr> certs;
  ERR_clear_error();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  // The loop ends with "no start line" at the end of the text; anything
  // else is a broken certificate.
  unsigned long last = ERR_peek_last_error();
  if (last != 0 && ERR_GET_REASON(last) != PEM_R_NO_START_LINE) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", path,
                                                   "\": bad PEM certificate: ", TakeOpenSslError()));
  }
  ERR_clear_error();
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": \"", path, "\": no PEM certificate in the file"));
  }
  return certs;
}

// A passphrase callback that never prompts: encrypted keys are refused.
int NoPassphrase(char*, int, int, void*) { return -1; }

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// ex_data slots: the context on its SSL_CTX, the session key on each SSL.
int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
void FreeSessionKey(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}
int SessionKeyIndex() {
  static const int index =
      SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeSessionKey);
  return index;
}

// The URI SANs of `cert`.
std::vector<std::string> UriSans(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    if (name->type != GEN_URI) continue;
    const ASN1_IA5STRING* uri = name->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)),
                     ASN1_STRING_length(uri));
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

ClientTlsContext::ClientTlsContext(ClientTlsOptions options) : options_(std::move(options)) {}

ClientTlsContext::~ClientTlsContext() {
  for (auto& [key, session] : sessions_) SSL_SESSION_free(session);
  SSL_CTX_free(ctx_);
}

absl::StatusOr<std::shared_ptr<const ClientTlsContext>> ClientTlsContext::Build(
    const ClientTlsOptions& options) {
  std::shared_ptr<ClientTlsContext> context(new ClientTlsContext(options));
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    return absl::InternalError(absl::StrCat("SSL_CTX_new: ", TakeOpenSslError()));
  }
  context->ctx_ = ctx;
  SSL_CTX_set_ex_data(ctx, ContextIndex(), context.get());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return absl::InternalError(absl::StrCat("SSL_CTX_set_cipher_list: ", TakeOpenSslError()));
  }
  // Returns 0 on success, unlike the rest of OpenSSL.
  if (SSL_CTX_set_alpn_protos(ctx, kAlpnH2, sizeof(kAlpnH2)) != 0) {
    return absl::InternalError("SSL_CTX_set_alpn_protos failed");
  }
  // Clients resume through sessions kept here, per server (OnNewSession).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &ClientTlsContext::OnNewSession);

  std::string identity = absl::StrCat(
      "server_name=\"", absl::CEscape(options.server_name), "\" insecure=",
      options.insecure_skip_verify, " peer_cert_uri=\"", absl::CEscape(options.peer_cert_uri),
      "\"");

  SSL_CTX_set_verify(ctx, options.insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                     nullptr);
  if (options.root_ca_files.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError(
          absl::StrCat("rootCAs: the system's roots: ", TakeOpenSslError()));
    }
    absl::StrAppend(&identity, " roots=system");
  } else {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx);
    for (size_t i = 0; i < options.root_ca_files.size(); ++i) {
      std::string field = absl::StrCat("rootCAs[", i, "]");
      const std::string& path = options.root_ca_files[i];
      absl::StatusOr<std::string> pem = ReadFile(field, path);
      if (!pem.ok()) return pem.status();
      absl::StatusOr<std::vector<X509Ptr>> certs = ParseCertificates(field, path, *pem);
      if (!certs.ok()) return certs.status();
      for (const X509Ptr& cert : *certs) {
        if (X509_STORE_add_cert(store, cert.get()) != 1) {
          // The same CA listed twice is harmless.
          unsigned long err = ERR_peek_last_error();
          if (ERR_GET_REASON(err) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
            return absl::InvalidArgumentError(
                absl::StrCat(field, ": \"", path, "\": ", TakeOpenSslError()));
          }
          ERR_clear_error();
        }
      }
      absl::StrAppend(&context->root_certs_pem_, *pem, pem->empty() || pem->back() == '\n' ? "" : "\n");
    }
  }

  if (!options.cert_file.empty() || !options.key_file.empty()) {
    absl::StatusOr<std::string> cert_pem =
        ReadFile("certificates[0].certFile", options.cert_file);
    if (!cert_pem.ok()) return cert_pem.status();
    absl::StatusOr<std::vector<X509Ptr>> chain =
        ParseCertificates("certificates[0].certFile", options.cert_file, *cert_pem);
    if (!chain.ok()) return chain.status();
    absl::StatusOr<std::string> key_pem = ReadFile("certificates[0].keyFile", options.key_file);
    if (!key_pem.ok()) return key_pem.status();
    BioPtr bio(BIO_new_mem_buf(key_pem->data(), static_cast<int>(key_pem->size())));
    ERR_clear_error();
    PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
    if (key == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificates[0].keyFile: \"", options.key_file,
                       "\": no usable PEM private key (encrypted keys are not supported): ",
                       TakeOpenSslError()));
    }
    X509* leaf = chain->front().get();
    if (X509_check_private_key(leaf, key.get()) != 1) {
      ERR_clear_error();
      return absl::InvalidArgumentError(
          absl::StrCat("certificates[0].keyFile: \"", options.key_file,
                       "\": the key does not match the certificate of certFile \"",
                       options.cert_file, "\""));
    }
    if (SSL_CTX_use_certificate(ctx, leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "certificates[0].certFile: \"", options.cert_file, "\": ", TakeOpenSslError()));
    }
    for (size_t i = 1; i < chain->size(); ++i) {
      // add1: the context takes its own reference.
      if (SSL_CTX_add1_chain_cert(ctx, (*chain)[i].get()) != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            "certificates[0].certFile: \"", options.cert_file, "\": ", TakeOpenSslError()));
      }
    }
    context->cert_chain_pem_ = std::move(*cert_pem);
    context->private_key_pem_ = std::move(*key_pem);
  }

  // The identity covers the contents read, not only the paths: a rotated
  // file gives another identity.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  std::string material = absl::StrCat(context->root_certs_pem_.size(), ":",
                                      context->root_certs_pem_, context->cert_chain_pem_.size(),
                                      ":", context->cert_chain_pem_, context->private_key_pem_);
  EVP_Digest(material.data(), material.size(), digest, &digest_len, EVP_sha256(), nullptr);
  absl::StrAppend(&identity, " files=",
                  absl::BytesToHexString(absl::string_view(
                      reinterpret_cast<const char*>(digest), digest_len)));
  context->identity_ = std::move(identity);
  return std::shared_ptr<const ClientTlsContext>(std::move(context));
}

absl::StatusOr<SSL*> ClientTlsContext::NewConnection(const HostPort& server) const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return absl::InternalError(absl::StrCat("SSL_new: ", TakeOpenSslError()));
  if (absl::Status prepared = PrepareConnection(ssl, server); !prepared.ok()) {
    SSL_free(ssl);
    return prepared;
  }
  return ssl;
}

absl::Status ClientTlsContext::PrepareConnection(SSL* ssl, const HostPort& server) const {
  if (SSL_get_SSL_CTX(ssl) != ctx_) {
    return absl::InternalError("PrepareConnection: the SSL* is not of this context's SSL_CTX");
  }
  auto fail = [&](absl::string_view what) {
    return absl::InternalError(absl::StrCat(what, ": ", TakeOpenSslError()));
  };
  SSL_set_connect_state(ssl);
  const std::string& name = options_.server_name.empty() ? server.host : options_.server_name;
  bool ip = IsIpLiteral(name);
  // SNI carries host names only (RFC 6066).
  if (!ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return fail("SNI");
  bool check_name = !options_.insecure_skip_verify &&
                    (options_.peer_cert_uri.empty() || !options_.server_name.empty());
  if (check_name) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str())
                : X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    if (ok != 1) return fail(absl::StrCat("the name to verify \"", name, "\""));
  }
  std::string key = FormatHostPort(server);
  {
    absl::MutexLock lock(&sessions_mu_);
    if (auto it = sessions_.find(key); it != sessions_.end()) SSL_set_session(ssl, it->second);
  }
  // Frees the key set before, if any (FreeSessionKey runs only at SSL_free).
  delete static_cast<std::string*>(SSL_get_ex_data(ssl, SessionKeyIndex()));
  SSL_set_ex_data(ssl, SessionKeyIndex(), new std::string(std::move(key)));
  return absl::OkStatus();
}

int ClientTlsContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<const ClientTlsContext*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
  auto* key = static_cast<std::string*>(SSL_get_ex_data(ssl, SessionKeyIndex()));
  if (self == nullptr || key == nullptr) return 0;  // not ours to keep
  absl::MutexLock lock(&self->sessions_mu_);
  SSL_SESSION*& slot = self->sessions_[*key];
  if (slot != nullptr) SSL_SESSION_free(slot);
  slot = session;
  return 1;  // we keep the reference OpenSSL passed
}

std::string ClientTlsContext::HandshakeError(const SSL* ssl) const {
  long verify = SSL_get_verify_result(ssl);
  if (!options_.insecure_skip_verify && verify != X509_V_OK) {
    ERR_clear_error();
    std::string out =
        absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verify));
    if (verify == X509_V_ERR_HOSTNAME_MISMATCH || verify == X509_V_ERR_IP_ADDRESS_MISMATCH) {
      X509_VERIFY_PARAM* param = SSL_get0_param(const_cast<SSL*>(ssl));
      const char* host = X509_VERIFY_PARAM_get0_host(param, 0);
      char* ip = X509_VERIFY_PARAM_get1_ip_asc(param);
      absl::StrAppend(&out, " (expected \"",
                      host != nullptr ? host : (ip != nullptr ? ip : "?"), "\")");
      OPENSSL_free(ip);
    }
    return out;
  }
  std::string reason = TakeOpenSslError();
  if (reason.empty()) return "TLS handshake failed: the connection closed";
  return absl::StrCat("TLS handshake failed: ", reason);
}

absl::Status ClientTlsContext::VerifyPeer(const SSL* ssl) const {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!options_.insecure_skip_verify) {
    if (cert == nullptr) return absl::UnavailableError("server sent no certificate");
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return absl::UnavailableError(
          absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verify)));
    }
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  if (absl::string_view(reinterpret_cast<const char*>(alpn), alpn_len) != "h2") {
    return absl::UnavailableError("server did not negotiate h2 (ALPN)");
  }
  return CheckPeerCertUri(cert);
}

absl::Status ClientTlsContext::CheckPeerCertUri(X509* cert) const {
  if (options_.peer_cert_uri.empty()) return absl::OkStatus();
  std::vector<std::string> uris = cert != nullptr ? UriSans(cert) : std::vector<std::string>{};
  for (const std::string& uri : uris) {
    if (uri == options_.peer_cert_uri) return absl::OkStatus();
  }
  return absl::UnavailableError(absl::StrCat(
      "peer certificate has no URI SAN ", options_.peer_cert_uri,
      " (it has: ", uris.empty() ? "none" : absl::StrJoin(uris, ", "), ")"));
}

absl::Status ClientTlsContext::VerifyPeerIdentity(absl::string_view cert_pem) const {
  BioPtr bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) return absl::UnavailableError("server sent no certificate");
  const std::string& name = options_.server_name;
  if (!name.empty()) {
    int match = IsIpLiteral(name) ? X509_check_ip_asc(cert.get(), name.c_str(), 0)
                                  : X509_check_host(cert.get(), name.data(), name.size(),
                                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                                                    nullptr);
    if (match != 1) {
      return absl::UnavailableError(absl::StrCat(
          "certificate verify failed: hostname mismatch (expected \"", name, "\")"));
    }
  }
  return CheckPeerCertUri(cert.get());
}

}  // namespace strait::net
