#ifndef STRAIT_HEALTH_HEALTH_STORE_H_
#define STRAIT_HEALTH_HEALTH_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "health/check_settings.h"
#include "health/checker.h"
#include "health/server_health.h"

namespace strait::health {

// One server as a snapshot lists it, with its service's health check.
struct Target {
  std::string url;        // "h2c://10.0.0.1:50051": the server's stable name
  std::string address;    // "host:port" to dial
  std::string authority;  // the server's :authority (CheckSettings::hostname overrides)
  // nullopt: no active check (passive ejection only); the server is up.
  std::optional<CheckSettings> check;

  // The identity a reload keeps: url, address, authority and check key.
  std::string Identity() const;
};

// Every server's health across reloads: one ServerHealth and (with a
// check) one running Checker per server identity. Owned by the Server's
// control side; Update() and the destructor run on the control thread only,
// while checkers write into ServerHealths from their own (gRPC or HTTP
// checker) threads. Workers never see the store: they read the
// ServerHealths the snapshot holds.
class HealthStore {
 public:
  HealthStore() = default;
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
  std::vector<std::shared_ptr<ServerHealth>> Update(const std::vector<Target>& targets);

  // The ServerHealth of `target`'s identity, or null if not in the store.
  std::shared_ptr<ServerHealth> Find(const Target& target) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<ServerHealth> health;
    std::unique_ptr<Checker> checker;  // null: passive only
  };

  // Keyed by Target::Identity().
  absl::flat_hash_map<std::string, Entry> entries_;
};

// The address and :authority a target's checks use: the settings' port and
// hostname overrides applied.
ProbeTarget ProbeTargetOf(const Target& target, const CheckSettings& settings);

}  // namespace strait::health

#endif  // STRAIT_HEALTH_HEALTH_STORE_H_
