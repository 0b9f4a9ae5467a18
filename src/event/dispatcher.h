#ifndef STRAIT_EVENT_DISPATCHER_H_
#define STRAIT_EVENT_DISPATCHER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <map>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"

struct event_base;
struct event;

namespace strait::event {

class Timer;

// Something whose destruction must wait until the current callback has
// unwound: handed to Dispatcher::DeferredDelete.
class Deletable {
 public:
  virtual ~Deletable() = default;
};

// One event loop. Created by its owner thread, then driven by exactly one
// thread (the loop thread) through Run(). Everything here except Post() is
// loop-thread-only. The only code in strait that knows the event library.
class Dispatcher {
 public:
  Dispatcher();
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Runs until Exit(). The calling thread becomes the loop thread.
  void Run();
  // Makes Run() return after the current turn.
  void Exit();
  // Posts a functor to run on the loop thread. Safe from any thread.
  void Post(std::function<void()> fn);
  // Runs what was posted so far, on the calling thread: for the loop thread
  // once Run() has returned, so that nothing posted before is lost.
  void RunPostedNow() { RunPosted(); }
  // Frees `object` on the next loop turn, after every callback that might
  // still reference it has returned.
  void DeferredDelete(std::unique_ptr<Deletable> object);
  bool IsLoopThread() const { return std::this_thread::get_id() == loop_thread_; }
  // The one clock behind strait's deadlines, budgets and timers: monotonic
  // (CLOCK_MONOTONIC as an absl::Time, meaningful only in differences), so a
  // step of the wall clock neither stretches nor drains anything.
  absl::Time Now() const { return manual_clock_ ? manual_now_ : MonotonicNow(); }
  static absl::Time MonotonicNow();

  // Tests: from now on Now() reads a manual clock that starts at `start` and
  // moves only through AdvanceClockForTest(), and every Timer of this
  // dispatcher runs on it instead of the event library's clock. Call before
  // any timer is armed; loop-thread-only.
  void UseManualClockForTest(absl::Time start);
  // Moves the manual clock forward by `by`, running each timer that falls
  // due on the way at its own due time, in order (a callback may arm more).
  void AdvanceClockForTest(absl::Duration by);
  // Runs one non-blocking turn of the loop: ready I/O, deferred calls and
  // deferred deletes. For tests that drive the loop by hand.
  void RunOnceForTest();

  // For FileEvent, Timer and DeferredCall only.
  event_base* base() { return base_; }

 private:
  friend class Timer;
  void RunPosted();
  void ClearDeferred();

  event_base* base_;
  int wake_fd_;            // eventfd written by Post()
  ::event* wake_event_;
  ::event* clear_deferred_;  // activated when to_delete_ is non-empty
  std::thread::id loop_thread_;
  bool manual_clock_ = false;
  absl::Time manual_now_;
  // Timers armed on the manual clock, by due time (equal times fire in
  // arming order), and where each one is: the Timer itself stays as small
  // as without a manual clock (a stream has five).
  std::multimap<absl::Time, Timer*> manual_timers_;
  absl::flat_hash_map<Timer*, std::multimap<absl::Time, Timer*>::iterator> manual_armed_;
  std::vector<std::unique_ptr<Deletable>> to_delete_;
  std::mutex mu_;
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
};

// Readiness callbacks for one file descriptor (level-triggered). Owned by the
// object that owns the fd; loop-thread-only.
class FileEvent {
 public:
  enum Ready : uint32_t { kRead = 1, kWrite = 2 };
  FileEvent(Dispatcher& dispatcher, int fd, std::function<void(uint32_t)> cb);
  ~FileEvent();
  FileEvent(const FileEvent&) = delete;
  FileEvent& operator=(const FileEvent&) = delete;
  // Which readiness to watch for.
  void SetInterest(bool read, bool write);

 private:
  ::event* read_;
  ::event* write_;
  bool reading_ = false;
  bool writing_ = false;
  std::function<void(uint32_t)> cb_;
};

// A one-shot timer, re-armable. Loop-thread-only. The event is made on first
// Arm(): most per-stream timers are never armed.
class Timer {
 public:
  Timer(Dispatcher& dispatcher, std::function<void()> cb);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  void Arm(absl::Duration after);
  void Disarm();
  bool armed() const;

 private:
  friend class Dispatcher;

  Dispatcher& dispatcher_;
  ::event* ev_ = nullptr;
  // Set by Arm, cleared when it fires or is disarmed: most streams disarm
  // timers that were never armed, which then costs nothing.
  bool pending_ = false;
  std::function<void()> cb_;
};

// A callback to run later in the current loop turn, once however often it is
// scheduled (e.g. "flush this connection's output"). Loop-thread-only.
class DeferredCall {
 public:
  DeferredCall(Dispatcher& dispatcher, std::function<void()> cb);
  ~DeferredCall();
  DeferredCall(const DeferredCall&) = delete;
  DeferredCall& operator=(const DeferredCall&) = delete;
  void Schedule();
  void Cancel();

 private:
  ::event* ev_;
  bool scheduled_ = false;
  std::function<void()> cb_;
};

}  // namespace strait::event

#endif  // STRAIT_EVENT_DISPATCHER_H_
