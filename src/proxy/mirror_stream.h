#ifndef STRAIT_PROXY_MIRROR_STREAM_H_
#define STRAIT_PROXY_MIRROR_STREAM_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/byte_queue.h"
#include "common/header.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "proxy/proxy_context.h"
#include "upstream/conn_pool.h"
#include "upstream/stream_handler.h"
#include "upstream/upstream_connection.h"

namespace strait::proxy {

// One mirror copy of one RPC: the client's request headers and body, as
// they arrive, sent to a server of one mirror of a mirroring service; the
// mirror's answer is read and dropped (its DATA credited at once).
//
// Owned by the worker's ProxyContext from Start until it ends, then freed
// deferred (it ends inside nghttp2 callbacks). The ProxyStream that feeds
// it holds only its id (ProxyContext::mirror), so either may go first: a
// copy whose request is complete finishes on its own after its RPC ended.
// Keeps the snapshot its service entries live in. Like ProxyStream, it
// holds non-owning links to its upstream connection or the pool it waits
// in, cleared the moment that side lets go. Loop-thread-only.
//
// Never holds back, changes or fails the main RPC: request bytes are copied
// into this copy's own queue on arrival and nobody waits for it to send
// them. A copy that falls behind (more than one stream window of unsent
// bytes: its server or connection is slower than the client) or whose body
// outgrows maxBodySize is cancelled with RST_STREAM(CANCEL), or dropped from
// its pool's queue before it opened, and counted (ProxyCounters).
class MirrorStream : public upstream::StreamHandler, public event::Deletable {
 public:
  // What a copy is made from: the main RPC's request and budget.
  struct Source {
    std::shared_ptr<const config::Snapshot> snapshot;
    const config::ServiceEntry* mirroring;  // the routed service, in snapshot
    const config::ServiceEntry* mirror;     // this mirror's (any kind but mirroring)
    HeaderList request_headers;             // as the client sent them
    std::string peer_ip;                    // the client's, for x-forwarded-for
    std::string scheme;                     // the entry point's, "http" or "https"
    absl::Time started;                     // when the main RPC began
    std::optional<absl::Duration> timeout;  // the main RPC's budget from `started`
    bool request_complete = false;          // the client already sent END_STREAM
  };

  // Unsent request bytes a copy may queue: one default HTTP/2 stream window.
  // A copy that keeps up holds about a frame; one with more is slower than
  // the client, and would otherwise buffer the whole upload.
  static constexpr size_t kMaxQueuedBytes = 64 * 1024;

  // Makes a copy, hands it to `context` and opens its stream (or queues for
  // one). Returns its id; the copy may have ended already (no usable server),
  // in which case context.mirror(id) is null.
  static uint64_t Start(ProxyContext& context, Source source);
  ~MirrorStream() override;
  MirrorStream(const MirrorStream&) = delete;
  MirrorStream& operator=(const MirrorStream&) = delete;

  uint64_t id() const { return id_; }

  // From the ProxyStream, as the client's request arrives.
  void OnSourceData(const uint8_t* data, size_t length);
  void OnSourceEnd();
  // The main RPC was cancelled (client reset, deadline) or ended before its
  // request did: this copy can never be whole.
  void CancelWithMain();

  // upstream::StreamHandler
  HeaderList RequestHeaders(bool* end_stream) override;
  void OnUpstreamOpened(upstream::UpstreamConnection* connection, int32_t stream_id) override;
  void OnRequestHeadersSent() override {}
  ssize_t ReadRequestBody(size_t length, uint32_t* data_flags) override;
  void WriteRequestBody(size_t length, std::string* out) override;
  void OnResponseHeader(upstream::HeaderBlock, absl::string_view, absl::string_view) override {}
  void OnResponseHeadersDone(upstream::HeaderBlock block, bool end_stream) override;
  void OnResponseData(const uint8_t* data, size_t length) override;
  void OnResponseEnd() override { answered_ = true; }
  void OnUpstreamClose(uint32_t error_code) override;
  void OnUpstreamFailure(const absl::Status& reason, bool never_sent) override;

 private:
  // Where the copy stands.
  enum class State {
    kNew,      // made, no server picked yet
    kWaiting,  // in its pool's queue for a stream (waiting_in_ set)
    kOpen,     // its upstream stream is open (upstream_ set)
    kDone,     // ended and released to the context; freed next loop turn
  };
  // How a copy ended, for the counters.
  enum class Outcome {
    kCompleted,  // the mirror answered
    kBehind,     // more than kMaxQueuedBytes unsent
    kTooLarge,   // the body outgrew maxBodySize
    kCancelled,  // with its main RPC, or at its deadline
    kFailed,     // no server, pool queue full or timed out, connect failure, reset
  };

  MirrorStream(ProxyContext& context, uint64_t id, Source source);
  // Picks a server of the mirror's service and opens a stream to it.
  void Open();
  // Resets the stream (or leaves the pool queue) and ends the copy.
  void Cancel(Outcome outcome);
  // Ends the copy: counts it and releases it to the context.
  void End(Outcome outcome);
  // Lets go of the stream (RST_STREAM(CANCEL) if open), the pool queue
  // place and the server's in-flight count.
  void Detach();

  ProxyContext& context_;
  const uint64_t id_;
  const Source source_;
  const bool copy_body_;   // mirrorBody
  const size_t max_body_;  // maxBodySize
  State state_ = State::kNew;
  bool request_complete_;  // the client sent END_STREAM
  bool answered_ = false;  // the mirror's END_STREAM arrived
  size_t body_bytes_ = 0;  // copied so far
  ByteQueue to_upstream_;  // copied, not yet taken by the upstream session
  // The load balancer and server the copy went to (in source_.snapshot),
  // and that server's load on this worker (counted in flight while set).
  const config::ServiceEntry* service_ = nullptr;
  const upstream::Backend* backend_ = nullptr;
  ServerLoad* load_ = nullptr;
  // Set while waiting in a pool's queue; such a pool is never evicted.
  upstream::ConnPool* waiting_in_ = nullptr;
  // Set while the upstream stream is open.
  upstream::UpstreamConnection* upstream_ = nullptr;
  int32_t upstream_id_ = -1;
  // The main RPC's deadline, which a copy that outlives it keeps.
  event::Timer deadline_timer_;
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_MIRROR_STREAM_H_
