#ifndef STRAIT_HEALTH_HEALTH_STORE_H_
#define STRAIT_HEALTH_HEALTH_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "health/check_settings.h"
#include "health/checker.h"
#include "health/health_event.h"
#include "health/server_health.h"

namespace strait::health {

// One server as a snapshot lists it, with its service's health check.
struct Target {
  std::string url;        // "h2c://10.0.0.1:50051": the server's stable name
  std::string address;    // "host:port" to dial
  std::string authority;  // the server's :authority (CheckSettings::hostname overrides)
  // nullopt: no active check (passive ejection only); the server is up.
  std::optional<CheckSettings> check;
  // An https:// server: its transport's TLS, which checks use too; null for
  // h2c.
  std::shared_ptr<const net::ClientTlsContext> tls;

  // The identity a reload keeps: url, address, authority, check key and
  // TLS identity (a rotated certificate gets a new checker).
  std::string Identity() const;
};

// Every server's health across reloads: one ServerHealth and (with a
// check) one running Checker per server identity, and the URLs an admin
// drained. Owned by the Server's control side; Update(), SetDrained(),
// drained_urls() and the destructor run there only, never at once, while
// checkers write into ServerHealths from their own (gRPC or HTTP checker)
// threads. Workers never see the store: they read the ServerHealths the
// snapshot holds. Events of every ServerHealth it made, and its own drain
// events, go to the listener (SetListener, any thread, any time).
class HealthStore {
 public:
  HealthStore();
  ~HealthStore();  // stops every checker (see Checker)
  HealthStore(const HealthStore&) = delete;
  HealthStore& operator=(const HealthStore&) = delete;

  // Makes the store watch exactly `targets` and returns their ServerHealths
  // in the same order (a target listed twice, e.g. by two services, gets the
  // same one). A target whose identity was in the previous Update keeps its
  // ServerHealth (the same object, with its state) and its checker (with its
  // Watch stream and connection); a new identity — a new server, or changed
  // settings — gets a fresh ServerHealth and a new checker; identities not
  // listed any more have their checkers stopped before this returns (their
  // ServerHealth lives on, frozen, while an old snapshot still holds it).
  // A new identity of a drained URL starts drained, so a reload keeps the
  // drain; drained URLs no target lists any more are forgotten.
  std::vector<std::shared_ptr<ServerHealth>> Update(const std::vector<Target>& targets);

  // Drains (no new RPCs) or undrains every identity of server `url` and
  // remembers it for later Updates. A change reports one kDrain event from
  // the calling thread. False, and nothing is remembered, if no target of
  // the last Update has that URL.
  bool SetDrained(absl::string_view url, bool drained);
  // The drained URLs, sorted.
  std::vector<std::string> drained_urls() const;

  // Where events go from now on (see HealthListener); null: nowhere.
  void SetListener(HealthListener listener) { events_->SetListener(std::move(listener)); }

  // The ServerHealth of `target`'s identity, or null if not in the store.
  std::shared_ptr<ServerHealth> Find(const Target& target) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<ServerHealth> health;
    std::unique_ptr<Checker> checker;  // null: passive only
  };

  // Shared with every ServerHealth made here.
  const std::shared_ptr<HealthEventSink> events_;
  // Keyed by Target::Identity().
  absl::flat_hash_map<std::string, Entry> entries_;
  // URLs drained by SetDrained, each listed by the last Update.
  absl::flat_hash_set<std::string> drained_;
};

// The address and :authority a target's checks use: the settings' port and
// hostname overrides applied.
ProbeTarget ProbeTargetOf(const Target& target, const CheckSettings& settings);

}  // namespace strait::health

#endif  // STRAIT_HEALTH_HEALTH_STORE_H_
