#include "net/address.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace strait::net {

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("address is empty");
  HostPort out;
  absl::string_view port;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("unbalanced '[' in \"", text, "\""));
    }
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("empty IPv6 host in \"", text, "\""));
    }
    absl::string_view rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') {
      return absl::InvalidArgumentError(absl::StrCat("missing port in \"", text, "\""));
    }
    port = rest.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("missing port in \"", text, "\""));
    }
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("IPv6 addresses need brackets, as in \"[::1]:80\": \"", text, "\""));
    }
    port = text.substr(colon + 1);
  }
  int value = -1;
  if (port.empty() || !absl::SimpleAtoi(port, &value) || value < 0 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be 0..65535, got \"", port, "\""));
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string FormatHostPort(const HostPort& host_port) {
  if (host_port.host.find(':') != std::string::npos) {
    return absl::StrCat("[", host_port.host, "]:", host_port.port);
  }
  return absl::StrCat(host_port.host, ":", host_port.port);
}

absl::StatusOr<ServerUrl> ParseServerUrl(absl::string_view url) {
  size_t sep = url.find("://");
  if (sep == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", url, "\" is not a URL like h2c://host:port or https://host:port"));
  }
  ServerUrl out;
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme != "h2c" && out.scheme != "https") {
    return absl::InvalidArgumentError(
        absl::StrCat("scheme must be h2c or https, got \"", out.scheme, "\""));
  }
  absl::string_view rest = url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("a server URL has no path: \"", url, "\""));
  }
  absl::StatusOr<HostPort> host_port = ParseHostPort(rest);
  if (!host_port.ok()) return host_port.status();
  if (host_port->host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("missing host in \"", url, "\""));
  }
  if (host_port->port == 0) {
    return absl::InvalidArgumentError(absl::StrCat("port must be 1..65535 in \"", url, "\""));
  }
  out.host_port = *host_port;
  return out;
}

}  // namespace strait::net
