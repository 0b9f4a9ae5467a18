#ifndef STRAIT_NET_TLS_TRANSPORT_H_
#define STRAIT_NET_TLS_TRANSPORT_H_

#include <openssl/ssl.h>

#include <string>

#include "absl/strings/string_view.h"

#include "net/transport.h"

namespace strait::net {

// How every handshake failure's error() begins (then the cause, e.g.
// "certificate verify failed: unable to get local issuer certificate"), so
// that a connection's owner can tell a TLS failure from a TCP one.
inline constexpr absl::string_view kTlsHandshakeError = "TLS handshake: ";

// TLS over a connection's non-blocking socket, for either side: a server
// (DownstreamConnection on a TLS entry point) or a client (an upstream
// connection to an https:// server). Owned by its SocketSession;
// loop-thread-only.
//
// The SSL* reads and writes the fd itself, through a small BIO of our own
// that uses recv()/send(MSG_NOSIGNAL) (OpenSSL's socket BIO write()s, which
// raises SIGPIPE on a peer gone): no memory BIOs, so no second copy of every
// byte and no ciphertext buffered here beyond what OpenSSL keeps for a
// retried record. SSL_MODE_ENABLE_PARTIAL_WRITE |
// SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER match SocketSession's output buffer,
// which may grow (and move) between a kAgain and the retry.
//
// The SSL_CTX is taken, not owned: SSL_new holds its own reference, so the
// caller's may go (a reload) while this connection lives on with the
// context it started with. A server context picks its certificate by SNI in
// its own callback (TlsServerContext); a client context verifies the peer
// as its builder configured it.
class TlsTransport final : public Transport {
 public:
  enum class Role {
    kServer,  // SSL_accept: a downstream client connected to strait
    kClient,  // SSL_connect: strait connects to a backend
  };

  // `server_name` (client role only): sent as SNI and, when the context
  // verifies peers, checked against the certificate (SSL_set1_host);
  // empty: neither. The client offers ALPN "h2"; a server that does not
  // select it fails the handshake.
  TlsTransport(int fd, SSL_CTX* ctx, Role role, const std::string& server_name = "");
  ~TlsTransport() override;

  // Transport
  Status Handshake() override;
  Result Read(uint8_t* buf, size_t length) override;
  Result Write(const uint8_t* buf, size_t length) override;
  // Sends close_notify (if the handshake finished) and the FIN.
  void ShutdownWrite() override;
  bool wants_read() const override { return !want_write_; }
  bool wants_write() const override { return want_write_; }
  absl::string_view alpn() const override;

  SSL* ssl() const { return ssl_; }
  bool handshake_done() const { return handshake_done_; }
  // Subject of the peer's certificate, for logs; empty if it sent none.
  std::string PeerSubject() const;

 private:
  // Maps an SSL_* return to a Status; sets want_write_ or error_.
  Status Fail(int rv, const char* what);

  SSL* ssl_;
  const Role role_;
  bool handshake_done_ = false;
  bool want_write_ = false;  // the last kAgain waits for writability
};

// The OpenSSL error queue as text ("certificate verify failed: unable to get
// local issuer certificate"), cleared; `fallback` if it is empty.
std::string TlsErrorString(const char* fallback);

}  // namespace strait::net

#endif  // STRAIT_NET_TLS_TRANSPORT_H_
