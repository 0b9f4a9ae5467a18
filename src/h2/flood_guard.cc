#include "h2/flood_guard.h"

namespace strait::h2 {

const char* FloodGuard::OffenceName(Offence offence) {
  switch (offence) {
    case Offence::kNone:
      return "none";
    case Offence::kPrematureResets:
      return "premature_resets";
    case Offence::kEmptyFrames:
      return "empty_frames";
    case Offence::kWindowUpdates:
      return "window_update_flood";
    case Offence::kPriorityFrames:
      return "priority_flood";
    case Offence::kOversizedHeaders:
      return "oversized_headers";
  }
  return "unknown";
}

FloodGuard::Offence FloodGuard::OnFrame(const nghttp2_frame_hd& hd) {
  switch (hd.type) {
    case NGHTTP2_DATA:
    case NGHTTP2_HEADERS:
    case NGHTTP2_CONTINUATION:
      if (hd.length > 0 || (hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        consecutive_empty_ = 0;
        return Offence::kNone;
      }
      return ++consecutive_empty_ > kMaxConsecutiveEmptyFrames ? Offence::kEmptyFrames
                                                               : Offence::kNone;
    case NGHTTP2_WINDOW_UPDATE:
      return ++window_updates_ > kWindowUpdateSlack +
                                     kWindowUpdatesPerDataFrame * data_frames_sent_ +
                                     kWindowUpdatesPerStream * streams_
                 ? Offence::kWindowUpdates
                 : Offence::kNone;
    case NGHTTP2_PRIORITY:
      return ++priority_frames_ > kPrioritySlack + kPriorityPerStream * streams_
                 ? Offence::kPriorityFrames
                 : Offence::kNone;
    default:
      return Offence::kNone;
  }
}

FloodGuard::Offence FloodGuard::OnPrematureReset() {
  return MostStreams(++premature_resets_, kMinPrematureResets) ? Offence::kPrematureResets
                                                               : Offence::kNone;
}

FloodGuard::Offence FloodGuard::OnOversizedHeaders() {
  return MostStreams(++oversized_headers_, kMinOversizedHeaders) ? Offence::kOversizedHeaders
                                                                 : Offence::kNone;
}

}  // namespace strait::h2
