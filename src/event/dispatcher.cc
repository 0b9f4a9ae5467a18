#include "event/dispatcher.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cassert>
#include <cstdint>
#include <cstdlib>
#include <algorithm>

#include "absl/time/clock.h"

namespace strait::event {
namespace {

timeval DurationToTimeval(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = absl::ZeroDuration();
  return absl::ToTimeval(d);
}

}  // namespace

Dispatcher::Dispatcher() : loop_thread_(std::this_thread::get_id()) {
  base_ = event_base_new();
  if (base_ == nullptr) std::abort();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) std::abort();
  wake_event_ = event_new(
      base_, wake_fd_, EV_READ | EV_PERSIST,
      [](evutil_socket_t fd, short, void* self) {
        uint64_t n;
        while (read(fd, &n, sizeof n) > 0) {
        }
        static_cast<Dispatcher*>(self)->RunPosted();
      },
      this);
  event_add(wake_event_, nullptr);
  clear_deferred_ = event_new(
      base_, -1, 0,
      [](evutil_socket_t, short, void* self) {
        static_cast<Dispatcher*>(self)->ClearDeferred();
      },
      this);
}

Dispatcher::~Dispatcher() {
  ClearDeferred();
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.clear();
  }
  event_free(clear_deferred_);
  event_free(wake_event_);
  close(wake_fd_);
  event_base_free(base_);
}

void Dispatcher::Run() {
  loop_thread_ = std::this_thread::get_id();
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
  ClearDeferred();
}

void Dispatcher::Exit() { event_base_loopbreak(base_); }

void Dispatcher::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void Dispatcher::RunPosted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

void Dispatcher::DeferredDelete(std::unique_ptr<Deletable> object) {
  if (to_delete_.empty()) event_active(clear_deferred_, 0, 0);
  to_delete_.push_back(std::move(object));
}

void Dispatcher::ClearDeferred() {
  // Destructors may defer more deletes; keep going until none are left.
  while (!to_delete_.empty()) {
    std::vector<std::unique_ptr<Deletable>> batch;
    batch.swap(to_delete_);
    batch.clear();
  }
}

void Dispatcher::UseManualClockForTest(absl::Time start) {
  manual_clock_ = true;
  manual_now_ = start;
}

void Dispatcher::AdvanceClockForTest(absl::Duration by) {
  absl::Time until = manual_now_ + by;
  while (!manual_timers_.empty() && manual_timers_.begin()->first <= until) {
    auto [due, timer] = *manual_timers_.begin();
    manual_timers_.erase(manual_timers_.begin());
    manual_armed_.erase(timer);
    timer->pending_ = false;
    manual_now_ = std::max(manual_now_, due);
    timer->cb_();
  }
  manual_now_ = until;
}

void Dispatcher::RunOnceForTest() {
  loop_thread_ = std::this_thread::get_id();
  event_base_loop(base_, EVLOOP_NONBLOCK);
}

absl::Time Dispatcher::MonotonicNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

FileEvent::FileEvent(Dispatcher& dispatcher, int fd,
                     std::function<void(uint32_t)> cb)
    : cb_(std::move(cb)) {
  auto on_ready = [](evutil_socket_t, short what, void* self) {
    uint32_t ready = 0;
    if (what & EV_READ) ready |= kRead;
    if (what & EV_WRITE) ready |= kWrite;
    static_cast<FileEvent*>(self)->cb_(ready);
  };
  read_ = event_new(dispatcher.base(), fd, EV_READ | EV_PERSIST, on_ready, this);
  write_ = event_new(dispatcher.base(), fd, EV_WRITE | EV_PERSIST, on_ready, this);
}

FileEvent::~FileEvent() {
  event_free(read_);
  event_free(write_);
}

void FileEvent::SetInterest(bool read, bool write) {
  if (read != reading_) {
    read ? event_add(read_, nullptr) : event_del(read_);
    reading_ = read;
  }
  if (write != writing_) {
    write ? event_add(write_, nullptr) : event_del(write_);
    writing_ = write;
  }
}

Timer::Timer(Dispatcher& dispatcher, std::function<void()> cb)
    : dispatcher_(dispatcher), cb_(std::move(cb)) {}

Timer::~Timer() {
  if (pending_ && dispatcher_.manual_clock_) Disarm();
  if (ev_ != nullptr) event_free(ev_);  // deletes a pending event too
}

void Timer::Arm(absl::Duration after) {
  if (dispatcher_.manual_clock_) {
    Disarm();
    auto it = dispatcher_.manual_timers_.emplace(
        dispatcher_.manual_now_ + std::max(after, absl::ZeroDuration()), this);
    dispatcher_.manual_armed_[this] = it;
    pending_ = true;
    return;
  }
  if (ev_ == nullptr) {
    ev_ = evtimer_new(
        dispatcher_.base(),
        [](evutil_socket_t, short, void* self) {
          auto* timer = static_cast<Timer*>(self);
          timer->pending_ = false;
          timer->cb_();
        },
        this);
  }
  timeval tv = DurationToTimeval(after);
  evtimer_add(ev_, &tv);
  pending_ = true;
}

void Timer::Disarm() {
  if (!pending_) return;
  pending_ = false;
  if (dispatcher_.manual_clock_) {
    auto it = dispatcher_.manual_armed_.find(this);
    if (it != dispatcher_.manual_armed_.end()) {
      dispatcher_.manual_timers_.erase(it->second);
      dispatcher_.manual_armed_.erase(it);
    }
    return;
  }
  evtimer_del(ev_);
}

bool Timer::armed() const { return pending_; }

DeferredCall::DeferredCall(Dispatcher& dispatcher, std::function<void()> cb)
    : cb_(std::move(cb)) {
  ev_ = event_new(
      dispatcher.base(), -1, 0,
      [](evutil_socket_t, short, void* arg) {
        auto* self = static_cast<DeferredCall*>(arg);
        self->scheduled_ = false;
        self->cb_();
      },
      this);
}

DeferredCall::~DeferredCall() { event_free(ev_); }

void DeferredCall::Schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  event_active(ev_, 0, 0);
}

void DeferredCall::Cancel() {
  if (!scheduled_) return;
  scheduled_ = false;
  event_del(ev_);
}

}  // namespace strait::event
