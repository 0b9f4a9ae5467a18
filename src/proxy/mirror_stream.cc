#include "proxy/mirror_stream.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <utility>

#include "common/log.h"
#include "proxy/upstream_headers.h"

namespace strait::proxy {

uint64_t MirrorStream::Start(ProxyContext& context, Source source) {
  uint64_t id = context.NewMirrorId();
  std::unique_ptr<MirrorStream> mirror(new MirrorStream(context, id, std::move(source)));
  MirrorStream* raw = mirror.get();
  context.AddMirror(std::move(mirror));
  ++context.counters().mirror_copies_started;
  raw->Open();  // may end it already; the context still frees it later
  return id;
}

MirrorStream::MirrorStream(ProxyContext& context, uint64_t id, Source source)
    : context_(context),
      id_(id),
      source_(std::move(source)),
      copy_body_(source_.mirroring->mirror_body),
      max_body_(source_.mirroring->mirror_max_body),
      request_complete_(source_.request_complete),
      deadline_timer_(context.dispatcher(), [this] { End(Outcome::kCancelled); }) {
  if (source_.timeout) {
    absl::Duration left = *source_.timeout - (context.dispatcher().Now() - source_.started);
    deadline_timer_.Arm(std::max(left, absl::ZeroDuration()));
  }
}

MirrorStream::~MirrorStream() {
  // Only when the context itself goes (worker teardown) is a live copy
  // freed; every other end went through End().
  if (state_ != State::kDone) Detach();
}

void MirrorStream::Open() {
  absl::Time now = context_.dispatcher().Now();
  std::string why;
  service_ = context_.Resolve(*source_.mirror, now, &why);
  if (service_ == nullptr) {
    STRAIT_LOG(kDebug, "mirror ", source_.mirror->name, ": ", why);
    End(Outcome::kFailed);
    return;
  }
  std::optional<ProxyContext::ServerPick> pick =
      context_.PickServer(*service_, now, source_.request_headers, {});
  if (!pick) {
    STRAIT_LOG(kDebug, "mirror ", service_->name, ": no healthy server");
    End(Outcome::kFailed);
    return;
  }
  backend_ = &service_->backends[pick->index];
  load_ = pick->load;
  ++load_->in_flight;
  upstream::ConnPool& pool =
      context_.pools().Get(service_->pool_keys[pick->index], service_->transport, *backend_);
  state_ = State::kWaiting;
  waiting_in_ = &pool;
  // May call OnUpstreamOpened or OnUpstreamFailure before it returns.
  absl::Status status = pool.Open(this);
  if (!status.ok()) {
    waiting_in_ = nullptr;
    STRAIT_LOG(kDebug, "mirror ", service_->name, ": ", status.message());
    End(Outcome::kFailed);
  }
}

void MirrorStream::OnSourceData(const uint8_t* data, size_t length) {
  if (state_ == State::kDone || !copy_body_) return;
  body_bytes_ += length;
  if (body_bytes_ > max_body_) {
    End(Outcome::kTooLarge);
    return;
  }
  to_upstream_.Append(data, length);
  if (to_upstream_.size() > kMaxQueuedBytes) {
    End(Outcome::kBehind);
    return;
  }
  if (upstream_ != nullptr) upstream_->ResumeData(upstream_id_);
}

void MirrorStream::OnSourceEnd() {
  request_complete_ = true;
  if (upstream_ != nullptr) upstream_->ResumeData(upstream_id_);
}

void MirrorStream::CancelWithMain() { End(Outcome::kCancelled); }

void MirrorStream::Detach() {
  if (waiting_in_ != nullptr) {
    waiting_in_->Cancel(this);
    waiting_in_ = nullptr;
  }
  if (upstream_ != nullptr) {
    upstream::UpstreamConnection* connection = upstream_;
    upstream_ = nullptr;
    connection->Detach(upstream_id_, NGHTTP2_CANCEL);
  }
  if (load_ != nullptr) {
    --load_->in_flight;
    load_ = nullptr;
  }
}

void MirrorStream::End(Outcome outcome) {
  if (state_ == State::kDone) return;
  Detach();
  state_ = State::kDone;
  deadline_timer_.Disarm();
  to_upstream_.Clear();
  ProxyCounters& counters = context_.counters();
  switch (outcome) {
    case Outcome::kCompleted:
      ++counters.mirror_copies_completed;
      break;
    case Outcome::kBehind:
      ++counters.mirror_copies_behind;
      break;
    case Outcome::kTooLarge:
      ++counters.mirror_copies_too_large;
      break;
    case Outcome::kCancelled:
      ++counters.mirror_copies_cancelled;
      break;
    case Outcome::kFailed:
      ++counters.mirror_copies_failed;
      break;
  }
  context_.ReleaseMirror(id_);  // deferred: `this` lives until the loop turns
}

// --- upstream::StreamHandler -------------------------------------------------

HeaderList MirrorStream::RequestHeaders(bool* end_stream) {
  *end_stream = !copy_body_ || (request_complete_ && to_upstream_.empty());
  std::optional<absl::Duration> remaining;
  if (source_.timeout) {
    remaining = *source_.timeout - (context_.dispatcher().Now() - source_.started);
  }
  return UpstreamHeaders(source_.request_headers, *service_, *backend_, remaining, source_.peer_ip,
                         source_.scheme);
}

void MirrorStream::OnUpstreamOpened(upstream::UpstreamConnection* connection, int32_t stream_id) {
  waiting_in_ = nullptr;
  state_ = State::kOpen;
  upstream_ = connection;
  upstream_id_ = stream_id;
}

ssize_t MirrorStream::ReadRequestBody(size_t length, uint32_t* data_flags) {
  return upstream::NextBodyChunk(to_upstream_.size(), request_complete_, length, data_flags);
}

void MirrorStream::WriteRequestBody(size_t length, std::string* out) {
  // Nothing to credit: the client's bytes were credited by the main RPC.
  to_upstream_.ReadInto(out, length);
}

void MirrorStream::OnResponseHeadersDone(upstream::HeaderBlock, bool end_stream) {
  if (end_stream) answered_ = true;
}

void MirrorStream::OnResponseData(const uint8_t*, size_t length) {
  // Dropped: give the stream window back at once (the connection window
  // was credited on arrival).
  if (upstream_ != nullptr) upstream_->Consume(upstream_id_, length);
}

void MirrorStream::OnUpstreamClose(uint32_t error_code) {
  upstream_ = nullptr;  // the connection already forgot the stream
  if (!answered_) {
    STRAIT_LOG(kDebug, "mirror ", service_->name, ": ", backend_->url, " reset the stream (",
               nghttp2_http2_strerror(error_code), ")");
  }
  End(answered_ ? Outcome::kCompleted : Outcome::kFailed);
}

void MirrorStream::OnUpstreamFailure(const absl::Status& reason, bool) {
  upstream_ = nullptr;
  waiting_in_ = nullptr;
  STRAIT_LOG(kDebug, "mirror ", service_->name, ": ", reason.message());
  End(answered_ ? Outcome::kCompleted : Outcome::kFailed);
}

}  // namespace strait::proxy
