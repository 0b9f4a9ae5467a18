#ifndef STRAIT_ADMIN_ADMIN_SERVICE_H_
#define STRAIT_ADMIN_ADMIN_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <string>

#include "admin/control_plane.h"
#include "strait/admin/v1/admin.grpc.pb.h"

namespace strait::admin {

// strait.admin.v1.Admin: thin — each call checks the token, turns its request
// into an edit of the running configuration (or a read) and hands it to the
// ControlPlane, which validates, applies and persists it.
//
// Called on gRPC's sync server threads, several calls at once; the
// ControlPlane serializes changes. Neither owns the other; both must
// outlive the grpc::Server that serves this.
class AdminService final : public v1::Admin::Service {
 public:
  // `token`: when not empty, every call must carry
  // `authorization: Bearer <token>`.
  AdminService(ControlPlane& plane, std::string token);

  grpc::Status GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest* request,
                         v1::GetConfigResponse* response) override;
  grpc::Status ReplaceConfig(grpc::ServerContext* context,
                             const v1::ReplaceConfigRequest* request,
                             v1::ChangeResponse* response) override;
  grpc::Status UpsertService(grpc::ServerContext* context,
                             const v1::UpsertServiceRequest* request,
                             v1::ChangeResponse* response) override;
  grpc::Status UpsertRouter(grpc::ServerContext* context, const v1::UpsertRouterRequest* request,
                            v1::ChangeResponse* response) override;
  grpc::Status UpsertServersTransport(grpc::ServerContext* context,
                                      const v1::UpsertServersTransportRequest* request,
                                      v1::ChangeResponse* response) override;
  grpc::Status UpsertEntryPoint(grpc::ServerContext* context,
                                const v1::UpsertEntryPointRequest* request,
                                v1::ChangeResponse* response) override;
  grpc::Status DeleteService(grpc::ServerContext* context, const v1::DeleteRequest* request,
                             v1::ChangeResponse* response) override;
  grpc::Status DeleteRouter(grpc::ServerContext* context, const v1::DeleteRequest* request,
                            v1::ChangeResponse* response) override;
  grpc::Status DeleteServersTransport(grpc::ServerContext* context,
                                      const v1::DeleteRequest* request,
                                      v1::ChangeResponse* response) override;
  grpc::Status DeleteEntryPoint(grpc::ServerContext* context, const v1::DeleteRequest* request,
                                v1::ChangeResponse* response) override;
  grpc::Status ListServers(grpc::ServerContext* context, const v1::ListServersRequest* request,
                           v1::ListServersResponse* response) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::GetStatsResponse* response) override;
  grpc::Status DrainServer(grpc::ServerContext* context, const v1::DrainServerRequest* request,
                           v1::DrainServerResponse* response) override;
  grpc::Status UndrainServer(grpc::ServerContext* context,
                             const v1::DrainServerRequest* request,
                             v1::DrainServerResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::WatchEvent>* writer) override;
  grpc::Status ReloadFromFile(grpc::ServerContext* context,
                              const v1::ReloadFromFileRequest* request,
                              v1::ChangeResponse* response) override;

 private:
  // UNAUTHENTICATED unless the call carries the token.
  grpc::Status Authorize(grpc::ServerContext* context) const;
  // Runs a change through the ControlPlane into `response`.
  grpc::Status Apply(grpc::ServerContext* context, const ControlPlane::Edit& edit,
                     const v1::ChangeOptions& options, const std::string& what,
                     v1::ChangeResponse* response);
  grpc::Status Drain(grpc::ServerContext* context, const v1::DrainServerRequest* request,
                     bool drained, v1::DrainServerResponse* response);

  ControlPlane& plane_;
  const std::string token_;
};

}  // namespace strait::admin

#endif  // STRAIT_ADMIN_ADMIN_SERVICE_H_
