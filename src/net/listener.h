#ifndef STRAIT_NET_LISTENER_H_
#define STRAIT_NET_LISTENER_H_

#include <functional>
#include <memory>

#include "event/dispatcher.h"
#include "net/socket.h"

namespace strait::net {

// Accepts connections on one listening socket of one worker. Owned by its
// Worker; loop-thread-only. Accepted sockets are non-blocking, TCP_NODELAY,
// and handed to the callback, which owns them from then on.
class Listener {
 public:
  using AcceptCallback = std::function<void(int fd, const SocketAddress& peer)>;

  // Takes ownership of `fd`, a listening socket.
  Listener(event::Dispatcher& dispatcher, int fd, AcceptCallback on_accept);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Stops accepting and closes the socket (used when draining).
  void Close();

 private:
  void OnReadable();

  int fd_;
  AcceptCallback on_accept_;
  std::unique_ptr<event::FileEvent> event_;
};

}  // namespace strait::net

#endif  // STRAIT_NET_LISTENER_H_
