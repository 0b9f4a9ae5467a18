#include "proxy/upstream_headers.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "h2/grpc.h"
#include "h2/headers.h"

namespace strait::proxy {

HeaderList UpstreamHeaders(const HeaderList& client, const config::ServiceEntry& service,
                           const upstream::Backend& backend,
                           std::optional<absl::Duration> remaining, absl::string_view peer_ip,
                           absl::string_view scheme) {
  HeaderList out;
  out.reserve(client.size() + 3);
  const std::string* method = FindHeader(client, ":method");
  const std::string* path = FindHeader(client, ":path");
  const std::string* authority = FindHeader(client, ":authority");
  if (authority == nullptr) authority = FindHeader(client, "host");
  out.push_back({":method", method ? *method : "POST"});
  out.push_back({":scheme", std::string(scheme)});
  out.push_back(
      {":authority", service.pass_host_header && authority ? *authority : backend.authority});
  out.push_back({":path", path ? *path : "/"});
  const std::string* forwarded_for = nullptr;
  for (const Header& h : client) {
    if (h.name.empty() || h.name[0] == ':' || h.name == "host") continue;
    if (h2::IsConnectionSpecific(h.name, h.value)) continue;
    // Replaced below: the budget left, the chain with this client appended,
    // and the protocol strait itself was spoken to with.
    if (h.name == "grpc-timeout" && remaining) continue;
    if (h.name == "x-forwarded-for") {
      forwarded_for = &h.value;
      continue;
    }
    if (h.name == "x-forwarded-proto") continue;
    out.push_back(h);
  }
  if (remaining) out.push_back({"grpc-timeout", h2::FormatGrpcTimeout(*remaining)});
  out.push_back({"x-forwarded-for", forwarded_for ? absl::StrCat(*forwarded_for, ", ", peer_ip)
                                                  : std::string(peer_ip)});
  out.push_back({"x-forwarded-proto", std::string(scheme)});
  return out;
}

}  // namespace strait::proxy
