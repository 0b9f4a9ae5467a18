#ifndef STRAIT_SERVER_SERVER_H_
#define STRAIT_SERVER_SERVER_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "health/health_event.h"
#include "proxy/proxy_counters.h"
#include "proxy/rpc_stats.h"
#include "strait/config/v1/config.pb.h"

namespace strait::server {

// What strait knows now of one server of a service.
struct ServerHealthView {
  bool active_up = true;  // by its active health check (true without one)
  bool ejected = false;   // by passive health, now
  int ejections = 0;      // so far
  std::string reason;     // of the last change
  bool drained = false;   // by an admin (Server::SetDrained)
};

// One server of one load balancer service, now: for the admin's
// ListServers. The live figures are per server URL, summed over the
// workers: a URL listed by two services shows the same figures in both.
// They count from when strait first listed the URL; a URL that every
// configuration stopped listing while nothing ran on it starts again from
// zero if it comes back.
struct ServerStatus {
  std::string service;  // a load balancer service listing the server
  std::string url;
  uint32_t weight = 1;
  bool usable = true;           // healthy, not ejected, not drained, weight > 0
  bool health_checked = false;  // the service has an active health check
  bool healthy = true;          // by the active check (true without one)
  std::string reason;           // of the last health change, may be empty
  bool ejected = false;
  absl::Time ejected_until = absl::InfinitePast();  // wall clock (convert from the monotonic clock)
  uint32_t ejections = 0;
  bool drained = false;
  uint64_t in_flight = 0;  // summed over workers
  // RPC attempts that ended on this server, by the status they ended with
  // (the backend's, or the one strait made for this server: UNAVAILABLE
  // when it could not connect, CANCELLED when the client left first, ...),
  // each attempt of a retried RPC on its own server. Mirror copies are not
  // counted.
  std::array<uint64_t, 17> rpcs_by_status{};  // index = grpc status code
  uint32_t connections = 0;                   // open upstream connections, all workers
  // Connections to it that failed before they were ready, and that were
  // closed for an unanswered keepalive PING (all workers, all transports).
  uint64_t connect_failures = 0;
  uint64_t ping_timeouts = 0;
  // Times the active health check flipped it (up to down or back).
  uint32_t health_flips = 0;
};

// What Server::SetDrained did.
struct DrainResult {
  std::vector<std::string> services;  // the load balancer services listing the URL
  uint64_t in_flight = 0;             // RPCs still running on it (they finish)
};

struct ServerOptions {
  // Number of worker event loops; 0 means one per core.
  int workers = 0;
};

// strait itself: the workers, their listeners, and the running configuration.
// Created, started and shut down by one thread (main, or a test), which
// starts and joins the worker threads; Reload, port, Stats, Health,
// ListServers, SetDrained and DrainedServers may be called from any thread
// meanwhile (the admin service, SIGHUP): they are serialised with each other
// and with Start and Shutdown.
class Server {
 public:
  // Validates and compiles `config`; fails with a field-path message.
  static absl::StatusOr<std::unique_ptr<Server>> Create(
      const config::v1::Config& config, ServerOptions options = {});
  ~Server();

  // Binds every entry point (SO_REUSEPORT, one socket per worker) and starts
  // the workers.
  absl::Status Start();
  // The bound port of an entry point (resolves port 0); -1 if unknown or
  // removed by a reload. Thread-safe.
  int port(absl::string_view entry_point) const;
  // Replaces the running configuration: validates `config`, binds the
  // entry points it adds or moves to another address on every worker
  // (failing with `entryPoints.<name>.address: ...` and changing nothing if
  // one cannot be bound), compiles it, then hands it to every worker; RPCs
  // already running keep the snapshot they started with. An entry point
  // removed (or moved) stops accepting at once and sends GOAWAY to its
  // clients at once; their streams may finish within its old graceTimeOut.
  // Pools whose transport or server the new snapshot no longer uses close
  // their connections as their last streams end. Thread-safe, serialized;
  // returns once every worker has taken the new snapshot.
  absl::Status Reload(const config::v1::Config& config);
  // The counters of every worker, summed. Blocks until each worker's loop
  // has answered (briefly: one loop turn each), and while a Reload runs.
  proxy::ProxyCounters Stats();
  // Every worker's RPC counts by entry point, router, service and method,
  // summed (blocks one loop turn per worker).
  proxy::RpcStatsTable RpcStats();
  // Access log (accessLog in the config at Start): reopen its file at the
  // writer's next turn (SIGUSR1, after logrotate moved it); async-signal-
  // safe. Lines dropped because a worker's buffer was full; 0 when off.
  void ReopenAccessLog();
  uint64_t access_log_dropped() const;
  // The health of server `url` of `service` in the running configuration;
  // nullopt if the service does not list it.
  std::optional<ServerHealthView> Health(absl::string_view service, absl::string_view url);

  // Every server of every load balancer service (only `service`'s when not
  // empty), in service name order then the config's server order. Blocks
  // one loop turn per worker.
  std::vector<ServerStatus> ListServers(absl::string_view service = "");
  // Drains (no new RPCs in any service that lists it; those in flight
  // finish normally) or undrains server `url`, by its URL as configured. The
  // drain survives reloads that keep listing the URL and is forgotten with
  // the last one that does not. NOT_FOUND naming the URL when no load
  // balancer service of the running config lists it. Blocks one loop turn
  // per worker (for in_flight).
  absl::StatusOr<DrainResult> SetDrained(absl::string_view url, bool drained);
  // The drained URLs, sorted.
  std::vector<std::string> DrainedServers();
  // Called for every health event (see health::HealthEvent) from the
  // thread that caused it; set before Start(). (Setting it later is safe
  // too; events before that are not replayed.) It must be cheap and must
  // not call back into the Server.
  void SetHealthListener(std::function<void(const health::HealthEvent&)> listener);
  // Called on the rotation thread after each reload that a change of an
  // entry point's certificate, key or CA file caused: the changed files
  // (", "-joined) and the reload's result (an error names the file that no
  // longer loads; the running certificates then stay). Set before Start().
  using TlsRotationListener =
      std::function<void(const std::string& files, const absl::Status& result)>;
  void SetTlsRotationListener(TlsRotationListener listener);
  // Graceful stop: stop accepting, GOAWAY to clients, let in-flight streams
  // finish up to each entry point's grace period, then close what remains.
  // Returns once every worker has exited.
  void Shutdown();

 private:
  class Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace strait::server

#endif  // STRAIT_SERVER_SERVER_H_
