#include "balance/round_robin.h"

#include <gtest/gtest.h>

#include <vector>

namespace strait::balance {
namespace {

TEST(RoundRobinTest, CyclesFromTheStartOffset) {
  RoundRobin rr(3, 1);
  std::vector<size_t> picks;
  for (int i = 0; i < 7; ++i) picks.push_back(rr.Pick());
  EXPECT_EQ(picks, (std::vector<size_t>{1, 2, 0, 1, 2, 0, 1}));
}

TEST(RoundRobinTest, StartOffsetWrapsAndSingleServerAlwaysWins) {
  RoundRobin wrapped(3, 7);
  EXPECT_EQ(wrapped.Pick(), 1u);
  RoundRobin single(1, 5);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(single.Pick(), 0u);
}

}  // namespace
}  // namespace strait::balance
