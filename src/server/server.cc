#include "server/server.h"

#include <unistd.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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
    absl::StatusOr<std::shared_ptr<const config::Snapshot>> snapshot =
        config::Snapshot::Compile(config, &health_);
    if (!snapshot.ok()) return snapshot.status();
    snapshot_ = std::move(*snapshot);
    return absl::OkStatus();
  }

  absl::Status Start() {
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
    // Checked before compiling: compiling updates the health store, which
    // must not start checking servers of a configuration that is refused.
    if (absl::Status valid = config::ValidateConfig(config); !valid.ok()) return valid;
    if (!SameEntryPoints(snapshot_->config(), config)) {
      return absl::FailedPreconditionError(
          "entryPoints: names and addresses cannot change while strait runs; restart it");
    }
    if (absl::Status compiled = Compile(config); !compiled.ok()) return compiled;
    for (auto& worker : workers_) worker->SetSnapshot(snapshot_);
    return absl::OkStatus();
  }

  int port(absl::string_view entry_point) const {
    auto it = ports_.find(std::string(entry_point));
    return it == ports_.end() ? -1 : it->second;
  }

  proxy::ProxyCounters Stats() {
    proxy::ProxyCounters sum;
    for (auto& worker : workers_) worker->AddCounters(sum);
    for (auto& c : finished_) sum.Add(c);
    return sum;
  }

  std::optional<ServerHealthView> Health(absl::string_view service, absl::string_view url) {
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
      };
    }
    return std::nullopt;
  }

  void Shutdown() {
    if (!started_) return;
    started_ = false;
    for (auto& worker : workers_) worker->PostDrain();
    for (auto& worker : workers_) worker->Join();
    finished_.emplace_back();
    for (auto& worker : workers_) worker->AddCounters(finished_.back());
    workers_.clear();
  }

 private:
  // Before snapshot_: the servers' health outlives no snapshot it serves,
  // and its checkers stop last.
  health::HealthStore health_;
  std::shared_ptr<const config::Snapshot> snapshot_;
  const int worker_count_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::map<std::string, int> ports_;
  std::vector<proxy::ProxyCounters> finished_;  // of workers already shut down
  bool started_ = false;
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
void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace strait::server
