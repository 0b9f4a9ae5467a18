#include "admin/admin_service.h"

#include <openssl/crypto.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "admin/stats_response.h"
#include "config/validate.h"

namespace strait::admin {

namespace {

using config::v1::Config;

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::Status CheckName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("name: must not be empty");
  return absl::OkStatus();
}

// An edit that puts `value` at `name` in one of the Config's maps.
template <typename Map, typename Value>
ControlPlane::Edit Upsert(Map* (Config::*map)(), std::string name, const Value& value) {
  return [map, name = std::move(name), value](Config& config) -> absl::Status {
    if (absl::Status ok = CheckName(name); !ok.ok()) return ok;
    (*(config.*map)())[name] = value;
    return absl::OkStatus();
  };
}

// An edit that removes `name` from one of the Config's maps (`key` is its
// file key: "services"); refused with the referrer's field path when the
// rest of the configuration still names it.
template <typename Map>
ControlPlane::Edit Delete(Map* (Config::*map)(), std::string key, std::string name) {
  return [map, key = std::move(key), name = std::move(name)](Config& config) -> absl::Status {
    if (absl::Status ok = CheckName(name); !ok.ok()) return ok;
    if ((config.*map)()->erase(name) == 0) {
      return absl::NotFoundError(absl::StrCat(key, ".", name, ": no such entry"));
    }
    // The running configuration validated, so whatever fails now refers to
    // what was removed.
    if (absl::Status valid = config::ValidateConfig(config); !valid.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(key, ".", name, " is still referred to: ", valid.message()));
    }
    return absl::OkStatus();
  };
}

}  // namespace

AdminService::AdminService(ControlPlane& plane, std::string token)
    : plane_(plane), token_(std::move(token)) {}

grpc::Status AdminService::Authorize(grpc::ServerContext* context) const {
  if (token_.empty()) return grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing authorization: Bearer <token> (see --admin-token-file)");
  }
  const std::string given(it->second.data(), it->second.size());
  const std::string expected = "Bearer " + token_;
  // Same length first (the length is no secret), then a constant-time compare.
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "wrong admin token");
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::Apply(grpc::ServerContext* context, const ControlPlane::Edit& edit,
                                 const v1::ChangeOptions& options, const std::string& what,
                                 v1::ChangeResponse* response) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  absl::StatusOr<v1::ChangeResponse> result = plane_.Change(edit, options, what);
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status AdminService::GetConfig(grpc::ServerContext* context, const v1::GetConfigRequest*,
                                     v1::GetConfigResponse* response) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  ControlPlane::Running running = plane_.Current();
  *response->mutable_config() = std::move(running.config);
  response->set_version(running.version);
  *response->mutable_origin() = std::move(running.origin);
  return grpc::Status::OK;
}

grpc::Status AdminService::ReplaceConfig(grpc::ServerContext* context,
                                         const v1::ReplaceConfigRequest* request,
                                         v1::ChangeResponse* response) {
  const Config& replacement = request->config();
  return Apply(
      context,
      [&replacement](Config& config) {
        config = replacement;
        return absl::OkStatus();
      },
      request->options(), "ReplaceConfig", response);
}

grpc::Status AdminService::UpsertService(grpc::ServerContext* context,
                                         const v1::UpsertServiceRequest* request,
                                         v1::ChangeResponse* response) {
  return Apply(context, Upsert(&Config::mutable_services, request->name(), request->service()),
               request->options(), "UpsertService services." + request->name(), response);
}

grpc::Status AdminService::UpsertRouter(grpc::ServerContext* context,
                                        const v1::UpsertRouterRequest* request,
                                        v1::ChangeResponse* response) {
  return Apply(context, Upsert(&Config::mutable_routers, request->name(), request->router()),
               request->options(), "UpsertRouter routers." + request->name(), response);
}

grpc::Status AdminService::UpsertServersTransport(
    grpc::ServerContext* context, const v1::UpsertServersTransportRequest* request,
    v1::ChangeResponse* response) {
  return Apply(context,
               Upsert(&Config::mutable_servers_transports, request->name(),
                      request->servers_transport()),
               request->options(), "UpsertServersTransport serversTransports." + request->name(),
               response);
}

grpc::Status AdminService::UpsertEntryPoint(grpc::ServerContext* context,
                                            const v1::UpsertEntryPointRequest* request,
                                            v1::ChangeResponse* response) {
  return Apply(context,
               Upsert(&Config::mutable_entry_points, request->name(), request->entry_point()),
               request->options(), "UpsertEntryPoint entryPoints." + request->name(), response);
}

grpc::Status AdminService::DeleteService(grpc::ServerContext* context,
                                         const v1::DeleteRequest* request,
                                         v1::ChangeResponse* response) {
  return Apply(context, Delete(&Config::mutable_services, "services", request->name()),
               request->options(), "DeleteService services." + request->name(), response);
}

grpc::Status AdminService::DeleteRouter(grpc::ServerContext* context,
                                        const v1::DeleteRequest* request,
                                        v1::ChangeResponse* response) {
  return Apply(context, Delete(&Config::mutable_routers, "routers", request->name()),
               request->options(), "DeleteRouter routers." + request->name(), response);
}

grpc::Status AdminService::DeleteServersTransport(grpc::ServerContext* context,
                                                  const v1::DeleteRequest* request,
                                                  v1::ChangeResponse* response) {
  return Apply(context,
               Delete(&Config::mutable_servers_transports, "serversTransports", request->name()),
               request->options(), "DeleteServersTransport serversTransports." + request->name(),
               response);
}

grpc::Status AdminService::DeleteEntryPoint(grpc::ServerContext* context,
                                            const v1::DeleteRequest* request,
                                            v1::ChangeResponse* response) {
  return Apply(context, Delete(&Config::mutable_entry_points, "entryPoints", request->name()),
               request->options(), "DeleteEntryPoint entryPoints." + request->name(), response);
}

grpc::Status AdminService::ListServers(grpc::ServerContext* context,
                                       const v1::ListServersRequest* request,
                                       v1::ListServersResponse* response) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  ControlPlane::Running running = plane_.Current();
  if (!request->service().empty() && !running.config.services().contains(request->service())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("services.", request->service(), ": no such service"));
  }
  response->set_version(running.version);
  for (const server::ServerStatus& s : plane_.server().ListServers(request->service())) {
    ToProto(s, response->add_servers());
  }
  return grpc::Status::OK;
}

grpc::Status AdminService::GetStats(grpc::ServerContext* context,
                                    const v1::GetStatsRequest* request,
                                    v1::GetStatsResponse* response) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  ControlPlane::Running running = plane_.Current();
  if (!request->service().empty() && !running.config.services().contains(request->service())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("services.", request->service(), ": no such service"));
  }
  *response = StatsResponse(running.config, CountedStats::Read(plane_, request->service()),
                            request->service());
  return grpc::Status::OK;
}

grpc::Status AdminService::Drain(grpc::ServerContext* context,
                                 const v1::DrainServerRequest* request, bool drained,
                                 v1::DrainServerResponse* response) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  if (request->url().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "url: must not be empty");
  }
  absl::StatusOr<server::DrainResult> result = plane_.SetDrained(request->url(), drained);
  if (!result.ok()) return ToGrpc(result.status());
  for (const std::string& service : result->services) response->add_services(service);
  response->set_in_flight(result->in_flight);
  return grpc::Status::OK;
}

grpc::Status AdminService::DrainServer(grpc::ServerContext* context,
                                       const v1::DrainServerRequest* request,
                                       v1::DrainServerResponse* response) {
  return Drain(context, request, true, response);
}

grpc::Status AdminService::UndrainServer(grpc::ServerContext* context,
                                         const v1::DrainServerRequest* request,
                                         v1::DrainServerResponse* response) {
  return Drain(context, request, false, response);
}

grpc::Status AdminService::Watch(grpc::ServerContext* context, const v1::WatchRequest*,
                                 grpc::ServerWriter<v1::WatchEvent>* writer) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  std::shared_ptr<WatchQueue> queue = plane_.Subscribe();
  grpc::Status result = grpc::Status::OK;
  v1::WatchEvent event;
  // The sync API has no cancellation callback: look at the context between
  // waits. The wait only bounds how late a cancelled Watch lets go of its
  // thread; events are written the moment they arrive.
  while (!context->IsCancelled()) {
    if (queue->Pop(&event, absl::Milliseconds(200))) {
      if (!writer->Write(event)) break;
      continue;
    }
    if (queue->overflowed()) {
      result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            "this Watch fell too far behind; watch again for the current state");
      break;
    }
    if (queue->closed()) {
      result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "strait is stopping");
      break;
    }
  }
  plane_.Unsubscribe(queue);
  return result;
}

grpc::Status AdminService::ReloadFromFile(grpc::ServerContext* context,
                                          const v1::ReloadFromFileRequest*,
                                          v1::ChangeResponse* response) {
  if (grpc::Status auth = Authorize(context); !auth.ok()) return auth;
  absl::StatusOr<v1::ChangeResponse> result = plane_.ReloadFromFile();
  if (!result.ok()) return ToGrpc(result.status());
  *response = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace strait::admin
