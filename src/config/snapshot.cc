#include "config/snapshot.h"

#include <algorithm>
#include <atomic>
#include <optional>

#include "absl/strings/str_cat.h"
#include "balance/stable_hash.h"
#include "config/entry_point_tls.h"
#include "config/client_tls.h"
#include "config/validate.h"
#include "google/protobuf/io/coded_stream.h"
#include "router/rule.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "net/socket.h"
#include "upstream/conn_pool.h"

namespace strait::config {
namespace {

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

// A configured duration, or `otherwise` when the field is unset.
absl::Duration DurationOr(bool has, const google::protobuf::Duration& d,
                          absl::Duration otherwise) {
  return has ? ToDuration(d) : otherwise;
}

// The fingerprint of `t` that pool keys carry: of its whole deterministic
// serialization, so that no field can change without giving its RPCs a new
// pool (a hand-listed subset of fields would forget the next one added).
uint64_t Fingerprint(const v1::ServersTransport& t) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    t.SerializeToCodedStream(&out);
  }
  return balance::StableHash64(bytes);
}

// `tls`: the context of its https:// servers, or null if there are none.
upstream::TransportSettings CompileTransport(
    absl::string_view name, const v1::ServersTransport& t,
    std::shared_ptr<const net::ClientTlsContext> tls) {
  upstream::TransportSettings settings;
  settings.name = std::string(name);
  settings.fingerprint = Fingerprint(t);
  if (tls != nullptr) {
    // The contents of its files too: a rotated certificate gets new pools.
    settings.fingerprint = balance::StableHash64(
        absl::StrCat(absl::Hex(settings.fingerprint), " ", tls->identity()));
    settings.tls = std::move(tls);
  }
  const v1::ForwardingTimeouts& ft = t.forwarding_timeouts();
  if (ft.has_dial_timeout()) settings.dial_timeout = ToDuration(ft.dial_timeout());
  if (ft.has_response_header_timeout()) {
    settings.response_header_timeout = ToDuration(ft.response_header_timeout());
  }
  if (ft.has_idle_conn_timeout()) {
    settings.idle_conn_timeout = ToDuration(ft.idle_conn_timeout());
  }
  if (ft.has_read_idle_timeout()) {
    settings.read_idle_timeout = ToDuration(ft.read_idle_timeout());
  }
  if (ft.has_ping_timeout()) settings.ping_timeout = ToDuration(ft.ping_timeout());
  if (ft.has_pending_timeout()) settings.pending_timeout = ToDuration(ft.pending_timeout());
  if (t.max_conns_per_server() != 0) settings.max_conns_per_server = t.max_conns_per_server();
  if (t.max_pending_requests() != 0) settings.max_pending_requests = t.max_pending_requests();
  settings.http2 = h2::ResolveLimits(t.http2(), h2::Side::kUpstream);
  return settings;
}

std::optional<h2::GrpcStatus> StatusFromName(absl::string_view name) {
  for (int code = 0; code <= 16; ++code) {
    auto status = static_cast<h2::GrpcStatus>(code);
    if (h2::GrpcStatusName(status) == name) return status;
  }
  return std::nullopt;
}

// `r` has passed ValidateConfig.
RetryPolicy CompileRetry(const v1::RetryPolicy& r) {
  RetryPolicy policy;
  policy.max_attempts = std::max<uint32_t>(1, r.attempts());
  if (r.has_per_try_timeout()) policy.per_try_timeout = ToDuration(r.per_try_timeout());
  if (r.buffer_bytes() != 0) policy.buffer_bytes = r.buffer_bytes();
  if (r.retry_on().empty()) {
    policy.retry_on = 1u << static_cast<int>(h2::GrpcStatus::kUnavailable);
  }
  for (const std::string& name : r.retry_on()) {
    if (std::optional<h2::GrpcStatus> status = StatusFromName(name)) {
      policy.retry_on |= 1u << static_cast<int>(*status);
    }
  }
  return policy;
}

balance::Strategy StrategyOf(const std::string& name) {
  if (name == "wrr") return balance::Strategy::kWrr;
  if (name == "hash") return balance::Strategy::kHash;
  return balance::Strategy::kP2C;
}

// `hc` has passed ValidateConfig.
health::CheckSettings CompileHealthCheck(const v1::HealthCheck& hc,
                                         const upstream::TransportSettings& transport) {
  health::CheckSettings s;
  s.mode = hc.mode() == "http" ? health::CheckMode::kHttp : health::CheckMode::kGrpc;
  s.service = hc.service();
  if (!hc.path().empty()) s.path = hc.path();
  s.port = static_cast<int>(hc.port());
  s.hostname = hc.hostname();
  s.interval = DurationOr(hc.has_interval(), hc.interval(), s.interval);
  s.timeout = DurationOr(hc.has_timeout(), hc.timeout(), s.timeout);
  s.unhealthy_interval =
      DurationOr(hc.has_unhealthy_interval(), hc.unhealthy_interval(), s.unhealthy_interval);
  s.watch = hc.watch();
  s.healthy_threshold = std::max<int>(1, hc.healthy_threshold());
  s.unhealthy_threshold = std::max<int>(1, hc.unhealthy_threshold());
  s.initially_healthy = !hc.has_initially_healthy() || hc.initially_healthy();
  s.dial_timeout = transport.dial_timeout;
  return s;
}

PassiveHealth CompilePassive(const v1::PassiveHealthCheck& ph) {
  PassiveHealth p;
  p.enabled = !ph.has_enabled() || ph.enabled();
  if (ph.consecutive_failures() != 0) p.consecutive_failures = ph.consecutive_failures();
  p.base_ejection_time =
      DurationOr(ph.has_base_ejection_time(), ph.base_ejection_time(), p.base_ejection_time);
  p.max_ejection_time =
      DurationOr(ph.has_max_ejection_time(), ph.max_ejection_time(), p.max_ejection_time);
  if (ph.has_max_ejection_percent()) p.max_ejection_percent = ph.max_ejection_percent();
  return p;
}

uint64_t NextServiceId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Snapshot>> Snapshot::Compile(
    const v1::Config& config, health::HealthStore* health_store) {
  if (absl::Status status = ValidateConfig(config); !status.ok()) return status;
  std::shared_ptr<Snapshot> snapshot(new Snapshot());
  snapshot->config_ = config;

  for (const auto& [name, ep] : config.entry_points()) {
    absl::StatusOr<net::HostPort> address = net::ParseHostPort(ep.address());
    if (!address.ok()) return address.status();
    absl::StatusOr<router::RouteTable> routes = router::RouteTable::Build(config, name);
    if (!routes.ok()) return routes.status();
    const v1::EntryPointTransport& t = ep.transport();
    EntryPointEntry entry{
        .name = name,
        .address = *address,
        .http2 = h2::ResolveLimits(ep.http2(), h2::Side::kDownstream),
        .grace_timeout = DurationOr(t.life_cycle().has_grace_time_out(),
                                    t.life_cycle().grace_time_out(), absl::Seconds(10)),
        .write_stall_timeout = DurationOr(t.has_write_stall_timeout(), t.write_stall_timeout(),
                                          absl::Seconds(60)),
        .stream_stall_timeout = DurationOr(t.has_stream_stall_timeout(),
                                           t.stream_stall_timeout(), absl::Minutes(5)),
        .max_connection_buffer_bytes =
            t.max_connection_buffer_bytes() != 0 ? t.max_connection_buffer_bytes() : 4u << 20,
        .keep_alive_time =
            DurationOr(t.has_keep_alive_time(), t.keep_alive_time(), absl::Seconds(60)),
        .keep_alive_timeout =
            DurationOr(t.has_keep_alive_timeout(), t.keep_alive_timeout(), absl::Seconds(20)),
        .routes = std::move(*routes),
        .tls = nullptr,
    };
    if (ep.has_tls()) {
      absl::StatusOr<std::shared_ptr<const net::TlsServerContext>> tls =
          BuildTlsServerContext(ep.tls());
      if (!tls.ok()) {
        return absl::Status(tls.status().code(),
                            absl::StrCat("entryPoints.", name, ".tls.", tls.status().message()));
      }
      entry.tls = std::move(*tls);
      entry.handshake_timeout = DurationOr(ep.tls().has_handshake_timeout(),
                                           ep.tls().handshake_timeout(), absl::Seconds(10));
    }
    snapshot->entry_points_.emplace(name, std::move(entry));
  }

  // Every server of every service, for the health store; and where each
  // one's ServerHealth goes.
  std::vector<health::Target> targets;
  std::vector<std::shared_ptr<health::ServerHealth>*> target_slots;
  // Client TLS contexts by transport name ("": the defaults), built for the
  // first service with an https:// server that uses the transport and
  // shared by the rest.
  std::map<std::string, std::shared_ptr<const net::ClientTlsContext>> tls_contexts;
  for (const auto& [name, service] : config.services()) {
    if (!service.has_load_balancer()) continue;  // composites: below
    const v1::LoadBalancer& lb = service.load_balancer();
    ServiceEntry entry;
    entry.name = name;
    entry.id = NextServiceId();
    entry.pass_host_header = !lb.has_pass_host_header() || lb.pass_host_header();
    v1::ServersTransport transport;
    if (!lb.servers_transport().empty()) {
      transport = config.servers_transports().at(lb.servers_transport());
    }
    std::shared_ptr<const net::ClientTlsContext> tls;
    bool has_tls_server = std::any_of(
        lb.servers().begin(), lb.servers().end(), [](const v1::ServerRef& server) {
          absl::StatusOr<net::ServerUrl> parsed = net::ParseServerUrl(server.url());
          return parsed.ok() && parsed->tls();
        });
    if (has_tls_server) {
      auto [slot, fresh] = tls_contexts.try_emplace(lb.servers_transport());
      if (fresh) {
        absl::StatusOr<std::shared_ptr<const net::ClientTlsContext>> built = BuildClientTls(
            lb.servers_transport().empty()
                ? absl::StrCat("services.", name, ".loadBalancer (the default serversTransport)")
                : absl::StrCat("serversTransports.", lb.servers_transport()),
            transport);
        if (!built.ok()) return built.status();
        slot->second = *std::move(built);
      }
      tls = slot->second;
    }
    entry.transport = CompileTransport(lb.servers_transport(), transport, std::move(tls));
    entry.retry = CompileRetry(lb.retry());
    for (int i = 0; i < lb.servers_size(); ++i) {
      const std::string& url = lb.servers(i).url();
      absl::StatusOr<net::ServerUrl> parsed = net::ParseServerUrl(url);
      if (!parsed.ok()) return parsed.status();
      absl::StatusOr<net::SocketAddress> address = net::Resolve(parsed->host_port);
      if (!address.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("services.", name, ".loadBalancer.servers[", i,
                         "].url: ", address.status().message()));
      }
      entry.backends.push_back(upstream::Backend{
          .url = url,
          .authority = net::FormatHostPort(parsed->host_port),
          .address = *address,
          .tls = parsed->tls(),
          .host_port = parsed->host_port,
      });
    }
    for (const upstream::Backend& backend : entry.backends) {
      entry.pool_keys.push_back(upstream::PoolKey(entry.transport, backend));
    }
    std::vector<balance::ServerSpec> specs;
    for (int i = 0; i < lb.servers_size(); ++i) {
      specs.push_back({.id = lb.servers(i).url(),
                       .weight = lb.servers(i).has_weight() ? lb.servers(i).weight() : 1});
    }
    absl::StatusOr<balance::Plan> plan =
        balance::Plan::Build(StrategyOf(lb.strategy()), std::move(specs),
                             lb.hash_on().header(), lb.panic_threshold());
    if (!plan.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("services.", name, ".loadBalancer: ", plan.status().message()));
    }
    entry.plan = std::move(*plan);
    entry.passive = CompilePassive(lb.passive_health_check());
    entry.active_checks = lb.has_health_check();
    std::optional<health::CheckSettings> check;
    if (lb.has_health_check()) check = CompileHealthCheck(lb.health_check(), entry.transport);
    entry.health.resize(entry.backends.size());
    auto [it, inserted] = snapshot->services_.emplace(name, std::move(entry));
    ServiceEntry& placed = it->second;
    for (size_t i = 0; i < placed.backends.size(); ++i) {
      absl::StatusOr<net::ServerUrl> parsed = net::ParseServerUrl(placed.backends[i].url);
      targets.push_back(health::Target{
          .url = placed.backends[i].url,
          .address = net::FormatHostPort(parsed->host_port),
          .authority = placed.backends[i].authority,
          .check = check,
          .tls = placed.backends[i].tls ? placed.transport.tls : nullptr,
      });
      target_slots.push_back(&placed.health[i]);
    }
  }
  // Composites point at entries of this same snapshot (std::map nodes do
  // not move): make them all first, then link.
  for (const auto& [name, service] : config.services()) {
    if (service.has_load_balancer()) continue;
    ServiceEntry entry;
    entry.name = name;
    entry.id = NextServiceId();
    snapshot->services_.emplace(name, std::move(entry));
  }
  for (const auto& [name, service] : config.services()) {
    if (service.has_load_balancer()) continue;
    ServiceEntry& entry = snapshot->services_.at(name);
    auto child = [&](const std::string& child_name) {
      return &snapshot->services_.at(child_name);
    };
    if (service.has_weighted()) {
      const v1::Weighted& w = service.weighted();
      entry.kind = ServiceEntry::Kind::kWeighted;
      entry.propagate_health = w.has_health_check();
      std::vector<balance::ServerSpec> specs;
      for (int i = 0; i < w.services_size(); ++i) {
        entry.children.push_back(child(w.services(i).name()));
        // A plan's ids are unique: a child listed twice gets its index too.
        specs.push_back({.id = absl::StrCat(w.services(i).name(), "#", i),
                         .weight = w.services(i).has_weight() ? w.services(i).weight() : 1});
      }
      absl::StatusOr<balance::Plan> plan =
          balance::Plan::Build(balance::Strategy::kWrr, std::move(specs));
      if (!plan.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("services.", name, ".weighted: ", plan.status().message()));
      }
      entry.plan = std::move(*plan);
    } else if (service.has_failover()) {
      entry.kind = ServiceEntry::Kind::kFailover;
      entry.propagate_health = service.failover().has_health_check();
      entry.children = {child(service.failover().service()), child(service.failover().fallback())};
    } else {
      const v1::Mirroring& m = service.mirroring();
      entry.kind = ServiceEntry::Kind::kMirroring;
      entry.propagate_health = m.has_health_check();
      entry.children = {child(m.service())};
      for (const v1::Mirror& mirror : m.mirrors()) {
        entry.mirrors.push_back({.service = child(mirror.name()), .percent = mirror.percent()});
      }
      if (m.has_max_body_size()) entry.mirror_max_body = m.max_body_size();
      entry.mirror_body = !m.has_mirror_body() || m.mirror_body();
    }
  }
  // Last, once nothing can fail: the store starts, keeps and stops checkers.
  std::vector<std::shared_ptr<health::ServerHealth>> healths;
  if (health_store != nullptr) {
    healths = health_store->Update(targets);
  } else {
    for (const health::Target& t : targets) {
      healths.push_back(std::make_shared<health::ServerHealth>(
          t.url, absl::StrCat("server ", t.url), !t.check || t.check->initially_healthy));
    }
  }
  for (size_t i = 0; i < targets.size(); ++i) *target_slots[i] = std::move(healths[i]);
  for (const auto& [name, router] : config.routers()) {
    if (router.has_timeout()) snapshot->router_timeouts_[name] = ToDuration(router.timeout());
    // Validated: the rule parses.
    if (absl::StatusOr<router::Rule> rule = router::Rule::Parse(router.rule()); rule.ok()) {
      for (std::string& path : rule->ExactPaths()) snapshot->named_methods_.insert(std::move(path));
    }
  }
  snapshot->all_method_labels_ = config.metrics().method_labels() == "all";
  return std::shared_ptr<const Snapshot>(std::move(snapshot));
}

bool ServiceEntry::HasHealthyServer(absl::Time now) const {
  switch (kind) {
    case Kind::kLoadBalancer:
      for (size_t i = 0; i < backends.size(); ++i) {
        if (plan->weight(i) > 0 && health[i]->Usable(now)) return true;
      }
      return false;
    case Kind::kFailover:
      return children[0]->HasHealthyServer(now) || children[1]->HasHealthyServer(now);
    case Kind::kWeighted:
    case Kind::kMirroring:
      if (!propagate_health) return true;
      for (const ServiceEntry* c : children) {
        if (c->HasHealthyServer(now)) return true;
      }
      return false;
  }
  return false;
}

const EntryPointEntry* Snapshot::entry_point(absl::string_view name) const {
  auto it = entry_points_.find(name);
  return it == entry_points_.end() ? nullptr : &it->second;
}

const ServiceEntry* Snapshot::service(absl::string_view name) const {
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : &it->second;
}

}  // namespace strait::config

namespace strait::config {

absl::Duration Snapshot::router_timeout(absl::string_view router) const {
  auto it = router_timeouts_.find(router);
  return it == router_timeouts_.end() ? absl::ZeroDuration() : it->second;
}

}  // namespace strait::config
