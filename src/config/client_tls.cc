#include "config/client_tls.h"

#include "absl/strings/str_cat.h"

namespace strait::config {

net::ClientTlsOptions ClientTlsOptionsOf(const v1::ServersTransport& transport) {
  net::ClientTlsOptions options;
  options.server_name = transport.server_name();
  options.insecure_skip_verify = transport.insecure_skip_verify();
  options.root_ca_files.assign(transport.root_cas().begin(), transport.root_cas().end());
  // ValidateConfig allows at most one.
  if (!transport.certificates().empty()) {
    options.cert_file = transport.certificates(0).cert_file();
    options.key_file = transport.certificates(0).key_file();
  }
  options.peer_cert_uri = transport.peer_cert_uri();
  return options;
}

absl::StatusOr<std::shared_ptr<const net::ClientTlsContext>> BuildClientTls(
    const std::string& path, const v1::ServersTransport& transport) {
  absl::StatusOr<std::shared_ptr<const net::ClientTlsContext>> context =
      net::ClientTlsContext::Build(ClientTlsOptionsOf(transport));
  if (!context.ok()) {
    return absl::Status(context.status().code(),
                        absl::StrCat(path, ".", context.status().message()));
  }
  return context;
}

}  // namespace strait::config
