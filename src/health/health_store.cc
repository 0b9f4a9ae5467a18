#include "health/health_store.h"

#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "event/dispatcher.h"
#include "health/grpc_checker.h"
#include "health/http_checker.h"
#include "net/address.h"

namespace strait::health {

std::string Target::Identity() const {
  return absl::StrCat("url=\"", absl::CEscape(url), "\" address=\"", absl::CEscape(address),
                      "\" authority=\"", absl::CEscape(authority),
                      "\" check=", check.has_value() ? check->Key() : "none",
                      " tls=", tls != nullptr ? absl::CEscape(tls->identity()) : "none");
}

ProbeTarget ProbeTargetOf(const Target& target, const CheckSettings& settings) {
  ProbeTarget probe;
  probe.address = target.address;
  probe.authority = target.authority;
  if (settings.port != 0) {
    // "host:port" or "[v6]:port": the port is after the last colon.
    size_t colon = probe.address.rfind(':');
    probe.address = absl::StrCat(probe.address.substr(0, colon), ":", settings.port);
  }
  if (!settings.hostname.empty()) probe.authority = settings.hostname;
  if (probe.authority.empty()) probe.authority = probe.address;
  if (target.tls != nullptr) {
    probe.tls = target.tls;
    probe.tls_name = target.tls->options().server_name;
    if (probe.tls_name.empty()) {
      absl::StatusOr<net::ServerUrl> url = net::ParseServerUrl(target.url);
      if (url.ok()) probe.tls_name = url->host_port.host;
    }
  }
  return probe;
}

std::unique_ptr<Checker> MakeChecker(const ProbeTarget& target, const CheckSettings& settings,
                                     std::shared_ptr<ServerHealth> health) {
  switch (settings.mode) {
    case CheckMode::kGrpc:
      return std::make_unique<GrpcChecker>(target, settings, std::move(health),
                                           target.tls != nullptr
                                               ? HealthCredentials(target.tls)
                                               : grpc::InsecureChannelCredentials());
    case CheckMode::kHttp:
      // h2c only (ValidateConfig refuses http checks of https:// servers).
      return std::make_unique<HttpChecker>(target, settings, std::move(health));
  }
  return nullptr;
}

HealthStore::HealthStore() : events_(std::make_shared<HealthEventSink>()) {}

HealthStore::~HealthStore() {
  for (auto& [identity, entry] : entries_) entry.checker.reset();
}

std::vector<std::shared_ptr<ServerHealth>> HealthStore::Update(const std::vector<Target>& targets) {
  absl::flat_hash_map<std::string, Entry> next;
  std::vector<std::shared_ptr<ServerHealth>> out;
  out.reserve(targets.size());
  for (const Target& target : targets) {
    std::string identity = target.Identity();
    if (auto it = next.find(identity); it != next.end()) {
      out.push_back(it->second.health);
      continue;
    }
    Entry entry;
    if (auto old = entries_.find(identity); old != entries_.end()) {
      entry = std::move(old->second);
      entries_.erase(old);
    } else {
      std::string label = absl::StrCat("server ", target.url);
      if (target.check.has_value() && target.check->mode == CheckMode::kGrpc) {
        absl::StrAppend(&label, " service \"", absl::CEscape(target.check->service), "\"");
      } else if (target.check.has_value()) {
        absl::StrAppend(&label, " path ", target.check->path);
      }
      entry.health = std::make_shared<ServerHealth>(
          target.url, std::move(label),
          !target.check.has_value() || target.check->initially_healthy, events_);
      if (drained_.contains(target.url)) entry.health->SetDrained(true);
      if (target.check.has_value()) {
        entry.checker =
            MakeChecker(ProbeTargetOf(target, *target.check), *target.check, entry.health);
      }
    }
    out.push_back(entry.health);
    next.emplace(std::move(identity), std::move(entry));
  }
  // What is left was not listed: stop its checkers now.
  entries_.swap(next);
  for (auto& [identity, entry] : next) entry.checker.reset();
  absl::flat_hash_set<absl::string_view> listed;
  for (const Target& target : targets) listed.insert(target.url);
  absl::erase_if(drained_, [&](const std::string& url) { return !listed.contains(url); });
  return out;
}

bool HealthStore::SetDrained(absl::string_view url, bool drained) {
  // Control side, rarely: a scan of every identity is fine.
  std::shared_ptr<ServerHealth> first;
  bool changed = false;
  for (auto& [identity, entry] : entries_) {
    if (entry.health->url() != url) continue;
    if (first == nullptr) first = entry.health;
    changed = entry.health->SetDrained(drained) || changed;
  }
  if (first == nullptr) return false;
  if (drained) {
    drained_.insert(std::string(url));
  } else {
    drained_.erase(url);
  }
  if (changed) {
    STRAIT_LOG(kInfo, "health: server ", url, drained ? " drained" : " undrained", " by admin");
    events_->Notify(HealthEvent{
        .kind = HealthEvent::Kind::kDrain,
        .url = std::string(url),
        .healthy = first->active_up(),
        .ejected = first->ejected(event::Dispatcher::MonotonicNow()),
        .drained = drained,
        .reason = drained ? "drained by admin" : "undrained by admin",
    });
  }
  return true;
}

std::vector<std::string> HealthStore::drained_urls() const {
  std::vector<std::string> urls(drained_.begin(), drained_.end());
  std::sort(urls.begin(), urls.end());
  return urls;
}

std::shared_ptr<ServerHealth> HealthStore::Find(const Target& target) const {
  auto it = entries_.find(target.Identity());
  return it == entries_.end() ? nullptr : it->second.health;
}

}  // namespace strait::health
