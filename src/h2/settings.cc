#include "h2/settings.h"

namespace strait::h2 {

Http2Limits ResolveLimits(const config::v1::Http2Settings& s, Side side) {
  auto or_default = [](uint32_t v, uint32_t d) { return v != 0 ? v : d; };
  Http2Limits limits;
  limits.max_concurrent_streams =
      or_default(s.max_concurrent_streams(), side == Side::kDownstream ? 1000 : 100);
  limits.initial_stream_window_size = or_default(s.initial_stream_window_size(), 65535);
  limits.initial_connection_window_size =
      or_default(s.initial_connection_window_size(), 1 << 20);
  limits.max_frame_size = or_default(s.max_frame_size(), 16384);
  limits.max_header_list_size = or_default(s.max_header_list_size(), 65536);
  return limits;
}

nghttp2_option* NewSessionOption(const Http2Limits& limits, Side side) {
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_option_set_max_send_header_block_length(option, 1 << 20);
  if (side == Side::kDownstream) {
    // nghttp2's own defences (Debian 12 carries the backports); strait's
    // FloodGuard covers the rest. See h2/flood_guard.h for why each holds.
    //
    // nghttp2's reset limiter counts every RST_STREAM (1000, then 33 a
    // second), so it would cut a client whose deadlines expire by the
    // thousand. FloodGuard counts premature resets instead; this limiter is
    // set out of reach (2^32 tokens, refilled as fast).
    nghttp2_option_set_stream_reset_rate_limit(option, uint64_t{1} << 32, uint64_t{1} << 32);
    nghttp2_option_set_max_continuations(option, 8);
    nghttp2_option_set_max_settings(option, 32);
    // PING and SETTINGS floods: the ACKs queued for a peer that does not
    // read them. A reader's queue empties every time strait writes
    // (SocketSession flushes between reads), so only a non-reader gets here.
    nghttp2_option_set_max_outbound_ack(option, kMaxQueuedAcks);
  }
  return option;
}

int SubmitInitialSettings(nghttp2_session* session, const Http2Limits& limits) {
  nghttp2_settings_entry entries[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits.initial_stream_window_size},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, limits.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits.max_header_list_size},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      // RFC 9218: no dependency tree for the peer to grow (PRIORITY floods).
      {NGHTTP2_SETTINGS_NO_RFC7540_PRIORITIES, 1},
  };
  int rv = nghttp2_submit_settings(session, NGHTTP2_FLAG_NONE, entries,
                                   sizeof entries / sizeof entries[0]);
  if (rv != 0) return rv;
  return nghttp2_session_set_local_window_size(
      session, NGHTTP2_FLAG_NONE, 0,
      static_cast<int32_t>(limits.initial_connection_window_size));
}

}  // namespace strait::h2
