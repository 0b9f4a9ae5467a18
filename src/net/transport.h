#ifndef STRAIT_NET_TRANSPORT_H_
#define STRAIT_NET_TRANSPORT_H_

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <string>

#include "absl/strings/string_view.h"

namespace strait::net {

// What a connection's bytes travel over, under h2::SocketSession: the socket
// itself (PlainTransport) or TLS on it (TlsTransport), so that sessions never
// see which. Owns the fd. Owned by its SocketSession; loop-thread-only.
//
// Every call is non-blocking. kAgain says which readiness of the fd to wait
// for: after a Read, usually readable; after a Write, usually writable; TLS
// may ask the other way round (wants_read/wants_write say what the last
// kAgain waits for).
class Transport {
 public:
  enum class Status {
    kOk,      // done: bytes moved, or the handshake finished
    kAgain,   // would block: call again once the fd is ready as wants_*() says
    kClosed,  // the peer closed (a FIN, or TLS close_notify)
    kError,   // broken: error() says why; close the connection
  };
  struct Result {
    Status status;
    size_t bytes = 0;  // with kOk: how many were read or written
  };

  explicit Transport(int fd) : fd_(fd) {}
  virtual ~Transport();  // closes the fd
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Drives the handshake (none for plain: kOk at once). Call until kOk
  // before the first Read or Write.
  virtual Status Handshake() { return Status::kOk; }
  // Reads up to `length` bytes.
  virtual Result Read(uint8_t* buf, size_t length) = 0;
  // Writes up to `length` bytes. After kAgain, the next Write must start
  // with the same bytes again (it may pass more after them).
  virtual Result Write(const uint8_t* buf, size_t length) = 0;
  // Ends the sending direction cleanly: TLS close_notify, then the TCP FIN.
  // Best effort, never blocks.
  virtual void ShutdownWrite();

  // What the last kAgain (of any call) waits for. Plain TCP: a Read waits
  // for readability, a Write for writability, never the other way round.
  virtual bool wants_read() const { return true; }
  virtual bool wants_write() const { return true; }
  // Why the last call returned kError.
  const std::string& error() const { return error_; }
  // The application protocol the handshake agreed ("h2"), empty if none.
  virtual absl::string_view alpn() const { return {}; }
  int fd() const { return fd_; }

 protected:
  int fd_;
  std::string error_;
};

// Bytes straight to and from the socket: send(MSG_NOSIGNAL) and recv().
// Defined here so that SocketSession, which knows when its transport is
// plain, calls them without a virtual call: the h2c path costs what it did
// before transports existed.
class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) : Transport(fd) {}

  // Transport
  Result Read(uint8_t* buf, size_t length) override {
    for (;;) {
      ssize_t n = recv(fd_, buf, length, 0);
      if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
      if (n == 0) return {Status::kClosed};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kAgain};
      return {Fail("read")};
    }
  }
  Result Write(const uint8_t* buf, size_t length) override {
    for (;;) {
      // MSG_NOSIGNAL: a peer that went away is an error, never SIGPIPE.
      ssize_t n = send(fd_, buf, length, MSG_NOSIGNAL);
      if (n >= 0) return {Status::kOk, static_cast<size_t>(n)};
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kAgain};
      return {Fail("write")};
    }
  }

 private:
  // Sets error_ from errno; kError.
  Status Fail(const char* what);
};

}  // namespace strait::net

#endif  // STRAIT_NET_TRANSPORT_H_
