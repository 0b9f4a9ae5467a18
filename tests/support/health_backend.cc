#include "tests/support/health_backend.h"

#include <grpcpp/ext/health_check_service_server_builder_option.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace strait::testing {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// A restart may find its port briefly still held by the old listener.
constexpr absl::Duration kRebindPatience = absl::Seconds(5);

// Counts each RPC as the server starts it; intercepts nothing.
class CountingInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingInterceptorFactory(std::shared_ptr<MethodCounter> counter)
      : counter_(std::move(counter)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    counter_->Count(info->method());
    return nullptr;
  }

 private:
  const std::shared_ptr<MethodCounter> counter_;
};

}  // namespace

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time give_up = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

void MethodCounter::Count(const std::string& method) {
  absl::MutexLock lock(&mu_);
  ++counts_[method];
}

int MethodCounter::count(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = counts_.find(method);
  return it == counts_.end() ? 0 : it->second;
}

bool MethodCounter::WaitFor(const std::string& method, int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    auto it = counts_.find(method);
    return it != counts_.end() && it->second >= n;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

// grpc.health.v1 with Check only: Watch stays the generated UNIMPLEMENTED.
class HealthBackend::CheckOnlyService final : public grpc::health::v1::Health::Service {
 public:
  void Set(const std::string& service, bool serving) {
    absl::MutexLock lock(&mu_);
    statuses_[service] = serving;
  }
  grpc::Status Check(grpc::ServerContext*, const HealthCheckRequest* request,
                     HealthCheckResponse* response) override {
    absl::MutexLock lock(&mu_);
    auto it = statuses_.find(request->service());
    if (it == statuses_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    response->set_status(it->second ? HealthCheckResponse::SERVING
                                    : HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, bool> statuses_ ABSL_GUARDED_BY(mu_) = {{"", true}};
};

HealthBackend::HealthBackend(Kind kind) : kind_(kind) {
  if (kind_ == Kind::kCheckOnly) check_only_ = std::make_unique<CheckOnlyService>();
  StartOn(0);
}

HealthBackend::~HealthBackend() { Stop(); }

void HealthBackend::SetServing(const std::string& service, bool serving) {
  statuses_[service] = serving;
  if (check_only_ != nullptr) check_only_->Set(service, serving);
  if (kind_ == Kind::kDefault && server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(service, serving);
  }
}

void HealthBackend::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

void HealthBackend::Start() {
  if (server_ == nullptr) StartOn(port_);
}

void HealthBackend::StartOn(int port) {
  absl::Time give_up = absl::Now() + kRebindPatience;
  for (;;) {
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &bound);
    // As TestBackend: no port sharing with another test's port-0 socket.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    if (kind_ == Kind::kDefault) {
      // gRPC adds its health service at Start(), after the builder insists
      // on one service of its own: a callback one answering UNIMPLEMENTED.
      // (One per server start: it registers with one server only.)
      generic_ = std::make_unique<grpc::CallbackGenericService>();
      builder.RegisterCallbackGenericService(generic_.get());
      // Process-wide, read by the builder: every server built after this has
      // gRPC's own health service.
      grpc::EnableDefaultHealthCheckService(true);
    } else {
      // No default service beside ours (null disables it).
      builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
      builder.RegisterService(check_only_.get());
    }
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
    creators.push_back(std::make_unique<CountingInterceptorFactory>(counter_));
    builder.experimental().SetInterceptorCreators(std::move(creators));
    server_ = builder.BuildAndStart();
    if (server_ != nullptr && bound != 0) {
      port_ = bound;
      if (kind_ == Kind::kDefault) {
        for (const auto& [service, serving] : statuses_) {
          server_->GetHealthCheckService()->SetServingStatus(service, serving);
        }
      }
      return;
    }
    server_.reset();
    if (port == 0 || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  fprintf(stderr, "health backend could not listen on 127.0.0.1:%d\n", port);
  abort();
}

}  // namespace strait::testing
