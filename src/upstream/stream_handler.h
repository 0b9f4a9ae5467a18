#ifndef STRAIT_UPSTREAM_STREAM_HANDLER_H_
#define STRAIT_UPSTREAM_STREAM_HANDLER_H_

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "common/header.h"

namespace strait::upstream {

class UpstreamConnection;

// Kinds of header block a backend sends on one stream.
enum class HeaderBlock {
  kResponse,  // the first block, with :status (may also end the stream)
  kTrailers,  // a later block that ends the stream
};

// The upstream half of one proxied RPC, as seen by its UpstreamConnection:
// where the connection pulls request bytes from and pushes response events
// to. Implemented by proxy::ProxyStream. Called on the worker's loop thread,
// from inside nghttp2 callbacks of the upstream session.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;

  // The request headers to open the upstream stream with, built at the
  // moment it is opened (so grpc-timeout counts the time spent waiting);
  // `end_stream` is set when there is no body to send.
  virtual HeaderList RequestHeaders(bool* end_stream) = 0;
  // The stream is open on `connection` (possibly before ConnPool::Open
  // returned, possibly later from the pool's queue).
  virtual void OnUpstreamOpened(UpstreamConnection* connection, int32_t stream_id) = 0;
  // The request HEADERS have left strait for the backend (opened is not
  // sent: a stream reset before this costs the backend nothing).
  virtual void OnRequestHeadersSent() = 0;

  // nghttp2 data source for the request body, without copying: return how
  // many queued bytes (at most `length`) the next DATA frame carries, with
  // NGHTTP2_DATA_FLAG_NO_COPY (and NGHTTP2_DATA_FLAG_EOF at the end) in
  // `data_flags`; NGHTTP2_ERR_DEFERRED when nothing is queued yet.
  virtual ssize_t ReadRequestBody(size_t length, uint32_t* data_flags) = 0;
  // The frame is going out now: append exactly `length` queued bytes to
  // `out`.
  virtual void WriteRequestBody(size_t length, std::string* out) = 0;

  virtual void OnResponseHeader(HeaderBlock block, absl::string_view name,
                                absl::string_view value) = 0;
  // The header block is complete; `end_stream` if it ended the stream.
  virtual void OnResponseHeadersDone(HeaderBlock block, bool end_stream) = 0;
  virtual void OnResponseData(const uint8_t* data, size_t length) = 0;
  // END_STREAM arrived on a DATA frame.
  virtual void OnResponseEnd() = 0;
  // The upstream stream is closed (`error_code` is the HTTP/2 code of a reset,
  // NGHTTP2_NO_ERROR if it ended cleanly). No more calls follow.
  virtual void OnUpstreamClose(uint32_t error_code) = 0;
  // The connection failed. `never_sent`: the backend cannot have seen this
  // request (connect failure), so it may be retried elsewhere. No more calls
  // follow.
  virtual void OnUpstreamFailure(const absl::Status& reason, bool never_sent) = 0;
};

// The body of a ReadRequestBody for `queued` bytes waiting (the request
// complete or not): how many the next DATA frame carries, at most `length`,
// sent without a copy, EOF once the last of a complete request goes.
inline ssize_t NextBodyChunk(size_t queued, bool request_complete, size_t length,
                             uint32_t* data_flags) {
  size_t n = queued < length ? queued : length;
  if (n > 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (n == queued && request_complete) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<ssize_t>(n);
}

}  // namespace strait::upstream

#endif  // STRAIT_UPSTREAM_STREAM_HANDLER_H_
