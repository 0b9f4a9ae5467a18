#ifndef STRAIT_UPSTREAM_BACKEND_H_
#define STRAIT_UPSTREAM_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "h2/settings.h"
#include "net/address.h"
#include "net/client_tls_context.h"
#include "net/socket.h"

namespace strait::upstream {

// One server of a service, resolved. Immutable; lives in a Snapshot.
struct Backend {
  std::string url;        // as configured: "h2c://127.0.0.1:50051"
  std::string authority;  // "127.0.0.1:50051": :authority when the host
                          // header is not passed through
  net::SocketAddress address;
  // An https:// server: TLS with TransportSettings::tls. `host_port` is
  // the URL's, whose host is the name verified unless serverName says
  // otherwise (see ClientTlsContext::NewConnection).
  bool tls = false;
  net::HostPort host_port;
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
  // The TLS of https:// servers, built with the snapshot from the
  // transport's TLS fields (its identity is part of `fingerprint`); null
  // when the service has no https:// server. Shared by every worker.
  std::shared_ptr<const net::ClientTlsContext> tls;

  // Identifies these settings by name and fingerprint: connections are
  // shared only between identical transports, so a changed transport gets
  // fresh connections.
  std::string Key() const;
};

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_BACKEND_H_
