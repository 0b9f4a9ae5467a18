#ifndef STRAIT_OBSERVE_HISTOGRAM_H_
#define STRAIT_OBSERVE_HISTOGRAM_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace strait::observe {

// A latency histogram with fixed bucket bounds, for a worker's hot path:
// plain integers, no locks, no atomics, no allocation; trivially copyable.
// One worker owns each; the scrape copies them out through Post() and sums
// them with Add(). Bucket i counts observations <= kBounds[i] (and above
// the bound before it); the last bucket counts those above every bound, so
// the exposition's `le="+Inf"` is count().
class Histogram {
 public:
  // Seconds, from 0.5 ms (a fast in-datacenter RPC) to 30 s (a slow batch
  // call); above that only the +Inf bucket and the sum say more.
  static constexpr std::array<double, 15> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  static constexpr size_t kBucketCount = kBounds.size() + 1;

  // O(log 15). A negative or NaN value counts as 0 (a clock that stepped).
  void Observe(double seconds);
  void Observe(absl::Duration duration) { Observe(absl::ToDoubleSeconds(duration)); }

  // Adds another worker's histogram into this one.
  void Add(const Histogram& other);

  // Per bucket, not cumulative; [kBounds.size()] is the overflow bucket.
  const std::array<uint64_t, kBucketCount>& bucket_counts() const { return buckets_; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

  // The q-quantile (0 <= q <= 1) estimated from the buckets as Prometheus'
  // histogram_quantile() does: linear interpolation inside the bucket the
  // rank q * count() falls in (the first bucket from 0); the highest bound
  // when it falls in the overflow bucket; 0 without observations.
  double Quantile(double q) const;

 private:
  std::array<uint64_t, kBucketCount> buckets_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace strait::observe

#endif  // STRAIT_OBSERVE_HISTOGRAM_H_
