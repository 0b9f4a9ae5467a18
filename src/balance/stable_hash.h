#ifndef STRAIT_BALANCE_STABLE_HASH_H_
#define STRAIT_BALANCE_STABLE_HASH_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace strait::balance {

// MurmurHash64A (Austin Appleby, public domain) over little-endian 8-byte
// words. Unlike absl::Hash it is the same in every process, build and
// machine, so every strait replica and every reload maps a hash key to the
// same server. Not for untrusted-input hash tables (no secret seed).
inline uint64_t StableHash64(absl::string_view bytes, uint64_t seed = 0) {
  constexpr uint64_t kMul = 0xc6a4a7935bd1e995ULL;
  constexpr int kShift = 47;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t len = bytes.size();
  uint64_t h = seed ^ (len * kMul);
  const unsigned char* end = p + (len & ~size_t{7});
  for (; p != end; p += 8) {
    uint64_t k = 0;
    for (int i = 7; i >= 0; --i) k = (k << 8) | p[i];  // one load on little-endian CPUs
    k *= kMul;
    k ^= k >> kShift;
    k *= kMul;
    h ^= k;
    h *= kMul;
  }
  if (size_t tail = len & 7) {
    for (size_t i = tail; i-- > 0;) h ^= uint64_t{p[i]} << (8 * i);
    h *= kMul;
  }
  h ^= h >> kShift;
  h *= kMul;
  h ^= h >> kShift;
  return h;
}

// A 64-bit finaliser (splitmix64's): spreads a combined pair of hashes.
inline uint64_t MixHash64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace strait::balance

#endif  // STRAIT_BALANCE_STABLE_HASH_H_
