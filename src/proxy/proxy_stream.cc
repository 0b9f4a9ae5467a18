#include "proxy/proxy_stream.h"

#include "observe/access_log.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "h2/headers.h"
#include "proxy/downstream_connection.h"
#include "proxy/mirror_stream.h"
#include "proxy/upstream_headers.h"

namespace strait::proxy {
namespace {

// Retries of attempts the backend never saw, beyond the retry policy.
constexpr int kMaxTransparentRetries = 5;
// Request bytes kept for transparent retries when the service has no retry
// policy (one default-sized DATA frame).
constexpr size_t kTransparentReplayBytes = 16 * 1024;

}  // namespace

ProxyStream::ProxyStream(DownstreamConnection& downstream, int32_t stream_id,
                         std::shared_ptr<const config::Snapshot> snapshot)
    : downstream_(downstream),
      stream_id_(stream_id),
      snapshot_(std::move(snapshot)),
      started_(downstream.context().dispatcher().Now()),
      deadline_timer_(downstream.context().dispatcher(),
                      [this] {
                        CancelMirrors();
                        FinishWithStatus(
                            h2::GrpcStatus::kDeadlineExceeded,
                            absl::StrCat("deadline of ", absl::FormatDuration(*timeout_),
                                         " exceeded (enforced by strait)"));
                      }),
      response_header_timer_(downstream.context().dispatcher(),
                             [this] {
                               std::string message = absl::StrCat(
                                   ServiceLabel(), ": no response headers from ", backend_->url,
                                   " within ",
                                   absl::FormatDuration(
                                       service_->transport.response_header_timeout));
                               NoteServerFailure(message);
                               FailAttempt(Failure::kRetryable, h2::GrpcStatus::kUnavailable,
                                           message);
                             }),
      per_try_timer_(downstream.context().dispatcher(),
                     [this] {
                       // A slow attempt is retried whatever retryOn says; that is
                       // what perTryTimeout is for.
                       std::string message =
                           absl::StrCat(ServiceLabel(), ": attempt on ", backend_->url,
                                        " exceeded perTryTimeout ",
                                        absl::FormatDuration(service_->retry.per_try_timeout));
                       NoteServerFailure(message);
                       FailAttempt(Failure::kPerTryTimeout, h2::GrpcStatus::kDeadlineExceeded,
                                   message);
                     }),
      retry_backoff_timer_(downstream.context().dispatcher(), [this] { StartAttempt(); }),
      stall_timer_(downstream.context().dispatcher(), [this] { OnStallTimer(); }) {
  // Typical gRPC header lists fit without regrowing (and re-copying).
  request_headers_.reserve(16);
  response_headers_.reserve(8);
}

ProxyStream::~ProxyStream() {
  // Normally OnDownstreamClose ran first; this covers teardown paths too.
  DetachUpstream(NGHTTP2_CANCEL);
  DropReplay();
  if (!request_complete_) CancelMirrors();
}

// --- Downstream side ---------------------------------------------------------

bool ProxyStream::OnRequestHeader(absl::string_view name, absl::string_view value,
                                  size_t limit) {
  request_header_bytes_ += name.size() + value.size() + 32;
  if (oversized_headers_) return true;  // counted once, at the crossing
  if (request_header_bytes_ > limit) {
    oversized_headers_ = true;
    return false;
  }
  request_headers_.push_back(Header{std::string(name), std::string(value)});
  return true;
}

void ProxyStream::OnRequestHeadersDone(bool end_stream) {
  request_complete_ = end_stream;
  Start();
}

void ProxyStream::Start() {
  static const std::string kEmpty;
  const std::string* path = FindHeader(request_headers_, ":path");
  const std::string& path_ref = path ? *path : kEmpty;
  if (oversized_headers_) {
    CountStart(nullptr, path_ref);
    FinishWithStatus(h2::GrpcStatus::kResourceExhausted,
                     absl::StrCat("request header list of at least ", request_header_bytes_,
                                  " bytes exceeds the entry point's maxHeaderListSize"));
    return;
  }
  const std::string* authority = FindHeader(request_headers_, ":authority");
  if (authority == nullptr) authority = FindHeader(request_headers_, "host");

  const config::EntryPointEntry* ep = snapshot_->entry_point(downstream_.entry_point());
  const router::Route* route =
      ep == nullptr ? nullptr
                    : ep->routes.Match(router::RequestView{
                          path_ref, authority ? *authority : kEmpty, &request_headers_});
  CountStart(route, path_ref);
  route_ = route;
  if (route == nullptr) {
    FinishWithStatus(h2::GrpcStatus::kUnimplemented,
                     absl::StrCat("no route for ", path_ref, " on entry point ",
                                  downstream_.entry_point()));
    return;
  }
  routed_ = snapshot_->service(route->service_name);
  if (routed_ == nullptr) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable,
                     absl::StrCat("service ", route->service_name, " does not exist"));
    return;
  }

  if (const std::string* timeout = FindHeader(request_headers_, "grpc-timeout")) {
    timeout_ = h2::ParseGrpcTimeout(*timeout);
  }
  absl::Duration router_timeout = snapshot_->router_timeout(route->router_name);
  if (router_timeout > absl::ZeroDuration() && (!timeout_ || router_timeout < *timeout_)) {
    timeout_ = router_timeout;
  }
  if (timeout_) deadline_timer_.Arm(*timeout_);
  if (routed_->kind == config::ServiceEntry::Kind::kMirroring) StartMirrors();
  StartAttempt();
}

void ProxyStream::StartMirrors() {
  ProxyContext& context = downstream_.context();
  const config::ServiceEntry& mirroring = *routed_;
  // A counter, not a coin: RPC n (from 0, per worker and service) goes to a
  // mirror of p percent when floor((n + 1) p / 100) > floor(n p / 100), so
  // of any N RPCs in a row floor(N p / 100) or one more are copied, evenly
  // spread, with no RNG state and no variance to tolerate.
  uint64_t n = context.NextMirrorSample(mirroring);
  for (const config::MirrorEntry& mirror : mirroring.mirrors) {
    if ((n + 1) * mirror.percent / 100 == n * mirror.percent / 100) continue;
    mirrors_.push_back(MirrorStream::Start(
        context, MirrorStream::Source{
                     .snapshot = snapshot_,
                     .mirroring = &mirroring,
                     .mirror = mirror.service,
                     .request_headers = request_headers_,
                     .peer_ip = downstream_.peer_ip(),
                     .scheme = std::string(downstream_.scheme()),
                     .started = started_,
                     .timeout = timeout_,
                     .request_complete = request_complete_,
                 }));
  }
}

void ProxyStream::CancelMirrors() {
  for (uint64_t id : mirrors_) {
    if (MirrorStream* mirror = downstream_.context().mirror(id)) mirror->CancelWithMain();
  }
  mirrors_.clear();
}

void ProxyStream::StartAttempt() {
  ++attempts_;
  attempt_sent_ = false;
  attempt_status_.reset();
  ProxyContext& context = downstream_.context();
  // The first attempt starts as the stream does: no need to read the clock.
  absl::Time now = attempts_ == 1 ? started_ : context.dispatcher().Now();
  // Every attempt chooses again, at every level.
  std::string why;
  service_ = context.Resolve(*routed_, now, &why);
  if (service_ == nullptr) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable, why);
    return;
  }
  // The servers of this load balancer this RPC tried already.
  absl::InlinedVector<size_t, 4> avoid;
  for (const auto& [leaf, index] : tried_) {
    if (leaf == service_) avoid.push_back(index);
  }
  std::optional<ProxyContext::ServerPick> pick =
      context.PickServer(*service_, now, request_headers_, avoid);
  if (!pick) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable,
                     absl::StrCat(ServiceLabel(), ": no healthy server: ", NoServerReason()));
    return;
  }
  backend_index_ = pick->index;
  backend_ = &service_->backends[backend_index_];
  tried_.emplace_back(service_, backend_index_);
  load_ = pick->load;
  ++load_->in_flight;
  const std::string& key = service_->pool_keys[backend_index_];
  upstream::ConnPool& pool = context.pools().Get(key, service_->transport, *backend_);
  waiting_in_ = &pool;
  // May call OnUpstreamOpened or OnUpstreamFailure before it returns.
  absl::Status status = pool.Open(this);
  if (!status.ok()) {
    waiting_in_ = nullptr;
    FailAttempt(Failure::kFinal, h2::GrpcStatus::kResourceExhausted,
                absl::StrCat(ServiceLabel(), ": ", status.message()));
  }
}

std::string ProxyStream::NoServerReason() const {
  absl::Time now = downstream_.context().dispatcher().Now();
  const size_t servers = service_->backends.size();
  size_t down = 0, ejected = 0, drained = 0, drained_by_admin = 0;
  for (size_t i = 0; i < servers; ++i) {
    const health::ServerHealth& h = *service_->health[i];
    if (service_->plan->weight(i) == 0) {
      ++drained;
    } else if (h.drained()) {
      ++drained_by_admin;
    } else if (!h.active_up()) {
      ++down;
    } else if (h.ejected(now)) {
      ++ejected;
    }
  }
  if (drained_by_admin > 0 && drained_by_admin + drained == servers) {
    return absl::StrCat(
        "all ", servers, " drained",
        drained == 0 ? " by admin"
                     : absl::StrCat(" (", drained_by_admin, " by admin, ", drained, " weight 0)"));
  }
  std::vector<std::string> parts;
  if (down > 0) parts.push_back(absl::StrCat(down, " down by health check"));
  if (ejected > 0) parts.push_back(absl::StrCat(ejected, " ejected after failures"));
  if (drained_by_admin > 0) parts.push_back(absl::StrCat(drained_by_admin, " drained by admin"));
  if (drained > 0) parts.push_back(absl::StrCat(drained, " drained (weight 0)"));
  if (parts.empty()) return "none usable";
  return absl::StrJoin(parts, ", ");
}

void ProxyStream::ReleaseLoad() {
  if (load_ == nullptr) return;
  --load_->in_flight;
  ++load_->rpcs_by_status[static_cast<int>(attempt_status_.value_or(h2::GrpcStatus::kCancelled))];
  load_ = nullptr;
}

void ProxyStream::NoteServerSuccess() {
  if (load_ != nullptr) load_->consecutive_failures = 0;
}

void ProxyStream::NoteServerFailure(absl::string_view reason) {
  const config::PassiveHealth& passive = service_->passive;
  if (load_ == nullptr || !passive.enabled) return;
  if (++load_->consecutive_failures < passive.consecutive_failures) return;
  load_->consecutive_failures = 0;
  absl::Time now = downstream_.context().dispatcher().Now();
  size_t ejected = 0;
  for (const auto& h : service_->health) ejected += h->ejected(now) ? 1 : 0;
  if (ejected >= passive.MaxEjected(service_->backends.size())) return;
  health::ServerHealth& h = *service_->health[backend_index_];
  if (h.Eject(now, passive.base_ejection_time, passive.max_ejection_time,
              absl::StrCat(passive.consecutive_failures, " failures in a row: ", reason))) {
    ++downstream_.context().counters().ejections;
    STRAIT_LOG(kWarn, ServiceLabel(), ": ejected ", backend_->url, " until ",
               absl::FormatDuration(h.ejected_until() - now), " from now after ",
               passive.consecutive_failures, " failures in a row: ", reason);
  }
}

HeaderList ProxyStream::RequestHeaders(bool* end_stream) {
  *end_stream = request_complete_ && to_upstream_.empty();
  std::optional<absl::Duration> remaining;
  if (timeout_) remaining = *timeout_ - (downstream_.context().dispatcher().Now() - started_);
  return UpstreamHeaders(request_headers_, *service_, *backend_, remaining,
                         downstream_.peer_ip(), downstream_.scheme());
}

void ProxyStream::OnRequestData(const uint8_t* data, size_t length) {
  request_bytes_ += length;
  // Mirrors get the client's request whatever becomes of the main attempt.
  for (uint64_t id : mirrors_) {
    if (MirrorStream* mirror = downstream_.context().mirror(id)) {
      mirror->OnSourceData(data, length);
    }
  }
  if (discarding_request_) {
    downstream_.Consume(stream_id_, length);
    return;
  }
  to_upstream_.Append(data, length);
  if (upstream_ != nullptr) upstream_->ResumeData(upstream_id_);
}

void ProxyStream::OnRequestEnd() {
  request_complete_ = true;
  for (uint64_t id : mirrors_) {
    if (MirrorStream* mirror = downstream_.context().mirror(id)) mirror->OnSourceEnd();
  }
  if (upstream_ != nullptr) upstream_->ResumeData(upstream_id_);
}

void ProxyStream::OnDownstreamClose(uint32_t error_code) {
  // A copy of a whole request may finish on its own; a cancelled RPC's, or
  // one whose request will never end, may not.
  if (error_code != NGHTTP2_NO_ERROR || !request_complete_) CancelMirrors();
  mirrors_.clear();
  deadline_timer_.Disarm();
  retry_backoff_timer_.Disarm();
  DisarmAttemptTimers();
  stall_timer_.Disarm();
  // Bytes still queued were never credited: release them from the
  // connection's budget.
  downstream_.Consume(stream_id_, to_upstream_.size() - precredited_);
  to_upstream_.Clear();
  DropReplay();
  discarding_request_ = true;
  DetachUpstream(NGHTTP2_CANCEL);
  response_state_ = ResponseState::kFinished;
  CountEnd();
}

void ProxyStream::CountStart(const router::Route* route, absl::string_view path) {
  static const std::string kNone;
  rpc_stats_ = &downstream_.context().rpc_stats().Get(
      downstream_.entry_point(), route ? route->router_name : kNone,
      route ? route->service_name : kNone, snapshot_->MethodLabel(path));
  ++rpc_stats_->active;
}

void ProxyStream::NoteClientStatus(const HeaderList* status_headers) {
  if (client_status_.has_value()) return;
  const std::string* status =
      status_headers ? FindHeader(*status_headers, "grpc-status") : nullptr;
  client_status_ = status ? h2::ParseGrpcStatus(*status) : h2::GrpcStatus::kUnknown;
  if (status_headers != nullptr && downstream_.context().access_log() != nullptr) {
    if (const std::string* message = FindHeader(*status_headers, "grpc-message")) {
      client_message_ = h2::PercentDecodeGrpcMessage(*message);
    }
  }
}

void ProxyStream::CountEnd() {
  if (rpc_stats_ == nullptr) return;
  RpcStats& stats = *std::exchange(rpc_stats_, nullptr);
  // No status reached the client: it reset the stream (or strait did).
  h2::GrpcStatus status = client_status_.value_or(h2::GrpcStatus::kCancelled);
  absl::Duration duration = downstream_.context().dispatcher().Now() - started_;
  --stats.active;
  ++stats.finished[static_cast<int>(status)];
  stats.duration_seconds.Observe(duration);
  if (headers_sent_ != absl::InfinitePast()) stats.headers_seconds.Observe(headers_sent_ - started_);
  stats.request_bytes += request_bytes_;
  stats.response_bytes += response_bytes_;
  observe::AccessLog::Producer* log = downstream_.context().access_log();
  if (log == nullptr || !log->Sample()) return;
  auto header = [&](absl::string_view name) -> std::string {
    const std::string* value = FindHeader(request_headers_, name);
    return value ? *value : std::string();
  };
  observe::AccessLogRecord record{
      .start = absl::Now() - duration,
      .entry_point = downstream_.entry_point(),
      .server = backend_ ? backend_->url : std::string(),
      .authority = header(":authority"),
      .method = header(":path"),
      .grpc_status = static_cast<int>(status),
      .grpc_message = std::move(client_message_),
      .duration = duration,
      .request_bytes = request_bytes_,
      .response_bytes = response_bytes_,
      .retries = std::max(attempts_ - 1, 0),
      .peer = downstream_.peer(),
      .traceparent = header("traceparent"),
      .x_request_id = header("x-request-id"),
  };
  if (routed_ != nullptr) record.service = routed_->name;
  if (route_ != nullptr) record.router = route_->router_name;
  if (headers_sent_ != absl::InfinitePast()) record.time_to_first_byte = headers_sent_ - started_;
  log->Write(std::move(record));
}

ssize_t ProxyStream::ReadResponseBody(size_t length, uint32_t* data_flags) {
  size_t n = std::min(length, to_downstream_.size());
  if (n > 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (n == to_downstream_.size() && response_complete_) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers_.empty()) {
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      NoteClientStatus(&trailers_);
      downstream_.SubmitTrailer(stream_id_, trailers_);
    } else {
      NoteClientStatus(nullptr);  // END_STREAM on DATA: no status (UNKNOWN)
    }
    response_state_ = ResponseState::kFinished;
    return static_cast<ssize_t>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<ssize_t>(n);
}

void ProxyStream::WriteResponseBody(size_t length, std::string* out) {
  CreditUpstream(to_downstream_.ReadInto(out, length));
  ++response_frames_;
}

void ProxyStream::WatchForStall() {
  absl::Duration timeout = downstream_.stream_stall_timeout();
  if (stall_timer_.armed() || timeout == absl::ZeroDuration()) return;
  frames_at_arm_ = response_frames_;
  stall_timer_.Arm(timeout);
}

void ProxyStream::OnStallTimer() {
  // Checked lazily, once per period, rather than re-arming per frame: a
  // stall is found between one and two periods after it began.
  if (to_downstream_.empty() || response_state_ != ResponseState::kStreaming) return;
  if (response_frames_ != frames_at_arm_ || downstream_.ClientWindow(stream_id_) > 0) {
    WatchForStall();  // progress, or not the client's doing: look again later
    return;
  }
  OnClientStalled();
}

void ProxyStream::OnClientStalled() {
  STRAIT_LOG_EVERY(downstream_.entry_point(), absl::Seconds(10), kInfo, "stream ", stream_id_,
                   ": client window at zero for ",
             absl::FormatDuration(downstream_.stream_stall_timeout()), " with ",
             to_downstream_.size(), " bytes waiting: resetting it");
  ++downstream_.context().counters().stalled_streams_reset;
  response_state_ = ResponseState::kFinished;
  to_downstream_.Clear();
  DisarmAttemptTimers();
  deadline_timer_.Disarm();
  DetachUpstream(NGHTTP2_CANCEL);
  DiscardRequestBody();
  downstream_.ResetStream(stream_id_, NGHTTP2_CANCEL);
}

// --- Upstream side -----------------------------------------------------------

void ProxyStream::OnRequestHeadersSent() {
  forwarded_ = true;
  attempt_sent_ = true;
}

void ProxyStream::OnUpstreamOpened(upstream::UpstreamConnection* connection,
                                   int32_t stream_id) {
  waiting_in_ = nullptr;
  upstream_ = connection;
  upstream_id_ = stream_id;
  if (service_->transport.response_header_timeout > absl::ZeroDuration()) {
    response_header_timer_.Arm(service_->transport.response_header_timeout);
  }
  if (service_->retry.per_try_timeout > absl::ZeroDuration()) {
    per_try_timer_.Arm(service_->retry.per_try_timeout);
  }
}

ssize_t ProxyStream::ReadRequestBody(size_t length, uint32_t* data_flags) {
  return upstream::NextBodyChunk(to_upstream_.size(), request_complete_, length, data_flags);
}

void ProxyStream::WriteRequestBody(size_t length, std::string* out) {
  size_t start = out->size();
  size_t n = to_upstream_.ReadInto(out, length);
  // The upstream session has taken these bytes: now the client may send
  // more (except for replayed bytes, credited the first time round).
  size_t replayed = std::min(n, precredited_);
  precredited_ -= replayed;
  downstream_.Consume(stream_id_, n - replayed);
  if (replayable_ && n > 0) {
    // A retry policy keeps up to its bufferBytes. Without one only
    // transparent retries (a refused stream) remain: they keep at most one
    // small frame's worth, the body of a typical unary call, so that an
    // idle stream holds little beyond its windows.
    size_t limit = service_->retry.max_attempts > 1 ? service_->retry.buffer_bytes
                                                    : kTransparentReplayBytes;
    if (replay_.size() + n <= limit && downstream_.ReserveReplay(n)) {
      replay_.Append(reinterpret_cast<const uint8_t*>(out->data() + start), n);
      downstream_.context().counters().replay_bytes += n;
    } else {
      replayable_ = false;
      DropReplay();
    }
  }
}

void ProxyStream::OnResponseHeader(upstream::HeaderBlock block, absl::string_view name,
                                   absl::string_view value) {
  if (response_state_ == ResponseState::kFinished) return;
  if (h2::IsConnectionSpecific(name, value)) return;
  // The limit strait advertised to the backend (RFC 9113 counting);
  // nghttp2 does not enforce it on what it receives.
  response_header_bytes_ += name.size() + value.size() + 32;
  if (response_header_bytes_ > service_->transport.http2.max_header_list_size) return;
  HeaderList& list =
      block == upstream::HeaderBlock::kResponse ? response_headers_ : trailers_;
  list.push_back(Header{std::string(name), std::string(value)});
}

void ProxyStream::OnResponseHeadersDone(upstream::HeaderBlock block, bool end_stream) {
  size_t header_bytes = std::exchange(response_header_bytes_, 0);
  if (header_bytes > service_->transport.http2.max_header_list_size) {
    // Whatever it was, it ends here: the client gets a status, not a header
    // list strait promised the backend never to accept.
    FailAttempt(Failure::kFinal, h2::GrpcStatus::kInternal,
                absl::StrCat(ServiceLabel(), ": backend ", backend_->url, " sent response ",
                             block == upstream::HeaderBlock::kTrailers ? "trailers" : "headers",
                             " too large (at least ", header_bytes, " bytes, maxHeaderListSize ",
                             service_->transport.http2.max_header_list_size, ")"));
    return;
  }
  if (block == upstream::HeaderBlock::kTrailers) {
    const std::string* status = FindHeader(trailers_, "grpc-status");
    NoteAttemptStatus(status != nullptr ? h2::ParseGrpcStatus(*status) : h2::GrpcStatus::kUnknown);
    ResponseComplete();
    return;
  }
  response_header_timer_.Disarm();
  if (response_state_ != ResponseState::kNotStarted) return;
  // A non-gRPC answer (a proxy or load balancer in front of the backend,
  // say): its HTTP status maps to a gRPC status, which a policy may retry.
  const std::string* http_status = FindHeader(response_headers_, ":status");
  if (http_status != nullptr && *http_status != "200" &&
      FindHeader(response_headers_, "grpc-status") == nullptr) {
    int code = 0;
    (void)absl::SimpleAtoi(*http_status, &code);
    h2::GrpcStatus status = h2::StatusForHttpStatus(code);
    std::string message = absl::StrCat(ServiceLabel(), ": backend ", backend_->url,
                                       " answered HTTP ", *http_status, " without a gRPC status");
    if (status == h2::GrpcStatus::kUnavailable) {
      NoteServerFailure(message);
    } else {
      NoteServerSuccess();
    }
    FailAttempt(Failure::kRetryable, status, message);
    return;
  }
  const std::string* status = end_stream ? FindHeader(response_headers_, "grpc-status") : nullptr;
  if (status != nullptr && *status == "14") {
    NoteServerFailure(absl::StrCat("backend ", backend_->url, " answered UNAVAILABLE"));
  } else {
    NoteServerSuccess();
  }
  if (end_stream) {
    // Trailers-only: its status is the attempt's; a failure the policy may
    // retry, since nothing reached the client yet.
    h2::GrpcStatus code =
        status != nullptr ? h2::ParseGrpcStatus(*status) : h2::GrpcStatus::kUnknown;
    NoteAttemptStatus(code);
    if (status != nullptr && code != h2::GrpcStatus::kOk && CanRetry(Failure::kRetryable, code)) {
      const std::string* message = FindHeader(response_headers_, "grpc-message");
      FailAttempt(Failure::kRetryable, code, message ? h2::PercentDecodeGrpcMessage(*message) : "");
      return;
    }
  }
  Commit();
  if (end_stream) deadline_timer_.Disarm();  // the status is here
  response_complete_ = end_stream;
  SubmitResponseHeaders(end_stream);
}

void ProxyStream::SubmitResponseHeaders(bool end_stream) {
  headers_sent_ = downstream_.context().dispatcher().Now();
  if (end_stream) NoteClientStatus(&response_headers_);  // trailers-only
  response_state_ = end_stream ? ResponseState::kFinished : ResponseState::kStreaming;
  if (downstream_.SubmitResponse(stream_id_, response_headers_, end_stream) != 0) {
    response_state_ = ResponseState::kFinished;
  }
  response_headers_.clear();
}

void ProxyStream::OnResponseData(const uint8_t* data, size_t length) {
  if (response_state_ != ResponseState::kStreaming) {
    // Nobody will read these (a local status already ended the response).
    if (upstream_ != nullptr) upstream_->Consume(upstream_id_, length);
    return;
  }
  to_downstream_.Append(data, length);
  response_bytes_ += length;
  uncredited_response_ += length;
  ResumeDownstream();
  WatchForStall();
}

void ProxyStream::OnResponseEnd() {
  // END_STREAM on DATA: no trailers, so no grpc-status (UNKNOWN to clients).
  NoteAttemptStatus(h2::GrpcStatus::kUnknown);
  ResponseComplete();
}

void ProxyStream::ResponseComplete() {
  // The backend's status is here: whatever the client's pace, it must get
  // that status, never one strait makes up later (DEADLINE_EXCEEDED).
  deadline_timer_.Disarm();
  response_complete_ = true;
  ResumeDownstream();
}

void ProxyStream::OnUpstreamClose(uint32_t error_code) {
  upstream_ = nullptr;
  // The stream is gone, and the connection window was credited on arrival.
  uncredited_response_ = 0;
  if (response_complete_) {
    ReleaseLoad();
    DiscardRequestBody();
    return;
  }
  std::string message = absl::StrCat(ServiceLabel(), ": backend ", backend_->url,
                                     " reset the stream (",
                                     nghttp2_http2_strerror(error_code), ")");
  // A refused stream is a server shedding load, not failing.
  if (error_code != NGHTTP2_REFUSED_STREAM && error_code != NGHTTP2_NO_ERROR) {
    NoteServerFailure(message);
  }
  NoteAttemptStatus(h2::StatusForRstCode(error_code));
  ReleaseLoad();
  if (response_state_ != ResponseState::kNotStarted) {
    FinishWithStatus(h2::StatusForRstCode(error_code), message);
  } else if (error_code == NGHTTP2_REFUSED_STREAM) {
    // Refused (or above a GOAWAY's last stream id): never processed.
    if (rpc_stats_ != nullptr) ++rpc_stats_->retries[static_cast<int>(RetryReason::kTransparent)];
    FailAttempt(Failure::kRefused, h2::GrpcStatus::kUnavailable, message);
  } else {
    FailAttempt(Failure::kRetryable, h2::StatusForRstCode(error_code), message);
  }
}

void ProxyStream::OnUpstreamFailure(const absl::Status& reason, bool never_sent) {
  upstream_ = nullptr;
  waiting_in_ = nullptr;
  // The connection failed or was lost (a dead or unreachable server).
  if (!response_complete_) {
    NoteServerFailure(reason.message());
    NoteAttemptStatus(h2::GrpcStatus::kUnavailable);
  }
  ReleaseLoad();
  uncredited_response_ = 0;  // that connection is gone, and its window with it
  if (response_complete_) {
    DiscardRequestBody();
    return;
  }
  std::string message = absl::StrCat(ServiceLabel(), ": ", reason.message());
  if (response_state_ != ResponseState::kNotStarted) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable, message);
    return;
  }
  // A stream whose HEADERS never left strait was not seen by the backend
  // either, whatever became of the connection: like a refused one, it may
  // go again, to the same server too.
  Failure failure = never_sent      ? Failure::kNeverSent
                    : !attempt_sent_ ? Failure::kRefused
                                     : Failure::kRetryable;
  FailAttempt(failure, h2::GrpcStatus::kUnavailable, message);
}

// --- Attempts ----------------------------------------------------------------

bool ProxyStream::CanRetry(Failure failure, h2::GrpcStatus status) const {
  if (failure == Failure::kFinal || response_state_ != ResponseState::kNotStarted ||
      discarding_request_ || !replayable_) {
    return false;
  }
  if (failure == Failure::kNeverSent || failure == Failure::kRefused) {
    if (transparent_retries_ >= kMaxTransparentRetries) return false;
    // A server that could not be reached will not be reached now either;
    // a refused stream may well succeed on a fresh connection.
    if (failure == Failure::kRefused) return true;
    size_t tried_here = std::count_if(tried_.begin(), tried_.end(),
                                      [&](const auto& t) { return t.first == service_; });
    return tried_here < service_->backends.size();
  }
  int policy_attempts = attempts_ - transparent_retries_;
  if (policy_attempts >= static_cast<int>(service_->retry.max_attempts)) return false;
  return failure == Failure::kPerTryTimeout || service_->retry.RetriesOn(status);
}

void ProxyStream::FailAttempt(Failure failure, h2::GrpcStatus status,
                              absl::string_view message) {
  NoteAttemptStatus(status);
  bool retry = CanRetry(failure, status);
  DisarmAttemptTimers();
  DetachUpstream(NGHTTP2_CANCEL);
  if (!retry) {
    FinishWithStatus(status, message);
    return;
  }
  STRAIT_LOG(kDebug, "stream ", stream_id_, ": retrying after: ", message);
  // Rewind: what the failed attempt took goes out again first.
  precredited_ += replay_.size();
  downstream_.context().counters().replay_bytes -= replay_.size();
  downstream_.ReleaseReplay(replay_.size());
  to_upstream_.Prepend(std::move(replay_));
  replay_.Clear();
  response_headers_.clear();
  trailers_.clear();
  RetryReason reason = failure == Failure::kNeverSent || failure == Failure::kRefused
                           ? RetryReason::kTransparent
                       : failure == Failure::kPerTryTimeout ? RetryReason::kPerTryTimeout
                                                            : RetryReason::kStatus;
  if (rpc_stats_ != nullptr) ++rpc_stats_->retries[static_cast<int>(reason)];
  if (reason == RetryReason::kTransparent) {
    ++transparent_retries_;
    StartAttempt();
  } else {
    int policy_retries = attempts_ - transparent_retries_;
    retry_backoff_timer_.Arm(
        std::min(absl::Milliseconds(25) * (1 << std::min(policy_retries - 1, 4)),
                 absl::Milliseconds(250)));
  }
}

void ProxyStream::Commit() {
  replayable_ = false;
  DropReplay();
  per_try_timer_.Disarm();
}

void ProxyStream::DisarmAttemptTimers() {
  response_header_timer_.Disarm();
  per_try_timer_.Disarm();
}

// --- Shared ------------------------------------------------------------------

void ProxyStream::FinishWithStatus(h2::GrpcStatus status, absl::string_view message) {
  NoteAttemptStatus(status);
  deadline_timer_.Disarm();
  retry_backoff_timer_.Disarm();
  DisarmAttemptTimers();
  if (status != h2::GrpcStatus::kOk) {
    STRAIT_LOG(kDebug, "stream ", stream_id_, ": ", h2::GrpcStatusName(status), ": ",
               message);
  }
  HeaderList status_headers = {
      {"grpc-status", absl::StrCat(static_cast<int>(status))},
      {"grpc-message", h2::PercentEncodeGrpcMessage(message)},
  };
  switch (response_state_) {
    case ResponseState::kNotStarted:
      response_headers_ = {{":status", "200"}, {"content-type", "application/grpc"}};
      response_headers_.insert(response_headers_.end(), status_headers.begin(),
                               status_headers.end());
      response_complete_ = true;
      SubmitResponseHeaders(/*end_stream=*/true);
      break;
    case ResponseState::kStreaming:
      // Data already queued still goes out, then these trailers.
      trailers_ = std::move(status_headers);
      response_complete_ = true;
      ResumeDownstream();
      break;
    case ResponseState::kFinished:
      break;
  }
  DetachUpstream(NGHTTP2_CANCEL);
  DiscardRequestBody();
  downstream_.ScheduleFlush();
}

void ProxyStream::DiscardRequestBody() {
  if (discarding_request_) return;
  discarding_request_ = true;
  downstream_.Consume(stream_id_, to_upstream_.size() - precredited_);
  precredited_ = 0;
  to_upstream_.Clear();
  DropReplay();
  replayable_ = false;
}

void ProxyStream::DetachUpstream(uint32_t error_code) {
  ReleaseLoad();
  if (waiting_in_ != nullptr) {
    waiting_in_->Cancel(this);
    waiting_in_ = nullptr;
  }
  if (upstream_ == nullptr) return;
  upstream::UpstreamConnection* connection = upstream_;
  upstream_ = nullptr;
  uncredited_response_ = 0;
  connection->Detach(upstream_id_, error_code);
}

void ProxyStream::ResumeDownstream() {
  if (response_state_ == ResponseState::kStreaming) downstream_.ResumeData(stream_id_);
}

void ProxyStream::DropReplay() {
  if (replay_.empty()) return;
  downstream_.context().counters().replay_bytes -= replay_.size();
  downstream_.ReleaseReplay(replay_.size());
  replay_.Clear();
}

void ProxyStream::CreditUpstream(size_t length) {
  size_t credit = std::min(length, uncredited_response_);
  if (credit == 0) return;
  uncredited_response_ -= credit;
  if (upstream_ != nullptr) upstream_->Consume(upstream_id_, credit);
}

std::string ProxyStream::ServiceLabel() const {
  return absl::StrCat("service ", service_ ? service_->name : "?");
}

}  // namespace strait::proxy
