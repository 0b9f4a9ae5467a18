#include "observe/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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

constexpr char kTimeFormat[] = "%Y-%m-%dT%H:%M:%E6SZ";

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

void JsonField(std::string* out, absl::string_view key, absl::string_view value) {
  absl::StrAppend(out, ",\"", key, "\":");
  AppendJsonString(out, value);
}

void TextField(std::string* out, absl::string_view key, absl::string_view value) {
  absl::StrAppend(out, " ", key, "=");
  AppendTextLogValue(out, value);
}

void AppendJson(const AccessLogRecord& r, std::string* out) {
  absl::StrAppend(out, "{\"time\":\"", absl::FormatTime(kTimeFormat, r.start, absl::UTCTimeZone()),
                  "\"");
  JsonField(out, "entry_point", r.entry_point);
  JsonField(out, "router", r.router);
  JsonField(out, "service", r.service);
  JsonField(out, "server", r.server);
  JsonField(out, "authority", r.authority);
  JsonField(out, "method", r.method);
  JsonField(out, "grpc_status", StatusName(r.grpc_status));
  absl::StrAppend(out, ",\"grpc_code\":", r.grpc_status);
  JsonField(out, "grpc_message", r.grpc_message);
  absl::StrAppend(out, ",\"duration_seconds\":", Seconds(r.duration),
                  ",\"time_to_first_byte_seconds\":",
                  r.time_to_first_byte == absl::InfiniteDuration() ? "null"
                                                                   : Seconds(r.time_to_first_byte),
                  ",\"request_bytes\":", r.request_bytes, ",\"response_bytes\":", r.response_bytes,
                  ",\"retries\":", r.retries);
  JsonField(out, "peer", r.peer);
  JsonField(out, "traceparent", r.traceparent);
  JsonField(out, "x_request_id", r.x_request_id);
  out->push_back('}');
}

void AppendText(const AccessLogRecord& r, std::string* out) {
  absl::StrAppend(out, "time=", absl::FormatTime(kTimeFormat, r.start, absl::UTCTimeZone()));
  TextField(out, "entry_point", r.entry_point);
  TextField(out, "router", r.router);
  TextField(out, "service", r.service);
  TextField(out, "server", r.server);
  TextField(out, "authority", r.authority);
  TextField(out, "method", r.method);
  TextField(out, "grpc_status", StatusName(r.grpc_status));
  absl::StrAppend(out, " grpc_code=", r.grpc_status);
  TextField(out, "grpc_message", r.grpc_message);
  absl::StrAppend(out, " duration=", absl::FormatDuration(r.duration), " ttfb=",
                  r.time_to_first_byte == absl::InfiniteDuration()
                      ? "-"
                      : absl::FormatDuration(r.time_to_first_byte),
                  " request_bytes=", r.request_bytes, " response_bytes=", r.response_bytes,
                  " retries=", r.retries);
  TextField(out, "peer", r.peer);
  TextField(out, "traceparent", r.traceparent);
  TextField(out, "x_request_id", r.x_request_id);
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
      STRAIT_LOG_EVERY("", absl::Seconds(10), kError, "access log: cannot reopen ",
                       options_.path, ": ", std::strerror(errno), "; still writing the old file");
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
      STRAIT_LOG_EVERY("", absl::Seconds(10), kError, "access log: cannot write ",
                       options_.path, ": ", std::strerror(errno), "; lines lost");
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (done == buffer->size()) written_.fetch_add(*lines, std::memory_order_relaxed);
  buffer->clear();
  *lines = 0;
}

}  // namespace strait::observe
