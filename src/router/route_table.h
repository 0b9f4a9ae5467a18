#ifndef STRAIT_ROUTER_ROUTE_TABLE_H_
#define STRAIT_ROUTER_ROUTE_TABLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "router/rule.h"
#include "strait/config/v1/config.pb.h"

namespace strait::router {

// The result of routing: which router matched and where it sends requests.
struct Route {
  std::string router_name;
  std::string service_name;
};

// The routers of one entry point, compiled and sorted: descending priority
// (a router's priority, or the length of its rule when unset, as in
// Traefik), ties by name. Immutable after Build; Match is const and
// thread-safe.
class RouteTable {
 public:
  // Errors name the router: "routers.api.rule: ...".
  static absl::StatusOr<RouteTable> Build(const config::v1::Config& config,
                                          absl::string_view entry_point);
  // The first router whose rule matches; nullptr when none does.
  const Route* Match(const RequestView& request) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    int priority;
    Rule rule;
    Route route;
  };
  std::vector<Entry> entries_;
};

}  // namespace strait::router

#endif  // STRAIT_ROUTER_ROUTE_TABLE_H_
