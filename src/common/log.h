#ifndef STRAIT_COMMON_LOG_H_
#define STRAIT_COMMON_LOG_H_

#include "absl/strings/string_view.h"

#include "absl/strings/str_cat.h"

namespace strait {

// Severity of a log line; lines below the process-wide level are dropped.
enum class LogLevel {
  kDebug,  // per-connection and per-stream events
  kInfo,   // start-up, shutdown, configuration changes
  kWarn,   // a peer misbehaved or a backend failed
  kError,  // strait itself cannot do what it was asked
};

void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Writes one line to stderr (thread-safe: one write(2) per line).
void WriteLogLine(LogLevel level, absl::string_view line);

}  // namespace strait

// STRAIT_LOG(kInfo, "listening on ", port): arguments are joined by
// absl::StrCat, and only evaluated when the level is enabled.
#define STRAIT_LOG(level, ...)                                   \
  do {                                                           \
    if (::strait::LogEnabled(::strait::LogLevel::level)) {       \
      ::strait::WriteLogLine(::strait::LogLevel::level,          \
                             ::absl::StrCat(__VA_ARGS__));       \
    }                                                            \
  } while (0)

#endif  // STRAIT_COMMON_LOG_H_
