#ifndef STRAIT_CONFIG_SNAPSHOT_H_
#define STRAIT_CONFIG_SNAPSHOT_H_

#include <algorithm>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "balance/plan.h"
#include "h2/grpc.h"
#include "health/health_store.h"
#include "health/server_health.h"
#include "h2/settings.h"
#include "net/address.h"
#include "net/tls_server_context.h"
#include "router/route_table.h"
#include "strait/config/v1/config.pb.h"
#include "upstream/backend.h"

namespace strait::config {

// A compiled entry point.
struct EntryPointEntry {
  std::string name;
  net::HostPort address;
  h2::Http2Limits http2;
  absl::Duration grace_timeout;
  absl::Duration write_stall_timeout;
  absl::Duration stream_stall_timeout;  // zero: never
  size_t max_connection_buffer_bytes;
  absl::Duration keep_alive_time;  // zero: no keepalive PINGs
  absl::Duration keep_alive_timeout;
  router::RouteTable routes;  // the routers serving this entry point
  // TLS: what new connections are served with; null: h2c. Shared with the
  // connections mid-handshake, so a reload never pulls it from under them.
  std::shared_ptr<const net::TlsServerContext> tls;
  absl::Duration handshake_timeout = absl::Seconds(10);
  // ":scheme" and x-forwarded-proto toward backends.
  const char* scheme() const { return tls != nullptr ? "https" : "http"; }
};

// A compiled retry policy.
struct RetryPolicy {
  uint32_t max_attempts = 1;  // including the first
  absl::Duration per_try_timeout = absl::ZeroDuration();  // 0: none
  uint32_t retry_on = 0;        // bit (1 << status) per retryable gRPC status
  size_t buffer_bytes = 64 * 1024;

  bool RetriesOn(h2::GrpcStatus status) const {
    return retry_on & (1u << static_cast<int>(status));
  }
};

// A compiled passiveHealthCheck: outlier ejection.
struct PassiveHealth {
  bool enabled = true;
  uint32_t consecutive_failures = 5;
  absl::Duration base_ejection_time = absl::Seconds(30);
  absl::Duration max_ejection_time = absl::Seconds(300);
  uint32_t max_ejection_percent = 50;  // at least one server may always go

  // How many of `servers` servers may be ejected at once.
  size_t MaxEjected(size_t servers) const {
    return std::max<size_t>(1, servers * max_ejection_percent / 100);
  }
};

struct ServiceEntry;

// One mirror of a mirroring service.
struct MirrorEntry {
  const ServiceEntry* service;  // in the same snapshot; never a mirroring one
  uint32_t percent;             // of RPCs copied, 0..100
};

// A compiled service: a load balancer over servers, or a composite over
// other services of the same snapshot.
struct ServiceEntry {
  enum class Kind { kLoadBalancer, kWeighted, kMirroring, kFailover };
  Kind kind = Kind::kLoadBalancer;
  std::string name;

  // Composites. weighted: the services (`plan` is a wrr plan over them, by
  // name); failover: {service, fallback}; mirroring: {main service}.
  std::vector<const ServiceEntry*> children;
  std::vector<MirrorEntry> mirrors;  // mirroring
  size_t mirror_max_body = 65535;    // mirroring: body bytes copied
  bool mirror_body = true;           // mirroring: false copies headers only
  // healthCheck: {} on a composite: skip children without a healthy server.
  bool propagate_health = false;

  // Load balancers.
  std::vector<upstream::Backend> backends;  // never empty for a load balancer
  std::vector<std::string> pool_keys;       // upstream::PoolKey of each backend
  // Each backend's health (same index), shared with the HealthStore and the
  // snapshots before and after this one: a reload keeps it.
  std::vector<std::shared_ptr<health::ServerHealth>> health;
  // The immutable half of the picker, over `backends` (same index), or
  // over `children` for a weighted service.
  std::optional<balance::Plan> plan;
  // Unique per compiled service, in every snapshot: what per-worker picker
  // state is keyed by (never an address, which a later snapshot may reuse).
  uint64_t id = 0;
  bool active_checks = false;  // a healthCheck is configured
  PassiveHealth passive;
  upstream::TransportSettings transport;
  bool pass_host_header = true;
  RetryPolicy retry;

  // Whether some server below this service may take a new RPC now (weight
  // above 0 and ServerHealth::Usable: up, not ejected, not drained). A
  // composite without propagate_health always says yes (its children are
  // tried whatever their health), except failover, which asks its children.
  bool HasHealthyServer(absl::Time now) const;
};

// The whole running configuration, compiled. Immutable once built and shared
// across threads as std::shared_ptr<const Snapshot>; a ProxyStream keeps the
// snapshot it started with, so a change never reaches a stream half-way.
class Snapshot {
 public:
  // Validates `config` and compiles it (resolving server addresses, which
  // may block on DNS: control thread only). With a `health_store`, the
  // store is updated to watch exactly this snapshot's servers (starting,
  // keeping and stopping checkers) once the rest compiled; without one
  // (`--check`, tests) every server gets a fresh, healthy state of its own.
  static absl::StatusOr<std::shared_ptr<const Snapshot>> Compile(
      const v1::Config& config, health::HealthStore* health_store = nullptr);

  const v1::Config& config() const { return config_; }
  const EntryPointEntry* entry_point(absl::string_view name) const;
  const ServiceEntry* service(absl::string_view name) const;
  // The router's `timeout`, zero if none.
  absl::Duration router_timeout(absl::string_view router) const;
  // The metrics' `method` label for a request to `path`: the path itself
  // when a router's rule names it exactly (or metrics.methodLabels is
  // "all"), else "other".
  absl::string_view MethodLabel(absl::string_view path) const {
    if (all_method_labels_ || named_methods_.contains(path)) return path;
    return "other";
  }
  const std::map<std::string, EntryPointEntry, std::less<>>& entry_points() const {
    return entry_points_;
  }
  const std::map<std::string, ServiceEntry, std::less<>>& services() const {
    return services_;
  }

 private:
  Snapshot() = default;

  v1::Config config_;
  std::map<std::string, EntryPointEntry, std::less<>> entry_points_;
  std::map<std::string, ServiceEntry, std::less<>> services_;
  std::map<std::string, absl::Duration, std::less<>> router_timeouts_;
  absl::flat_hash_set<std::string> named_methods_;
  bool all_method_labels_ = false;
};

}  // namespace strait::config

#endif  // STRAIT_CONFIG_SNAPSHOT_H_
