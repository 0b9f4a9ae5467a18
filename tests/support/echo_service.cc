#include "tests/support/echo_service.h"

#include <chrono>
#include <thread>

namespace strait::testing {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

bool EchoService::WaitForCancelled(int n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cancelled_cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                                [&] { return cancelled_.load() >= n; });
}

void EchoService::Begin(grpc::ServerContext* context, const EchoRequest& request) {
  for (const auto& [key, value] : request.initial_metadata()) {
    context->AddInitialMetadata(key, value);
  }
  if (request.echo_metadata()) {
    for (const auto& [key, value] : context->client_metadata()) {
      if (key.starts_with("x-")) {
        context->AddInitialMetadata(std::string(key.data(), key.size()),
                                    std::string(value.data(), value.size()));
      }
    }
  }
}

void EchoService::Describe(grpc::ServerContext* context, EchoResponse* response) const {
  response->set_backend_name(name_);
  for (const auto& [key, value] : context->client_metadata()) {
    (*response->mutable_request_metadata())[std::string(key.data(), key.size())] =
        std::string(value.data(), value.size());
  }
  grpc::string_ref authority = context->ExperimentalGetAuthority();
  response->set_authority(std::string(authority.data(), authority.size()));
  response->set_peer(context->peer());
}

bool EchoService::Sleep(grpc::ServerContext* context, int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (context->IsCancelled()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
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
  Sleep(context, 30'000);
  if (context->IsCancelled()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++cancelled_;
    }
    cancelled_cv_.notify_all();
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
}

grpc::Status EchoService::Unary(grpc::ServerContext* context, const EchoRequest* request,
                                EchoResponse* response) {
  ++calls_;
  Begin(context, *request);
  if (request->wait_for_cancel()) return AwaitCancel(context);
  if (request->sleep_ms() > 0 && !Sleep(context, request->sleep_ms())) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while sleeping");
  }
  Describe(context, response);
  response->set_payload(request->response_size() > 0
                            ? std::string(request->response_size(), 'u')
                            : request->payload());
  return Finish(context, *request);
}

grpc::Status EchoService::ServerStream(grpc::ServerContext* context,
                                       const EchoRequest* request,
                                       grpc::ServerWriter<EchoResponse>* writer) {
  ++calls_;
  Begin(context, *request);
  for (int i = 0; i < request->response_count(); ++i) {
    if (request->sleep_ms() > 0 && !Sleep(context, request->sleep_ms())) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while streaming");
    }
    EchoResponse response;
    Describe(context, &response);
    response.set_index(i);
    response.set_payload(request->response_size() > 0
                             ? std::string(request->response_size(), 's')
                             : request->payload());
    if (!writer->Write(response)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
  }
  if (request->wait_for_cancel()) return AwaitCancel(context);
  return Finish(context, *request);
}

grpc::Status EchoService::ClientStream(grpc::ServerContext* context,
                                       grpc::ServerReader<EchoRequest>* reader,
                                       EchoResponse* response) {
  ++calls_;
  EchoRequest first, request;
  int64_t messages = 0, bytes = 0;
  while (reader->Read(&request)) {
    if (messages == 0) {
      first = request;
      Begin(context, first);
      if (first.wait_for_cancel()) return AwaitCancel(context);
    }
    ++messages;
    bytes += request.payload().size();
    if (request.sleep_ms() > 0 && !Sleep(context, request.sleep_ms())) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while reading");
    }
  }
  Describe(context, response);
  response->set_messages_received(messages);
  response->set_bytes_received(bytes);
  return Finish(context, first);
}

grpc::Status EchoService::Bidi(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<EchoResponse, EchoRequest>* stream) {
  ++calls_;
  EchoRequest first, request;
  int64_t messages = 0;
  while (stream->Read(&request)) {
    if (messages == 0) {
      first = request;
      Begin(context, first);
      if (first.wait_for_cancel()) return AwaitCancel(context);
    }
    if (request.sleep_ms() > 0 && !Sleep(context, request.sleep_ms())) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled while echoing");
    }
    EchoResponse response;
    response.set_backend_name(name_);
    response.set_peer(context->peer());
    response.set_index(static_cast<int32_t>(messages++));
    response.set_payload(request.payload());
    if (!stream->Write(response)) return grpc::Status(grpc::StatusCode::CANCELLED, "gone");
  }
  return Finish(context, first);
}

}  // namespace strait::testing
