#include "router/route_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace strait::router {

absl::StatusOr<RouteTable> RouteTable::Build(const config::v1::Config& config,
                                             absl::string_view entry_point) {
  RouteTable table;
  for (const auto& [name, router] : config.routers()) {
    if (!router.entry_points().empty() &&
        std::find(router.entry_points().begin(), router.entry_points().end(),
                  entry_point) == router.entry_points().end()) {
      continue;
    }
    absl::StatusOr<Rule> rule = Rule::Parse(router.rule());
    if (!rule.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("routers.", name, ".rule: ", rule.status().message()));
    }
    int priority =
        router.priority() != 0 ? router.priority() : static_cast<int>(router.rule().size());
    table.entries_.push_back(Entry{priority, std::move(*rule), Route{name, router.service()}});
  }
  std::sort(table.entries_.begin(), table.entries_.end(), [](const Entry& a, const Entry& b) {
    if (a.priority != b.priority) return a.priority > b.priority;
    return a.route.router_name < b.route.router_name;
  });
  return table;
}

const Route* RouteTable::Match(const RequestView& request) const {
  for (const Entry& entry : entries_) {
    if (entry.rule.Matches(request)) return &entry.route;
  }
  return nullptr;
}

}  // namespace strait::router
