#ifndef STRAIT_OBSERVE_METRICS_HTTP_SERVER_H_
#define STRAIT_OBSERVE_METRICS_HTTP_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace strait::observe {

// Serves the metrics over plain HTTP/1.1 with cpp-httplib (Debian's
// libcpp-httplib-dev), on its own threads, away from the workers:
//   GET /metrics  200, text/plain; version=0.0.4; charset=utf-8, the text
//                 `render` returns (500 with its message if it fails)
//   GET /healthz  200 "ok" (a liveness probe for Docker and Kubernetes)
//   other paths   404;  methods but GET and HEAD  405
// Connections are closed after each response (a scrape every few seconds
// needs no keep-alive) so that Stop() never waits for an idle client; it
// waits at most for a request in progress (read/write timeouts 2 s).
//
// Owned by the server's main thread, which calls Start and Stop.
class MetricsHttpServer {
 public:
  // Runs on one of the server's threads, never two at once: it may block
  // (e.g. wait for every worker's counters through Post()).
  using Render = std::function<absl::StatusOr<std::string>()>;

  MetricsHttpServer();
  ~MetricsHttpServer();  // Stop()
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Listens on `host_port` ("127.0.0.1:9902", "[::1]:0", ":9902" for every
  // IPv4 address; port 0 picks a free one) and returns the port. Errors name
  // the address: "metrics address 127.0.0.1:9902: cannot listen: Address
  // already in use". Once per object.
  absl::StatusOr<int> Start(absl::string_view host_port, Render render);

  // Closes the listener and joins the threads. Idempotent.
  void Stop();

  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;  // runs server_->listen_after_bind()
  std::atomic<bool> listen_returned_{false};
  int port_ = 0;
  Render render_;
  absl::Mutex render_mu_;  // one render at a time
};

}  // namespace strait::observe

#endif  // STRAIT_OBSERVE_METRICS_HTTP_SERVER_H_
