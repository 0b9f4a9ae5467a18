#include "server/server.h"

#include <unistd.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "config/snapshot.h"
#include "config/validate.h"
#include "event/dispatcher.h"
#include "health/health_store.h"
#include "net/socket.h"
#include "server/worker.h"

namespace strait::server {

namespace {

// The entry points' names and addresses, as written: they cannot change
// while strait runs (their sockets are bound once).
bool SameEntryPoints(const config::v1::Config& a, const config::v1::Config& b) {
  if (a.entry_points_size() != b.entry_points_size()) return false;
  for (const auto& [name, ep] : a.entry_points()) {
    auto it = b.entry_points().find(name);
    if (it == b.entry_points().end()) return false;
    absl::StatusOr<net::HostPort> x = net::ParseHostPort(ep.address());
    absl::StatusOr<net::HostPort> y = net::ParseHostPort(it->second.address());
    if (!x.ok() || !y.ok() || net::FormatHostPort(*x) != net::FormatHostPort(*y)) return false;
  }
  return true;
}

}  // namespace

class Server::Impl {
 public:
  explicit Impl(int workers) : worker_count_(workers) {}
  ~Impl() { Shutdown(); }

  absl::Status Compile(const config::v1::Config& config) {
    absl::MutexLock lock(&mu_);
    return CompileLocked(config);
  }

  absl::Status Start() {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < worker_count_; ++i) {
      workers_.push_back(std::make_unique<Worker>(i));
    }
    for (const auto& [name, ep] : snapshot_->entry_points()) {
      absl::StatusOr<net::SocketAddress> address = net::Resolve(ep.address);
      if (!address.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("entryPoints.", name, ".address: ", address.status().message()));
      }
      address = net::PickFreePort(*address);
      if (!address.ok()) {
        return absl::UnavailableError(
            absl::StrCat("entry point ", name, ": ", address.status().message()));
      }
      // The first socket resolves port 0; the others share its port.
      for (int i = 0; i < worker_count_; ++i) {
        absl::StatusOr<int> fd = net::ListenReusePort(*address, 1024);
        if (!fd.ok()) {
          return absl::UnavailableError(
              absl::StrCat("entry point ", name, ": ", fd.status().message()));
        }
        if (i == 0) {
          absl::StatusOr<net::SocketAddress> bound = net::LocalAddress(*fd);
          if (!bound.ok()) return bound.status();
          *address = *bound;
          ports_[name] = bound->port();
        }
        workers_[i]->AddListener(name, *fd);
      }
      STRAIT_LOG(kInfo, "entry point ", name, " listening on ", address->ToString(),
                 " (", worker_count_, " workers)");
    }
    for (auto& worker : workers_) worker->Start(snapshot_);
    started_ = true;
    return absl::OkStatus();
  }

  absl::Status Reload(const config::v1::Config& config) {
    absl::MutexLock lock(&mu_);
    // Checked before compiling: compiling updates the health store, which
    // must not start checking servers of a configuration that is refused.
    if (absl::Status valid = config::ValidateConfig(config); !valid.ok()) return valid;
    if (!SameEntryPoints(snapshot_->config(), config)) {
      return absl::FailedPreconditionError(
          "entryPoints: names and addresses cannot change while strait runs; restart it");
    }
    if (absl::Status compiled = CompileLocked(config); !compiled.ok()) return compiled;
    for (auto& worker : workers_) worker->SetSnapshot(snapshot_);
    return absl::OkStatus();
  }

  int port(absl::string_view entry_point) const {
    absl::MutexLock lock(&mu_);
    auto it = ports_.find(std::string(entry_point));
    return it == ports_.end() ? -1 : it->second;
  }

  proxy::ProxyCounters Stats() {
    absl::MutexLock lock(&mu_);
    proxy::ProxyCounters sum;
    for (auto& worker : workers_) worker->AddCounters(sum);
    for (auto& c : finished_) sum.Add(c);
    return sum;
  }

  std::optional<ServerHealthView> Health(absl::string_view service, absl::string_view url) {
    absl::MutexLock lock(&mu_);
    const config::ServiceEntry* entry = snapshot_->service(service);
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
    absl::MutexLock lock(&mu_);
    proxy::ServerTotals totals = TotalsLocked();
    // One clock reading for the whole list; ejections are kept in the
    // monotonic clock's time, shown in the wall clock's.
    const absl::Time monotonic_now = event::Dispatcher::MonotonicNow();
    const absl::Time wall_now = absl::Now();
    std::vector<ServerStatus> out;
    for (const auto& [name, service] : snapshot_->services()) {
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
        out.push_back(std::move(status));
      }
    }
    return out;
  }

  absl::StatusOr<DrainResult> SetDrained(absl::string_view url, bool drained) {
    absl::MutexLock lock(&mu_);
    DrainResult result;
    for (const auto& [name, service] : snapshot_->services()) {
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

  std::vector<std::string> DrainedServers() const {
    absl::MutexLock lock(&mu_);
    return health_.drained_urls();
  }

  void SetHealthListener(health::HealthListener listener) {
    absl::MutexLock lock(&mu_);
    health_.SetListener(std::move(listener));
  }

  void Shutdown() {
    absl::MutexLock lock(&mu_);
    if (!started_) return;
    started_ = false;
    for (auto& worker : workers_) worker->PostDrain();
    for (auto& worker : workers_) worker->Join();
    finished_.emplace_back();
    for (auto& worker : workers_) worker->AddCounters(finished_.back());
    workers_.clear();
  }

 private:
  absl::Status CompileLocked(const config::v1::Config& config) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    absl::StatusOr<std::shared_ptr<const config::Snapshot>> snapshot =
        config::Snapshot::Compile(config, &health_);
    if (!snapshot.ok()) return snapshot.status();
    snapshot_ = std::move(*snapshot);
    return absl::OkStatus();
  }

  // Every worker's server loads and connections, summed: one loop turn each.
  proxy::ServerTotals TotalsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    proxy::ServerTotals totals;
    for (auto& worker : workers_) worker->AddServerTotals(totals);
    return totals;
  }

  // Serialises the calls of the driving thread and the admin's. Workers
  // never take it, so holding it while waiting for their loops is safe.
  mutable absl::Mutex mu_;
  // Before snapshot_: the servers' health outlives no snapshot it serves,
  // and its checkers stop last.
  health::HealthStore health_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const config::Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  const int worker_count_;
  std::vector<std::unique_ptr<Worker>> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> ports_ ABSL_GUARDED_BY(mu_);
  // Of workers already shut down.
  std::vector<proxy::ProxyCounters> finished_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
};

absl::StatusOr<std::unique_ptr<Server>> Server::Create(const config::v1::Config& config,
                                                       ServerOptions options) {
  int workers = options.workers > 0
                    ? options.workers
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  auto impl = std::make_unique<Impl>(workers);
  if (absl::Status status = impl->Compile(config); !status.ok()) return status;
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
absl::Status Server::Start() { return impl_->Start(); }
int Server::port(absl::string_view entry_point) const { return impl_->port(entry_point); }
absl::Status Server::Reload(const config::v1::Config& config) { return impl_->Reload(config); }
proxy::ProxyCounters Server::Stats() { return impl_->Stats(); }
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
std::vector<std::string> Server::DrainedServers() const { return impl_->DrainedServers(); }
void Server::SetHealthListener(std::function<void(const health::HealthEvent&)> listener) {
  impl_->SetHealthListener(std::move(listener));
}
void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace strait::server
