#ifndef STRAIT_H2_GRPC_H_
#define STRAIT_H2_GRPC_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace strait::h2 {

// gRPC status codes (grpc/doc/statuscodes.md).
enum class GrpcStatus : int {
  kOk = 0,                   // success
  kCancelled = 1,            // the caller cancelled
  kUnknown = 2,              // an error with no better code
  kInvalidArgument = 3,      // the request is malformed
  kDeadlineExceeded = 4,     // the deadline passed first
  kNotFound = 5,             // an entity was not found
  kAlreadyExists = 6,        // an entity exists already
  kPermissionDenied = 7,     // the caller may not do this
  kResourceExhausted = 8,    // a quota or limit was hit
  kFailedPrecondition = 9,   // the system is not in the needed state
  kAborted = 10,             // a concurrency conflict
  kOutOfRange = 11,          // past a valid range
  kUnimplemented = 12,       // no such method (or route)
  kInternal = 13,            // an invariant broke
  kUnavailable = 14,         // try again, perhaps elsewhere
  kDataLoss = 15,            // unrecoverable data loss
  kUnauthenticated = 16,     // no valid credentials
};

// How many codes there are (0..16): the size of a table by status.
inline constexpr int kGrpcStatusCount = 17;

// "UNAVAILABLE" etc.; "UNKNOWN_STATUS" outside 0..16.
absl::string_view GrpcStatusName(GrpcStatus status);

// The status a grpc-status header value reports: its code, or UNKNOWN for
// anything but a decimal 0..16 (as gRPC clients read an unknown code).
GrpcStatus ParseGrpcStatus(absl::string_view value);

// The status a gRPC client reports for a stream reset with an HTTP/2 error
// code (PROTOCOL-HTTP2.md, "Errors"): REFUSED_STREAM -> UNAVAILABLE, CANCEL ->
// CANCELLED, ENHANCE_YOUR_CALM -> RESOURCE_EXHAUSTED, INADEQUATE_SECURITY ->
// PERMISSION_DENIED, everything else -> INTERNAL.
GrpcStatus StatusForRstCode(uint32_t h2_error_code);

// The status of a response whose HTTP :status is not 200 and that carries
// no grpc-status (gRPC's http-grpc-status-mapping.md): 400 -> INTERNAL, 401
// -> UNAUTHENTICATED, 403 -> PERMISSION_DENIED, 404 -> UNIMPLEMENTED, 429,
// 502, 503, 504 -> UNAVAILABLE, anything else -> UNKNOWN.
GrpcStatus StatusForHttpStatus(int http_status);

// grpc-message is percent-encoded: bytes outside 0x20..0x7E, and '%', become
// %XX. Decoding leaves malformed escapes as they are.
std::string PercentEncodeGrpcMessage(absl::string_view message);
std::string PercentDecodeGrpcMessage(absl::string_view encoded);

// grpc-timeout: 1 to 8 digits and a unit (H M S m u n). nullopt if
// malformed.
std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view value);
// The finest unit whose value fits in 8 digits, rounded down (a backend is
// never told it has more time than is left) but never below "1n".
std::string FormatGrpcTimeout(absl::Duration budget);

}  // namespace strait::h2

#endif  // STRAIT_H2_GRPC_H_
