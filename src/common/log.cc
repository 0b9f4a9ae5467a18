#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "common/json_string.h"

namespace strait {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};

constexpr const char* LevelTag(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "D";
    case LogLevel::kInfo: return "I";
    case LogLevel::kWarn: return "W";
    case LogLevel::kError: return "E";
  }
  return "?";
}

constexpr const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "unknown";
}

void WriteToStderr(const std::string& line) {
  // One write so lines from different threads never interleave.
  (void)!write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void AppendTextLogValue(std::string* out, absl::string_view value) {
  const bool plain = !value.empty() && value.find_first_of(" \"=\\") == absl::string_view::npos &&
                     absl::CEscape(value) == value;
  if (plain) {
    out->append(value.data(), value.size());
  } else {
    absl::StrAppend(out, "\"", absl::CEscape(value), "\"");
  }
}

void SetLogLevel(LogLevel level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void SetLogFormat(LogFormat format) {
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

LogFormat GetLogFormat() {
  return static_cast<LogFormat>(g_format.load(std::memory_order_relaxed));
}

std::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LevelName(level)) return level;
  }
  return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string FormatLogLine(LogFormat format, LogLevel level, absl::Time time,
                          absl::string_view msg, absl::Span<const LogField> fields) {
  const std::string when = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  std::string out;
  if (format == LogFormat::kText) {
    out = absl::StrCat(when, " ", LevelTag(level), " ", msg);
    for (const LogField& field : fields) {
      absl::StrAppend(&out, " ", field.key, "=");
      AppendTextLogValue(&out, field.value);
    }
  } else {
    out = absl::StrCat("{\"time\":\"", when, "\",\"level\":\"", LevelName(level), "\",\"msg\":");
    AppendJsonString(&out, msg);
    for (const LogField& field : fields) {
      out.push_back(',');
      AppendJsonString(&out, field.key);
      out.push_back(':');
      AppendJsonString(&out, field.value);
    }
    out.push_back('}');
  }
  out.push_back('\n');
  return out;
}

void WriteLogLine(LogLevel level, absl::string_view msg) {
  WriteToStderr(FormatLogLine(GetLogFormat(), level, absl::Now(), msg));
}

void WriteLogLine(LogLevel level, absl::string_view msg, absl::Span<const LogField> fields) {
  WriteToStderr(FormatLogLine(GetLogFormat(), level, absl::Now(), msg, fields));
}

void LogWithFields(LogLevel level, absl::string_view msg, absl::Span<const LogField> fields) {
  if (LogEnabled(level)) WriteLogLine(level, msg, fields);
}

LogRateLimit::LogRateLimit(absl::Duration period, std::function<absl::Time()> now)
    : period_(period), now_(std::move(now)) {}

bool LogRateLimit::Allow(absl::string_view key, uint64_t* suppressed) {
  const absl::Time now = now_();
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    if (entries_.size() >= kMaxKeys) {
      absl::erase_if(entries_, [&](const auto& entry) {
        return now - entry.second.last_written >= period_;
      });
    }
    // Still full: every tracked key is within its period; share one entry.
    absl::string_view slot = entries_.size() >= kMaxKeys ? absl::string_view("\0overflow", 9) : key;
    it = entries_.find(slot);
    if (it == entries_.end()) {
      entries_.emplace(slot, Entry{now, 0});
      *suppressed = 0;
      return true;
    }
  }
  Entry& entry = it->second;
  if (now - entry.last_written < period_) {
    ++entry.suppressed;
    return false;
  }
  *suppressed = entry.suppressed;
  entry = Entry{now, 0};
  return true;
}

std::string WithSuppressedCount(std::string line, uint64_t suppressed) {
  if (suppressed > 0) absl::StrAppend(&line, " (", suppressed, " more like this)");
  return line;
}

}  // namespace strait
