#include "net/socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace strait::net {
namespace {

int GetInt(int fd, int level, int option) {
  int value = -1;
  socklen_t length = sizeof value;
  EXPECT_EQ(getsockopt(fd, level, option, &value, &length), 0);
  return value;
}

TEST(SocketTest, ConnectionsGetNoDelayAndTheKernelsLivenessChecks) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ConfigureConnection(fd);
  EXPECT_NE(GetInt(fd, IPPROTO_TCP, TCP_NODELAY), 0);
  EXPECT_NE(GetInt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_KEEPIDLE), kTcpKeepaliveIdleSeconds);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_KEEPINTVL), kTcpKeepaliveIntervalSeconds);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_KEEPCNT), kTcpKeepaliveProbes);
  EXPECT_EQ(GetInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT), kTcpUserTimeoutMs);
  close(fd);
}

TEST(SocketTest, OutgoingConnectionsAreConfigured) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  absl::StatusOr<SocketAddress> bound = LocalAddress(listener);
  ASSERT_TRUE(bound.ok());
  absl::StatusOr<int> fd = ConnectNonBlocking(*bound);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_NE(GetInt(*fd, SOL_SOCKET, SO_KEEPALIVE), 0);
  EXPECT_EQ(GetInt(*fd, IPPROTO_TCP, TCP_USER_TIMEOUT), kTcpUserTimeoutMs);
  close(*fd);
  close(listener);
}

TEST(SocketTest, PickFreePortAvoidsPortsOtherReusePortSocketsListenOn) {
  absl::StatusOr<SocketAddress> any = Resolve(HostPort{"127.0.0.1", 0});
  ASSERT_TRUE(any.ok());
  // Someone else's SO_REUSEPORT listeners (gRPC servers set it), many.
  std::vector<int> others;
  std::vector<int> taken;
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<int> fd = ListenReusePort(*PickFreePort(*any), 16);
    ASSERT_TRUE(fd.ok());
    others.push_back(*fd);
    taken.push_back(LocalAddress(*fd)->port());
  }
  for (int i = 0; i < 50; ++i) {
    absl::StatusOr<SocketAddress> picked = PickFreePort(*any);
    ASSERT_TRUE(picked.ok());
    EXPECT_NE(picked->port(), 0);
    EXPECT_EQ(std::count(taken.begin(), taken.end(), picked->port()), 0);
  }
  absl::StatusOr<SocketAddress> fixed = PickFreePort(*Resolve(HostPort{"127.0.0.1", 8080}));
  EXPECT_EQ(fixed->port(), 8080);
  for (int fd : others) close(fd);
}

}  // namespace
}  // namespace strait::net
