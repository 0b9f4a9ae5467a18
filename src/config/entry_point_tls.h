#ifndef STRAIT_CONFIG_ENTRY_POINT_TLS_H_
#define STRAIT_CONFIG_ENTRY_POINT_TLS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "net/tls_server_context.h"
#include "strait/config/v1/config.pb.h"

namespace strait::config {

// An entry point's `tls` block read into options: checks the enums and
// names, reads no file. Errors name the field below `tls`
// ("clientAuth.mode: ...").
absl::StatusOr<net::TlsServerOptions> TlsServerOptionsFrom(const v1::EntryPointTls& tls);

// The TLS context an entry point serves with: the options, then every file
// read and checked (TlsServerContext::Create). Control thread only (reads
// files). Errors name the field below `tls` and the file.
absl::StatusOr<std::shared_ptr<const net::TlsServerContext>> BuildTlsServerContext(
    const v1::EntryPointTls& tls);

// The files a `tls` block reads, for watching them.
std::vector<std::string> TlsFiles(const v1::EntryPointTls& tls);

}  // namespace strait::config

#endif  // STRAIT_CONFIG_ENTRY_POINT_TLS_H_
