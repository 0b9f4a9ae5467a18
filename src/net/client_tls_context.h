#ifndef STRAIT_NET_CLIENT_TLS_CONTEXT_H_
#define STRAIT_NET_CLIENT_TLS_CONTEXT_H_

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "net/address.h"

namespace strait::net {

// The TLS half of a serversTransport, as configured (file paths, not yet
// read). See ServersTransport in config.proto for what each field means.
struct ClientTlsOptions {
  std::string server_name;  // "": each server's URL host
  bool insecure_skip_verify = false;
  std::vector<std::string> root_ca_files;  // empty: the system's roots
  // The client certificate (mTLS); both empty: none.
  std::string cert_file;
  std::string key_file;
  std::string peer_cert_uri;  // "": no URI SAN required
};

// Owns an SSL_CTX for connections to TLS backends (TLS 1.2+, forward-secret
// TLS 1.2 suites, ALPN "h2" only, the configured roots and client
// certificate), plus what a connection needs around it: the per-connection
// SSL* setup (SNI, host name check), the checks after a handshake, the error
// texts, and a cache of sessions per server for resumption.
//
// Built on the control thread when a Snapshot compiles (Build reads every
// file); immutable afterwards except for the session cache, which has its
// own lock. Shared by every worker's connections through
// std::shared_ptr<const ClientTlsContext>; every const method is safe from
// any thread. An SSL* made by NewConnection refers to the context, which
// must outlive it (hold the shared_ptr as long as the connection).
class ClientTlsContext {
 public:
  // Reads and checks every file. Errors start with the field they concern,
  // in the configuration's key names, so that the caller only prefixes the
  // transport's path ("serversTransports.secure."):
  //   rootCAs[0]: "/etc/ca.pem": open: No such file or directory
  //   certificates[0].keyFile: "/k.pem": the key does not match certFile "/c.pem"
  static absl::StatusOr<std::shared_ptr<const ClientTlsContext>> Build(
      const ClientTlsOptions& options);

  ~ClientTlsContext();
  ClientTlsContext(const ClientTlsContext&) = delete;
  ClientTlsContext& operator=(const ClientTlsContext&) = delete;

  // A new client SSL* for one connection to `server` (the host and port of
  // its URL), ready for SSL_set_bio/SSL_set_fd and SSL_connect: client mode,
  // SNI (serverName, else the URL host unless it is an IP literal), the name
  // the certificate must match (the same, unless insecureSkipVerify, or
  // peerCertURI without serverName), and the session last saved for this
  // server if any, to resume. The caller owns the SSL* (SSL_free). Close
  // with SSL_shutdown (close_notify) before SSL_free when the connection
  // ends cleanly: OpenSSL marks the session of a connection freed without
  // it as not resumable.
  absl::StatusOr<SSL*> NewConnection(const HostPort& server) const;
  // The same setup on an SSL* the caller made from ssl_ctx() (for a
  // transport that makes its own): must be called once, before the
  // handshake. InternalError if `ssl` is of another SSL_CTX.
  absl::Status PrepareConnection(SSL* ssl, const HostPort& server) const;

  // Why the handshake of `ssl` failed, once SSL_connect/SSL_do_handshake
  // returned an error (SSL_ERROR_SSL or SSL_ERROR_SYSCALL): the
  // verification result when the certificate was refused
  //   "certificate verify failed: unable to get local issuer certificate"
  //   "certificate verify failed: hostname mismatch (expected \"api.internal\")"
  // else the reason of OpenSSL's error queue ("tlsv1 alert no application
  // protocol", "wrong version number", ...). Empties this thread's OpenSSL
  // error queue: call it on the thread that ran the handshake, right after.
  std::string HandshakeError(const SSL* ssl) const;

  // The checks after a handshake that completed: the certificate verified
  // (unless insecureSkipVerify), h2 negotiated by ALPN, peerCertURI among the
  // certificate's URI SANs. Errors:
  //   "server did not negotiate h2 (ALPN)"
  //   "peer certificate has no URI SAN spiffe://example.org/api (it has: none)"
  absl::Status VerifyPeer(const SSL* ssl) const;

  // The identity checks alone, on a PEM certificate whose chain another
  // TLS stack verified (gRPC's TlsCredentials, for the health checks):
  // peerCertURI among its URI SANs, and serverName, when set, among its
  // names. The same messages as VerifyPeer.
  absl::Status VerifyPeerIdentity(absl::string_view cert_pem) const;

  // Identifies the settings and the contents of every file read: equal
  // identities, interchangeable contexts. Pool keys carry it, so that a
  // reload that finds a rotated file opens new connections.
  const std::string& identity() const { return identity_; }
  const ClientTlsOptions& options() const { return options_; }
  // For gRPC's SslCredentials (the health checks): the PEM text of the root
  // CAs ("" for the system's roots), the client certificate chain and key
  // ("" without a client certificate).
  const std::string& root_certs_pem() const { return root_certs_pem_; }
  const std::string& cert_chain_pem() const { return cert_chain_pem_; }
  const std::string& private_key_pem() const { return private_key_pem_; }

  // The context's SSL_CTX, for the transport's needs beyond NewConnection.
  SSL_CTX* ssl_ctx() const { return ctx_; }

 private:
  explicit ClientTlsContext(ClientTlsOptions options);

  // OpenSSL's new-session callback: stores the session under the key that
  // NewConnection attached to the SSL*.
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
  // peerCertURI among the URI SANs of `cert` (null: none), if configured.
  absl::Status CheckPeerCertUri(X509* cert) const;

  const ClientTlsOptions options_;
  SSL_CTX* ctx_ = nullptr;  // owned
  std::string identity_;
  std::string root_certs_pem_;
  std::string cert_chain_pem_;
  std::string private_key_pem_;

  // The latest session per server ("host:port"), each owning one reference.
  // Written from workers' threads as tickets arrive.
  mutable absl::Mutex sessions_mu_;
  mutable absl::flat_hash_map<std::string, SSL_SESSION*> sessions_
      ABSL_GUARDED_BY(sessions_mu_);
};

}  // namespace strait::net

#endif  // STRAIT_NET_CLIENT_TLS_CONTEXT_H_
