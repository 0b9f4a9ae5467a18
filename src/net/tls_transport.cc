#include "net/tls_transport.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace strait::net {
namespace {

// A BIO over a non-blocking fd: recv()/send(MSG_NOSIGNAL), retry flags on
// EAGAIN. The fd belongs to the Transport; the BIO never closes it.
int FdFromBio(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int BioWrite(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    ssize_t n = send(FdFromBio(bio), data, length, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return -1;
  }
}

int BioRead(BIO* bio, char* data, int length) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    ssize_t n = recv(FdFromBio(bio), data, length, 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;
  }
}

long BioCtrl(BIO*, int cmd, long, void*) {
  // Writes are unbuffered; nothing else is supported.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

BIO_METHOD* FdBioMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "strait fd");
    BIO_meth_set_write(m, BioWrite);
    BIO_meth_set_read(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    return m;
  }();
  return method;
}

constexpr unsigned char kAlpnH2[] = {2, 'h', '2'};

}  // namespace

std::string TlsErrorString(const char* fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    if (!out.empty()) continue;  // the first is the cause; drain the rest
    const char* reason = ERR_reason_error_string(e);
    out = reason != nullptr ? reason : absl::StrCat("error ", e);
  }
  return out.empty() ? fallback : out;
}

TlsTransport::TlsTransport(int fd, SSL_CTX* ctx, Role role, const std::string& server_name)
    : Transport(fd), ssl_(SSL_new(ctx)), role_(role) {
  if (ssl_ == nullptr) abort();  // SSL_new fails only out of memory
  BIO* bio = BIO_new(FdBioMethod());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                         SSL_MODE_RELEASE_BUFFERS);
  // HTTP/2 frames itself: a FIN without close_notify is an ordinary close
  // (many clients just close), never a truncation that matters.
  SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (role == Role::kServer) {
    SSL_set_accept_state(ssl_);
  } else {
    SSL_set_connect_state(ssl_);
    SSL_set_alpn_protos(ssl_, kAlpnH2, sizeof kAlpnH2);
    if (!server_name.empty()) {
      SSL_set_tlsext_host_name(ssl_, server_name.c_str());
      if (SSL_get_verify_mode(ssl_) & SSL_VERIFY_PEER) SSL_set1_host(ssl_, server_name.c_str());
    }
  }
}

TlsTransport::~TlsTransport() { SSL_free(ssl_); }

Transport::Status TlsTransport::Fail(int rv, const char* what) {
  switch (SSL_get_error(ssl_, rv)) {
    case SSL_ERROR_WANT_READ:
      want_write_ = false;
      return Status::kAgain;
    case SSL_ERROR_WANT_WRITE:
      want_write_ = true;
      return Status::kAgain;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      return Status::kClosed;
    case SSL_ERROR_SYSCALL:
      if (errno == 0) {  // EOF (SSL_OP_IGNORE_UNEXPECTED_EOF makes this rare)
        ERR_clear_error();
        return Status::kClosed;
      }
      error_ = absl::StrCat(what, ": ", strerror(errno));
      ERR_clear_error();
      return Status::kError;
    default: {
      error_ = absl::StrCat(what, ": ", TlsErrorString("TLS error"));
      long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) {
        absl::StrAppend(&error_, ": ", X509_verify_cert_error_string(verify));
      }
      return Status::kError;
    }
  }
}

Transport::Status TlsTransport::Handshake() {
  if (handshake_done_) return Status::kOk;
  errno = 0;
  int rv = SSL_do_handshake(ssl_);
  if (rv != 1) {
    Status s = Fail(rv, "TLS handshake");
    // A peer that closes mid-handshake has failed it.
    if (s == Status::kClosed) {
      error_ = absl::StrCat(kTlsHandshakeError, "peer closed the connection");
      return Status::kError;
    }
    return s;
  }
  if (role_ == Role::kClient && alpn() != "h2") {
    error_ = absl::StrCat(kTlsHandshakeError, "the server did not negotiate ALPN h2");
    return Status::kError;
  }
  handshake_done_ = true;
  want_write_ = false;
  return Status::kOk;
}

Transport::Result TlsTransport::Read(uint8_t* buf, size_t length) {
  size_t n = 0;
  errno = 0;
  int rv = SSL_read_ex(ssl_, buf, length, &n);
  if (rv == 1) return {Status::kOk, n};
  return {Fail(rv, "TLS read")};
}

Transport::Result TlsTransport::Write(const uint8_t* buf, size_t length) {
  if (length == 0) return {Status::kOk, 0};
  size_t n = 0;
  errno = 0;
  int rv = SSL_write_ex(ssl_, buf, length, &n);
  if (rv == 1) return {Status::kOk, n};
  return {Fail(rv, "TLS write")};
}

void TlsTransport::ShutdownWrite() {
  if (handshake_done_) {
    SSL_shutdown(ssl_);  // queues and tries to send close_notify
    ERR_clear_error();
  }
  Transport::ShutdownWrite();
}

absl::string_view TlsTransport::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &data, &length);
  return absl::string_view(reinterpret_cast<const char*>(data), length);
}

std::string TlsTransport::PeerSubject() const {
  X509* peer = SSL_get0_peer_certificate(ssl_);
  if (peer == nullptr) return "";
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(peer), buf, sizeof buf);
  return buf;
}

}  // namespace strait::net
