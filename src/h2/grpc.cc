#include "h2/grpc.h"

#include <nghttp2/nghttp2.h>

#include "absl/strings/str_cat.h"

namespace strait::h2 {

absl::string_view GrpcStatusName(GrpcStatus status) {
  static constexpr const char* kNames[] = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  int code = static_cast<int>(status);
  if (code < 0 || code > 16) return "UNKNOWN_STATUS";
  return kNames[code];
}

GrpcStatus StatusForRstCode(uint32_t h2_error_code) {
  switch (h2_error_code) {
    case NGHTTP2_REFUSED_STREAM:
      return GrpcStatus::kUnavailable;
    case NGHTTP2_CANCEL:
      return GrpcStatus::kCancelled;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return GrpcStatus::kResourceExhausted;
    case NGHTTP2_INADEQUATE_SECURITY:
      return GrpcStatus::kPermissionDenied;
    default:
      return GrpcStatus::kInternal;
  }
}

GrpcStatus ParseGrpcStatus(absl::string_view value) {
  // Per finished RPC: digits by hand, no locale, no allocation.
  int code = -1;
  if (value.size() == 1 && value[0] >= '0' && value[0] <= '9') {
    code = value[0] - '0';
  } else if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '6') {
    code = 10 + (value[1] - '0');
  }
  return code < 0 ? GrpcStatus::kUnknown : static_cast<GrpcStatus>(code);
}

GrpcStatus StatusForHttpStatus(int http_status) {
  switch (http_status) {
    case 400:
      return GrpcStatus::kInternal;
    case 401:
      return GrpcStatus::kUnauthenticated;
    case 403:
      return GrpcStatus::kPermissionDenied;
    case 404:
      return GrpcStatus::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus::kUnavailable;
    default:
      return GrpcStatus::kUnknown;
  }
}

std::string PercentEncodeGrpcMessage(absl::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (unsigned char c : message) {
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string PercentDecodeGrpcMessage(absl::string_view encoded) {
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded[i] == '%' && i + 2 < encoded.size()) {
      int hi = HexValue(encoded[i + 1]), lo = HexValue(encoded[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi << 4 | lo));
        i += 2;
        continue;
      }
    }
    out.push_back(encoded[i]);
  }
  return out;
}

std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t n = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  switch (value.back()) {
    case 'H': return absl::Hours(n);
    case 'M': return absl::Minutes(n);
    case 'S': return absl::Seconds(n);
    case 'm': return absl::Milliseconds(n);
    case 'u': return absl::Microseconds(n);
    case 'n': return absl::Nanoseconds(n);
    default: return std::nullopt;
  }
}

std::string FormatGrpcTimeout(absl::Duration budget) {
  constexpr int64_t kMax = 99'999'999;
  if (budget <= absl::ZeroDuration()) return "1n";
  struct Unit {
    absl::Duration size;
    char name;
  };
  static const Unit kUnits[] = {
      {absl::Nanoseconds(1), 'n'}, {absl::Microseconds(1), 'u'},
      {absl::Milliseconds(1), 'm'}, {absl::Seconds(1), 'S'},
      {absl::Minutes(1), 'M'},      {absl::Hours(1), 'H'},
  };
  for (const Unit& unit : kUnits) {
    int64_t n = absl::IDivDuration(budget, unit.size, &budget);
    budget += n * unit.size;  // IDivDuration left only the remainder
    if (n <= kMax) return absl::StrCat(n > 0 ? n : 1, std::string(1, unit.name));
  }
  return absl::StrCat(kMax, "H");
}

}  // namespace strait::h2
