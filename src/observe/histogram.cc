#include "observe/histogram.h"

#include <algorithm>

namespace strait::observe {

void Histogram::Observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // also NaN
  // The first bound >= seconds is the bucket (le is inclusive).
  const size_t bucket = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
  ++buckets_[bucket];
  ++count_;
  sum_ += seconds;
}

void Histogram::Add(const Histogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
}

double Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * static_cast<double>(count_);
  uint64_t below = 0;  // observations in the buckets before i
  for (size_t i = 0; i < kBounds.size(); ++i) {
    const uint64_t in_bucket = buckets_[i];
    if (in_bucket > 0 && static_cast<double>(below + in_bucket) >= rank) {
      const double lower = i == 0 ? 0 : kBounds[i - 1];
      return lower + (kBounds[i] - lower) * (rank - static_cast<double>(below)) /
                         static_cast<double>(in_bucket);
    }
    below += in_bucket;
  }
  return kBounds.back();
}

}  // namespace strait::observe
