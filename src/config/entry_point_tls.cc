#include "config/entry_point_tls.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace strait::config {

absl::StatusOr<net::TlsServerOptions> TlsServerOptionsFrom(const v1::EntryPointTls& tls) {
  net::TlsServerOptions options;
  for (const v1::TlsCertificate& c : tls.certificates()) {
    options.certificates.push_back({c.cert_file(), c.key_file()});
  }
  const std::string& mode = tls.client_auth().mode();
  if (mode.empty() || mode == "none") {
    options.client_auth = net::TlsClientAuth::kNone;
  } else if (mode == "request") {
    options.client_auth = net::TlsClientAuth::kRequest;
  } else if (mode == "require") {
    options.client_auth = net::TlsClientAuth::kRequire;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("clientAuth.mode: \"", mode, "\": must be none, request or require"));
  }
  if (options.client_auth != net::TlsClientAuth::kNone && tls.client_auth().ca_files().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("clientAuth.caFiles: required with mode \"", mode, "\""));
  }
  options.ca_files.assign(tls.client_auth().ca_files().begin(), tls.client_auth().ca_files().end());
  const std::string& version = tls.min_version();
  if (version.empty() || version == "1.2") {
    options.min_version = TLS1_2_VERSION;
  } else if (version == "1.3") {
    options.min_version = TLS1_3_VERSION;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("minVersion: \"", version, "\": must be \"1.2\" or \"1.3\""));
  }
  options.cipher_suites.assign(tls.cipher_suites().begin(), tls.cipher_suites().end());
  return options;
}

absl::StatusOr<std::shared_ptr<const net::TlsServerContext>> BuildTlsServerContext(
    const v1::EntryPointTls& tls) {
  absl::StatusOr<net::TlsServerOptions> options = TlsServerOptionsFrom(tls);
  if (!options.ok()) return options.status();
  return net::TlsServerContext::Create(*options);
}

std::vector<std::string> TlsFiles(const v1::EntryPointTls& tls) {
  std::vector<std::string> files;
  for (const v1::TlsCertificate& c : tls.certificates()) {
    files.push_back(c.cert_file());
    files.push_back(c.key_file());
  }
  for (const std::string& ca : tls.client_auth().ca_files()) files.push_back(ca);
  return files;
}

}  // namespace strait::config
