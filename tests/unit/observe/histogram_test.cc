#include "observe/histogram.h"

#include <limits>

#include "gtest/gtest.h"

namespace strait::observe {
namespace {

size_t BucketOf(double seconds) {
  Histogram histogram;
  histogram.Observe(seconds);
  for (size_t i = 0; i < Histogram::kBucketCount; ++i) {
    if (histogram.bucket_counts()[i] == 1) return i;
  }
  ADD_FAILURE() << "no bucket counted " << seconds;
  return 0;
}

TEST(HistogramTest, BoundsAreInclusiveUpperLimits) {
  EXPECT_EQ(BucketOf(0), 0u);
  EXPECT_EQ(BucketOf(0.0005), 0u);
  EXPECT_EQ(BucketOf(0.00051), 1u);
  EXPECT_EQ(BucketOf(0.005), 3u);
  EXPECT_EQ(BucketOf(1), 10u);
  EXPECT_EQ(BucketOf(30), 14u);
  EXPECT_EQ(BucketOf(30.5), 15u) << "the overflow bucket";
  EXPECT_EQ(BucketOf(-1), 0u) << "a clock that stepped back counts as 0";
  EXPECT_EQ(BucketOf(std::numeric_limits<double>::quiet_NaN()), 0u);
}

TEST(HistogramTest, CountsSumsAndAddsWorkers) {
  Histogram a;
  a.Observe(absl::Milliseconds(3));
  a.Observe(0.2);
  Histogram b;
  b.Observe(absl::Seconds(100));
  a.Add(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_DOUBLE_EQ(a.sum(), 100.203);
  EXPECT_EQ(a.bucket_counts()[3], 1u);   // le 0.005
  EXPECT_EQ(a.bucket_counts()[8], 1u);   // le 0.25
  EXPECT_EQ(a.bucket_counts()[15], 1u);  // +Inf
  EXPECT_EQ(b.count(), 1u) << "Add leaves its argument alone";
}

TEST(HistogramTest, QuantilesInterpolateInsideTheirBucketAsPrometheusDoes) {
  Histogram h;
  EXPECT_EQ(h.Quantile(0.5), 0) << "no observations";
  for (int i = 0; i < 99; ++i) h.Observe(0.003);  // bucket (0.0025, 0.005]
  h.Observe(100);                                 // overflow
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 0.0025 + 0.0025 * 50 / 99);
  EXPECT_DOUBLE_EQ(h.Quantile(0.99), 0.005) << "rank 99: the bucket's top";
  EXPECT_DOUBLE_EQ(h.Quantile(1), 30) << "the overflow bucket: the highest bound";
  Histogram first;
  first.Observe(0.0001);
  first.Observe(0.0002);
  EXPECT_DOUBLE_EQ(first.Quantile(0.5), 0.00025) << "the first bucket starts at 0";
}

}  // namespace
}  // namespace strait::observe
