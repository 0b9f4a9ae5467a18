#ifndef STRAIT_UPSTREAM_BACKEND_H_
#define STRAIT_UPSTREAM_BACKEND_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "h2/settings.h"
#include "net/socket.h"

namespace strait::upstream {

// One server of a service, resolved. Immutable; lives in a Snapshot.
struct Backend {
  std::string url;        // as configured: "h2c://127.0.0.1:50051"
  std::string authority;  // "127.0.0.1:50051": :authority when the host
                          // header is not passed through
  net::SocketAddress address;
};

// How connections to backends are made (a compiled serversTransport).
// Immutable; lives in a Snapshot.
struct TransportSettings {
  std::string name;  // "" for the built-in defaults
  // A fingerprint of the serversTransport message these settings were
  // compiled from (of its deterministic serialization), set by the
  // Snapshot: any field that changes gives another Key().
  uint64_t fingerprint = 0;
  absl::Duration dial_timeout = absl::Seconds(30);
  absl::Duration response_header_timeout = absl::ZeroDuration();  // 0: none
  absl::Duration idle_conn_timeout = absl::Seconds(90);
  absl::Duration read_idle_timeout = absl::Minutes(5);  // 0: no PINGs
  absl::Duration ping_timeout = absl::Seconds(20);
  absl::Duration pending_timeout = absl::Seconds(10);
  uint32_t max_conns_per_server = 16;
  uint32_t max_pending_requests = 1024;
  h2::Http2Limits http2;

  // Identifies these settings by name and fingerprint: connections are
  // shared only between identical transports, so a changed transport gets
  // fresh connections.
  std::string Key() const;
};

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_BACKEND_H_
