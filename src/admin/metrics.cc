#include "admin/metrics.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "h2/grpc.h"
#include "observe/exposition.h"
#include "proxy/proxy_counters.h"
#include "proxy/rpc_stats.h"
#include "server/server.h"

#ifndef STRAIT_VERSION
#define STRAIT_VERSION "unknown"
#endif

namespace strait::admin {
namespace {

using observe::Exposition;
using observe::Label;

void AddRpcs(Exposition& out, const proxy::RpcStatsTable& rpcs) {
  // Streams per entry point: every RPC that started there.
  std::map<std::string, uint64_t> streams;
  rpcs.ForEach([&](const proxy::RpcKey& key, const proxy::RpcStats& stats) {
    const Label route[] = {{"entry_point", key.entry_point},
                           {"router", key.router},
                           {"service", key.service},
                           {"method", key.method}};
    uint64_t started = stats.active;
    for (int code = 0; code < h2::kGrpcStatusCount; ++code) {
      started += stats.finished[code];
      if (stats.finished[code] == 0) continue;
      const Label with_status[] = {route[0], route[1], route[2], route[3],
                                   {"grpc_status", h2::GrpcStatusName(static_cast<h2::GrpcStatus>(code))}};
      out.Counter("strait_rpcs_total",
                  "RPCs finished, by the grpc-status their client got (from the backend's "
                  "trailers or trailers-only headers, or made by strait; CANCELLED when the "
                  "client reset the stream).",
                  with_status, static_cast<double>(stats.finished[code]));
    }
    streams[key.entry_point] += started;
    out.Gauge("strait_rpcs_active", "RPCs running now.", route, static_cast<double>(stats.active));
    out.Histogram("strait_rpc_response_headers_seconds",
                  "From the request headers to the response headers sent to the client.", route,
                  stats.headers_seconds);
    out.Histogram("strait_rpc_duration_seconds",
                  "From the request headers to the end of the client's stream.", route,
                  stats.duration_seconds);
    out.Counter("strait_rpc_request_bytes_total",
                "gRPC message bytes (DATA payload) from clients to backends.", route,
                static_cast<double>(stats.request_bytes));
    out.Counter("strait_rpc_response_bytes_total",
                "gRPC message bytes (DATA payload) from backends to clients.", route,
                static_cast<double>(stats.response_bytes));
    for (size_t r = 0; r < proxy::kRetryReasonCount; ++r) {
      if (stats.retries[r] == 0) continue;
      const Label with_reason[] = {
          route[0], route[1], route[2], route[3],
          {"reason", proxy::RetryReasonName(static_cast<proxy::RetryReason>(r))}};
      out.Counter("strait_rpc_retries_total",
                  "Attempts after an RPC's first, by why: transparent (the backend never saw "
                  "it), status (the retry policy lists it), per_try_timeout.",
                  with_reason, static_cast<double>(stats.retries[r]));
    }
  });
  for (const auto& [entry_point, n] : streams) {
    const Label ep[] = {{"entry_point", entry_point}};
    out.Counter("strait_entry_point_streams_total", "RPCs (streams) started on the entry point.",
                ep, static_cast<double>(n));
  }
}

void AddEntryPoints(Exposition& out, const proxy::ProxyCounters& counters) {
  for (const auto& [name, ep] : counters.entry_points) {
    const Label labels[] = {{"entry_point", name}};
    out.Counter("strait_entry_point_connections_total", "Client connections accepted.", labels,
                static_cast<double>(ep.connections_accepted));
    out.Gauge("strait_entry_point_connections_open", "Client connections open now.", labels,
              static_cast<double>(ep.connections_open));
    out.Counter("strait_entry_point_tls_handshake_failures_total",
                "Client connections closed before their TLS handshake finished.", labels,
                static_cast<double>(ep.tls_handshake_failures));
    out.Counter("strait_entry_point_ping_timeouts_total",
                "Client connections closed because a keepalive PING went unanswered.", labels,
                static_cast<double>(ep.ping_timeouts));
    for (const auto& [reason, n] : ep.abuse_goaways) {
      const Label with_reason[] = {{"entry_point", name}, {"reason", reason}};
      out.Counter("strait_entry_point_abuse_goaways_total",
                  "Client connections ended with GOAWAY(ENHANCE_YOUR_CALM), by the budget "
                  "they broke.",
                  with_reason, static_cast<double>(n));
    }
  }
  const std::pair<const char*, uint64_t> mirrors[] = {
      {"completed", counters.mirror_copies_completed},
      {"behind", counters.mirror_copies_behind},
      {"too_large", counters.mirror_copies_too_large},
      {"cancelled", counters.mirror_copies_cancelled},
      {"failed", counters.mirror_copies_failed},
  };
  for (const auto& [result, n] : mirrors) {
    const Label labels[] = {{"result", result}};
    out.Counter("strait_mirror_copies_total", "Mirror copies of RPCs, by how they ended.", labels,
                static_cast<double>(n));
  }
  out.Gauge("strait_mirror_copies_active", "Mirror copies running now.", {},
            static_cast<double>(counters.mirror_copies_live));
  out.Counter("strait_streams_stalled_total",
              "Response streams reset because the client's window stayed at zero for "
              "streamStallTimeout.",
              {}, static_cast<double>(counters.stalled_streams_reset));
}

void AddServers(Exposition& out, const std::vector<server::ServerStatus>& servers) {
  for (const server::ServerStatus& s : servers) {
    const Label labels[] = {{"service", s.service}, {"server", s.url}};
    out.Gauge("strait_server_rpcs_in_flight", "RPC attempts running on the server now.", labels,
              static_cast<double>(s.in_flight));
    for (int code = 0; code < h2::kGrpcStatusCount; ++code) {
      if (s.rpcs_by_status[code] == 0) continue;
      const Label with_status[] = {
          labels[0], labels[1],
          {"grpc_status", h2::GrpcStatusName(static_cast<h2::GrpcStatus>(code))}};
      out.Counter("strait_server_attempts_total",
                  "RPC attempts that ended on the server, by the status they ended with.",
                  with_status, static_cast<double>(s.rpcs_by_status[code]));
    }
    out.Gauge("strait_server_healthy",
              "1 if the server's active health check says it is up (1 without a check).",
              labels, s.healthy ? 1 : 0);
    out.Gauge("strait_server_usable",
              "1 if the server takes new RPCs: healthy, not ejected, not drained, weight > 0.",
              labels, s.usable ? 1 : 0);
    out.Counter("strait_server_health_flips_total",
                "Times the active health check changed its verdict.", labels,
                static_cast<double>(s.health_flips));
    out.Gauge("strait_server_ejected", "1 while the server is passively ejected.", labels,
              s.ejected ? 1 : 0);
    out.Counter("strait_server_ejections_total", "Passive ejections of the server.", labels,
                static_cast<double>(s.ejections));
    out.Gauge("strait_server_drained", "1 while an admin drains the server.", labels,
              s.drained ? 1 : 0);
    out.Gauge("strait_server_connections", "Open connections to the server (every transport).",
              labels, static_cast<double>(s.connections));
    out.Counter("strait_server_connect_failures_total",
                "Connections to the server that failed before they were ready (TCP, TLS, "
                "SETTINGS).",
                labels, static_cast<double>(s.connect_failures));
    out.Counter("strait_server_ping_timeouts_total",
                "Connections to the server closed because a keepalive PING went unanswered.",
                labels, static_cast<double>(s.ping_timeouts));
  }
}

void AddProcess(Exposition& out, const ControlPlane::Stats& stats, server::Server& server) {
  out.Gauge("strait_config_version", "Version of the running configuration.", {},
            static_cast<double>(stats.version));
  // Every source and result from the start, at 0 until it happens: a series
  // that first appears with its first change hides that change from
  // increase() and rate().
  std::map<std::pair<std::string, std::string>, uint64_t> changes = {
      {{"file", "applied"}, 0},  {{"file", "refused"}, 0},    {{"admin", "applied"}, 0},
      {{"admin", "refused"}, 0}, {{"admin", "validated"}, 0},
  };
  for (const auto& [key, n] : stats.changes) changes[key] += n;
  for (const auto& [key, n] : changes) {
    const Label labels[] = {{"source", key.first}, {"result", key.second}};
    out.Counter("strait_config_changes_total",
                "Configuration changes after start by source (file: SIGHUP, file watch, "
                "ReloadFromFile; admin) and result (applied, refused, validated).",
                labels, static_cast<double>(n));
  }
  const Label build[] = {{"version", STRAIT_VERSION}};
  out.Gauge("strait_build_info", "strait's version (the value is always 1).", build, 1);
  out.Counter("strait_access_log_dropped_total",
              "Access log lines dropped because a worker's buffer was full.", {},
              static_cast<double>(server.access_log_dropped()));
}

}  // namespace

absl::StatusOr<std::string> RenderMetrics(ControlPlane& control_plane) {
  server::Server& server = control_plane.server();
  Exposition out;
  AddRpcs(out, server.RpcStats());
  AddEntryPoints(out, server.Stats());
  AddServers(out, server.ListServers());
  AddProcess(out, control_plane.GetStats(), server);
  return out.Take();
}

}  // namespace strait::admin
