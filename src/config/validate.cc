#include "config/validate.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "config/entry_point_tls.h"
#include "config/client_tls.h"
#include "h2/grpc.h"
#include "net/address.h"
#include "router/rule.h"

namespace strait::config {
namespace {

// Collects problems in the order found.
class Problems {
 public:
  void Add(const std::string& path, absl::string_view problem) {
    lines_.push_back(absl::StrCat(path, ": ", problem));
  }
  absl::Status ToStatus() const {
    if (lines_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(lines_, "\n"));
  }

 private:
  std::vector<std::string> lines_;
};

// Protobuf maps iterate in no fixed order; messages should not.
template <typename Map>
std::map<std::string, const typename Map::mapped_type*> Sorted(const Map& map) {
  std::map<std::string, const typename Map::mapped_type*> out;
  for (const auto& [k, v] : map) out.emplace(k, &v);
  return out;
}

void CheckName(Problems& p, const std::string& section, const std::string& name) {
  if (name.empty()) {
    p.Add(section, "names must not be empty");
    return;
  }
  for (char c : name) {
    if (absl::ascii_isspace(c) || c == '.') {
      p.Add(absl::StrCat(section, ".", name), "names must not contain spaces or dots");
      return;
    }
  }
}

void CheckDuration(Problems& p, const std::string& path,
                   const google::protobuf::Duration& d) {
  if (d.seconds() < 0 || d.nanos() < 0) p.Add(path, "must not be negative");
}

// The time a PING's answer gets: an explicit 0s would close every connection
// at its first keepalive PING, so it is refused with what the user meant.
void CheckPingAnswerTime(Problems& p, const std::string& path, bool set,
                         const google::protobuf::Duration& d, const char* turn_off) {
  CheckDuration(p, path, d);
  if (set && d.seconds() == 0 && d.nanos() == 0) {
    p.Add(path, absl::StrCat("must be more than 0s: it is the time a PING's answer gets; ",
                             "to send no keepalive PINGs, set ", turn_off, ": 0s"));
  }
}

void CheckHttp2(Problems& p, const std::string& path, const v1::Http2Settings& s) {
  if (s.max_frame_size() != 0 &&
      (s.max_frame_size() < 16384 || s.max_frame_size() > 16777215)) {
    p.Add(path + ".maxFrameSize",
          absl::StrCat("must be between 16384 and 16777215, got ", s.max_frame_size()));
  }
  if (s.initial_stream_window_size() > 2147483647u) {
    p.Add(path + ".initialStreamWindowSize",
          absl::StrCat("must be at most 2147483647, got ", s.initial_stream_window_size()));
  }
  if (s.initial_connection_window_size() != 0 &&
      (s.initial_connection_window_size() < 65535 ||
       s.initial_connection_window_size() > 2147483647u)) {
    p.Add(path + ".initialConnectionWindowSize",
          absl::StrCat("must be between 65535 and 2147483647, got ",
                       s.initial_connection_window_size()));
  }
}

// The TLS fields of a serversTransport; reads its files (through the same
// ClientTlsContext::Build the snapshot uses) once the fields make sense.
void CheckClientTls(Problems& p, const std::string& path, const v1::ServersTransport& t) {
  bool sound = true;
  if (t.certificates_size() > 1) {
    // gRPC's SslCredentials (the health checks) take one key pair, and one
    // transport has one identity.
    p.Add(path + ".certificates",
          absl::StrCat("at most one client certificate, got ", t.certificates_size()));
    sound = false;
  }
  for (int i = 0; i < t.certificates_size(); ++i) {
    std::string at = absl::StrCat(path, ".certificates[", i, "]");
    if (t.certificates(i).cert_file().empty()) {
      p.Add(at + ".certFile", "a path is required");
      sound = false;
    }
    if (t.certificates(i).key_file().empty()) {
      p.Add(at + ".keyFile", "a path is required");
      sound = false;
    }
  }
  for (int i = 0; i < t.root_cas_size(); ++i) {
    if (t.root_cas(i).empty()) {
      p.Add(absl::StrCat(path, ".rootCAs[", i, "]"), "a path is required");
      sound = false;
    }
  }
  if (t.insecure_skip_verify() && !t.peer_cert_uri().empty()) {
    // Without verification anyone can mint a certificate carrying the URI:
    // the check would look like authentication and be none.
    p.Add(path + ".peerCertURI",
          "cannot be combined with insecureSkipVerify, which accepts any certificate "
          "(anyone can make one carrying this URI)");
  }
  if (!t.peer_cert_uri().empty() && t.peer_cert_uri().find(':') == std::string::npos) {
    p.Add(path + ".peerCertURI",
          absl::StrCat("\"", t.peer_cert_uri(),
                       "\" is not a URI (such as spiffe://example.org/ns/prod/sa/api)"));
  }
  if (!t.server_name().empty() &&
      (t.server_name().find_first_of(" /") != std::string::npos ||
       // One colon is host:port (IPv6 literals have at least two).
       std::count(t.server_name().begin(), t.server_name().end(), ':') == 1)) {
    p.Add(path + ".serverName",
          absl::StrCat("\"", t.server_name(), "\" is not a host name (no port, no path)"));
  }
  if (!sound || (t.root_cas().empty() && t.certificates().empty())) return;
  absl::StatusOr<std::shared_ptr<const net::ClientTlsContext>> context = BuildClientTls(path, t);
  if (!context.ok()) {
    // BuildClientTls's message starts with the field path already.
    size_t colon = context.status().message().find(": ");
    std::string message(context.status().message());
    p.Add(message.substr(0, colon), message.substr(colon + 2));
  }
}

bool IsGrpcStatusName(absl::string_view name) {
  for (int code = 0; code <= 16; ++code) {
    if (h2::GrpcStatusName(static_cast<h2::GrpcStatus>(code)) == name) return true;
  }
  return false;
}

constexpr uint32_t kMaxWeight = 1000000;

void CheckBalancing(Problems& p, const std::string& path, const v1::LoadBalancer& lb) {
  const std::string& strategy = lb.strategy();
  if (!strategy.empty() && strategy != "p2c" && strategy != "wrr" && strategy != "hash") {
    p.Add(path + ".strategy",
          absl::StrCat("unknown strategy \"", strategy, "\" (p2c, wrr or hash)"));
  }
  const std::string& header = lb.hash_on().header();
  if (strategy == "hash" && header.empty()) {
    p.Add(path + ".hashOn.header", "strategy hash needs a header to hash on");
  }
  if (strategy != "hash" && lb.has_hash_on()) {
    p.Add(path + ".hashOn", "is used only with strategy hash");
  }
  for (char c : header) {
    if (!(absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.')) {
      p.Add(path + ".hashOn.header",
            absl::StrCat("\"", header, "\" is not a header name (letters, digits, - _ .)"));
      break;
    }
  }
  if (lb.panic_threshold() > 100) {
    p.Add(path + ".panicThreshold",
          absl::StrCat("is a percent: at most 100, got ", lb.panic_threshold()));
  }
}

void CheckPositive(Problems& p, const std::string& path, bool has,
                   const google::protobuf::Duration& d) {
  CheckDuration(p, path, d);
  if (has && d.seconds() == 0 && d.nanos() == 0) p.Add(path, "must be positive");
}

void CheckHealth(Problems& p, const std::string& path, const v1::LoadBalancer& lb) {
  if (lb.has_health_check()) {
    const v1::HealthCheck& hc = lb.health_check();
    std::string at = path + ".healthCheck";
    if (!hc.mode().empty() && hc.mode() != "grpc" && hc.mode() != "http") {
      p.Add(at + ".mode", absl::StrCat("unknown mode \"", hc.mode(), "\" (grpc or http)"));
    }
    if (hc.mode() == "http") {
      if (hc.path().empty() || hc.path()[0] != '/') {
        p.Add(at + ".path", "mode http needs a path starting with /");
      }
      if (hc.watch()) p.Add(at + ".watch", "is for mode grpc only");
      if (!hc.service().empty()) p.Add(at + ".service", "is for mode grpc only");
    } else if (!hc.path().empty()) {
      p.Add(at + ".path", "is for mode http only");
    }
    if (hc.port() > 65535) {
      p.Add(at + ".port", absl::StrCat("must be at most 65535, got ", hc.port()));
    }
    CheckPositive(p, at + ".interval", hc.has_interval(), hc.interval());
    CheckPositive(p, at + ".timeout", hc.has_timeout(), hc.timeout());
    CheckPositive(p, at + ".unhealthyInterval", hc.has_unhealthy_interval(),
                  hc.unhealthy_interval());
    if (hc.healthy_threshold() > 100) {
      p.Add(at + ".healthyThreshold",
            absl::StrCat("must be at most 100, got ", hc.healthy_threshold()));
    }
    if (hc.unhealthy_threshold() > 100) {
      p.Add(at + ".unhealthyThreshold",
            absl::StrCat("must be at most 100, got ", hc.unhealthy_threshold()));
    }
  }
  const v1::PassiveHealthCheck& ph = lb.passive_health_check();
  std::string at = path + ".passiveHealthCheck";
  if (ph.consecutive_failures() > 1000) {
    p.Add(at + ".consecutiveFailures",
          absl::StrCat("must be at most 1000, got ", ph.consecutive_failures()));
  }
  CheckPositive(p, at + ".baseEjectionTime", ph.has_base_ejection_time(),
                ph.base_ejection_time());
  CheckPositive(p, at + ".maxEjectionTime", ph.has_max_ejection_time(),
                ph.max_ejection_time());
  if (ph.has_max_ejection_percent() && ph.max_ejection_percent() > 100) {
    p.Add(at + ".maxEjectionPercent",
          absl::StrCat("is a percent: at most 100, got ", ph.max_ejection_percent()));
  }
}

// The services a composite service routes to, with the field path of each.
std::vector<std::pair<std::string, std::string>> Children(const std::string& name,
                                                          const v1::Service& service) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string path = absl::StrCat("services.", name);
  switch (service.kind_case()) {
    case v1::Service::kWeighted:
      for (int i = 0; i < service.weighted().services_size(); ++i) {
        out.emplace_back(absl::StrCat(path, ".weighted.services[", i, "].name"),
                         service.weighted().services(i).name());
      }
      break;
    case v1::Service::kMirroring:
      out.emplace_back(path + ".mirroring.service", service.mirroring().service());
      for (int i = 0; i < service.mirroring().mirrors_size(); ++i) {
        out.emplace_back(absl::StrCat(path, ".mirroring.mirrors[", i, "].name"),
                         service.mirroring().mirrors(i).name());
      }
      break;
    case v1::Service::kFailover:
      out.emplace_back(path + ".failover.service", service.failover().service());
      out.emplace_back(path + ".failover.fallback", service.failover().fallback());
      break;
    default:
      break;
  }
  return out;
}

void CheckComposite(Problems& p, const v1::Config& config, const std::string& name,
                    const v1::Service& service) {
  std::string path = absl::StrCat("services.", name);
  for (const auto& [at, child] : Children(name, service)) {
    auto it = config.services().find(child);
    if (child.empty()) {
      p.Add(at, "names a service: must not be empty");
    } else if (it == config.services().end()) {
      p.Add(at, absl::StrCat("no service named \"", child, "\""));
    } else if (it->second.has_mirroring()) {
      // A mirror copy is made once, at the top: mirroring is for routers.
      p.Add(at, absl::StrCat("\"", child, "\" is a mirroring service; only routers may use one"));
    }
  }
  if (service.has_weighted()) {
    const v1::Weighted& w = service.weighted();
    if (w.services().empty()) p.Add(path + ".weighted.services", "at least one service is needed");
    for (int i = 0; i < w.services_size(); ++i) {
      if (w.services(i).weight() > kMaxWeight) {
        p.Add(absl::StrCat(path, ".weighted.services[", i, "].weight"),
              absl::StrCat("must be at most ", kMaxWeight, ", got ", w.services(i).weight()));
      }
    }
  } else if (service.has_mirroring()) {
    const v1::Mirroring& m = service.mirroring();
    for (int i = 0; i < m.mirrors_size(); ++i) {
      if (m.mirrors(i).percent() > 100) {
        p.Add(absl::StrCat(path, ".mirroring.mirrors[", i, "].percent"),
              absl::StrCat("is a percent: at most 100, got ", m.mirrors(i).percent()));
      }
    }
    if (m.max_body_size() > (16u << 20)) {
      p.Add(path + ".mirroring.maxBodySize",
            absl::StrCat("must be at most 16777216, got ", m.max_body_size()));
    }
  }
}

// Composite services must not route back to themselves.
void CheckCycles(Problems& p, const v1::Config& config) {
  enum class Mark { kNew, kOnPath, kDone };
  std::map<std::string, Mark> marks;
  std::vector<std::string> path;
  std::function<void(const std::string&)> visit = [&](const std::string& name) {
    marks[name] = Mark::kOnPath;
    path.push_back(name);
    for (const auto& [at, child] : Children(name, config.services().at(name))) {
      if (!config.services().contains(child)) continue;  // reported elsewhere
      Mark mark = marks.contains(child) ? marks[child] : Mark::kNew;
      if (mark == Mark::kOnPath) {
        auto from = std::find(path.begin(), path.end(), child);
        std::vector<std::string> cycle(from, path.end());
        cycle.push_back(child);
        p.Add(at, absl::StrCat("cycle ", absl::StrJoin(cycle, " → ")));
      } else if (mark == Mark::kNew) {
        visit(child);
      }
    }
    path.pop_back();
    marks[name] = Mark::kDone;
  };
  for (const auto& [name, service] : Sorted(config.services())) {
    if (!marks.contains(name)) visit(name);
  }
}

}  // namespace

absl::Status ValidateConfig(const v1::Config& config) {
  Problems p;

  if (config.entry_points().empty()) p.Add("entryPoints", "at least one entry point is needed");
  std::map<std::string, std::string> fixed_addresses;  // "host:port" -> entry point
  for (const auto& [name, ep] : Sorted(config.entry_points())) {
    CheckName(p, "entryPoints", name);
    std::string path = absl::StrCat("entryPoints.", name);
    absl::StatusOr<net::HostPort> address = net::ParseHostPort(ep->address());
    if (!address.ok()) {
      p.Add(path + ".address", address.status().message());
    } else if (address->port != 0) {
      std::string key = net::FormatHostPort(*address);
      auto [it, inserted] = fixed_addresses.emplace(key, name);
      if (!inserted) {
        p.Add(path + ".address",
              absl::StrCat(key, " is already the address of entry point ", it->second));
      }
    }
    CheckHttp2(p, path + ".http2", ep->http2());
    CheckDuration(p, path + ".transport.lifeCycle.graceTimeOut",
                  ep->transport().life_cycle().grace_time_out());
    CheckDuration(p, path + ".transport.writeStallTimeout",
                  ep->transport().write_stall_timeout());
    CheckDuration(p, path + ".transport.streamStallTimeout",
                  ep->transport().stream_stall_timeout());
    CheckDuration(p, path + ".transport.keepAliveTime", ep->transport().keep_alive_time());
    CheckPingAnswerTime(p, path + ".transport.keepAliveTimeout",
                        ep->transport().has_keep_alive_timeout(),
                        ep->transport().keep_alive_timeout(), "keepAliveTime");
    if (ep->has_tls()) {
      CheckDuration(p, path + ".tls.handshakeTimeout", ep->tls().handshake_timeout());
      // Reads every certificate, key and CA file: --check fails on a file
      // that start-up would fail on, naming it.
      absl::StatusOr<std::shared_ptr<const net::TlsServerContext>> tls =
          BuildTlsServerContext(ep->tls());
      if (!tls.ok()) {
        // "certificates[1].keyFile: /etc/x.key: ..." below this entry point.
        absl::string_view message = tls.status().message();
        size_t colon = message.find(": ");
        if (colon == absl::string_view::npos) {
          p.Add(path + ".tls", message);
        } else {
          p.Add(absl::StrCat(path, ".tls.", message.substr(0, colon)), message.substr(colon + 2));
        }
      }
    }
  }

  for (const auto& [name, router] : Sorted(config.routers())) {
    CheckName(p, "routers", name);
    std::string path = absl::StrCat("routers.", name);
    absl::StatusOr<router::Rule> rule = router::Rule::Parse(router->rule());
    if (!rule.ok()) p.Add(path + ".rule", rule.status().message());
    if (router->service().empty()) {
      p.Add(path + ".service", "a service is required");
    } else if (!config.services().contains(router->service())) {
      p.Add(path + ".service", absl::StrCat("no service named \"", router->service(), "\""));
    }
    for (int i = 0; i < router->entry_points_size(); ++i) {
      if (!config.entry_points().contains(router->entry_points(i))) {
        p.Add(absl::StrCat(path, ".entryPoints[", i, "]"),
              absl::StrCat("no entry point named \"", router->entry_points(i), "\""));
      }
    }
    CheckDuration(p, path + ".timeout", router->timeout());
  }

  for (const auto& [name, service] : Sorted(config.services())) {
    CheckName(p, "services", name);
    std::string path = absl::StrCat("services.", name);
    if (service->kind_case() == v1::Service::KIND_NOT_SET) {
      p.Add(path, "a service needs one of loadBalancer, weighted, mirroring, failover");
      continue;
    }
    if (!service->has_load_balancer()) {
      CheckComposite(p, config, name, *service);
      continue;
    }
    const v1::LoadBalancer& lb = service->load_balancer();
    path += ".loadBalancer";
    if (lb.servers().empty()) p.Add(path + ".servers", "at least one server is needed");
    for (int i = 0; i < lb.servers_size(); ++i) {
      absl::StatusOr<net::ServerUrl> url = net::ParseServerUrl(lb.servers(i).url());
      if (!url.ok()) {
        p.Add(absl::StrCat(path, ".servers[", i, "].url"), url.status().message());
      } else if (url->tls() && lb.has_health_check() && lb.health_check().mode() == "http") {
        // The HTTP checker speaks h2c only; mode grpc checks over TLS.
        p.Add(absl::StrCat(path, ".healthCheck.mode"),
              absl::StrCat("\"http\" checks do not support https:// servers yet (servers[", i,
                           "]); use \"grpc\""));
      }
      if (lb.servers(i).weight() > kMaxWeight) {
        p.Add(absl::StrCat(path, ".servers[", i, "].weight"),
              absl::StrCat("must be at most ", kMaxWeight, ", got ", lb.servers(i).weight()));
      }
    }
    CheckBalancing(p, path, lb);
    CheckHealth(p, path, lb);
    if (!lb.servers_transport().empty() &&
        !config.servers_transports().contains(lb.servers_transport())) {
      p.Add(path + ".serversTransport",
            absl::StrCat("no serversTransports entry named \"", lb.servers_transport(), "\""));
    }
    const v1::RetryPolicy& retry = lb.retry();
    if (retry.attempts() > 10) {
      p.Add(path + ".retry.attempts", absl::StrCat("must be at most 10, got ", retry.attempts()));
    }
    if (retry.buffer_bytes() > (16u << 20)) {
      p.Add(path + ".retry.bufferBytes",
            absl::StrCat("must be at most 16777216, got ", retry.buffer_bytes()));
    }
    CheckDuration(p, path + ".retry.perTryTimeout", retry.per_try_timeout());
    for (int i = 0; i < retry.retry_on_size(); ++i) {
      if (!IsGrpcStatusName(retry.retry_on(i))) {
        p.Add(absl::StrCat(path, ".retry.retryOn[", i, "]"),
              absl::StrCat("unknown gRPC status \"", retry.retry_on(i),
                           "\" (names such as UNAVAILABLE, RESOURCE_EXHAUSTED)"));
      }
    }
  }

  CheckCycles(p, config);

  for (const auto& [name, transport] : Sorted(config.servers_transports())) {
    CheckName(p, "serversTransports", name);
    std::string path = absl::StrCat("serversTransports.", name);
    const v1::ForwardingTimeouts& ft = transport->forwarding_timeouts();
    CheckDuration(p, path + ".forwardingTimeouts.dialTimeout", ft.dial_timeout());
    CheckDuration(p, path + ".forwardingTimeouts.responseHeaderTimeout",
                  ft.response_header_timeout());
    CheckDuration(p, path + ".forwardingTimeouts.idleConnTimeout", ft.idle_conn_timeout());
    CheckDuration(p, path + ".forwardingTimeouts.readIdleTimeout", ft.read_idle_timeout());
    CheckPingAnswerTime(p, path + ".forwardingTimeouts.pingTimeout", ft.has_ping_timeout(),
                        ft.ping_timeout(), "readIdleTimeout");
    CheckDuration(p, path + ".forwardingTimeouts.pendingTimeout", ft.pending_timeout());
    CheckHttp2(p, path + ".http2", transport->http2());
    CheckClientTls(p, path, *transport);
  }

  const std::string& labels = config.metrics().method_labels();
  if (!labels.empty() && labels != "named" && labels != "all") {
    p.Add("metrics.methodLabels", absl::StrCat("must be \"named\" or \"all\", not \"", labels, "\""));
  }
  const v1::AccessLog& log = config.access_log();
  if (!log.format().empty() && log.format() != "json" && log.format() != "text") {
    p.Add("accessLog.format", absl::StrCat("must be \"json\" or \"text\", not \"", log.format(), "\""));
  }
  if (!(log.sampling() >= 0 && log.sampling() <= 1)) {
    p.Add("accessLog.sampling", absl::StrCat("must be in (0, 1] (0: every RPC), not ", log.sampling()));
  }
  return p.ToStatus();
}

}  // namespace strait::config
