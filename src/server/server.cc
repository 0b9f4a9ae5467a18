#include "server/server.h"

#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "config/entry_point_tls.h"
#include "config/file_watcher.h"
#include "config/snapshot.h"
#include "config/validate.h"
#include "event/dispatcher.h"
#include "health/health_store.h"
#include "net/socket.h"
#include "observe/access_log.h"
#include "server/worker.h"

namespace strait::server {

namespace {

// One entry point's listening sockets, one per worker, all on one port.
struct BoundEntryPoint {
  std::string name;
  net::SocketAddress address;  // with the port resolved
  std::vector<int> fds;        // one per worker, not yet owned by any
};

void CloseAll(std::vector<BoundEntryPoint>& bound) {
  for (BoundEntryPoint& b : bound) {
    for (int fd : b.fds) close(fd);
    b.fds.clear();
  }
}

// Binds entry point `name` at `address` (as configured) `count` times with
// SO_REUSEPORT; port 0 is resolved once and shared. On failure nothing stays
// bound, and the error names entryPoints.<name>.address.
absl::StatusOr<BoundEntryPoint> Bind(const std::string& name, const std::string& address,
                                     int count) {
  auto field_error = [&](const absl::Status& status) {
    return absl::Status(status.code(),
                        absl::StrCat("entryPoints.", name, ".address: ", status.message()));
  };
  absl::StatusOr<net::HostPort> host_port = net::ParseHostPort(address);
  if (!host_port.ok()) return field_error(host_port.status());
  absl::StatusOr<net::SocketAddress> resolved = net::Resolve(*host_port);
  if (!resolved.ok()) return field_error(resolved.status());
  resolved = net::PickFreePort(*resolved);
  if (!resolved.ok()) return field_error(absl::UnavailableError(resolved.status().message()));
  BoundEntryPoint bound{.name = name, .address = *resolved, .fds = {}};
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<int> fd = net::ListenReusePort(bound.address, 1024);
    if (!fd.ok()) {
      for (int open : bound.fds) close(open);
      return field_error(absl::UnavailableError(fd.status().message()));
    }
    bound.fds.push_back(*fd);
  }
  return bound;
}

// The address of every entry point of `config`, normalized: an entry point
// whose address stays keeps its sockets (and its resolved port 0) across a
// reload.
std::map<std::string, std::string> Addresses(const config::v1::Config& config) {
  std::map<std::string, std::string> out;
  for (const auto& [name, ep] : config.entry_points()) {
    absl::StatusOr<net::HostPort> parsed = net::ParseHostPort(ep.address());
    out[name] = parsed.ok() ? net::FormatHostPort(*parsed) : ep.address();
  }
  return out;
}

}  // namespace

class Server::Impl {
 public:
  explicit Impl(int workers) : worker_count_(workers) {}
  ~Impl() { Shutdown(); }

  // The first configuration, before Start.
  absl::Status Init(const config::v1::Config& config) {
    absl::MutexLock control(&control_mu_);
    return Compile(config);
  }

  absl::Status Start() {
    absl::MutexLock control(&control_mu_);
    std::shared_ptr<const config::Snapshot> snapshot = current();
    const config::v1::AccessLog& log = snapshot->config().access_log();
    if (access_log_ == nullptr && !log.path().empty()) {
      absl::StatusOr<std::unique_ptr<observe::AccessLog>> opened =
          observe::AccessLog::Open(observe::AccessLog::Options{
              .path = log.path(),
              .format = log.format() == "text" ? observe::AccessLogFormat::kText
                                               : observe::AccessLogFormat::kJson,
              .sampling = log.sampling() > 0 ? log.sampling() : 1.0,
          });
      if (!opened.ok()) return opened.status();
      access_log_ = std::move(*opened);
    }
    for (int i = 0; i < worker_count_; ++i) {
      workers_.push_back(std::make_unique<Worker>(i));
      if (access_log_ != nullptr) workers_.back()->SetAccessLog(access_log_->AddProducer());
    }
    std::vector<BoundEntryPoint> bound;
    for (const auto& [name, ep] : snapshot->config().entry_points()) {
      absl::StatusOr<BoundEntryPoint> b = Bind(name, ep.address(), worker_count_);
      if (!b.ok()) {
        CloseAll(bound);
        workers_.clear();
        return b.status();
      }
      bound.push_back(std::move(*b));
    }
    for (BoundEntryPoint& b : bound) {
      for (size_t i = 0; i < workers_.size(); ++i) workers_[i]->AddListener(b.name, b.fds[i]);
    }
    Publish(bound);
    for (auto& worker : workers_) worker->Start(snapshot);
    started_ = true;
    if (!rotation_thread_.joinable()) {
      {
        absl::MutexLock lock(&rotation_mu_);
        rotation_stop_ = false;
      }
      rotation_thread_ = std::thread([this] { RotationLoop(); });
    }
    WatchTlsFiles();
    return absl::OkStatus();
  }

  absl::Status Reload(const config::v1::Config& config) {
    absl::MutexLock control(&control_mu_);
    absl::Status status = ReloadLocked(config);
    if (status.ok() && started_) WatchTlsFiles();
    return status;
  }

  absl::Status ReloadLocked(const config::v1::Config& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_) {
    // Checked before binding and compiling: compiling updates the health
    // store, which must not start checking servers of a configuration that
    // is refused.
    if (absl::Status valid = config::ValidateConfig(config); !valid.ok()) return valid;
    std::shared_ptr<const config::Snapshot> old = current();
    // An entry point whose address changed is removed and added again.
    std::map<std::string, std::string> was = Addresses(old->config());
    std::map<std::string, std::string> will = Addresses(config);
    std::vector<std::string> removed;
    for (const auto& [name, address] : was) {
      auto it = will.find(name);
      if (it == will.end() || it->second != address) removed.push_back(name);
    }
    // Bound on every worker before anything changes; without workers
    // (before Start, after Shutdown) Start binds them.
    std::vector<BoundEntryPoint> added;
    if (started_) {
      for (const auto& [name, address] : will) {
        auto it = was.find(name);
        if (it != was.end() && it->second == address) continue;
        absl::StatusOr<BoundEntryPoint> b = Bind(name, address, worker_count_);
        if (!b.ok()) {
          CloseAll(added);
          return b.status();
        }
        added.push_back(std::move(*b));
      }
    }
    if (absl::Status compiled = Compile(config); !compiled.ok()) {
      CloseAll(added);
      return compiled;
    }
    if (!started_) return absl::OkStatus();
    if (config.access_log().SerializeAsString() != old->config().access_log().SerializeAsString()) {
      STRAIT_LOG(kWarn, "accessLog changed: the change applies at the next start");
    }
    std::shared_ptr<const config::Snapshot> snapshot = current();
    // Per worker: removed listeners first, so that streams their clients
    // still open keep the old snapshot; added ones last, so that their
    // connections find their entry point in the new one.
    for (size_t i = 0; i < workers_.size(); ++i) {
      for (const std::string& name : removed) {
        workers_[i]->RemoveListener(name, old->entry_point(name)->grace_timeout);
      }
      workers_[i]->SetSnapshot(snapshot);
      for (BoundEntryPoint& b : added) workers_[i]->AddListener(b.name, b.fds[i]);
    }
    for (const std::string& name : removed) {
      absl::MutexLock lock(&mu_);
      ports_.erase(name);
      STRAIT_LOG(kInfo, "entry point ", name, " closed");
    }
    Publish(added);
    return absl::OkStatus();
  }

  int port(absl::string_view entry_point) const {
    absl::MutexLock lock(&mu_);
    auto it = ports_.find(entry_point);
    return it == ports_.end() ? -1 : it->second;
  }

  proxy::ProxyCounters Stats() {
    absl::MutexLock control(&control_mu_);
    proxy::ProxyCounters sum;
    for (auto& worker : workers_) worker->AddCounters(sum);
    for (auto& c : finished_) sum.Add(c);
    return sum;
  }

  proxy::RpcStatsTable RpcStats() {
    absl::MutexLock control(&control_mu_);
    proxy::RpcStatsTable sum;
    for (auto& worker : workers_) worker->AddRpcStats(sum);
    finished_rpc_stats_.AddTo(sum);
    return sum;
  }

  void ReopenAccessLog() {
    if (observe::AccessLog* log = access_log_.get()) log->Reopen();
  }
  uint64_t access_log_dropped() const {
    observe::AccessLog* log = access_log_.get();
    return log != nullptr ? log->dropped() : 0;
  }

  std::optional<ServerHealthView> Health(absl::string_view service, absl::string_view url) {
    std::shared_ptr<const config::Snapshot> snapshot = current();
    const config::ServiceEntry* entry = snapshot->service(service);
    if (entry == nullptr) return std::nullopt;
    for (size_t i = 0; i < entry->backends.size(); ++i) {
      if (entry->backends[i].url != url) continue;
      const health::ServerHealth& h = *entry->health[i];
      return ServerHealthView{
          .active_up = h.active_up(),
          .ejected = h.ejected(event::Dispatcher::MonotonicNow()),
          .ejections = h.ejections(),
          .reason = h.reason(),
          .drained = h.drained(),
      };
    }
    return std::nullopt;
  }

  std::vector<ServerStatus> ListServers(absl::string_view only) {
    absl::MutexLock control(&control_mu_);
    std::shared_ptr<const config::Snapshot> snapshot = current();
    proxy::ServerTotals totals = TotalsLocked();
    // One clock reading for the whole list; ejections are kept in the
    // monotonic clock's time, shown in the wall clock's.
    const absl::Time monotonic_now = event::Dispatcher::MonotonicNow();
    const absl::Time wall_now = absl::Now();
    std::vector<ServerStatus> out;
    for (const auto& [name, service] : snapshot->services()) {
      if (service.kind != config::ServiceEntry::Kind::kLoadBalancer) continue;
      if (!only.empty() && name != only) continue;
      for (size_t i = 0; i < service.backends.size(); ++i) {
        const upstream::Backend& backend = service.backends[i];
        const health::ServerHealth& h = *service.health[i];
        ServerStatus status{
            .service = name,
            .url = backend.url,
            .weight = service.plan->weight(i),
            .usable = service.plan->weight(i) > 0 && h.Usable(monotonic_now),
            .health_checked = service.active_checks,
            .healthy = h.active_up(),
            .reason = h.reason(),
            .ejected = h.ejected(monotonic_now),
            .ejections = static_cast<uint32_t>(h.ejections()),
            .drained = h.drained(),
            .health_flips = static_cast<uint32_t>(h.flips()),
        };
        if (absl::Time until = h.ejected_until(); until != absl::InfinitePast()) {
          status.ejected_until = wall_now + (until - monotonic_now);
        }
        if (auto it = totals.by_url.find(backend.url); it != totals.by_url.end()) {
          status.in_flight = it->second.in_flight;
          status.rpcs_by_status = it->second.by_status;
        }
        if (auto it = totals.connections_by_address.find(backend.address.ToString());
            it != totals.connections_by_address.end()) {
          status.connections = it->second;
        }
        if (auto it = totals.connection_failures_by_url.find(backend.url);
            it != totals.connection_failures_by_url.end()) {
          status.connect_failures = it->second.connect_failures;
          status.ping_timeouts = it->second.ping_timeouts;
        }
        out.push_back(std::move(status));
      }
    }
    return out;
  }

  absl::StatusOr<DrainResult> SetDrained(absl::string_view url, bool drained) {
    absl::MutexLock control(&control_mu_);
    std::shared_ptr<const config::Snapshot> snapshot = current();
    DrainResult result;
    for (const auto& [name, service] : snapshot->services()) {
      if (service.kind != config::ServiceEntry::Kind::kLoadBalancer) continue;
      for (const upstream::Backend& backend : service.backends) {
        if (backend.url == url) {
          result.services.push_back(name);
          break;
        }
      }
    }
    if (result.services.empty()) {
      return absl::NotFoundError(
          absl::StrCat("server ", url, ": no load balancer service lists it"));
    }
    // The store watches exactly the running snapshot's servers, so it knows
    // the URL too. Workers see the drain from their next pick on.
    health_.SetDrained(url, drained);
    proxy::ServerTotals totals = TotalsLocked();
    if (auto it = totals.by_url.find(url); it != totals.by_url.end()) {
      result.in_flight = it->second.in_flight;
    }
    return result;
  }

  std::vector<std::string> DrainedServers() {
    absl::MutexLock control(&control_mu_);
    return health_.drained_urls();
  }

  void SetHealthListener(health::HealthListener listener) {
    absl::MutexLock control(&control_mu_);
    health_.SetListener(std::move(listener));
  }

  void SetTlsRotationListener(Server::TlsRotationListener listener) {
    absl::MutexLock control(&control_mu_);
    rotation_listener_ = std::move(listener);
  }

  void Shutdown() {
    // The rotation thread takes control_mu_ to reload: stop it first.
    {
      absl::MutexLock lock(&rotation_mu_);
      rotation_stop_ = true;
    }
    if (rotation_thread_.joinable()) rotation_thread_.join();
    absl::MutexLock control(&control_mu_);
    tls_watchers_.clear();  // their callbacks never take control_mu_
    if (!started_) return;
    started_ = false;
    for (auto& worker : workers_) worker->PostDrain();
    for (auto& worker : workers_) worker->Join();
    finished_.emplace_back();
    for (auto& worker : workers_) {
      worker->AddCounters(finished_.back());
      worker->AddRpcStats(finished_rpc_stats_);
    }
    workers_.clear();
  }

 private:
  // Certificate rotation: one FileWatcher per certificate, key and CA file
  // of the running configuration's TLS entry points. A change makes the
  // rotation thread reload the running configuration through ReloadLocked,
  // as SIGHUP would: the entry point gets new TLS contexts for new
  // connections, connections already open keep theirs. A file that no
  // longer loads makes that reload fail, naming the file; the running
  // snapshot (and its certificates) stay. The watchers' callbacks only flag
  // the change (rotation_mu_), so stopping a watcher under control_mu_
  // never waits for a callback that waits for control_mu_.
  void WatchTlsFiles() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_) {
    std::set<std::string> files;
    for (const auto& [name, ep] : current()->config().entry_points()) {
      if (!ep.has_tls()) continue;
      for (std::string& f : config::TlsFiles(ep.tls())) files.insert(std::move(f));
    }
    for (auto it = tls_watchers_.begin(); it != tls_watchers_.end();) {
      it = files.contains(it->first) ? std::next(it) : tls_watchers_.erase(it);
    }
    for (const std::string& file : files) {
      if (tls_watchers_.contains(file)) continue;
      absl::StatusOr<std::unique_ptr<config::FileWatcher>> watcher = config::FileWatcher::Start(
          file, [this, file](const std::string&) { RequestRotation(file); });
      if (!watcher.ok()) {
        STRAIT_LOG(kWarn, "TLS file ", file, " is not watched for rotation: ",
                   watcher.status().message());
        continue;
      }
      tls_watchers_.emplace(file, std::move(*watcher));
    }
  }

  // On a FileWatcher's thread.
  void RequestRotation(const std::string& file) {
    absl::MutexLock lock(&rotation_mu_);
    rotation_changed_.insert(file);
  }

  bool RotationWanted() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(rotation_mu_) {
    return rotation_stop_ || !rotation_changed_.empty();
  }

  void RotationLoop() {
    for (;;) {
      std::set<std::string> changed;
      {
        absl::MutexLock lock(&rotation_mu_);
        rotation_mu_.Await(absl::Condition(this, &Impl::RotationWanted));
        if (rotation_stop_) return;
        changed.swap(rotation_changed_);
      }
      absl::MutexLock control(&control_mu_);
      if (!started_) continue;
      std::string files = absl::StrJoin(changed, ", ");
      absl::Status status = ReloadLocked(current()->config());
      if (status.ok()) {
        STRAIT_LOG(kInfo, "TLS files changed (", files, "): new connections get them");
      } else {
        STRAIT_LOG(kWarn, "TLS files changed (", files, ") but are refused, the running ",
                   "certificates stay: ", status.message());
      }
      if (rotation_listener_) rotation_listener_(files, status);
    }
  }

  std::shared_ptr<const config::Snapshot> current() const {
    absl::MutexLock lock(&mu_);
    return snapshot_;
  }

  absl::Status Compile(const config::v1::Config& config)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_) {
    absl::StatusOr<std::shared_ptr<const config::Snapshot>> snapshot =
        config::Snapshot::Compile(config, &health_);
    if (!snapshot.ok()) return snapshot.status();
    absl::MutexLock lock(&mu_);
    snapshot_ = std::move(*snapshot);
    return absl::OkStatus();
  }

  // Every worker's server loads and connections, summed: one loop turn each.
  proxy::ServerTotals TotalsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(control_mu_) {
    proxy::ServerTotals totals;
    for (auto& worker : workers_) worker->AddServerTotals(totals);
    return totals;
  }

  // The ports of entry points whose sockets the workers have taken.
  void Publish(const std::vector<BoundEntryPoint>& bound) {
    for (const BoundEntryPoint& b : bound) {
      absl::MutexLock lock(&mu_);
      ports_[b.name] = b.address.port();
      STRAIT_LOG(kInfo, "entry point ", b.name, " listening on ", b.address.ToString(), " (",
                 worker_count_, " workers)");
    }
  }

  // Before snapshot_: the servers' health outlives no snapshot it serves,
  // and its checkers stop last.
  health::HealthStore health_;
  const int worker_count_;
  // Held by whatever changes the configuration or walks the workers (Start,
  // Reload, Stats, Shutdown): the admin service and SIGHUP may reload at
  // once, and each Reload returns only once every worker has taken its
  // snapshot.
  absl::Mutex control_mu_;
  std::vector<std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(control_mu_);
  std::vector<proxy::ProxyCounters> finished_  // of workers already shut down
      ABSL_GUARDED_BY(control_mu_);
  proxy::RpcStatsTable finished_rpc_stats_ ABSL_GUARDED_BY(control_mu_);
  // Opened by the first Start() when the config has accessLog.path; never
  // replaced after (so ReopenAccessLog may read it from a signal handler),
  // destroyed after the workers (their producers are its own).
  std::unique_ptr<observe::AccessLog> access_log_;
  bool started_ ABSL_GUARDED_BY(control_mu_) = false;
  // What other threads read while a reload runs (port(), Health()).
  mutable absl::Mutex mu_;
  std::shared_ptr<const config::Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> ports_ ABSL_GUARDED_BY(mu_);
  // Certificate rotation (WatchTlsFiles). The watchers go first (declared
  // last): their callbacks touch rotation_mu_.
  mutable absl::Mutex rotation_mu_;
  std::set<std::string> rotation_changed_ ABSL_GUARDED_BY(rotation_mu_);  // since last reload
  bool rotation_stop_ ABSL_GUARDED_BY(rotation_mu_) = false;
  std::map<std::string, std::unique_ptr<config::FileWatcher>> tls_watchers_
      ABSL_GUARDED_BY(control_mu_);
  std::thread rotation_thread_;  // started by Start, joined by Shutdown
  Server::TlsRotationListener rotation_listener_ ABSL_GUARDED_BY(control_mu_);
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const config::v1::Config& config,
                                                       ServerOptions options) {
  int workers = options.workers > 0
                    ? options.workers
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto impl = std::make_unique<Impl>(workers);
  if (absl::Status status = impl->Init(config); !status.ok()) return status;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
absl::Status Server::Start() { return impl_->Start(); }
int Server::port(absl::string_view entry_point) const { return impl_->port(entry_point); }
absl::Status Server::Reload(const config::v1::Config& config) { return impl_->Reload(config); }
proxy::ProxyCounters Server::Stats() { return impl_->Stats(); }
proxy::RpcStatsTable Server::RpcStats() { return impl_->RpcStats(); }
void Server::ReopenAccessLog() { impl_->ReopenAccessLog(); }
uint64_t Server::access_log_dropped() const { return impl_->access_log_dropped(); }
std::optional<ServerHealthView> Server::Health(absl::string_view service,
                                               absl::string_view url) {
  return impl_->Health(service, url);
}
std::vector<ServerStatus> Server::ListServers(absl::string_view service) {
  return impl_->ListServers(service);
}
absl::StatusOr<DrainResult> Server::SetDrained(absl::string_view url, bool drained) {
  return impl_->SetDrained(url, drained);
}
std::vector<std::string> Server::DrainedServers() { return impl_->DrainedServers(); }
void Server::SetHealthListener(std::function<void(const health::HealthEvent&)> listener) {
  impl_->SetHealthListener(std::move(listener));
}
void Server::SetTlsRotationListener(TlsRotationListener listener) {
  impl_->SetTlsRotationListener(std::move(listener));
}
void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace strait::server
