#include "observe/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "common/log.h"
#include "h2/grpc.h"

namespace strait::observe {
namespace {

absl::string_view StatusName(int code) {
  return h2::GrpcStatusName(static_cast<h2::GrpcStatus>(code));
}

// Seconds in the shortest form that reads back exactly ("0.0123").
std::string Seconds(absl::Duration duration) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer),
                                    absl::ToDoubleSeconds(duration), std::chars_format::general);
  return std::string(buffer, result.ptr);
}

// Calls `writer` for every field of `r`, in the order both formats use:
// one list of fields for JSON and text alike.
template <typename Writer>
void ForEachField(const AccessLogRecord& r, Writer& writer) {
  writer.String("entry_point", r.entry_point);
  writer.String("router", r.router);
  writer.String("service", r.service);
  writer.String("server", r.server);
  writer.String("authority", r.authority);
  writer.String("method", r.method);
  writer.String("grpc_status", StatusName(r.grpc_status));
  writer.Number("grpc_code", r.grpc_status);
  writer.String("grpc_message", r.grpc_message);
  writer.Duration("duration", r.duration);
  writer.Duration("time_to_first_byte", r.time_to_first_byte);
  writer.Number("request_bytes", r.request_bytes);
  writer.Number("response_bytes", r.response_bytes);
  writer.Number("retries", r.retries);
  writer.String("peer", r.peer);
  writer.String("traceparent", r.traceparent);
  writer.String("x_request_id", r.x_request_id);
}

struct JsonWriter {
  void String(absl::string_view key, absl::string_view value) {
    absl::StrAppend(out, ",\"", key, "\":");
    AppendJsonString(out, value);
  }
  void Number(absl::string_view key, uint64_t value) {
    absl::StrAppend(out, ",\"", key, "\":", value);
  }
  // "duration_seconds":0.0123, or null when infinite (never happened).
  void Duration(absl::string_view key, absl::Duration value) {
    absl::StrAppend(out, ",\"", key,
                    "_seconds\":", value == absl::InfiniteDuration() ? "null" : Seconds(value));
  }
  std::string* out;
};

struct TextWriter {
  void String(absl::string_view key, absl::string_view value) {
    absl::StrAppend(out, " ", key, "=");
    AppendTextLogValue(out, value);
  }
  void Number(absl::string_view key, uint64_t value) { absl::StrAppend(out, " ", key, "=", value); }
  // duration=12.3ms, or "-" when infinite.
  void Duration(absl::string_view key, absl::Duration value) {
    absl::StrAppend(out, " ", key, "=",
                    value == absl::InfiniteDuration() ? "-" : absl::FormatDuration(value));
  }
  std::string* out;
};

// `t` in UTC to the microsecond ("2026-12-02T07:40:00.123456Z"), formatting the
// date and time only when the second changes: lines come in bursts, and
// absl::FormatTime is the most expensive part of a line.
void AppendTime(absl::Time t, std::string* out) {
  thread_local int64_t cached_second = INT64_MIN;
  thread_local std::string cached;  // "2026-12-02T07:40:00"
  const int64_t micros = absl::ToUnixMicros(t);
  int64_t second = micros / 1000000;
  int64_t fraction = micros % 1000000;
  if (fraction < 0) {  // before 1970
    fraction += 1000000;
    --second;
  }
  if (second != cached_second) {
    cached = absl::FormatTime("%Y-%m-%dT%H:%M:%S", absl::FromUnixSeconds(second),
                              absl::UTCTimeZone());
    cached_second = second;
  }
  char digits[8];
  snprintf(digits, sizeof digits, ".%06d", static_cast<int>(fraction));
  absl::StrAppend(out, cached, digits, "Z");
}

void AppendJson(const AccessLogRecord& r, std::string* out) {
  out->append("{\"time\":\"");
  AppendTime(r.start, out);
  out->push_back('"');
  JsonWriter writer{out};
  ForEachField(r, writer);
  out->push_back('}');
}

void AppendText(const AccessLogRecord& r, std::string* out) {
  out->append("time=");
  AppendTime(r.start, out);
  TextWriter writer{out};
  ForEachField(r, writer);
}

int OpenForAppend(const std::string& path) {
  if (path == "-") return STDOUT_FILENO;
  return open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

// Past this the writer writes what it has formatted before going on.
constexpr size_t kWriteChunk = 64 * 1024;

}  // namespace

std::string FormatJson(const AccessLogRecord& record) {
  std::string out;
  AppendJson(record, &out);
  return out;
}

std::string FormatText(const AccessLogRecord& record) {
  std::string out;
  AppendText(record, &out);
  return out;
}

// Producer

AccessLog::Producer::Producer(size_t capacity, double sampling)
    : slots_(capacity),
      rate_ppm_(static_cast<uint32_t>(std::lround(std::clamp(sampling, 0.0, 1.0) * 1e6))) {}

bool AccessLog::Producer::Sample() {
  credit_ppm_ += rate_ppm_;
  if (credit_ppm_ < 1000000) return false;
  credit_ppm_ -= 1000000;
  return true;
}

bool AccessLog::Producer::Write(AccessLogRecord record) {
  const uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail - cached_head_ == slots_.size()) {
    cached_head_ = head_.load(std::memory_order_acquire);
    if (tail - cached_head_ == slots_.size()) {
      // Only this thread writes dropped_: no read-modify-write needed.
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return false;
    }
  }
  slots_[tail % slots_.size()] = std::move(record);
  tail_.store(tail + 1, std::memory_order_release);
  return true;
}

void AccessLog::Producer::Drain(std::vector<AccessLogRecord>* out) {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  const uint64_t tail = tail_.load(std::memory_order_acquire);
  for (uint64_t i = head; i < tail; ++i) out->push_back(std::move(slots_[i % slots_.size()]));
  head_.store(tail, std::memory_order_release);
}

// AccessLog

absl::StatusOr<std::unique_ptr<AccessLog>> AccessLog::Open(Options options) {
  if (!(options.sampling > 0 && options.sampling <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("accessLog.sampling must be in (0, 1], got ", options.sampling));
  }
  if (options.buffer_lines == 0) {
    return absl::InvalidArgumentError("access log buffer_lines must be > 0");
  }
  const int fd = OpenForAppend(options.path);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("accessLog.path ", options.path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<AccessLog>(new AccessLog(std::move(options), fd));
}

AccessLog::AccessLog(Options options, int fd) : options_(std::move(options)), fd_(fd) {
  writer_ = std::thread([this] { Run(); });
}

AccessLog::~AccessLog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  writer_.join();
  absl::MutexLock lock(&mu_);
  if (fd_ != STDOUT_FILENO) close(fd_);
}

AccessLog::Producer* AccessLog::AddProducer() {
  absl::MutexLock lock(&mu_);
  producers_.push_back(
      std::unique_ptr<Producer>(new Producer(options_.buffer_lines, options_.sampling)));
  return producers_.back().get();
}

void AccessLog::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t ticket = ++flush_requested_;
  auto done = [this, ticket]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return flush_done_ >= ticket; };
  mu_.Await(absl::Condition(&done));
}

uint64_t AccessLog::dropped() const {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& producer : producers_) total += producer->dropped();
  return total;
}

void AccessLog::PauseWriterForTest() {
  absl::MutexLock lock(&mu_);
  paused_ = true;
}

void AccessLog::ResumeWriter() {
  absl::MutexLock lock(&mu_);
  paused_ = false;
}

bool AccessLog::WriterShouldWake() const {
  return stop_ || (!paused_ && flush_requested_ > flush_done_);
}

bool AccessLog::WriterMayRun() const { return stop_ || !paused_; }

void AccessLog::Run() {
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.AwaitWithTimeout(absl::Condition(this, &AccessLog::WriterShouldWake),
                         options_.drain_interval);
    mu_.Await(absl::Condition(this, &AccessLog::WriterMayRun));
    const uint64_t ticket = flush_requested_;
    DrainLocked();
    flush_done_ = ticket;
    if (stop_) return;
  }
}

void AccessLog::DrainLocked() {
  if (reopen_.exchange(false, std::memory_order_relaxed) && options_.path != "-") {
    const int fd = OpenForAppend(options_.path);
    if (fd < 0) {
      STRAIT_LOG_EVERY("", absl::Seconds(10), kError, "access log: cannot reopen ", options_.path,
                       ": ", std::strerror(errno), "; still writing the old file");
    } else {
      close(fd_);
      fd_ = fd;
    }
  }
  std::vector<AccessLogRecord> records;
  std::string buffer;
  uint64_t lines = 0;  // in buffer
  for (const auto& producer : producers_) {
    records.clear();
    producer->Drain(&records);
    for (const AccessLogRecord& record : records) {
      if (options_.format == AccessLogFormat::kJson) {
        AppendJson(record, &buffer);
      } else {
        AppendText(record, &buffer);
      }
      buffer.push_back('\n');
      ++lines;
      if (buffer.size() >= kWriteChunk) WriteOut(&buffer, &lines);
    }
  }
  WriteOut(&buffer, &lines);
}

void AccessLog::WriteOut(std::string* buffer, uint64_t* lines) {
  size_t done = 0;
  while (done < buffer->size()) {
    const ssize_t n = write(fd_, buffer->data() + done, buffer->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      STRAIT_LOG_EVERY("", absl::Seconds(10), kError, "access log: cannot write ", options_.path,
                       ": ", std::strerror(errno), "; lines lost");
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (done == buffer->size()) written_.fetch_add(*lines, std::memory_order_relaxed);
  buffer->clear();
  *lines = 0;
}

}  // namespace strait::observe
