#include "server/probe.h"

#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace strait::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

const char kProbeUsage[] =
    "usage: strait probe ADDR [--service NAME] [--timeout DURATION]\n"
    "                         [--tls-ca FILE [--tls-server-name NAME]]\n"
    "\n"
    "Asks grpc.health.v1.Health/Check at ADDR (strait's admin address, default\n"
    "127.0.0.1:9901, or any gRPC server) and prints one line saying what it saw.\n"
    "\n"
    "  --service NAME          the service to ask about (default \"\": the whole server)\n"
    "  --timeout DURATION      give up after this long, e.g. 500ms, 2s (default 2s)\n"
    "  --tls-ca FILE           use TLS, trusting this CA (PEM) (default: plaintext)\n"
    "  --tls-server-name NAME  the name the certificate must carry (default: ADDR's host)\n"
    "\n"
    "Exit status: 0 SERVING; 1 anything else (NOT_SERVING, unknown service,\n"
    "unreachable, timed out); 2 bad command line.\n";

absl::StatusOr<ProbeOptions> ParseProbeArgs(const std::vector<std::string>& args) {
  ProbeOptions options;
  std::string ca_file;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (!flag.starts_with("-")) {
      if (!options.target.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("probe: unexpected argument \"", flag, "\" (one ADDR only)"));
      }
      options.target = flag;
      continue;
    }
    std::optional<std::string> value;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    if (flag != "--service" && flag != "--timeout" && flag != "--tls-ca" &&
        flag != "--tls-server-name") {
      return absl::InvalidArgumentError(
          absl::StrCat("probe: unknown flag ", flag, " (see strait probe --help)"));
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("probe: ", flag, " needs a value"));
      }
      value = args[++i];
    }
    if (flag == "--service") {
      options.service = *value;
    } else if (flag == "--timeout") {
      if (!absl::ParseDuration(*value, &options.timeout) ||
          options.timeout <= absl::ZeroDuration() || options.timeout == absl::InfiniteDuration()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "probe: --timeout: \"", *value, "\" is not a positive duration such as 2s or 500ms"));
      }
    } else if (flag == "--tls-ca") {
      ca_file = *value;
    } else {
      options.tls_server_name = *value;
    }
  }
  if (options.target.empty()) {
    return absl::InvalidArgumentError("probe: ADDR is required, e.g. strait probe 127.0.0.1:9901");
  }
  if (!options.tls_server_name.empty() && ca_file.empty()) {
    return absl::InvalidArgumentError("probe: --tls-server-name needs --tls-ca");
  }
  if (!ca_file.empty()) {
    std::ifstream file(ca_file);
    std::stringstream text;
    if (file) text << file.rdbuf();
    if (!file || text.str().empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("probe: --tls-ca ", ca_file, ": ", file ? "empty file" : strerror(errno)));
    }
    options.tls_ca = text.str();
  }
  return options;
}

ProbeResult Probe(const ProbeOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments channel_args;
  if (options.tls_ca) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = *options.tls_ca;
    credentials = grpc::SslCredentials(ssl);
    if (!options.tls_server_name.empty()) {
      channel_args.SetSslTargetNameOverride(options.tls_server_name);
    }
  }
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(options.target, credentials, channel_args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  HealthCheckRequest request;
  request.set_service(options.service);
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);

  std::string what = options.target;
  if (!options.service.empty()) absl::StrAppend(&what, " service \"", options.service, "\"");
  ProbeResult result;
  if (status.ok()) {
    result.serving = response.status() == HealthCheckResponse::SERVING;
    result.summary =
        absl::StrCat(what, ": ", HealthCheckResponse::ServingStatus_Name(response.status()));
    return result;
  }
  // gRPC's messages may span lines; the probe's answer is one.
  std::string message = absl::StrReplaceAll(status.error_message(), {{"\n", " "}});
  switch (status.error_code()) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      result.summary =
          absl::StrCat(what, ": no answer within ", absl::FormatDuration(options.timeout));
      break;
    case grpc::StatusCode::UNAVAILABLE:
      result.summary = absl::StrCat(what, ": unreachable: ", message);
      break;
    case grpc::StatusCode::UNIMPLEMENTED:
      result.summary = absl::StrCat(what, ": no grpc.health.v1 service there: ", message);
      break;
    default:
      result.summary = absl::StrCat(
          what, ": ", absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())),
          ": ", message);
  }
  return result;
}

int RunProbe(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::cout << kProbeUsage;
      return 0;
    }
  }
  absl::StatusOr<ProbeOptions> options = ParseProbeArgs(args);
  if (!options.ok()) {
    std::cerr << "strait " << options.status().message() << "\n";
    return 2;
  }
  ProbeResult result = Probe(*options);
  (result.serving ? std::cout : std::cerr) << "strait probe: " << result.summary << std::endl;
  return result.serving ? 0 : 1;
}

}  // namespace strait::server
