#ifndef STRAIT_TESTS_UNIT_BALANCE_FAKE_SERVERS_H_
#define STRAIT_TESTS_UNIT_BALANCE_FAKE_SERVERS_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "balance/picker.h"
#include "balance/plan.h"

namespace strait::balance::testing {

// What the worker would tell the picker about a service's servers: health
// (`up`), admin drains and this worker's in-flight streams, as plain
// vectors a test sets. A drained server is not usable whatever `up` says,
// as ServerHealth::Usable has it. PickArgs refer to its callables, so it
// outlives the args it makes.
class FakeServers {
 public:
  explicit FakeServers(size_t n) : up(n, true), drained(n, false), in_flight(n, 0) {}
  FakeServers(const FakeServers&) = delete;
  FakeServers& operator=(const FakeServers&) = delete;

  PickArgs Args(absl::Span<const size_t> avoid = {},
                std::optional<absl::string_view> hash_value = std::nullopt) const {
    return PickArgs{.hash_value = hash_value,
                    .avoid = avoid,
                    .usable = usable_,
                    .in_flight = in_flight_,
                    .drained = drained_};
  }

  std::vector<bool> up;
  std::vector<bool> drained;
  std::vector<uint32_t> in_flight;

 private:
  std::function<bool(size_t)> usable_ = [this](size_t i) { return up[i] && !drained[i]; };
  std::function<bool(size_t)> drained_ = [this](size_t i) { return static_cast<bool>(drained[i]); };
  std::function<uint32_t(size_t)> in_flight_ = [this](size_t i) { return in_flight[i]; };
};

// Servers "h2c://10.0.0.<i>:50051" with the given weights.
inline std::vector<ServerSpec> Servers(std::vector<uint32_t> weights) {
  std::vector<ServerSpec> servers;
  for (size_t i = 0; i < weights.size(); ++i) {
    servers.push_back(
        ServerSpec{.id = absl::StrCat("h2c://10.0.0.", i, ":50051"), .weight = weights[i]});
  }
  return servers;
}

inline Plan MustBuild(Strategy strategy, std::vector<ServerSpec> servers,
                      std::string hash_header = "", uint32_t panic_threshold = 0) {
  absl::StatusOr<Plan> plan =
      Plan::Build(strategy, std::move(servers), std::move(hash_header), panic_threshold);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *std::move(plan);
}

// The picked server's index; a test failure (and size_t(-1)) if the pick
// did not complete.
inline size_t PickIndex(const Plan& plan, PickerState& state, const PickArgs& args) {
  PickResult result = Pick(plan, state, args);
  if (const auto* complete = std::get_if<Complete>(&result)) return complete->server;
  if (const auto* fail = std::get_if<Fail>(&result)) {
    ADD_FAILURE() << "pick failed: " << fail->status;
  } else {
    ADD_FAILURE() << "pick queued";
  }
  return static_cast<size_t>(-1);
}

// How many of `picks` picks went to each server.
inline std::vector<int> CountPicks(const Plan& plan, PickerState& state, const FakeServers& fake,
                                   int picks, absl::Span<const size_t> avoid = {}) {
  std::vector<int> counts(plan.size(), 0);
  for (int n = 0; n < picks; ++n) {
    size_t i = PickIndex(plan, state, fake.Args(avoid));
    if (i >= plan.size()) break;
    ++counts[i];
  }
  return counts;
}

}  // namespace strait::balance::testing

#endif  // STRAIT_TESTS_UNIT_BALANCE_FAKE_SERVERS_H_
