#ifndef STRAIT_COMMON_JSON_STRING_H_
#define STRAIT_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace strait {

// Appends `text` to `out` as a quoted JSON string (RFC 8259): '"' and '\\'
// escaped, control characters as \n, \t, ... or \u00XX, valid UTF-8 kept
// as it is, and every byte that is not part of a valid UTF-8 sequence
// (stray continuation bytes, overlong forms, surrogates, > U+10FFFF) written
// as U+FFFD, so that the output is always valid UTF-8 JSON whatever a peer
// sent. Used by the structured logs and the access log.
void AppendJsonString(std::string* out, absl::string_view text);

}  // namespace strait

#endif  // STRAIT_COMMON_JSON_STRING_H_
