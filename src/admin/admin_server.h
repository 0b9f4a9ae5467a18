#ifndef STRAIT_ADMIN_ADMIN_SERVER_H_
#define STRAIT_ADMIN_ADMIN_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "admin/admin_service.h"
#include "admin/control_plane.h"
#include "admin/reflection_service.h"

namespace strait::admin {

// TLS for the admin server (PEM file paths, read at Start).
struct AdminTlsOptions {
  std::string cert_file;
  std::string key_file;
  // When set, clients must present a certificate signed by one of these CAs
  // (mTLS); otherwise no client certificate is asked for.
  std::string client_ca_file;
};

struct AdminServerOptions {
  // Where the admin server listens: never a data entry point's address.
  std::string address = "127.0.0.1:9901";
  // When not empty, Admin calls must carry `authorization: Bearer <token>`.
  std::string token;
  // Without: plaintext (h2c), for a loopback address.
  std::optional<AdminTlsOptions> tls;
};

// The admin gRPC server, on its own address and gRPC's own threads:
// strait.admin.v1.Admin, grpc.health.v1.Health (SERVING for "" and the
// Admin service until Shutdown) and server reflection in grpc.reflection.v1
// and v1alpha, so grpcurl lists, describes and calls everything with no
// .proto files. Reflection and health need no token: they describe the
// public schema and answer probes (`strait probe`, Docker, Kubernetes).
//
// Created and shut down by main (or a test); `plane` must outlive it.
class AdminServer {
 public:
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(ControlPlane& plane,
                                                            AdminServerOptions options);
  ~AdminServer();

  int port() const { return port_; }
  // Health answers NOT_SERVING, Watch streams end, then the server stops
  // (calls still running get a moment to finish).
  void Shutdown();

 private:
  class HealthService;
  AdminServer(ControlPlane& plane, AdminServerOptions options);

  ControlPlane& plane_;
  const AdminServerOptions options_;
  AdminService admin_;
  std::unique_ptr<HealthService> health_;
  std::unique_ptr<ServerReflection> reflection_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace strait::admin

#endif  // STRAIT_ADMIN_ADMIN_SERVER_H_
