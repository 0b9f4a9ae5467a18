#ifndef STRAIT_NET_TLS_SERVER_CONTEXT_H_
#define STRAIT_NET_TLS_SERVER_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace strait::net {

// A certificate and its key, as PEM files. The certificate file may carry
// the chain after the leaf.
struct TlsCertificateFiles {
  std::string cert_file;
  std::string key_file;
};

enum class TlsClientAuth {
  kNone,     // no client certificate asked for
  kRequest,  // asked for; none is fine, a bad one fails the handshake
  kRequire,  // a certificate that verifies against the CAs is required
};

// The TLS settings of one entry point (config::EntryPointTls, checked).
struct TlsServerOptions {
  std::vector<TlsCertificateFiles> certificates;  // at least one; [0] the default
  std::vector<std::string> ca_files;              // for client certificates
  TlsClientAuth client_auth = TlsClientAuth::kNone;
  int min_version = TLS1_2_VERSION;  // TLS1_2_VERSION or TLS1_3_VERSION
  // TLS 1.2 suites, IANA ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") or
  // OpenSSL ("ECDHE-RSA-AES128-GCM-SHA256") names; empty: the forward-secret
  // AEAD suites. TLS 1.3 suites are OpenSSL's defaults (all AEAD, all FS).
  std::vector<std::string> cipher_suites;
};

// The server side of TLS for one entry point: one SSL_CTX that serves every
// configured certificate, chosen by SNI from the names the certificates
// carry (SAN DNS names, else the subject CN; exact, or "*.example.com" for
// one label), certificates[0] for no SNI or no match. ALPN: "h2" only; a
// client offering ALPN without h2 gets a no_application_protocol alert. A
// client offering no ALPN at all is served h2 (its connection preface
// decides: an HTTP/1.1 request fails as a bad preface, at once): gRPC
// clients always offer h2, and tools like `openssl s_client` need not.
// Session tickets (TLS 1.2 and 1.3) resume sessions within one context;
// a rotated certificate starts a new context, and with it new ticket keys.
//
// Built on the control thread when a Snapshot compiles (all files read
// then); immutable afterwards and shared by the workers through
// std::shared_ptr<const TlsServerContext>. SSL_new is thread-safe on a
// context nobody modifies. The SNI table lives with the SSL_CTX (ex_data),
// so a connection mid-handshake keeps it even after this object is gone.
class TlsServerContext {
 public:
  // Reads and checks every file. Errors name the option and the file, as
  // "certificates[1].keyFile: /etc/x.key: No such file or directory" (the
  // caller prefixes the entry point's path).
  static absl::StatusOr<std::shared_ptr<const TlsServerContext>> Create(
      const TlsServerOptions& options);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  // For TlsTransport(fd, ctx(), kServer).
  SSL_CTX* ctx() const { return ctx_; }
  // The SNI names served, per certificate, in configuration order.
  const std::vector<std::vector<std::string>>& names() const { return names_; }

 private:
  TlsServerContext() = default;

  SSL_CTX* ctx_ = nullptr;  // owned (one reference)
  std::vector<std::vector<std::string>> names_;
};

// The SNI names a certificate serves: its SAN DNS names, else its CN.
std::vector<std::string> CertificateNames(X509* cert);

}  // namespace strait::net

#endif  // STRAIT_NET_TLS_SERVER_CONTEXT_H_
