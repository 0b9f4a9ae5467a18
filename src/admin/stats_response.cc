#include "admin/stats_response.h"

#include <map>
#include <string>

#include "google/protobuf/util/time_util.h"
#include "h2/grpc.h"
#include "observe/histogram.h"

namespace strait::admin {
namespace {

// A status array indexed by grpc code, as a map by canonical name (codes
// never seen left out).
template <typename Array>
void AddByStatus(const Array& by_code, google::protobuf::Map<std::string, uint64_t>* out) {
  for (size_t code = 0; code < by_code.size(); ++code) {
    if (by_code[code] == 0) continue;
    (*out)[std::string(h2::GrpcStatusName(static_cast<h2::GrpcStatus>(code)))] += by_code[code];
  }
}

void ToProto(const observe::Histogram& histogram, v1::Latency* out) {
  out->set_count(histogram.count());
  out->set_sum_seconds(histogram.sum());
  out->set_p50_seconds(histogram.Quantile(0.5));
  out->set_p99_seconds(histogram.Quantile(0.99));
}

void ToProto(const proxy::RpcStats& stats, v1::RpcStats* out) {
  AddByStatus(stats.finished, out->mutable_rpcs_by_status());
  out->set_active(stats.active);
  out->set_request_bytes(stats.request_bytes);
  out->set_response_bytes(stats.response_bytes);
  for (size_t r = 0; r < proxy::kRetryReasonCount; ++r) {
    if (stats.retries[r] == 0) continue;
    (*out->mutable_retries_by_reason())[std::string(
        proxy::RetryReasonName(static_cast<proxy::RetryReason>(r)))] = stats.retries[r];
  }
  ToProto(stats.duration_seconds, out->mutable_duration());
  ToProto(stats.headers_seconds, out->mutable_response_headers());
}

uint64_t Started(const proxy::RpcStats& stats) {
  uint64_t started = stats.active;
  for (uint64_t n : stats.finished) started += n;
  return started;
}

}  // namespace

CountedStats CountedStats::Read(ControlPlane& plane, absl::string_view service) {
  server::Server& server = plane.server();
  return {.rpcs = server.RpcStats(),
          .counters = server.Stats(),
          .servers = server.ListServers(service),
          .changes = plane.GetStats(),
          .access_log_dropped = server.access_log_dropped()};
}

v1::GetStatsResponse StatsResponse(const config::v1::Config& running, const CountedStats& counted,
                                   absl::string_view service) {
  // Sums by name first: histograms add up, their quantiles do not.
  std::map<std::string, proxy::RpcStats> routers, services, entry_points;
  for (const auto& [name, router] : running.routers()) {
    if (service.empty() || router.service() == service) routers[name];
  }
  for (const auto& [name, unused] : running.services()) {
    if (service.empty() || name == service) services[name];
  }
  // Entry points removed by a reload keep what they counted.
  for (const auto& [name, unused] : running.entry_points()) entry_points[name];
  for (const auto& [name, unused] : counted.counters.entry_points) entry_points[name];
  counted.rpcs.ForEach([&](const proxy::RpcKey& key, const proxy::RpcStats& stats) {
    entry_points[key.entry_point].Add(stats);
    if (!service.empty() && key.service != service) return;
    // An RPC no router took has neither.
    if (!key.router.empty()) routers[key.router].Add(stats);
    if (!key.service.empty()) services[key.service].Add(stats);
  });

  v1::GetStatsResponse response;
  for (const auto& [name, stats] : routers) ToProto(stats, &(*response.mutable_routers())[name]);
  for (const auto& [name, stats] : services) {
    ToProto(stats, &(*response.mutable_services())[name]);
  }
  for (const server::ServerStatus& s : counted.servers) ToProto(s, response.add_servers());
  for (const auto& [name, rpcs] : entry_points) {
    v1::EntryPointStats& out = (*response.mutable_entry_points())[name];
    auto counters = counted.counters.entry_points.find(name);
    if (counters != counted.counters.entry_points.end()) {
      const proxy::EntryPointCounters& ep = counters->second;
      out.set_connections(ep.connections_accepted);
      out.set_connections_open(ep.connections_open);
      out.set_tls_handshake_failures(ep.tls_handshake_failures);
      out.set_ping_timeouts(ep.ping_timeouts);
      for (const auto& [reason, n] : ep.abuse_goaways) {
        (*out.mutable_abuse_goaways_by_reason())[reason] = n;
      }
    }
    out.set_streams(Started(rpcs));
    ToProto(rpcs, out.mutable_rpcs());
  }
  v1::ProcessStats& process = *response.mutable_process();
  process.set_version(counted.changes.version);
  for (const auto& [key, n] : counted.changes.changes) {
    v1::ConfigChanges& changes = *process.add_config_changes();
    changes.set_source(key.first);
    changes.set_result(key.second);
    changes.set_count(n);
  }
  const proxy::ProxyCounters& c = counted.counters;
  process.set_streams_stalled(c.stalled_streams_reset);
  auto& mirrors = *process.mutable_mirror_copies_by_result();
  mirrors["completed"] = c.mirror_copies_completed;
  mirrors["behind"] = c.mirror_copies_behind;
  mirrors["too_large"] = c.mirror_copies_too_large;
  mirrors["cancelled"] = c.mirror_copies_cancelled;
  mirrors["failed"] = c.mirror_copies_failed;
  process.set_mirror_copies_active(c.mirror_copies_live);
  process.set_access_log_dropped(counted.access_log_dropped);
  return response;
}

void ToProto(const server::ServerStatus& s, v1::ServerStatus* out) {
  out->set_service(s.service);
  out->set_url(s.url);
  out->set_weight(s.weight);
  out->set_usable(s.usable);
  out->set_healthy(s.healthy);
  out->set_health_checked(s.health_checked);
  out->set_reason(s.reason);
  out->set_ejected(s.ejected);
  if (s.ejected_until != absl::InfinitePast()) {
    *out->mutable_ejected_until() = google::protobuf::util::TimeUtil::NanosecondsToTimestamp(
        absl::ToUnixNanos(s.ejected_until));
  }
  out->set_ejections(s.ejections);
  out->set_drained(s.drained);
  out->set_in_flight(s.in_flight);
  AddByStatus(s.rpcs_by_status, out->mutable_rpcs_by_status());
  out->set_connections(s.connections);
  out->set_connect_failures(s.connect_failures);
  out->set_ping_timeouts(s.ping_timeouts);
  out->set_health_flips(s.health_flips);
}

}  // namespace strait::admin
