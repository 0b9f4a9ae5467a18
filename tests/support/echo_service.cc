#include "tests/support/echo_service.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

// How often a sleeping handler looks at IsCancelled(): the sync API has no
// wake-up on cancellation.
constexpr absl::Duration kCancelPoll = absl::Milliseconds(2);
// wait_for_cancel gives up after this.
constexpr absl::Duration kMaxCancelWait = absl::Seconds(30);

std::string ToString(grpc::string_ref s) { return std::string(s.data(), s.size()); }

// The payload of a Unary/ServerStream response: `response_size` bytes of
// `fill`, or the request's own payload.
std::string ResponsePayload(const EchoRequest& request, char fill) {
  if (request.response_size() > 0) return std::string(request.response_size(), fill);
  return request.payload();
}

}  // namespace

int EchoService::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int EchoService::cancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool EchoService::WaitForCalls(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return calls_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

bool EchoService::WaitForCancelled(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return cancelled_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

int EchoService::seen() const {
  absl::MutexLock lock(&mu_);
  return seen_;
}

EchoService::SeenRequest EchoService::last_seen() const {
  absl::MutexLock lock(&mu_);
  return last_seen_;
}

bool EchoService::WaitForSeen(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, n]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return seen_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

void EchoService::Record(grpc::ServerContext* context, const char* method, int64_t messages,
                         int64_t bytes, const std::string& first_payload) {
  SeenRequest seen{.method = method,
                   .authority = ToString(context->ExperimentalGetAuthority()),
                   .deadline = context->deadline(),
                   .messages = messages,
                   .bytes = bytes,
                   .first_payload = first_payload};
  for (const auto& [key, value] : context->client_metadata()) {
    seen.metadata[ToString(key)] = ToString(value);
  }
  absl::MutexLock lock(&mu_);
  last_seen_ = std::move(seen);
  ++seen_;
}

void EchoService::CountCall() {
  absl::MutexLock lock(&mu_);
  ++calls_;
}

grpc::Status EchoService::EndCancelled(const char* where) {
  {
    absl::MutexLock lock(&mu_);
    ++cancelled_;
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, std::string("cancelled ") + where);
}

grpc::Status EchoService::EndBroken(grpc::ServerContext* context, const char* where) {
  // A write fails as soon as the stream is gone, but gRPC may mark the call
  // cancelled a moment later: give it that moment (bounded).
  for (int i = 0; i < 100 && !context->IsCancelled(); ++i) absl::SleepFor(kCancelPoll);
  if (context->IsCancelled()) return EndCancelled(where);
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string("peer gone ") + where);
}

void EchoService::Begin(grpc::ServerContext* context, const EchoRequest& request) {
  for (const auto& [key, value] : request.initial_metadata()) {
    context->AddInitialMetadata(key, value);
  }
  if (request.echo_metadata()) {
    for (const auto& [key, value] : context->client_metadata()) {
      if (key.starts_with("x-")) context->AddInitialMetadata(ToString(key), ToString(value));
    }
  }
}

void EchoService::Describe(grpc::ServerContext* context, EchoResponse* response) const {
  response->set_backend_name(name_);
  for (const auto& [key, value] : context->client_metadata()) {
    (*response->mutable_request_metadata())[ToString(key)] = ToString(value);
  }
  response->set_authority(ToString(context->ExperimentalGetAuthority()));
  response->set_peer(context->peer());
}

bool EchoService::Sleep(grpc::ServerContext* context, int ms) {
  absl::Time until = absl::Now() + absl::Milliseconds(ms);
  while (absl::Now() < until) {
    if (context->IsCancelled()) return false;
    absl::SleepFor(std::min(kCancelPoll, until - absl::Now()));
  }
  return !context->IsCancelled();
}

grpc::Status EchoService::Finish(grpc::ServerContext* context, const EchoRequest& request) {
  for (const auto& [key, value] : request.trailing_metadata()) {
    context->AddTrailingMetadata(key, value);
  }
  return grpc::Status(static_cast<grpc::StatusCode>(request.status_code()),
                      request.status_message());
}

grpc::Status EchoService::AwaitCancel(grpc::ServerContext* context) {
  if (!Sleep(context, static_cast<int>(absl::ToInt64Milliseconds(kMaxCancelWait)))) {
    return EndCancelled("while waiting for the cancel");
  }
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "wait_for_cancel: no cancel within 30 s");
}

grpc::Status EchoService::Unary(grpc::ServerContext* context, const EchoRequest* request,
                                EchoResponse* response) {
  CountCall();
  Record(context, "Unary", 1, static_cast<int64_t>(request->payload().size()),
         request->payload());
  Begin(context, *request);
  if (request->wait_for_cancel()) return AwaitCancel(context);
  int sleep_ms = request->sleep_ms() + unary_delay_ms_;
  if (sleep_ms > 0 && !Sleep(context, sleep_ms)) return EndCancelled("while sleeping");
  Describe(context, response);
  response->set_payload(ResponsePayload(*request, 'u'));
  return Finish(context, *request);
}

grpc::Status EchoService::ServerStream(grpc::ServerContext* context,
                                       const EchoRequest* request,
                                       grpc::ServerWriter<EchoResponse>* writer) {
  CountCall();
  Record(context, "ServerStream", 1, static_cast<int64_t>(request->payload().size()),
         request->payload());
  Begin(context, *request);
  for (int i = 0; i < request->response_count(); ++i) {
    if (request->sleep_ms() > 0 && !Sleep(context, request->sleep_ms())) {
      return EndCancelled("while streaming");
    }
    EchoResponse response;
    Describe(context, &response);
    response.set_index(i);
    response.set_payload(ResponsePayload(*request, 's'));
    if (!writer->Write(response)) return EndBroken(context, "while streaming");
  }
  if (request->wait_for_cancel()) return AwaitCancel(context);
  return Finish(context, *request);
}

grpc::Status EchoService::ClientStream(grpc::ServerContext* context,
                                       grpc::ServerReader<EchoRequest>* reader,
                                       EchoResponse* response) {
  CountCall();
  EchoRequest first, request;
  int64_t messages = 0, bytes = 0;
  while (reader->Read(&request)) {
    if (messages == 0) {
      first = request;
      Begin(context, first);
      if (first.wait_for_cancel()) return AwaitCancel(context);
    }
    ++messages;
    bytes += static_cast<int64_t>(request.payload().size());
    if (request.sleep_ms() > 0 && !Sleep(context, request.sleep_ms())) {
      return EndCancelled("while reading");
    }
  }
  // Read() also ends when the call breaks: only a half-close is a request.
  if (context->IsCancelled()) return EndCancelled("while reading");
  Record(context, "ClientStream", messages, bytes, first.payload());
  Describe(context, response);
  response->set_messages_received(messages);
  response->set_bytes_received(bytes);
  return Finish(context, first);
}

grpc::Status EchoService::Bidi(grpc::ServerContext* context,
                               grpc::ServerReaderWriter<EchoResponse, EchoRequest>* stream) {
  CountCall();
  EchoRequest first, request;
  int32_t messages = 0;
  int64_t bytes = 0;
  while (stream->Read(&request)) {
    bytes += static_cast<int64_t>(request.payload().size());
    if (messages == 0) {
      first = request;
      Begin(context, first);
      if (first.wait_for_cancel()) return AwaitCancel(context);
    }
    if (request.sleep_ms() > 0 && !Sleep(context, request.sleep_ms())) {
      return EndCancelled("while echoing");
    }
    // Kept small (no metadata copy): a stream may echo thousands of these.
    EchoResponse response;
    response.set_backend_name(name_);
    response.set_peer(context->peer());
    response.set_index(messages++);
    response.set_payload(request.payload());
    if (!stream->Write(response)) return EndBroken(context, "while echoing");
  }
  if (context->IsCancelled()) return EndCancelled("while echoing");
  Record(context, "Bidi", messages, bytes, first.payload());
  return Finish(context, first);
}

}  // namespace strait::testing
