#ifndef STRAIT_SERVER_SERVER_H_
#define STRAIT_SERVER_SERVER_H_

#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proxy/proxy_counters.h"
#include "strait/config/v1/config.pb.h"

namespace strait::server {

// What strait knows now of one server of a service.
struct ServerHealthView {
  bool active_up = true;  // by its active health check (true without one)
  bool ejected = false;   // by passive health, now
  int ejections = 0;      // so far
  std::string reason;     // of the last change
};

struct ServerOptions {
  // Number of worker event loops; 0 means one per core.
  int workers = 0;
};

// strait itself: the workers, their listeners, and the running configuration.
// Created, started and shut down by one thread (main, or a test), which
// starts and joins the worker threads; Reload, port, Stats and Health may
// be called from any thread meanwhile (the admin service, SIGHUP).
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
  // The health of server `url` of `service` in the running configuration;
  // nullopt if the service does not list it.
  std::optional<ServerHealthView> Health(absl::string_view service, absl::string_view url);
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
