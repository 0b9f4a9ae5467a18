#ifndef STRAIT_CONFIG_CLIENT_TLS_H_
#define STRAIT_CONFIG_CLIENT_TLS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "net/client_tls_context.h"
#include "strait/config/v1/config.pb.h"

namespace strait::config {

// The TLS fields of a serversTransport, as ClientTlsContext takes them.
net::ClientTlsOptions ClientTlsOptionsOf(const v1::ServersTransport& transport);

// Builds the client TLS context of `transport` (reading its files); errors
// name the field under `path` ("serversTransports.secure"), e.g.
//   serversTransports.secure.rootCAs[0]: "/etc/ca.pem": open: No such file or directory
// Control thread (it reads files).
absl::StatusOr<std::shared_ptr<const net::ClientTlsContext>> BuildClientTls(
    const std::string& path, const v1::ServersTransport& transport);

}  // namespace strait::config

#endif  // STRAIT_CONFIG_CLIENT_TLS_H_
