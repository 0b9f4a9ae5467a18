#include "h2/headers.h"

namespace strait::h2 {

std::vector<nghttp2_nv> ToNv(const HeaderList& headers) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(headers.size());
  for (const Header& h : headers) {
    nv.push_back(nghttp2_nv{
        const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(h.name.data())),
        const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(h.value.data())),
        h.name.size(), h.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

bool IsConnectionSpecific(absl::string_view name, absl::string_view value) {
  if (name == "te") return value != "trailers";
  return name == "connection" || name == "keep-alive" ||
         name == "proxy-connection" || name == "transfer-encoding" ||
         name == "upgrade";
}

size_t HeaderListSize(const HeaderList& headers) {
  size_t size = 0;
  for (const Header& h : headers) size += h.name.size() + h.value.size() + 32;
  return size;
}

}  // namespace strait::h2
