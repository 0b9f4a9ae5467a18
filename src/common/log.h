#ifndef STRAIT_COMMON_LOG_H_
#define STRAIT_COMMON_LOG_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace strait {

// Severity of a log line; lines below the process-wide level are dropped.
enum class LogLevel {
  kDebug,  // per-connection and per-stream events
  kInfo,   // start-up, shutdown, configuration changes
  kWarn,   // a peer misbehaved or a backend failed
  kError,  // strait itself cannot do what it was asked
};

// How lines look on stderr (--log-format).
enum class LogFormat {
  kText,  // "2026-12-02T07:40:00.123Z I listening on 8080 port=8080"
  kJson,  // {"time":"2026-12-02T07:40:00.123Z","level":"info","msg":"...","port":"8080"}
};

// Process-wide settings; any thread, at any time (relaxed atomics).
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void SetLogFormat(LogFormat format);
LogFormat GetLogFormat();

// The level named "debug", "info", "warn" or "error" (the names JSON lines
// carry as "level"); nullopt for any other name.
std::optional<LogLevel> ParseLogLevel(absl::string_view name);
// "text" or "json"; nullopt for any other name.
std::optional<LogFormat> ParseLogFormat(absl::string_view name);

// A key and value attached to one structured line. The value is anything
// absl::StrCat takes: {"server", url}, {"port", 8080}. In JSON every value
// is a string; keys should not be "time", "level" or "msg".
struct LogField {
  LogField(absl::string_view key, const absl::AlphaNum& value)
      : key(key), value(value.Piece()) {}

  absl::string_view key;
  std::string value;
};

// The line WriteLogLine writes, with its "\n" (exposed for tests).
std::string FormatLogLine(LogFormat format, LogLevel level, absl::Time time,
                          absl::string_view msg, absl::Span<const LogField> fields = {});

// Appends a key=value text value: as it is when it reads as one word, else
// double-quoted and C-escaped (so every byte is printable ASCII). Shared by
// the text logs and the access log's text format.
void AppendTextLogValue(std::string* out, absl::string_view value);

// Writes one line to stderr in the process-wide format (thread-safe: one
// write(2) per line, so lines never interleave). Does not check the level.
void WriteLogLine(LogLevel level, absl::string_view msg);
void WriteLogLine(LogLevel level, absl::string_view msg, absl::Span<const LogField> fields);

// Writes `msg` with `fields` if `level` is enabled:
//   LogWithFields(LogLevel::kInfo, "health flip", {{"server", url}, {"healthy", "false"}});
// Unlike STRAIT_LOG the arguments are always evaluated: for control-plane
// events, not for the data path.
void LogWithFields(LogLevel level, absl::string_view msg, absl::Span<const LogField> fields);

// Lets the first line for a key through, holds back the following ones with
// the same key for `period` after it, and reports how many it held back with
// the next line it lets through: for events that can repeat per RPC or per
// connection. Thread-safe (one mutex, taken only when the line's level is
// enabled). At most kMaxKeys keys are tracked; beyond that, keys whose
// period has passed are forgotten, and if none has, new keys share one
// overflow entry, so memory stays bounded whatever keys peers cause.
class LogRateLimit {
 public:
  static constexpr size_t kMaxKeys = 1024;

  // `now` is the clock (absl::Now unless a test passes a fake one).
  explicit LogRateLimit(absl::Duration period,
                        std::function<absl::Time()> now = [] { return absl::Now(); });

  // True if a line for `key` may be written now; then `*suppressed` is the
  // number of lines for that key held back since the last one written.
  bool Allow(absl::string_view key, uint64_t* suppressed);

 private:
  struct Entry {
    absl::Time last_written;
    uint64_t suppressed = 0;
  };

  const absl::Duration period_;
  const std::function<absl::Time()> now_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

// `line` + " (N more like this)" when suppressed > 0, else `line`.
std::string WithSuppressedCount(std::string line, uint64_t suppressed);

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

// STRAIT_LOG_EVERY(server_url, absl::Seconds(10), kWarn, "connect to ",
// server_url, " failed: ", error): STRAIT_LOG limited to one line per key
// per period at this call site (each expansion has its own LogRateLimit,
// created on first use and never destroyed, so that threads still logging
// at exit are safe). `period` is read once; `key` is a string_view.
#define STRAIT_LOG_EVERY(key, period, level, ...)                                         \
  do {                                                                                    \
    if (::strait::LogEnabled(::strait::LogLevel::level)) {                                \
      static ::strait::LogRateLimit* const strait_log_rate_limit =                        \
          new ::strait::LogRateLimit(period);                                             \
      uint64_t strait_log_suppressed = 0;                                                 \
      if (strait_log_rate_limit->Allow((key), &strait_log_suppressed)) {                  \
        ::strait::WriteLogLine(                                                           \
            ::strait::LogLevel::level,                                                    \
            ::strait::WithSuppressedCount(::absl::StrCat(__VA_ARGS__), strait_log_suppressed)); \
      }                                                                                   \
    }                                                                                     \
  } while (0)

#endif  // STRAIT_COMMON_LOG_H_
