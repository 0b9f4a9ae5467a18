#include "net/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace strait::net {
namespace {

absl::Status ErrnoStatus(absl::string_view what, int err) {
  return absl::UnavailableError(absl::StrCat(what, ": ", strerror(err)));
}

}  // namespace

int SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return -1;
}

std::string SocketAddress::IpString() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr,
              buf, sizeof buf);
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6,
              &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof buf);
  } else {
    return "unknown";
  }
  return buf;
}

std::string SocketAddress::ToString() const {
  if (family() == AF_INET6) return absl::StrCat("[", IpString(), "]:", port());
  return absl::StrCat(IpString(), ":", port());
}

absl::StatusOr<SocketAddress> Resolve(const HostPort& host_port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (host_port.host.empty() ? AI_PASSIVE : 0);
  std::string port = absl::StrCat(host_port.port);
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host_port.host.empty() ? "0.0.0.0" : host_port.host.c_str(),
                       port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot resolve \"", host_port.host, "\": ", gai_strerror(rc)));
  }
  SocketAddress address;
  memcpy(&address.storage, result->ai_addr, result->ai_addrlen);
  address.length = result->ai_addrlen;
  freeaddrinfo(result);
  return address;
}

absl::StatusOr<SocketAddress> PickFreePort(const SocketAddress& address) {
  if (address.port() != 0) return address;
  int fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(absl::StrCat("bind ", address.ToString()), err);
  }
  absl::StatusOr<SocketAddress> bound = LocalAddress(fd);
  close(fd);
  return bound;
}

absl::StatusOr<int> ListenReusePort(const SocketAddress& address, int backlog) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (address.family() == AF_INET6) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address.storage),
           address.length) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(absl::StrCat("bind ", address.ToString()), err);
  }
  if (listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    return ErrnoStatus(absl::StrCat("listen ", address.ToString()), err);
  }
  return fd;
}

absl::StatusOr<SocketAddress> LocalAddress(int fd) {
  SocketAddress address;
  address.length = sizeof address.storage;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage),
                  &address.length) != 0) {
    return ErrnoStatus("getsockname", errno);
  }
  return address;
}

absl::StatusOr<int> ConnectNonBlocking(const SocketAddress& address) {
  int fd = socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket", errno);
  ConfigureConnection(fd);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address.storage),
              address.length) != 0 &&
      errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return ErrnoStatus(absl::StrCat("connect ", address.ToString()), err);
  }
  return fd;
}

int PendingSocketError(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

void ConfigureConnection(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  int idle = kTcpKeepaliveIdleSeconds, interval = kTcpKeepaliveIntervalSeconds,
      probes = kTcpKeepaliveProbes, user_timeout = kTcpUserTimeoutMs;
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
  setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

}  // namespace strait::net
