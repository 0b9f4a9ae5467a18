#include "net/listener.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

namespace strait::net {

Listener::Listener(event::Dispatcher& dispatcher, int fd,
                   AcceptCallback on_accept)
    : fd_(fd), on_accept_(std::move(on_accept)) {
  event_ = std::make_unique<event::FileEvent>(
      dispatcher, fd_, [this](uint32_t) { OnReadable(); });
  event_->SetInterest(true, false);
}

Listener::~Listener() { Close(); }

void Listener::Close() {
  if (fd_ < 0) return;
  event_.reset();
  close(fd_);
  fd_ = -1;
}

void Listener::OnReadable() {
  // Bounded so one busy listener cannot starve the loop's other work.
  for (int i = 0; i < 64 && fd_ >= 0; ++i) {
    SocketAddress peer;
    peer.length = sizeof peer.storage;
    int fd = accept4(fd_, reinterpret_cast<sockaddr*>(&peer.storage),
                     &peer.length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        STRAIT_LOG_EVERY("accept", absl::Seconds(10), kWarn, "accept: ", strerror(errno));
      }
      return;
    }
    ConfigureConnection(fd);
    on_accept_(fd, peer);
  }
}

}  // namespace strait::net
