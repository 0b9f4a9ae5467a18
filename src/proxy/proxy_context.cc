#include "proxy/proxy_context.h"

#include "absl/container/flat_hash_set.h"

namespace strait::proxy {

void ProxyContext::SetSnapshot(std::shared_ptr<const config::Snapshot> snapshot) {
  snapshot_ = std::move(snapshot);
  services_.clear();  // streams of older snapshots make theirs again if they retry
  absl::flat_hash_set<std::string> listed;
  for (const auto& [name, service] : snapshot_->services()) {
    for (const upstream::Backend& backend : service.backends) listed.insert(backend.url);
  }
  absl::erase_if(loads_, [&](const auto& entry) {
    return entry.second.in_flight == 0 && !listed.contains(entry.first);
  });
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

}  // namespace strait::proxy
