#ifndef STRAIT_CONFIG_VALIDATE_H_
#define STRAIT_CONFIG_VALIDATE_H_

#include "absl/status/status.h"
#include "strait/config/v1/config.pb.h"

namespace strait::config {

// Checks what a configuration means: references resolve, addresses and URLs
// parse, rules compile, numbers are in range. Every problem found is listed,
// one per line, as "<field path>: <problem>" with the file's key names
// (`services.api.loadBalancer.servers[1].url: scheme must be h2c, ...`).
// It reads the TLS files a serversTransport names (rootCAs, certificates),
// so that a missing file or a key that does not match its certificate is
// refused with its field here, as on `--check`.
absl::Status ValidateConfig(const v1::Config& config);

}  // namespace strait::config

#endif  // STRAIT_CONFIG_VALIDATE_H_
