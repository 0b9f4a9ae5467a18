#ifndef STRAIT_BALANCE_ROUND_ROBIN_H_
#define STRAIT_BALANCE_ROUND_ROBIN_H_

#include <cstddef>

namespace strait::balance {

// Per-RPC round robin over a service's servers. One per worker per service,
// so picking touches no shared memory; loop-thread-only. Workers start at
// different offsets so their first picks do not all land on one server.
class RoundRobin {
 public:
  RoundRobin(size_t size, size_t start) : size_(size), next_(size ? start % size : 0) {}

  // The index of the next server; `size` must be non-zero.
  size_t size() const { return size_; }
  size_t Pick() {
    size_t picked = next_;
    next_ = (next_ + 1 == size_) ? 0 : next_ + 1;
    return picked;
  }

 private:
  size_t size_;
  size_t next_;
};

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_ROUND_ROBIN_H_
