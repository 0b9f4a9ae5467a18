#ifndef STRAIT_ADMIN_METRICS_H_
#define STRAIT_ADMIN_METRICS_H_

#include <string>

#include "absl/status/statusor.h"
#include "admin/control_plane.h"

namespace strait::admin {

// strait's metrics in the Prometheus text format, as served on GET /metrics
// (observe::MetricsHttpServer): RPCs by entry point, router, service, method
// and grpc-status; per server; per entry point; the process. Sums every
// worker's counters (blocks one loop turn per worker, a few times). The
// names and labels are listed in README.md (Observability).
absl::StatusOr<std::string> RenderMetrics(ControlPlane& control_plane);

}  // namespace strait::admin

#endif  // STRAIT_ADMIN_METRICS_H_
