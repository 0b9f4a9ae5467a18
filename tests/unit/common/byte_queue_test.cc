#include "common/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

namespace strait {
namespace {

std::string ReadAll(ByteQueue& q, size_t step) {
  std::string out;
  while (!q.empty()) {
    size_t queued = q.size();
    EXPECT_EQ(q.ReadInto(&out, step), std::min(step, queued));
  }
  return out;
}

TEST(ByteQueueTest, KeepsOrderAcrossChunksAndPartialReads) {
  ByteQueue q;
  std::string expected;
  for (int i = 0; i < 100; ++i) {
    std::string piece(i % 7 + 1, static_cast<char>('a' + i % 26));
    q.Append(reinterpret_cast<const uint8_t*>(piece.data()), piece.size());
    expected += piece;
  }
  EXPECT_EQ(q.size(), expected.size());
  EXPECT_EQ(ReadAll(q, 5), expected);
  EXPECT_EQ(q.size(), 0u);
}

TEST(ByteQueueTest, LargeAppendsAreNotCoalescedButReadWhole) {
  ByteQueue q;
  std::string big(10000, 'x'), small = "yz";
  q.Append(reinterpret_cast<const uint8_t*>(big.data()), big.size());
  q.Append(reinterpret_cast<const uint8_t*>(small.data()), small.size());
  EXPECT_EQ(ReadAll(q, 64), big + small);
}

TEST(ByteQueueTest, ClearDropsEverything) {
  ByteQueue q;
  q.Append(reinterpret_cast<const uint8_t*>("abc"), 3);
  q.Clear();
  EXPECT_TRUE(q.empty());
  std::string out;
  EXPECT_EQ(q.ReadInto(&out, 1), 0u);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace strait

namespace strait {
namespace {

TEST(ByteQueueTest, PrependPutsTheOtherQueueFirst) {
  ByteQueue q, front;
  q.Append(reinterpret_cast<const uint8_t*>("xxtail"), 6);
  std::string skip;
  q.ReadInto(&skip, 2);  // q is "tail" with a read offset
  front.Append(reinterpret_cast<const uint8_t*>("..head-"), 7);
  front.ReadInto(&skip, 2);  // front is "head-" with a read offset
  q.Prepend(std::move(front));
  EXPECT_TRUE(front.empty());
  EXPECT_EQ(q.size(), 9u);
  EXPECT_EQ(ReadAll(q, 3), "head-tail");
}

}  // namespace
}  // namespace strait
