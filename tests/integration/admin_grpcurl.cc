// A stand-in for grpcurl, for the admin calls of examples/admin/*.sh only:
// examples_test puts it first in PATH as `grpcurl`, so that the scripts run
// as they are against a real strait, on machines without grpcurl.
//
//   grpcurl -plaintext [-H "authorization: Bearer TOKEN"] -d JSON HOST:PORT \
//       strait.admin.v1.Admin/METHOD
//
// As grpcurl does: the request is JSON in protobuf's JSON mapping, the
// response is printed as JSON (uint64 as strings, lowerCamelCase names), an
// error status is printed on stderr ("ERROR:\n  Code: ...") with exit code
// 64 + the status code. Methods grpcurl would find by reflection are here
// by name (CallAdminJson: every unary Admin RPC).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "strait/admin/v1/admin.grpc.pb.h"
#include "tests/integration/admin_json_call.h"

namespace {

namespace av1 = ::strait::admin::v1;

// grpcurl's names of the status codes (Go's codes.Code.String()).
const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  return code >= 0 && code <= 16 ? kNames[code] : "Unknown";
}

}  // namespace

int main(int argc, char** argv) {
  std::string json = "{}";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-plaintext") continue;
    if ((arg == "-d" || arg == "-H") && i + 1 < argc) {
      const std::string value = argv[++i];
      if (arg == "-d") {
        json = value;
      } else if (size_t colon = value.find(':'); colon != std::string::npos) {
        size_t start = value.find_first_not_of(' ', colon + 1);
        headers.push_back({value.substr(0, colon), value.substr(start)});
      }
      continue;
    }
    positional.push_back(arg);
  }
  const std::string prefix = "strait.admin.v1.Admin/";
  if (positional.size() != 2 || positional[1].rfind(prefix, 0) != 0) {
    std::cerr << "admin_grpcurl: want [-plaintext] [-H HEADER] [-d JSON] ADDRESS " << prefix
              << "METHOD\n";
    return 2;
  }
  auto stub =
      av1::Admin::NewStub(grpc::CreateChannel(positional[0], grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  for (const auto& [name, value] : headers) context.AddMetadata(name, value);
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = true;
  std::optional<strait::testing::AdminJsonReply> reply = strait::testing::CallAdminJson(
      *stub, context, positional[1].substr(prefix.size()), json, print);
  if (!reply) {
    std::cerr << "admin_grpcurl: no method " << positional[1] << " here\n";
    return 2;
  }
  if (!reply->bad_request.empty()) {
    std::cerr << "Error invoking method: error getting request data: " << reply->bad_request
              << "\n";
    return 1;
  }
  if (!reply->status.ok()) {
    std::cerr << "ERROR:\n  Code: " << CodeName(reply->status.error_code())
              << "\n  Message: " << reply->status.error_message() << "\n";
    return 64 + reply->status.error_code();
  }
  std::cout << reply->json;
  return 0;
}
