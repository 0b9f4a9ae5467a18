#ifndef STRAIT_ADMIN_STATS_RESPONSE_H_
#define STRAIT_ADMIN_STATS_RESPONSE_H_

#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "admin/control_plane.h"
#include "proxy/proxy_counters.h"
#include "proxy/rpc_stats.h"
#include "server/server.h"
#include "strait/admin/v1/admin.pb.h"
#include "strait/config/v1/config.pb.h"

namespace strait::admin {

// What strait counted, read once from the Server (each call sums its
// workers) and the ControlPlane: the input of GetStats, as RenderMetrics
// reads the same for Prometheus.
struct CountedStats {
  proxy::RpcStatsTable rpcs;
  proxy::ProxyCounters counters;
  std::vector<server::ServerStatus> servers;  // already filtered by service
  ControlPlane::Stats changes;
  uint64_t access_log_dropped = 0;

  // Reads all of it (blocks a loop turn per worker for each part).
  static CountedStats Read(ControlPlane& plane, absl::string_view service);
};

// GetStats' answer: `counted` grouped by router, service and entry point
// (names of `running` with nothing counted yet appear with zeros), only
// `service`'s routers' RPCs and the service itself when not empty. A pure
// function, on the caller's thread.
v1::GetStatsResponse StatsResponse(const config::v1::Config& running, const CountedStats& counted,
                                   absl::string_view service);

// One server as ListServers and GetStats show it.
void ToProto(const server::ServerStatus& status, v1::ServerStatus* out);

}  // namespace strait::admin

#endif  // STRAIT_ADMIN_STATS_RESPONSE_H_
