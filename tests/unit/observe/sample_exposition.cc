// Writes an exposition with every kind of family and label value strait
// produces (including hostile ones) to stdout, for `promtool check metrics`
// (promtool_check.sh).
#include <iostream>

#include "observe/exposition.h"

int main() {
  using strait::observe::Exposition;
  using strait::observe::Histogram;
  Exposition exposition;
  for (const char* status : {"OK", "NOT_FOUND", "UNAVAILABLE", "DEADLINE_EXCEEDED"}) {
    exposition.Counter("strait_rpcs_total", "RPCs finished, by gRPC status.",
                       {{"entry_point", "web"},
                        {"router", "api"},
                        {"service", "api"},
                        {"method", "/pkg.Svc/Method"},
                        {"grpc_status", status}},
                       7);
  }
  exposition.Counter("strait_rpcs_total", "RPCs finished, by gRPC status.",
                     {{"entry_point", "web"},
                      {"router", "r\"q\\ \n"},
                      {"service", "s\xFF"},
                      {"method", "other"},
                      {"grpc_status", "OK"}},
                     1);
  Histogram latency;
  for (double seconds : {0.0001, 0.003, 0.2, 7.0, 45.0}) latency.Observe(seconds);
  exposition.Histogram("strait_rpc_duration_seconds", "Time to the end of the RPC.",
                       {{"service", "api"}, {"method", "/pkg.Svc/Method"}}, latency);
  exposition.Histogram("strait_rpc_duration_seconds", "Time to the end of the RPC.",
                       {{"service", "empty"}, {"method", "other"}}, Histogram());
  exposition.Gauge("strait_server_healthy", "1 if the server may take RPCs.",
                   {{"service", "api"}, {"server", "h2c://10.0.0.1:50051"}}, 1);
  exposition.Gauge("strait_config_version", "Version of the running configuration.", {}, 42);
  exposition.Gauge("strait_build_info", "Always 1; the labels say the build.",
                   {{"version", "0.1.0"}}, 1);
  auto text = exposition.Take();
  if (!text.ok()) {
    std::cerr << text.status() << "\n";
    return 1;
  }
  std::cout << *text;
  return 0;
}
