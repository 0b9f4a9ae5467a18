#ifndef STRAIT_PROXY_UPSTREAM_HEADERS_H_
#define STRAIT_PROXY_UPSTREAM_HEADERS_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/header.h"
#include "config/snapshot.h"
#include "upstream/backend.h"

namespace strait::proxy {

// The request headers one upstream stream opens with, made from the
// client's (`client`, as received): pseudo-headers first, connection-specific
// ones dropped, `:authority` per the service's passHostHeader,
// x-forwarded-for with `peer_ip` appended, `:scheme` and x-forwarded-proto
// as `scheme` (the entry point's: "http" for h2c, "https" for TLS), and, when the
// RPC has a deadline, grpc-timeout set to the `remaining` budget. Shared by
// the main attempt (ProxyStream) and mirror copies (MirrorStream), so a
// mirror sees what the main service sees.
HeaderList UpstreamHeaders(const HeaderList& client, const config::ServiceEntry& service,
                           const upstream::Backend& backend,
                           std::optional<absl::Duration> remaining, absl::string_view peer_ip,
                           absl::string_view scheme);

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_UPSTREAM_HEADERS_H_
