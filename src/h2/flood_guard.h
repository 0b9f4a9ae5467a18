#ifndef STRAIT_H2_FLOOD_GUARD_H_
#define STRAIT_H2_FLOOD_GUARD_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>

namespace strait::h2 {

// Budgets against HTTP/2 clients that make strait hold or do much more than
// they send. One per downstream connection; loop-thread-only.
//
// Defend by cost, not by frame rate: real stacks send many cheap frames
// (grpc-go PINGs on every burst of DATA it receives for its BDP estimate,
// clients cancel thousands of RPCs a second when deadlines expire, keepalives
// PING quiet connections), so nothing here counts frames per second. Each
// budget is a ratio to the useful work the connection did (streams opened,
// DATA frames strait sent) or a count of consecutive frames that carry
// nothing, so it holds however long and busy a connection is, and it refills
// as the client does useful work again. No clock is involved.
//
// What is not here, and why:
//  - PING and SETTINGS floods cost strait only the ACKs it queues for a peer
//    that does not read them: nghttp2's max_outbound_ack bounds that queue
//    (h2/settings.cc), and a client that reads its ACKs may PING as often as
//    it likes.
//  - CONTINUATION floods: nghttp2's max_continuations.
//  - Streams past an acknowledged SETTINGS_MAX_CONCURRENT_STREAMS: nghttp2
//    answers GOAWAY(PROTOCOL_ERROR).
//  - A peer that never reads: the entry point's writeStallTimeout and
//    streamStallTimeout.
class FloodGuard {
 public:
  // A budget a client broke; the connection is then answered with
  // GOAWAY(ENHANCE_YOUR_CALM).
  enum class Offence {
    kNone,              // within every budget
    kPrematureResets,   // most streams reset before strait forwarded them
    kEmptyFrames,       // a run of DATA/HEADERS/CONTINUATION carrying nothing
    kWindowUpdates,     // WINDOW_UPDATEs out of proportion to DATA sent
    kPriorityFrames,    // PRIORITY frames out of proportion to streams
    kOversizedHeaders,  // most streams' header lists over the limit
  };
  // A stable lower_snake_case name, for logs and counters.
  static const char* OffenceName(Offence offence);

  // Rapid reset (CVE-2023-44487): HEADERS then RST_STREAM at once, so the
  // server does the work of a stream (parse, route, open a backend stream)
  // without the client waiting for any of it. Only *premature* resets count:
  // those that arrive before strait forwarded the request to a backend or
  // answered it. A client cancelling RPCs because their deadlines expired
  // resets streams strait already forwarded, so it never counts, however
  // many it cancels. Cut when at least kMinPrematureResets streams, and at
  // least half of all streams, were reset prematurely.
  static constexpr uint64_t kMinPrematureResets = 100;
  // Empty frames (CVE-2019-9518): each costs a callback and no window. No
  // real client sends more than one or two in a row (an empty DATA frame
  // with END_STREAM ends a stream and is not counted). Envoy allows 1.
  static constexpr uint64_t kMaxConsecutiveEmptyFrames = 100;
  // WINDOW_UPDATE floods: an honest client sends at most a stream and a
  // connection update per DATA frame it received, plus, per stream, the
  // updates that grow its windows (grpc-go's BDP estimator raises every
  // stream's window a few times as bandwidth is measured).
  static constexpr uint64_t kWindowUpdateSlack = 1000;
  static constexpr uint64_t kWindowUpdatesPerDataFrame = 2;
  static constexpr uint64_t kWindowUpdatesPerStream = 8;
  // PRIORITY floods (CVE-2019-9513): strait advertises
  // SETTINGS_NO_RFC7540_PRIORITIES, so nghttp2 builds no dependency tree,
  // but each frame still costs a parse. gRPC clients send none; browsers a
  // few per connection.
  static constexpr uint64_t kPrioritySlack = 100;
  static constexpr uint64_t kPriorityPerStream = 2;
  // Oversized header lists fail their own RPC (RESOURCE_EXHAUSTED); the
  // connection goes only when most of its streams offend, past a few.
  static constexpr uint64_t kMinOversizedHeaders = 10;

  // A frame header as it arrives.
  Offence OnFrame(const nghttp2_frame_hd& hd);
  // A client stream opened (its request HEADERS began).
  void OnStreamOpened() { ++streams_; }
  // strait sent a DATA frame on this connection.
  void OnDataSent() { ++data_frames_sent_; }
  // The client reset a stream strait had not yet forwarded or answered.
  Offence OnPrematureReset();
  // A request's header list exceeded the advertised limit.
  Offence OnOversizedHeaders();

  uint64_t streams() const { return streams_; }

 private:
  // `offending` of all streams so far: at least `minimum`, and at least half.
  bool MostStreams(uint64_t offending, uint64_t minimum) const {
    return offending >= minimum && offending * 2 >= streams_;
  }

  uint64_t streams_ = 0;
  uint64_t data_frames_sent_ = 0;
  uint64_t premature_resets_ = 0;
  uint64_t consecutive_empty_ = 0;
  uint64_t window_updates_ = 0;
  uint64_t priority_frames_ = 0;
  uint64_t oversized_headers_ = 0;
};

}  // namespace strait::h2

#endif  // STRAIT_H2_FLOOD_GUARD_H_
