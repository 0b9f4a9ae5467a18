#ifndef STRAIT_BALANCE_STABLE_HASH_H_
#define STRAIT_BALANCE_STABLE_HASH_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

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
    uint64_t k;
    std::memcpy(&k, p, sizeof(k));
    if constexpr (std::endian::native == std::endian::big) k = __builtin_bswap64(k);
    k *= kMul;
    k ^= k >> kShift;
    k *= kMul;
    h ^= k;
    h *= kMul;
  }
  switch (len & 7) {
    case 7:
      h ^= uint64_t{p[6]} << 48;
      [[fallthrough]];
    case 6:
      h ^= uint64_t{p[5]} << 40;
      [[fallthrough]];
    case 5:
      h ^= uint64_t{p[4]} << 32;
      [[fallthrough]];
    case 4:
      h ^= uint64_t{p[3]} << 24;
      [[fallthrough]];
    case 3:
      h ^= uint64_t{p[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint64_t{p[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint64_t{p[0]};
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
