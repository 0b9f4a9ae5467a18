#ifndef STRAIT_H2_SETTINGS_H_
#define STRAIT_H2_SETTINGS_H_

#include <nghttp2/nghttp2.h>

#include <cstdint>

#include "strait/config/v1/config.pb.h"

namespace strait::h2 {

// HTTP/2 settings for one side, with defaults filled in.
struct Http2Limits {
  uint32_t max_concurrent_streams;
  uint32_t initial_stream_window_size;
  uint32_t initial_connection_window_size;
  uint32_t max_frame_size;
  uint32_t max_header_list_size;

  bool operator==(const Http2Limits&) const = default;
};

// Which side of the proxy a session faces; the defaults differ.
enum class Side {
  kDownstream,  // strait is the server, clients connect to it
  kUpstream,    // strait is the client of a backend
};

// SETTINGS and PING ACKs nghttp2 may hold for a client that does not read
// them before the session fails with NGHTTP2_ERR_FLOODED (about 17 bytes on
// the wire and a small allocation each).
inline constexpr size_t kMaxQueuedAcks = 10000;

Http2Limits ResolveLimits(const config::v1::Http2Settings& settings, Side side);

// The nghttp2 options every strait session uses: no automatic WINDOW_UPDATE
// (the proxy consumes only what the other side took), and on the downstream
// side the defences against hostile clients. Caller frees with
// nghttp2_option_del.
nghttp2_option* NewSessionOption(const Http2Limits& limits, Side side);

// Queues the initial SETTINGS frame and the connection-level window.
int SubmitInitialSettings(nghttp2_session* session, const Http2Limits& limits);

}  // namespace strait::h2

#endif  // STRAIT_H2_SETTINGS_H_
