#include "admin/admin_server.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include <grpcpp/ext/health_check_service_server_builder_option.h>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace strait::admin {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// grpc.health.v1.Health of the admin server itself: SERVING for the whole
// server ("") and for strait.admin.v1.Admin while it runs, NOT_SERVING once
// it is shutting down, NOT_FOUND for other names. Watch sends the status,
// then again when it changes. On gRPC's threads.
class AdminServer::HealthService final : public grpc::health::v1::Health::Service {
 public:
  void SetNotServing() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      serving_ = false;
    }
    cv_.notify_all();
  }

  grpc::Status Check(grpc::ServerContext*, const HealthCheckRequest* request,
                     HealthCheckResponse* response) override {
    if (!Known(request->service())) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("unknown service \"", request->service(), "\""));
    }
    response->set_status(Status());
    return grpc::Status::OK;
  }

  grpc::Status Watch(grpc::ServerContext* context, const HealthCheckRequest* request,
                     grpc::ServerWriter<HealthCheckResponse>* writer) override {
    HealthCheckResponse response;
    if (!Known(request->service())) {
      // As gRPC's own health service does: the name may appear later.
      response.set_status(HealthCheckResponse::SERVICE_UNKNOWN);
      writer->Write(response);
      return grpc::Status::OK;
    }
    response.set_status(Status());
    if (!writer->Write(response)) return grpc::Status::OK;
    std::unique_lock<std::mutex> lock(mu_);
    // Woken by SetNotServing; the timeout only bounds how late a cancelled
    // Watch lets go of its thread.
    while (serving_ && !context->IsCancelled()) {
      cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
    if (!serving_) {
      response.set_status(HealthCheckResponse::NOT_SERVING);
      lock.unlock();
      writer->Write(response);
    }
    return grpc::Status::OK;
  }

 private:
  static bool Known(const std::string& service) {
    return service.empty() || service == v1::Admin::service_full_name();
  }
  HealthCheckResponse::ServingStatus Status() {
    std::lock_guard<std::mutex> lock(mu_);
    return serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool serving_ = true;
};

AdminServer::AdminServer(ControlPlane& plane, AdminServerOptions options)
    : plane_(plane),
      options_(std::move(options)),
      admin_(plane, options_.token),
      health_(std::make_unique<HealthService>()) {}

AdminServer::~AdminServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(ControlPlane& plane,
                                                                AdminServerOptions options) {
  std::unique_ptr<AdminServer> admin(new AdminServer(plane, std::move(options)));
  absl::StatusOr<std::unique_ptr<ServerReflection>> reflection = ServerReflection::Create(
      {v1::Admin::service_full_name(), grpc::health::v1::Health::service_full_name()});
  if (!reflection.ok()) return reflection.status();
  admin->reflection_ = std::move(*reflection);

  grpc::ServerBuilder builder;
  // Ours, not gRPC's default one (which a process may have turned on for
  // its other servers): it answers for the Admin service by name.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.AddListeningPort(admin->options_.address, grpc::InsecureServerCredentials(),
                           &admin->port_);
  builder.RegisterService(&admin->admin_);
  builder.RegisterService(admin->health_.get());
  admin->reflection_->RegisterOn(builder);
  admin->server_ = builder.BuildAndStart();
  if (admin->server_ == nullptr || admin->port_ == 0) {
    admin->server_.reset();
    return absl::UnavailableError(absl::StrCat(
        "--admin ", admin->options_.address,
        ": cannot listen there (address in use, or not host:port)"));
  }
  STRAIT_LOG(kInfo, "admin service on ", admin->options_.address, " (port ", admin->port_,
             admin->options_.token.empty() ? ", no token" : ", token required", ")");
  return admin;
}

void AdminServer::Shutdown() {
  if (server_ == nullptr) return;
  health_->SetNotServing();
  // Calls running now get a moment; Watch streams notice the cancellation
  // within their wait.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  server_->Wait();
  server_.reset();
}

}  // namespace strait::admin
