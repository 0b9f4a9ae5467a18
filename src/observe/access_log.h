#ifndef STRAIT_OBSERVE_ACCESS_LOG_H_
#define STRAIT_OBSERVE_ACCESS_LOG_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace strait::observe {

// One finished RPC, as the access log writes it. Empty strings are fields
// the RPC did not have (no router matched, no traceparent header...).
struct AccessLogRecord {
  absl::Time start;  // when its request headers arrived
  std::string entry_point;
  std::string router;
  std::string service;
  std::string server;        // the server URL of the last attempt
  std::string authority;     // the request's :authority
  std::string method;        // the full :path, "/pkg.Svc/Method"
  int grpc_status = 0;       // 0..16, the status the client got
  std::string grpc_message;  // decoded (not percent-encoded)
  absl::Duration duration;   // to the end of the stream
  // To the response headers; absl::InfiniteDuration() if none were sent
  // upstream's way (written as null / "-").
  absl::Duration time_to_first_byte = absl::InfiniteDuration();
  uint64_t request_bytes = 0;   // gRPC message bytes, client to server
  uint64_t response_bytes = 0;  // and back
  int retries = 0;              // attempts after the first
  std::string peer;             // the client's address, "10.0.0.7:51234"
  std::string traceparent;      // W3C trace context header, as received
  std::string x_request_id;     // x-request-id header, as received
};

// One JSON object on one line (no "\n"), every field always present:
// {"time":"2026-12-02T07:40:00.123456Z","entry_point":...,"method":...,
//  "grpc_status":"UNAVAILABLE","grpc_code":14,"grpc_message":...,
//  "duration_seconds":0.0123,"time_to_first_byte_seconds":0.001 (or null),
//  "request_bytes":..,"response_bytes":..,"retries":..,"peer":..,
//  "traceparent":..,"x_request_id":..}. Strings are escaped whatever bytes
// peers sent (invalid UTF-8 becomes U+FFFD).
std::string FormatJson(const AccessLogRecord& record);
// The same fields as key=value pairs on one line (values with spaces,
// quotes or non-ASCII bytes double-quoted and C-escaped; durations as
// "12.3ms", "-" for a time_to_first_byte that never came).
std::string FormatText(const AccessLogRecord& record);

enum class AccessLogFormat {
  kJson,  // FormatJson
  kText,  // FormatText
};

// The access log: one line per finished RPC, written without ever blocking
// a worker. Each worker gets a Producer, a bounded single-producer /
// single-consumer ring of records; one writer thread drains every ring every
// `drain_interval`, formats the records and appends them to the file. A
// worker whose ring is full drops the record and counts it (dropped()).
//
// Threads: the AccessLog is created and destroyed by the server's main
// thread; each Producer is used by exactly one worker thread; the writer
// thread is the only other thread that touches a ring. Reopen() is
// async-signal-safe; everything else here may be called from any thread.
class AccessLog {
 public:
  struct Options {
    std::string path;  // appended to (created 0644); "-" for stdout
    AccessLogFormat format = AccessLogFormat::kJson;
    // The fraction of RPCs logged, (0, 1]: every round(1 / sampling)-th on
    // average, decided by each Producer with a counter (deterministic).
    double sampling = 1;
    // Records each Producer holds before it drops: at 20 ms per drain, 4096
    // lines per worker is 200,000 RPCs per second per worker.
    size_t buffer_lines = 4096;
    absl::Duration drain_interval = absl::Milliseconds(20);
  };

  // The writing end of one worker. Not thread-safe: one worker only.
  class Producer {
   public:
    // True if this RPC is to be logged (advances the sampler). Ask before
    // building the record so unsampled RPCs cost nothing more.
    bool Sample();
    // Queues the record (moved in: no copy of its strings). Never blocks:
    // false if the ring was full and the record was dropped.
    bool Write(AccessLogRecord record);
    // Records this producer dropped; any thread.
    uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

   private:
    friend class AccessLog;
    Producer(size_t capacity, double sampling);
    // Writer thread: moves the queued records out (in order) to `out`.
    void Drain(std::vector<AccessLogRecord>* out);

    std::vector<AccessLogRecord> slots_;
    // Sampling in parts per million; credit_ accumulates it.
    const uint32_t rate_ppm_;
    uint32_t credit_ppm_ = 0;   // worker only
    uint64_t cached_head_ = 0;  // worker only: head_ as last seen
    // Counts of records ever written / ever drained; the ring holds
    // [head_, tail_). Apart, so the two threads do not share a cache line.
    alignas(64) std::atomic<uint64_t> tail_{0};     // written by the worker
    alignas(64) std::atomic<uint64_t> head_{0};     // written by the writer
    alignas(64) std::atomic<uint64_t> dropped_{0};  // written by the worker
  };

  // Opens the file (the error names the path) and starts the writer.
  static absl::StatusOr<std::unique_ptr<AccessLog>> Open(Options options);
  // Stops the writer after a last drain; Producers die with it.
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // A new ring, owned by the AccessLog; call once per worker.
  Producer* AddProducer();

  // Makes the writer reopen the path before its next drain (logrotate
  // moved the file; SIGUSR1). Only sets a flag: safe in a signal handler.
  // If the reopen fails the writer keeps the old file and logs why.
  void Reopen() { reopen_.store(true, std::memory_order_relaxed); }

  // Blocks until every record queued before the call is written to the
  // file (write(2) returned). Waits for ResumeWriter() if paused.
  void Flush();

  // Sum over producers of records dropped because a ring was full.
  uint64_t dropped() const;
  // Lines written to the file (write(2) took them all).
  uint64_t written() const { return written_.load(std::memory_order_relaxed); }

  // Tests: the writer finishes its drain and then drains no more until
  // ResumeWriter(), so rings fill up as behind a stalled disk.
  void PauseWriterForTest();
  void ResumeWriter();

 private:
  AccessLog(Options options, int fd);
  void Run();  // the writer thread
  void DrainLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes and empties `buffer`, which holds `*lines` lines (then 0).
  void WriteOut(std::string* buffer, uint64_t* lines) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WriterShouldWake() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WriterMayRun() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  std::atomic<bool> reopen_{false};
  std::atomic<uint64_t> written_{0};
  // The writer holds mu_ for a whole drain, so whoever holds mu_ knows no
  // drain is under way.
  mutable absl::Mutex mu_;
  int fd_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Producer>> producers_ ABSL_GUARDED_BY(mu_);
  uint64_t flush_requested_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t flush_done_ ABSL_GUARDED_BY(mu_) = 0;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
};

}  // namespace strait::observe

#endif  // STRAIT_OBSERVE_ACCESS_LOG_H_
