#include "tests/integration/admin_json_call.h"

#include <functional>
#include <map>

namespace strait::testing {
namespace {

namespace av1 = ::strait::admin::v1;

using JsonCall =
    std::function<AdminJsonReply(av1::Admin::Stub&, grpc::ClientContext&, const std::string&,
                                 const google::protobuf::util::JsonPrintOptions&)>;

template <typename Request, typename Response>
JsonCall Unary(grpc::Status (av1::Admin::Stub::*rpc)(grpc::ClientContext*, const Request&,
                                                     Response*)) {
  return [rpc](av1::Admin::Stub& stub, grpc::ClientContext& context, const std::string& json,
               const google::protobuf::util::JsonPrintOptions& print) {
    AdminJsonReply reply;
    Request request;
    if (auto parsed = google::protobuf::util::JsonStringToMessage(json, &request); !parsed.ok()) {
      reply.bad_request = parsed.ToString();
      return reply;
    }
    Response response;
    reply.status = (stub.*rpc)(&context, request, &response);
    if (reply.status.ok()) {
      (void)google::protobuf::util::MessageToJsonString(response, &reply.json, print);
    }
    return reply;
  };
}

}  // namespace

std::optional<AdminJsonReply> CallAdminJson(av1::Admin::Stub& stub, grpc::ClientContext& context,
                                            const std::string& method, const std::string& json,
                                            const google::protobuf::util::JsonPrintOptions& print) {
  // Every unary RPC of admin.proto (Watch streams, and is not here).
  static const auto* const kCalls = new std::map<std::string, JsonCall>{
      {"GetConfig", Unary(&av1::Admin::Stub::GetConfig)},
      {"ReplaceConfig", Unary(&av1::Admin::Stub::ReplaceConfig)},
      {"UpsertService", Unary(&av1::Admin::Stub::UpsertService)},
      {"UpsertRouter", Unary(&av1::Admin::Stub::UpsertRouter)},
      {"UpsertServersTransport", Unary(&av1::Admin::Stub::UpsertServersTransport)},
      {"UpsertEntryPoint", Unary(&av1::Admin::Stub::UpsertEntryPoint)},
      {"DeleteService", Unary(&av1::Admin::Stub::DeleteService)},
      {"DeleteRouter", Unary(&av1::Admin::Stub::DeleteRouter)},
      {"DeleteServersTransport", Unary(&av1::Admin::Stub::DeleteServersTransport)},
      {"DeleteEntryPoint", Unary(&av1::Admin::Stub::DeleteEntryPoint)},
      {"ListServers", Unary(&av1::Admin::Stub::ListServers)},
      {"GetStats", Unary(&av1::Admin::Stub::GetStats)},
      {"DrainServer", Unary(&av1::Admin::Stub::DrainServer)},
      {"UndrainServer", Unary(&av1::Admin::Stub::UndrainServer)},
      {"ReloadFromFile", Unary(&av1::Admin::Stub::ReloadFromFile)},
  };
  auto call = kCalls->find(method);
  if (call == kCalls->end()) return std::nullopt;
  return call->second(stub, context, json, print);
}

}  // namespace strait::testing
