#include "server/worker.h"

#include <unistd.h>

#include <future>

#include "common/log.h"

namespace strait::server {

Worker::Worker(int index) : index_(index), context_(dispatcher_) {}

Worker::~Worker() {
  Join();
  connections_.clear();
  listeners_.clear();
}

void Worker::AddListener(const std::string& name, int fd) {
  RunOnLoop([&] {
    if (draining_) {
      close(fd);
      return;
    }
    listeners_[name] = std::make_unique<net::Listener>(
        dispatcher_, fd, [this, name](int client, const net::SocketAddress& peer) {
          OnAccept(name, client, peer);
        });
  });
}

void Worker::RemoveListener(const std::string& name, absl::Duration grace) {
  RunOnLoop([&] {
    listeners_.erase(name);  // closes the socket: new connections are refused
    // The snapshot that still has the entry point, for the streams to come.
    std::shared_ptr<const config::Snapshot> last = context_.snapshot();
    // Shutdown may close a connection at once, which erases it: iterate a copy.
    std::vector<proxy::DownstreamConnection*> open;
    for (auto& [raw, _] : connections_) {
      if (raw->entry_point() == name) open.push_back(raw);
    }
    for (proxy::DownstreamConnection* c : open) {
      if (connections_.contains(c)) c->Shutdown(grace, last);
    }
  });
}

void Worker::Start(std::shared_ptr<const config::Snapshot> snapshot) {
  context_.SetSnapshot(std::move(snapshot));
  thread_ = std::thread([this] {
    dispatcher_.Run();
    std::lock_guard<std::mutex> lock(exit_mu_);
    exited_ = true;
    dispatcher_.RunPostedNow();  // what was posted before exited_ was set
    // The loop is done: close what is left while the dispatcher still
    // exists (under the lock: RunOnLoop runs its calls directly from now).
    connections_.clear();
    listeners_.clear();
  });
}

void Worker::RunOnLoop(const std::function<void()>& fn) {
  std::promise<void> done;
  {
    std::lock_guard<std::mutex> lock(exit_mu_);
    if (exited_ || !thread_.joinable()) {
      fn();  // no loop runs: nothing else touches the worker's state
      return;
    }
    dispatcher_.Post([&] {
      fn();
      done.set_value();
    });
  }
  done.get_future().wait();
}

void Worker::SetSnapshot(std::shared_ptr<const config::Snapshot> snapshot) {
  RunOnLoop([&] { context_.SetSnapshot(std::move(snapshot)); });
}

void Worker::PostDrain() {
  dispatcher_.Post([this] { Drain(); });
}

void Worker::AddCounters(proxy::ProxyCounters& sum) {
  RunOnLoop([&] {
    context_.counters().pools = context_.pools().size();
    context_.counters().upstream_connections = context_.pools().connection_count();
    context_.counters().Total();
    sum.Add(context_.counters());
  });
}

void Worker::AddServerTotals(proxy::ServerTotals& sum) {
  RunOnLoop([&] { context_.AddTotals(sum); });
}

void Worker::AddRpcStats(proxy::RpcStatsTable& sum) {
  RunOnLoop([&] { context_.rpc_stats().AddTo(sum); });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::OnAccept(const std::string& entry_point, int fd,
                      const net::SocketAddress& peer) {
  const config::EntryPointEntry* ep = context_.snapshot()->entry_point(entry_point);
  if (draining_ || ep == nullptr) {
    close(fd);
    return;
  }
  auto connection = std::make_unique<proxy::DownstreamConnection>(
      context_, *ep, fd, peer,
      [this](proxy::DownstreamConnection* c) { OnConnectionClosed(c); });
  proxy::DownstreamConnection* raw = connection.get();
  connections_.emplace(raw, std::move(connection));
  raw->Start();
}

void Worker::OnConnectionClosed(proxy::DownstreamConnection* connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  dispatcher_.DeferredDelete(std::move(it->second));
  connections_.erase(it);
  MaybeExit();
}

void Worker::Drain() {
  if (draining_) return;
  draining_ = true;
  for (auto& [name, listener] : listeners_) listener->Close();
  // Shutdown may close a connection at once, which erases it: iterate a copy.
  std::vector<proxy::DownstreamConnection*> open;
  for (auto& [raw, _] : connections_) open.push_back(raw);
  for (proxy::DownstreamConnection* c : open) {
    if (!connections_.contains(c)) continue;
    const config::EntryPointEntry* ep = context_.snapshot()->entry_point(c->entry_point());
    c->Shutdown(ep ? ep->grace_timeout : absl::Seconds(10));
  }
  MaybeExit();
}

void Worker::MaybeExit() {
  if (draining_ && connections_.empty()) {
    STRAIT_LOG(kDebug, "worker ", index_, " drained");
    dispatcher_.Exit();
  }
}

}  // namespace strait::server
