#ifndef STRAIT_COMMON_UTF8_H_
#define STRAIT_COMMON_UTF8_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace strait {

// The length (1..4) of the valid UTF-8 sequence at the start of `s`, or 0
// if `s` is empty or does not start with one: a stray continuation byte, a
// truncated sequence, an overlong form, a surrogate or a code point above
// U+10FFFF (Unicode 15, table 3-7). For writers of formats that must be
// valid UTF-8 whatever bytes a peer sent (JSON, Prometheus label values).
size_t Utf8SequenceLength(absl::string_view s);

// U+FFFD REPLACEMENT CHARACTER, written in place of each invalid byte.
inline constexpr absl::string_view kUtf8Replacement = "\xEF\xBF\xBD";

}  // namespace strait

#endif  // STRAIT_COMMON_UTF8_H_
