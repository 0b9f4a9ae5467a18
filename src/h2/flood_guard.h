#ifndef STRAIT_H2_FLOOD_GUARD_H_
#define STRAIT_H2_FLOOD_GUARD_H_

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace strait::h2 {

// A token bucket: `burst` events at once, refilled at `per_second`.
class TokenBucket {
 public:
  TokenBucket(double burst, double per_second)
      : burst_(burst), per_second_(per_second), tokens_(burst), last_(absl::Now()) {}

  // Takes one token; false when the bucket is empty.
  bool Take(absl::Time now) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * per_second_);
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  double burst_;
  double per_second_;
  double tokens_;
  absl::Time last_;
};

// Counts the frames a client can send cheaply but that cost strait work:
// resets (CVE-2023-44487 "rapid reset"), PINGs, SETTINGS, empty DATA frames,
// and header lists over the advertised limit. One per downstream connection;
// loop-thread-only. Past any budget the connection is answered with GOAWAY
// (ENHANCE_YOUR_CALM) and closed. The budgets are far above what any real
// gRPC client sends, and far below what an attack needs.
class FloodGuard {
 public:
  // What a frame did to the budgets.
  enum class Verdict {
    kOk,     // within budget
    kFlood,  // over budget: the connection must go
  };

  // Looks at one received frame header.
  Verdict OnFrame(const nghttp2_frame_hd& hd) {
    absl::Time now = absl::Now();
    switch (hd.type) {
      case NGHTTP2_RST_STREAM:
        return resets_.Take(now) ? Verdict::kOk : Verdict::kFlood;
      case NGHTTP2_PING:
        return pings_.Take(now) ? Verdict::kOk : Verdict::kFlood;
      case NGHTTP2_SETTINGS:
        return settings_.Take(now) ? Verdict::kOk : Verdict::kFlood;
      case NGHTTP2_DATA:
        if (hd.length == 0 && !(hd.flags & NGHTTP2_FLAG_END_STREAM)) {
          return empty_data_.Take(now) ? Verdict::kOk : Verdict::kFlood;
        }
        return Verdict::kOk;
      default:
        return Verdict::kOk;
    }
  }

  // A request's header list exceeded the advertised limit.
  Verdict OnOversizedHeaders() {
    return oversized_headers_.Take(absl::Now()) ? Verdict::kOk : Verdict::kFlood;
  }

 private:
  TokenBucket resets_{1000, 200};
  TokenBucket pings_{100, 10};
  TokenBucket settings_{100, 10};
  TokenBucket empty_data_{100, 10};
  TokenBucket oversized_headers_{10, 1};
};

}  // namespace strait::h2

#endif  // STRAIT_H2_FLOOD_GUARD_H_
