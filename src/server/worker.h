#ifndef STRAIT_SERVER_WORKER_H_
#define STRAIT_SERVER_WORKER_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "net/listener.h"
#include "proxy/downstream_connection.h"
#include "proxy/proxy_context.h"

namespace strait::server {

// One event loop thread with its own listening sockets (one per entry point,
// SO_REUSEPORT), its client connections, upstream pools and balancer state.
// Created and joined by the Server; after Start() everything inside runs on
// the worker's thread, reached from outside only through Post() (the
// thread-safe methods below wait for their turn on the loop).
class Worker {
 public:
  explicit Worker(int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Thread-safe: accepts connections of entry point `name` on the
  // listening socket `fd` (owned from now on); returns once it does (before
  // Start(): at once). A listener `name` had before is closed. Connections
  // take the settings of `name` in the running snapshot: add a listener
  // after the snapshot that has its entry point.
  void AddListener(const std::string& name, int fd);
  // Thread-safe: closes the listener of entry point `name` and sends GOAWAY
  // now to each client connection of it; their streams may finish within
  // `grace`, then they close. Streams those clients open meanwhile keep the
  // snapshot running now: remove a listener before the snapshot without
  // its entry point. Returns once done.
  void RemoveListener(const std::string& name, absl::Duration grace);
  // Starts the thread with `snapshot` as the running configuration.
  void Start(std::shared_ptr<const config::Snapshot> snapshot);
  // Thread-safe: new streams use `snapshot` from the worker's next loop
  // turn on (pools it does not use are retired); returns once the worker
  // has taken it.
  void SetSnapshot(std::shared_ptr<const config::Snapshot> snapshot);
  // Thread-safe: stop accepting, GOAWAY every client, let streams finish
  // within their entry point's grace period, then exit the loop.
  void PostDrain();
  // Thread-safe: adds this worker's counters to `sum` on the worker's loop
  // and returns once it has (at once if the loop is not running).
  void AddCounters(proxy::ProxyCounters& sum);
  // Thread-safe: the same for this worker's server loads and upstream
  // connections (proxy::ProxyContext::AddTotals).
  void AddServerTotals(proxy::ServerTotals& sum);
  // Thread-safe: the same for this worker's RPC counts.
  void AddRpcStats(proxy::RpcStatsTable& sum);
  // Before Start(): finished RPCs go to `producer` (this worker's buffer of
  // the access log, which outlives the worker).
  void SetAccessLog(observe::AccessLog::Producer* producer) {
    context_.set_access_log(producer);
  }
  void Join();

 private:
  // Runs `fn` on the worker's loop and returns once it ran (directly, if
  // the loop is not running).
  void RunOnLoop(const std::function<void()>& fn);
  void OnAccept(const std::string& entry_point, int fd, const net::SocketAddress& peer);
  void OnConnectionClosed(proxy::DownstreamConnection* connection);
  void Drain();
  void MaybeExit();

  const int index_;
  event::Dispatcher dispatcher_;  // first member: outlives everything below
  proxy::ProxyContext context_;
  // By entry point name.
  absl::flat_hash_map<std::string, std::unique_ptr<net::Listener>> listeners_;
  absl::flat_hash_map<proxy::DownstreamConnection*,
                      std::unique_ptr<proxy::DownstreamConnection>>
      connections_;
  bool draining_ = false;
  // Set once the loop has returned (and run what was posted until then):
  // AddCounters then reads the counters directly instead of posting.
  std::mutex exit_mu_;
  bool exited_ ABSL_GUARDED_BY(exit_mu_) = false;
  std::thread thread_;
};

}  // namespace strait::server

#endif  // STRAIT_SERVER_WORKER_H_
