#include "admin/admin_server.h"

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
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

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  if (file) text << file.rdbuf();
  if (!file || text.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": ", file ? "empty file" : strerror(errno)));
  }
  return text.str();
}

// Plaintext, TLS or mTLS, from the options' files.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const AdminServerOptions& options) {
  if (!options.tls) return grpc::InsecureServerCredentials();
  const AdminTlsOptions& tls = *options.tls;
  absl::StatusOr<std::string> cert = ReadPem("--admin-tls-cert", tls.cert_file);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem("--admin-tls-key", tls.key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({.private_key = *key, .cert_chain = *cert});
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("--admin-tls-client-ca", tls.client_ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *ca;
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

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

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      Credentials(admin->options_);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  // Ours, not gRPC's default one (which a process may have turned on for
  // its other servers): it answers for the Admin service by name.
  builder.SetOption(std::make_unique<grpc::HealthCheckServiceServerBuilderOption>(nullptr));
  builder.AddListeningPort(admin->options_.address, *credentials, &admin->port_);
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
  const AdminServerOptions& o = admin->options_;
  STRAIT_LOG(kInfo, "admin service on ", o.address, " (port ", admin->port_,
             !o.tls ? ", plaintext" : o.tls->client_ca_file.empty() ? ", TLS" : ", mTLS",
             o.token.empty() ? ", no token" : ", token required", ")");
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
