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

}  // namespace strait::observe
