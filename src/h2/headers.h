#ifndef STRAIT_H2_HEADERS_H_
#define STRAIT_H2_HEADERS_H_

#include <nghttp2/nghttp2.h>

#include "absl/strings/string_view.h"
#include <vector>

#include "common/header.h"

namespace strait::h2 {

// nghttp2_nv views of `headers` (no copies; `headers` must outlive the use).
std::vector<nghttp2_nv> ToNv(const HeaderList& headers);

// Connection-specific fields that must not be forwarded (RFC 9113 §8.2.2):
// connection, keep-alive, proxy-connection, transfer-encoding, upgrade, and
// te with any value other than "trailers".
bool IsConnectionSpecific(absl::string_view name, absl::string_view value);

// Header-list size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113
// §6.5.2): name + value + 32 per field.
size_t HeaderListSize(const HeaderList& headers);

}  // namespace strait::h2

#endif  // STRAIT_H2_HEADERS_H_
