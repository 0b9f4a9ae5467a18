#ifndef STRAIT_NET_ADDRESS_H_
#define STRAIT_NET_ADDRESS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace strait::net {

// A host and port as written in a configuration.
struct HostPort {
  std::string host;  // no brackets; "" means every IPv4 address (":8080")
  uint16_t port = 0;
};

// "127.0.0.1:80", ":80", "[::1]:80", "localhost:80". Port 0..65535.
absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);
// Brackets around IPv6 literals: "[::1]:80".
std::string FormatHostPort(const HostPort& host_port);

// A server URL: "h2c://host:port" (HTTP/2 with prior knowledge over TCP) or
// "https://host:port" (HTTP/2 over TLS). The port is always written.
struct ServerUrl {
  std::string scheme;  // "h2c" or "https"
  HostPort host_port;

  bool tls() const { return scheme == "https"; }
};
absl::StatusOr<ServerUrl> ParseServerUrl(absl::string_view url);

}  // namespace strait::net

#endif  // STRAIT_NET_ADDRESS_H_
