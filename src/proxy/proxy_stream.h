#ifndef STRAIT_PROXY_PROXY_STREAM_H_
#define STRAIT_PROXY_PROXY_STREAM_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/byte_queue.h"
#include "common/header.h"
#include "config/snapshot.h"
#include "event/dispatcher.h"
#include "h2/grpc.h"
#include "upstream/stream_handler.h"
#include "upstream/upstream_connection.h"

namespace strait::proxy {

class DownstreamConnection;

// Both halves of one proxied RPC: the client's stream on a
// DownstreamConnection and the backend's stream on an UpstreamConnection,
// with the two byte queues between them. Owned by its DownstreamConnection
// (and freed, deferred, when the client's stream closes); holds a
// non-owning link to its upstream connection that is cleared the moment the
// upstream stream or connection ends. Loop-thread-only.
//
// Flow control is end to end: bytes received on one side are credited back
// to their sender (nghttp2_session_consume) only once the other side's
// session has taken them for sending, so each queue holds at most one
// stream window.
class ProxyStream : public upstream::StreamHandler, public event::Deletable {
 public:
  ProxyStream(DownstreamConnection& downstream, int32_t stream_id,
              std::shared_ptr<const config::Snapshot> snapshot);
  ~ProxyStream() override;
  ProxyStream(const ProxyStream&) = delete;
  ProxyStream& operator=(const ProxyStream&) = delete;

  // Downstream events, from the DownstreamConnection's nghttp2 callbacks.
  void OnRequestHeader(absl::string_view name, absl::string_view value);
  void OnRequestHeadersDone(bool end_stream);
  void OnRequestData(const uint8_t* data, size_t length);
  void OnRequestEnd();
  // The client's stream closed; no call follows but the destructor.
  void OnDownstreamClose(uint32_t error_code);
  // nghttp2 data source for the response body sent to the client.
  ssize_t ReadResponseBody(uint8_t* buf, size_t length, uint32_t* data_flags);

  // upstream::StreamHandler
  ssize_t ReadRequestBody(uint8_t* buf, size_t length, uint32_t* data_flags) override;
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

  // Routes the request and opens the upstream stream.
  void Start(bool end_stream);
  HeaderList UpstreamRequestHeaders(const config::ServiceEntry& service,
                                    const upstream::Backend& backend) const;
  // Ends the client's RPC with a status made by strait (trailers-only if
  // nothing was sent yet, else trailers after the queued data) and cancels
  // the upstream stream.
  void FinishWithStatus(h2::GrpcStatus status, absl::string_view message);
  void SubmitResponseHeaders(bool end_stream);
  // Stops forwarding request bytes: drops (and credits back) what is queued
  // and credits whatever still arrives.
  void DiscardRequestBody();
  void DetachUpstream(uint32_t error_code);
  void ResumeDownstream();
  // Credits the upstream connection for bytes that left to_downstream_.
  void CreditUpstream(size_t length);
  std::string ServiceLabel() const;

  DownstreamConnection& downstream_;
  const int32_t stream_id_;
  // The configuration this RPC started under.
  std::shared_ptr<const config::Snapshot> snapshot_;
  const config::ServiceEntry* service_ = nullptr;  // in snapshot_
  const upstream::Backend* backend_ = nullptr;     // in snapshot_
  absl::Time started_;
  std::optional<absl::Duration> client_timeout_;

  HeaderList request_headers_;
  ByteQueue to_upstream_;         // request bytes not yet taken by upstream
  bool request_complete_ = false;  // the client sent END_STREAM
  bool discarding_request_ = false;

  // Null once the upstream stream or connection is gone.
  upstream::UpstreamConnection* upstream_ = nullptr;
  int32_t upstream_id_ = -1;

  HeaderList response_headers_;
  HeaderList trailers_;
  ByteQueue to_downstream_;          // response bytes not yet taken by client
  size_t uncredited_response_ = 0;   // of to_downstream_, not yet consumed upstream
  bool response_complete_ = false;   // nothing more comes from upstream
  ResponseState response_state_ = ResponseState::kNotStarted;

  event::Timer deadline_timer_;         // the client's grpc-timeout
  event::Timer response_header_timer_;  // forwardingTimeouts.responseHeaderTimeout
};

}  // namespace strait::proxy

#endif  // STRAIT_PROXY_PROXY_STREAM_H_
