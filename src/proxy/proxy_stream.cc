#include "proxy/proxy_stream.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "h2/headers.h"
#include "proxy/downstream_connection.h"

namespace strait::proxy {

ProxyStream::ProxyStream(DownstreamConnection& downstream, int32_t stream_id,
                         std::shared_ptr<const config::Snapshot> snapshot)
    : downstream_(downstream),
      stream_id_(stream_id),
      snapshot_(std::move(snapshot)),
      started_(absl::Now()),
      deadline_timer_(downstream.context().dispatcher(),
                      [this] {
                        FinishWithStatus(h2::GrpcStatus::kDeadlineExceeded,
                                         "deadline exceeded (enforced by strait)");
                      }),
      response_header_timer_(downstream.context().dispatcher(), [this] {
        FinishWithStatus(
            h2::GrpcStatus::kUnavailable,
            absl::StrCat(ServiceLabel(), ": no response headers from ",
                         backend_ ? backend_->url : "backend", " within ",
                         absl::FormatDuration(service_->transport.response_header_timeout)));
      }) {}

ProxyStream::~ProxyStream() {
  // Normally OnDownstreamClose ran first; this covers teardown paths too.
  DetachUpstream(NGHTTP2_CANCEL);
}

// --- Downstream side ---------------------------------------------------------

void ProxyStream::OnRequestHeader(absl::string_view name, absl::string_view value) {
  request_headers_.push_back(Header{std::string(name), std::string(value)});
}

void ProxyStream::OnRequestHeadersDone(bool end_stream) {
  request_complete_ = end_stream;
  Start(end_stream);
}

void ProxyStream::Start(bool end_stream) {
  const std::string* path = FindHeader(request_headers_, ":path");
  const std::string* authority = FindHeader(request_headers_, ":authority");
  if (authority == nullptr) authority = FindHeader(request_headers_, "host");
  static const std::string kEmpty;
  absl::string_view path_view = path ? *path : kEmpty;

  const config::EntryPointEntry* ep = snapshot_->entry_point(downstream_.entry_point());
  const router::Route* route =
      ep == nullptr ? nullptr
                    : ep->routes.Match(router::RequestView{
                          path_view, authority ? *authority : kEmpty, &request_headers_});
  if (route == nullptr) {
    FinishWithStatus(h2::GrpcStatus::kUnimplemented,
                     absl::StrCat("no route for ", path_view, " on entry point ",
                                  downstream_.entry_point()));
    return;
  }
  service_ = snapshot_->service(route->service_name);
  if (service_ == nullptr || service_->backends.empty()) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable,
                     absl::StrCat("service ", route->service_name, " has no servers"));
    return;
  }

  if (const std::string* timeout = FindHeader(request_headers_, "grpc-timeout")) {
    client_timeout_ = h2::ParseGrpcTimeout(*timeout);
    if (client_timeout_) deadline_timer_.Arm(*client_timeout_);
  }

  ProxyContext& context = downstream_.context();
  backend_ = &context.Pick(*service_);
  HeaderList headers = UpstreamRequestHeaders(*service_, *backend_);
  upstream::ConnPool& pool = context.pools().Get(service_->transport, *backend_);
  absl::StatusOr<upstream::OpenedStream> opened =
      pool.Open(this, headers, end_stream && to_upstream_.empty());
  if (!opened.ok()) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable,
                     absl::StrCat(ServiceLabel(), ": ", opened.status().message()));
    return;
  }
  upstream_ = opened->connection;
  upstream_id_ = opened->stream_id;
  if (service_->transport.response_header_timeout > absl::ZeroDuration()) {
    response_header_timer_.Arm(service_->transport.response_header_timeout);
  }
}

HeaderList ProxyStream::UpstreamRequestHeaders(const config::ServiceEntry& service,
                                               const upstream::Backend& backend) const {
  HeaderList out;
  out.reserve(request_headers_.size() + 1);
  const std::string* method = FindHeader(request_headers_, ":method");
  const std::string* path = FindHeader(request_headers_, ":path");
  const std::string* authority = FindHeader(request_headers_, ":authority");
  if (authority == nullptr) authority = FindHeader(request_headers_, "host");
  out.push_back({":method", method ? *method : "POST"});
  out.push_back({":scheme", "http"});
  out.push_back({":authority", service.pass_host_header && authority
                                   ? *authority
                                   : backend.authority});
  out.push_back({":path", path ? *path : "/"});
  for (const Header& h : request_headers_) {
    if (h.name.empty() || h.name[0] == ':' || h.name == "host") continue;
    if (h2::IsConnectionSpecific(h.name, h.value)) continue;
    if (h.name == "grpc-timeout" && client_timeout_) {
      // Forward what is left of the client's budget.
      out.push_back({"grpc-timeout",
                     h2::FormatGrpcTimeout(*client_timeout_ - (absl::Now() - started_))});
      continue;
    }
    out.push_back(h);
  }
  return out;
}

void ProxyStream::OnRequestData(const uint8_t* data, size_t length) {
  if (discarding_request_) {
    downstream_.Consume(stream_id_, length);
    return;
  }
  to_upstream_.Append(data, length);
  if (upstream_ != nullptr) upstream_->ResumeData(upstream_id_);
}

void ProxyStream::OnRequestEnd() {
  request_complete_ = true;
  if (upstream_ != nullptr) upstream_->ResumeData(upstream_id_);
}

void ProxyStream::OnDownstreamClose(uint32_t error_code) {
  deadline_timer_.Disarm();
  response_header_timer_.Disarm();
  // Bytes still queued were never credited: give the connection window back.
  downstream_.ConsumeConnection(to_upstream_.size());
  to_upstream_.Clear();
  discarding_request_ = true;
  DetachUpstream(NGHTTP2_CANCEL);
  response_state_ = ResponseState::kFinished;
}

ssize_t ProxyStream::ReadResponseBody(uint8_t* buf, size_t length,
                                      uint32_t* data_flags) {
  size_t n = to_downstream_.Read(buf, length);
  CreditUpstream(n);
  if (to_downstream_.empty() && response_complete_) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers_.empty()) {
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      downstream_.SubmitTrailer(stream_id_, trailers_);
    }
    response_state_ = ResponseState::kFinished;
    return static_cast<ssize_t>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<ssize_t>(n);
}

// --- Upstream side -----------------------------------------------------------

ssize_t ProxyStream::ReadRequestBody(uint8_t* buf, size_t length,
                                     uint32_t* data_flags) {
  size_t n = to_upstream_.Read(buf, length);
  // The upstream session has taken these bytes: now the client may send more.
  downstream_.Consume(stream_id_, n);
  if (to_upstream_.empty() && request_complete_) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
  if (n == 0) return NGHTTP2_ERR_DEFERRED;
  return static_cast<ssize_t>(n);
}

void ProxyStream::OnResponseHeader(upstream::HeaderBlock block,
                                   absl::string_view name, absl::string_view value) {
  if (response_state_ == ResponseState::kFinished) return;
  if (h2::IsConnectionSpecific(name, value)) return;
  HeaderList& list =
      block == upstream::HeaderBlock::kResponse ? response_headers_ : trailers_;
  list.push_back(Header{std::string(name), std::string(value)});
}

void ProxyStream::OnResponseHeadersDone(upstream::HeaderBlock block, bool end_stream) {
  if (block == upstream::HeaderBlock::kResponse) {
    response_header_timer_.Disarm();
    if (response_state_ != ResponseState::kNotStarted) return;
    if (end_stream) response_complete_ = true;
    SubmitResponseHeaders(end_stream);
    return;
  }
  response_complete_ = true;
  ResumeDownstream();
}

void ProxyStream::SubmitResponseHeaders(bool end_stream) {
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
  uncredited_response_ += length;
  ResumeDownstream();
}

void ProxyStream::OnResponseEnd() {
  response_complete_ = true;
  ResumeDownstream();
}

void ProxyStream::OnUpstreamClose(uint32_t error_code) {
  upstream::UpstreamConnection* connection = upstream_;
  upstream_ = nullptr;
  response_header_timer_.Disarm();
  // The stream is gone: what it still holds in our queue is credited to the
  // connection now, so other streams are not starved of window.
  connection->ConsumeConnection(uncredited_response_);
  uncredited_response_ = 0;
  if (!response_complete_) {
    h2::GrpcStatus status = h2::StatusForRstCode(error_code);
    FinishWithStatus(status, absl::StrCat(ServiceLabel(), ": backend ", backend_->url,
                                          " reset the stream (",
                                          nghttp2_http2_strerror(error_code), ")"));
  }
  DiscardRequestBody();
}

void ProxyStream::OnUpstreamFailure(const absl::Status& reason, bool never_sent) {
  upstream_ = nullptr;
  uncredited_response_ = 0;  // that connection is gone, and its window with it
  response_header_timer_.Disarm();
  if (!response_complete_) {
    FinishWithStatus(h2::GrpcStatus::kUnavailable,
                     absl::StrCat(ServiceLabel(), ": ", reason.message()));
  }
  DiscardRequestBody();
}

// --- Shared ------------------------------------------------------------------

void ProxyStream::FinishWithStatus(h2::GrpcStatus status, absl::string_view message) {
  deadline_timer_.Disarm();
  response_header_timer_.Disarm();
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
  downstream_.Consume(stream_id_, to_upstream_.size());
  to_upstream_.Clear();
}

void ProxyStream::DetachUpstream(uint32_t error_code) {
  if (upstream_ == nullptr) return;
  upstream_->ConsumeConnection(uncredited_response_);
  uncredited_response_ = 0;
  upstream_->Detach(upstream_id_, error_code);
  upstream_ = nullptr;
}

void ProxyStream::ResumeDownstream() {
  if (response_state_ == ResponseState::kStreaming) downstream_.ResumeData(stream_id_);
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
