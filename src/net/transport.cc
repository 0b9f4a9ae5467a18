#include "net/transport.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace strait::net {

Transport::~Transport() {
  if (fd_ >= 0) close(fd_);
}

void Transport::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

Transport::Result PlainTransport::Read(uint8_t* buf, size_t length) {
  for (;;) {
    ssize_t n = recv(fd_, buf, length, 0);
    if (n > 0) return {Status::kOk, static_cast<size_t>(n)};
    if (n == 0) return {Status::kClosed};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kAgain};
    error_ = absl::StrCat("read: ", strerror(errno));
    return {Status::kError};
  }
}

Transport::Result PlainTransport::Write(const uint8_t* buf, size_t length) {
  for (;;) {
    // MSG_NOSIGNAL: a peer that went away is an error, never SIGPIPE.
    ssize_t n = send(fd_, buf, length, MSG_NOSIGNAL);
    if (n >= 0) return {Status::kOk, static_cast<size_t>(n)};
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return {Status::kAgain};
    error_ = absl::StrCat("write: ", strerror(errno));
    return {Status::kError};
  }
}

}  // namespace strait::net
