#ifndef STRAIT_PROXY_RPC_STATS_H_
#define STRAIT_PROXY_RPC_STATS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>

#include "absl/container/node_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "h2/grpc.h"
#include "observe/histogram.h"

namespace strait::proxy {

// Why an RPC went to another attempt.
enum class RetryReason {
  kTransparent,    // the backend never saw it (connect failure, refused stream)
  kStatus,         // the retry policy lists the status the attempt ended with
  kPerTryTimeout,  // the attempt outlived the policy's perTryTimeout
};
inline constexpr size_t kRetryReasonCount = 3;
absl::string_view RetryReasonName(RetryReason reason);

// The labels RPCs are counted by: stable names, never pointers into a
// snapshot, so counts survive reloads. `router` and `service` are empty for
// an RPC no router took; `method` is the :path, or "other" for methods no
// router names (config::Snapshot::MethodLabel).
struct RpcKey {
  std::string entry_point;
  std::string router;
  std::string service;
  std::string method;
};

// What one worker counted for one RpcKey. Plain integers, loop-thread-only;
// the scrape sums the workers' copies.
struct RpcStats {
  // RPCs running now (from their request headers to their stream's close).
  uint64_t active = 0;
  // Finished RPCs by the grpc-status their client got, counted once, when
  // the client's stream closed: the backend's (from its trailers, or from
  // the headers of a trailers-only answer), or the one strait made
  // (UNAVAILABLE, DEADLINE_EXCEEDED, ...); CANCELLED when the stream closed
  // without one (the client reset it).
  std::array<uint64_t, h2::kGrpcStatusCount> finished{};
  // From the request headers to the response headers sent to the client
  // (only RPCs that got some), and to the stream's close.
  observe::Histogram headers_seconds;
  observe::Histogram duration_seconds;
  // gRPC message bytes (DATA payload), client to backend and back.
  uint64_t request_bytes = 0;
  uint64_t response_bytes = 0;
  std::array<uint64_t, kRetryReasonCount> retries{};

  void Add(const RpcStats& other);
};

// A worker's RpcStats by key. Entries are node-based (a running RPC keeps a
// pointer to its own) and never removed: their number is bounded by the
// configuration's names and the routers' named methods.
class RpcStatsTable {
 public:
  RpcStats& Get(absl::string_view entry_point, absl::string_view router,
                absl::string_view service, absl::string_view method);

  // Adds every entry to `sum`, by key.
  void AddTo(RpcStatsTable& sum) const;
  template <typename Fn>  // fn(const RpcKey&, const RpcStats&)
  void ForEach(Fn fn) const {
    for (const auto& [key, stats] : table_) fn(key, stats);
  }
  size_t size() const { return table_.size(); }

 private:
  using View = std::tuple<absl::string_view, absl::string_view, absl::string_view,
                          absl::string_view>;
  static View ViewOf(const RpcKey& k) { return {k.entry_point, k.router, k.service, k.method}; }
  struct Hash {
    using is_transparent = void;
    size_t operator()(const RpcKey& k) const { return absl::Hash<View>{}(ViewOf(k)); }
    size_t operator()(const View& v) const { return absl::Hash<View>{}(v); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(const RpcKey& a, const RpcKey& b) const { return ViewOf(a) == ViewOf(b); }
    bool operator()(const RpcKey& a, const View& b) const { return ViewOf(a) == b; }
    bool operator()(const View& a, const RpcKey& b) const { return a == ViewOf(b); }
  };
  absl::node_hash_map<RpcKey, RpcStats, Hash, Eq> table_;
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_RPC_STATS_H_
