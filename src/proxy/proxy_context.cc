#include "proxy/proxy_context.h"

#include <variant>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "proxy/mirror_stream.h"

namespace strait::proxy {

ProxyContext::ProxyContext(event::Dispatcher& dispatcher)
    : dispatcher_(dispatcher), pools_(dispatcher), seed_(std::random_device{}()) {}

ProxyContext::~ProxyContext() {
  // Each copy lets go of its stream or pool queue place and its server load.
  mirrors_.clear();
}

void ProxyContext::SetSnapshot(std::shared_ptr<const config::Snapshot> snapshot) {
  snapshot_ = std::move(snapshot);
  services_.clear();  // streams of older snapshots make theirs again if they retry
  mirror_samples_.clear();
  absl::flat_hash_set<std::string> listed;
  absl::flat_hash_set<std::string> pool_keys;
  for (const auto& [name, service] : snapshot_->services()) {
    for (const upstream::Backend& backend : service.backends) listed.insert(backend.url);
    pool_keys.insert(service.pool_keys.begin(), service.pool_keys.end());
  }
  absl::erase_if(loads_, [&](const auto& entry) {
    return entry.second.in_flight == 0 && !listed.contains(entry.first);
  });
  // Pools of transports or servers this snapshot dropped: their connections
  // go as their last streams end.
  pools_.SetLiveKeys(std::move(pool_keys));
  pools_.EvictIdle();
}

ProxyContext::ServiceState& ProxyContext::StateOf(const config::ServiceEntry& service) {
  auto it = services_.find(service.id);
  if (it != services_.end()) return *it->second;
  auto state = std::make_unique<ServiceState>(*service.plan, seed_ + service.id);
  for (const upstream::Backend& backend : service.backends) {
    state->loads.push_back(&loads_[backend.url]);
  }
  return *services_.emplace(service.id, std::move(state)).first->second;
}

const config::ServiceEntry* ProxyContext::Resolve(const config::ServiceEntry& routed,
                                                  absl::Time now, std::string* why) {
  using Kind = config::ServiceEntry::Kind;
  const config::ServiceEntry* node = &routed;
  for (;;) {
    switch (node->kind) {
      case Kind::kLoadBalancer:
        return node;
      case Kind::kMirroring:
        node = node->children[0];
        break;
      case Kind::kFailover:
        node = node->children[0]->HasHealthyServer(now) ? node->children[0] : node->children[1];
        break;
      case Kind::kWeighted: {
        ServiceState& state = StateOf(*node);
        const config::ServiceEntry& weighted = *node;
        balance::PickResult picked = balance::Pick(
            *weighted.plan, state.picker,
            balance::PickArgs{
                .hash_value = std::nullopt,
                .avoid = {},
                .usable =
                    [&](size_t i) {
                      return !weighted.propagate_health ||
                             weighted.children[i]->HasHealthyServer(now);
                    },
                .in_flight = [](size_t) { return 0u; },
            });
        const auto* complete = std::get_if<balance::Complete>(&picked);
        if (complete == nullptr) {
          *why = absl::StrCat("service ", weighted.name, ": no service with a healthy server");
          return nullptr;
        }
        node = weighted.children[complete->server];
        break;
      }
    }
  }
}

std::optional<ProxyContext::ServerPick> ProxyContext::PickServer(
    const config::ServiceEntry& service, absl::Time now, const HeaderList& request_headers,
    absl::Span<const size_t> avoid) {
  ServiceState& state = StateOf(service);
  const balance::Plan& plan = *service.plan;
  std::optional<absl::string_view> hash_value;
  if (plan.strategy() == balance::Strategy::kHash) {
    if (const std::string* v = FindHeader(request_headers, plan.hash_header())) hash_value = *v;
  }
  balance::PickResult picked = balance::Pick(
      plan, state.picker,
      balance::PickArgs{
          .hash_value = hash_value,
          .avoid = avoid,
          .usable = [&](size_t i) { return service.health[i]->Usable(now); },
          .in_flight = [&](size_t i) { return state.loads[i]->in_flight; },
          .drained = [&](size_t i) { return service.health[i]->drained(); },
      });
  const auto* complete = std::get_if<balance::Complete>(&picked);
  if (complete == nullptr) return std::nullopt;
  return ServerPick{.index = complete->server, .load = state.loads[complete->server]};
}

void ProxyContext::AddTotals(ServerTotals& sum) const {
  for (const auto& [url, load] : loads_) {
    ServerTotals::Rpcs& rpcs = sum.by_url[url];
    rpcs.in_flight += load.in_flight;
    for (size_t i = 0; i < load.rpcs_by_status.size(); ++i) {
      rpcs.by_status[i] += load.rpcs_by_status[i];
    }
  }
  pools_.AddOpenConnections(sum.connections_by_address);
  for (const auto& [url, c] : pools_.counters()) {
    upstream::UpstreamCounters& total = sum.connection_failures_by_url[url];
    total.connect_failures += c.connect_failures;
    total.ping_timeouts += c.ping_timeouts;
  }
}

void ProxyContext::AddMirror(std::unique_ptr<MirrorStream> mirror) {
  uint64_t id = mirror->id();
  mirrors_.emplace(id, std::move(mirror));
  counters_.mirror_copies_live = mirrors_.size();
}

MirrorStream* ProxyContext::mirror(uint64_t id) const {
  auto it = mirrors_.find(id);
  return it == mirrors_.end() ? nullptr : it->second.get();
}

void ProxyContext::ReleaseMirror(uint64_t id) {
  auto it = mirrors_.find(id);
  if (it == mirrors_.end()) return;
  dispatcher_.DeferredDelete(std::move(it->second));
  mirrors_.erase(it);
  counters_.mirror_copies_live = mirrors_.size();
}

}  // namespace strait::proxy
