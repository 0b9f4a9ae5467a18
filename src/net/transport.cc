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

Transport::Status PlainTransport::Fail(const char* what) {
  error_ = absl::StrCat(what, ": ", strerror(errno));
  return Status::kError;
}

}  // namespace strait::net
