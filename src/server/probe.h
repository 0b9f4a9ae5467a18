#ifndef STRAIT_SERVER_PROBE_H_
#define STRAIT_SERVER_PROBE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace strait::server {

// `strait probe ADDR [--service NAME] [--timeout 2s]
//                    [--tls-ca FILE [--tls-server-name NAME]]`:
// one grpc.health.v1.Health/Check call, for Docker HEALTHCHECK and
// Kubernetes exec probes. strait's admin server answers it on
// 127.0.0.1:9901 by default; any gRPC server with the health service does.
struct ProbeOptions {
  std::string target;   // a gRPC target: "127.0.0.1:9901", "dns:///host:443"
  std::string service;  // "": the whole server
  absl::Duration timeout = absl::Seconds(2);
  // With a CA: TLS, verifying the server against it (PEM content).
  std::optional<std::string> tls_ca;
  std::string tls_server_name;  // "": the target's host
};

// `args` after "probe", without --help (RunProbe answers that). Errors name
// the flag and the problem in one line; the CA file is read here.
absl::StatusOr<ProbeOptions> ParseProbeArgs(const std::vector<std::string>& args);

// What one Check saw.
struct ProbeResult {
  bool serving = false;  // answered SERVING
  std::string summary;   // one line: "127.0.0.1:9901: SERVING", "...: unreachable: ..."
};
// Blocks up to options.timeout.
ProbeResult Probe(const ProbeOptions& options);

// The whole subcommand; returns the exit code: 0 SERVING, 1 anything else
// (NOT_SERVING, unknown service, unreachable, timeout), 2 bad command line.
// Prints the summary on stdout when SERVING, on stderr otherwise.
int RunProbe(const std::vector<std::string>& args);

extern const char kProbeUsage[];

}  // namespace strait::server

#endif  // STRAIT_SERVER_PROBE_H_
