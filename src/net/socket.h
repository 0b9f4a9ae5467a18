#ifndef STRAIT_NET_SOCKET_H_
#define STRAIT_NET_SOCKET_H_

#include <sys/socket.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/address.h"

namespace strait::net {

// A resolved socket address (IPv4 or IPv6).
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  int port() const;
  std::string ToString() const;  // "127.0.0.1:80", "[::1]:80"
  std::string IpString() const;  // "127.0.0.1", "::1"
};

// Resolves host:port to one address (numeric hosts need no DNS; names go
// through getaddrinfo and take the first result). Blocking: control thread
// only. An empty host means the IPv4 wildcard.
absl::StatusOr<SocketAddress> Resolve(const HostPort& host_port);

// A non-blocking, close-on-exec listening socket with SO_REUSEPORT, so every
// worker can bind its own socket to the same address.
absl::StatusOr<int> ListenReusePort(const SocketAddress& address, int backlog);
// `address` with port 0 replaced by a port no socket uses now. The kernel
// picks it for a socket *without* SO_REUSEPORT: given port 0 and
// SO_REUSEPORT, it may hand out a port that another process's SO_REUSEPORT
// socket of the same user already listens on (gRPC servers set it), and
// connections would then be split between the two.
absl::StatusOr<SocketAddress> PickFreePort(const SocketAddress& address);
// The address a socket is bound to.
absl::StatusOr<SocketAddress> LocalAddress(int fd);

// Starts a non-blocking connect. Returns the fd (connect in progress or done)
// or an error naming the address.
absl::StatusOr<int> ConnectNonBlocking(const SocketAddress& address);
// After a connecting fd turned writable: 0 if connected, else the errno.
int PendingSocketError(int fd);

// What every connection strait accepts or opens gets: TCP_NODELAY (gRPC
// frames are small and latency-sensitive), and the kernel's own liveness
// checks under HTTP/2's keepalive PINGs: SO_KEEPALIVE probes after
// kTcpKeepaliveIdle of silence, and TCP_USER_TIMEOUT, so that data a dead
// peer never acknowledges cannot hold a connection for the kernel's
// ~15-minute retransmission limit.
void ConfigureConnection(int fd);
inline constexpr int kTcpKeepaliveIdleSeconds = 60;
inline constexpr int kTcpKeepaliveIntervalSeconds = 10;
inline constexpr int kTcpKeepaliveProbes = 3;
inline constexpr int kTcpUserTimeoutMs = 90'000;

}  // namespace strait::net

#endif  // STRAIT_NET_SOCKET_H_
