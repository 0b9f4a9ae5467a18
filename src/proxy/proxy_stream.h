#ifndef STRAIT_PROXY_PROXY_STREAM_H_
#define STRAIT_PROXY_PROXY_STREAM_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/byte_queue.h"
#include "common/header.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "h2/grpc.h"
#include "proxy/proxy_context.h"
#include "proxy/rpc_stats.h"
#include "router/route_table.h"
#include "upstream/conn_pool.h"
#include "upstream/stream_handler.h"
#include "upstream/upstream_connection.h"

namespace strait::proxy {

class DownstreamConnection;

// Both halves of one proxied RPC: the client's stream on a
// DownstreamConnection and the backend's stream on an UpstreamConnection,
// with the two byte queues between them. Owned by its DownstreamConnection
// (freed, deferred, when the client's stream closes); holds non-owning links
// to its upstream connection (or the pool it waits in) that are cleared the
// moment that side lets go. Loop-thread-only.
//
// Flow control is end to end: bytes received on one side are credited back
// to their sender (nghttp2_session_consume) only once the other side's
// session has taken them for sending, so each queue holds at most one
// stream window.
//
// Until response headers arrive an attempt may be replaced by another on
// another server: transparently when the backend never saw the request, and
// as the service's retry policy allows otherwise. For that the request
// bytes already sent are kept (up to the policy's bufferBytes).
//
// Routed to a mirroring service, it also feeds MirrorStreams: each request
// byte is copied to them as it arrives from the client, and nothing here
// ever waits for them.
class ProxyStream : public upstream::StreamHandler, public event::Deletable {
 public:
  ProxyStream(DownstreamConnection& downstream, int32_t stream_id,
              std::shared_ptr<const config::Snapshot> snapshot);
  ~ProxyStream() override;
  ProxyStream(const ProxyStream&) = delete;
  ProxyStream& operator=(const ProxyStream&) = delete;

  // Downstream events, from the DownstreamConnection's nghttp2 callbacks.
  // Returns false for the header that makes the list outgrow `limit` bytes
  // (RFC 9113 counting), once per stream; the request is then answered with
  // RESOURCE_EXHAUSTED.
  bool OnRequestHeader(absl::string_view name, absl::string_view value, size_t limit);
  void OnRequestHeadersDone(bool end_stream);
  void OnRequestData(const uint8_t* data, size_t length);
  void OnRequestEnd();
  // The client's stream closed; no call follows but the destructor.
  void OnDownstreamClose(uint32_t error_code);
  // nghttp2 data source for the response body sent to the client, in the
  // same no-copy shape as ReadRequestBody/WriteRequestBody.
  ssize_t ReadResponseBody(size_t length, uint32_t* data_flags);
  void WriteResponseBody(size_t length, std::string* out);
  // Whether a client reset now would be premature (h2::FloodGuard): the
  // request was neither forwarded to a backend nor answered by strait.
  bool premature() const {
    return !forwarded_ && response_state_ == ResponseState::kNotStarted;
  }

  // upstream::StreamHandler
  HeaderList RequestHeaders(bool* end_stream) override;
  void OnUpstreamOpened(upstream::UpstreamConnection* connection,
                        int32_t stream_id) override;
  void OnRequestHeadersSent() override;
  ssize_t ReadRequestBody(size_t length, uint32_t* data_flags) override;
  void WriteRequestBody(size_t length, std::string* out) override;
  void OnResponseHeader(upstream::HeaderBlock block, absl::string_view name,
                        absl::string_view value) override;
  void OnResponseHeadersDone(upstream::HeaderBlock block, bool end_stream) override;
  void OnResponseData(const uint8_t* data, size_t length) override;
  void OnResponseEnd() override;
  void OnUpstreamClose(uint32_t error_code) override;
  void OnUpstreamFailure(const absl::Status& reason, bool never_sent) override;

 private:
  // Where the response toward the client stands.
  enum class ResponseState {
    kNotStarted,  // no HEADERS sent to the client yet
    kStreaming,   // HEADERS sent; DATA and trailers may follow
    kFinished,    // END_STREAM submitted (trailers, trailers-only or EOF)
  };
  // Why an attempt failed, for the retry decision.
  enum class Failure {
    kNeverSent,   // no stream was opened (connect failure, queue timeout): retry
                  // transparently on a server not tried yet
    kRefused,     // the backend refused the stream unprocessed (REFUSED_STREAM,
                  // above a GOAWAY's last stream id): retry transparently
    kRetryable,   // retry if the policy lists `status` and attempts remain
    kPerTryTimeout,  // the attempt outlived perTryTimeout: retry if attempts remain
    kFinal,       // never retry
  };

  // Routes the request, then starts the first attempt.
  void Start();
  // Picks a server (preferring untried ones) and opens a stream to it.
  void StartAttempt();
  // Ends the current attempt; tries again if allowed, else ends the RPC.
  void FailAttempt(Failure failure, h2::GrpcStatus status, absl::string_view message);
  bool CanRetry(Failure failure, h2::GrpcStatus status) const;
  // Ends the client's RPC with a status made by strait (trailers-only if
  // nothing was sent yet, else trailers after the queued data) and cancels
  // the upstream stream.
  void FinishWithStatus(h2::GrpcStatus status, absl::string_view message);
  void SubmitResponseHeaders(bool end_stream);
  // Stops forwarding request bytes: drops (and credits back) what is queued
  // and credits whatever still arrives.
  void DiscardRequestBody();
  // Lets go of the upstream stream (reset with `error_code` if open) or of
  // the pool queue.
  void DetachUpstream(uint32_t error_code);
  void ResumeDownstream();
  // Credits the upstream connection for bytes that left to_downstream_.
  void CreditUpstream(size_t length);
  // The response has started: no more attempts, no more replay bytes.
  void Commit();
  void DisarmAttemptTimers();
  // The attempt's server no longer carries this RPC (in-flight count), and
  // its attempt ended with attempt_status_ (CANCELLED if none is known: the
  // client went away first).
  void ReleaseLoad();
  // The first status known for the current attempt is the one it ends
  // with: the backend's once it sent one, else the one strait makes.
  void NoteAttemptStatus(h2::GrpcStatus status) {
    if (!attempt_status_.has_value()) attempt_status_ = status;
  }
  // Passive health: the attempt's server answered (resets its failure run),
  // or failed in a way that counts toward ejecting it.
  void NoteServerSuccess();
  void NoteServerFailure(absl::string_view reason);
  // Why no server of service_ can take an RPC: "2 down by health check, 1
  // ejected".
  std::string NoServerReason() const;
  // Routed to a mirroring service: starts this RPC's mirror copies, each
  // mirror sampled by its percent.
  void StartMirrors();
  // Cancels the mirror copies still alive (client cancel, deadline, a
  // request that never finished) and forgets them.
  void CancelMirrors();
  // Nothing more comes from the backend (trailers, or END_STREAM on DATA).
  void ResponseComplete();
  // Frees the replay copy (and its count).
  void DropReplay();
  // Response bytes are waiting: make sure stall_timer_ runs.
  void WatchForStall();
  void OnStallTimer();
  // No response byte left for the client for streamStallTimeout, with its
  // window at zero: reset both halves.
  void OnClientStalled();
  std::string ServiceLabel() const;
  // Metrics: the RPC runs (once its request headers are in), under the
  // labels of `route` (null: no router took it) and the method label of
  // `path`; and it ended (its client's stream closed), with the status its
  // client got (CANCELLED if none) and, when the access log samples it, a
  // line there.
  void CountStart(const router::Route* route, absl::string_view path);
  void CountEnd();
  // The first status sent to the client is the RPC's: from `status_headers`
  // (trailers, or a trailers-only response's headers), UNKNOWN if null or
  // without grpc-status.
  void NoteClientStatus(const HeaderList* status_headers);

  DownstreamConnection& downstream_;
  const int32_t stream_id_;
  // The configuration this RPC started under.
  std::shared_ptr<const config::Snapshot> snapshot_;
  // The service the route named (in snapshot_), and the load balancer this
  // attempt resolved it to (itself, or one below a composite).
  const router::Route* route_ = nullptr;  // in snapshot_; null: not routed (yet)
  const config::ServiceEntry* routed_ = nullptr;
  const config::ServiceEntry* service_ = nullptr;
  const upstream::Backend* backend_ = nullptr;     // in snapshot_, this attempt's
  size_t backend_index_ = 0;                       // of backend_ in service_
  // This attempt's server's load on this worker (counted in flight while
  // set); owned by the ProxyContext, which keeps it while in_flight > 0.
  ServerLoad* load_ = nullptr;
  // How this attempt ended, once known (see NoteAttemptStatus).
  std::optional<h2::GrpcStatus> attempt_status_;
  absl::Time started_;
  // Metrics (CountStart .. CountEnd): this RPC's entry on this worker while
  // it runs, when its response headers left (InfinitePast: not yet), the
  // status its client got, and the message bytes each way.
  RpcStats* rpc_stats_ = nullptr;
  absl::Time headers_sent_ = absl::InfinitePast();
  std::optional<h2::GrpcStatus> client_status_;
  std::string client_message_;  // only kept for the access log
  uint64_t request_bytes_ = 0;
  uint64_t response_bytes_ = 0;
  std::optional<absl::Duration> timeout_;  // min(grpc-timeout, router timeout)

  HeaderList request_headers_;
  size_t request_header_bytes_ = 0;
  bool oversized_headers_ = false;
  ByteQueue to_upstream_;          // request bytes the current attempt has not taken
  size_t precredited_ = 0;         // leading bytes of to_upstream_ already credited
  ByteQueue replay_;               // bytes the current attempt took, for a retry
  bool replayable_ = true;         // replay_ holds everything sent so far
  bool request_complete_ = false;  // the client sent END_STREAM
  bool discarding_request_ = false;

  int attempts_ = 0;             // attempts started
  int transparent_retries_ = 0;  // of them, retries of never-sent attempts
  // Servers tried so far (load-balancer service, backend index), in order.
  std::vector<std::pair<const config::ServiceEntry*, size_t>> tried_;
  // Set while this RPC waits in a pool's queue for a stream. A pool with a
  // queued RPC is never evicted (PoolSet::EvictIdle), so it outlives this.
  upstream::ConnPool* waiting_in_ = nullptr;
  // Set while an upstream stream is open.
  upstream::UpstreamConnection* upstream_ = nullptr;
  int32_t upstream_id_ = -1;
  // Ids of this RPC's mirror copies (ProxyContext::mirror; a copy may end
  // first). Empty unless routed to a mirroring service: nothing is
  // allocated or looked up for other RPCs.
  std::vector<uint64_t> mirrors_;
  bool forwarded_ = false;     // some attempt's request HEADERS left strait
  bool attempt_sent_ = false;  // the current attempt's HEADERS left strait

  HeaderList response_headers_;
  size_t response_header_bytes_ = 0;  // of the header block being received
  HeaderList trailers_;
  ByteQueue to_downstream_;          // response bytes not yet taken by client
  size_t uncredited_response_ = 0;   // of to_downstream_, not yet consumed upstream
  bool response_complete_ = false;   // nothing more comes from upstream
  ResponseState response_state_ = ResponseState::kNotStarted;

  event::Timer deadline_timer_;         // the RPC's deadline
  event::Timer response_header_timer_;  // forwardingTimeouts.responseHeaderTimeout
  event::Timer per_try_timer_;          // retry.perTryTimeout
  event::Timer retry_backoff_timer_;    // delay before a policy retry
  event::Timer stall_timer_;            // the client's window stays at zero
  uint64_t response_frames_ = 0;        // DATA frames sent to the client
  uint64_t frames_at_arm_ = 0;          // response_frames_ when stall_timer_ was armed
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_PROXY_STREAM_H_
