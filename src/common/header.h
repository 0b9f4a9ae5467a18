#ifndef STRAIT_COMMON_HEADER_H_
#define STRAIT_COMMON_HEADER_H_

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

namespace strait {

// One HTTP/2 header field as received or to be sent. Names are lowercase on
// the wire (RFC 9113 §8.2.1); pseudo-headers keep their leading ':'.
struct Header {
  std::string name;
  std::string value;
};

using HeaderList = std::vector<Header>;

// The value of the first header named `name`, or nullptr.
inline const std::string* FindHeader(const HeaderList& headers,
                                     absl::string_view name) {
  for (const Header& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

}  // namespace strait

#endif  // STRAIT_COMMON_HEADER_H_
