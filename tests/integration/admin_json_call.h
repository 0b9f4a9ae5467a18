#ifndef STRAIT_TESTS_INTEGRATION_ADMIN_JSON_CALL_H_
#define STRAIT_TESTS_INTEGRATION_ADMIN_JSON_CALL_H_

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

#include "strait/admin/v1/admin.grpc.pb.h"

namespace strait::testing {

// What one admin call made as grpcurl makes it answered.
struct AdminJsonReply {
  // Non-empty: the JSON did not parse into the method's request (why), and
  // nothing was sent.
  std::string bad_request;
  grpc::Status status;
  // The response in protobuf's JSON mapping, when `status` is OK.
  std::string json;
};

// Calls the unary strait.admin.v1.Admin RPC named `method` ("UpsertService")
// with `json` as its request (protobuf's JSON mapping, as grpcurl reads -d),
// on `context`. nullopt when the Admin service has no unary RPC by that name.
// Shared by the tests that run documented grpcurl calls and by
// admin_grpcurl, the stand-in for grpcurl under the example scripts.
std::optional<AdminJsonReply> CallAdminJson(
    strait::admin::v1::Admin::Stub& stub, grpc::ClientContext& context, const std::string& method,
    const std::string& json, const google::protobuf::util::JsonPrintOptions& print = {});

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_ADMIN_JSON_CALL_H_
