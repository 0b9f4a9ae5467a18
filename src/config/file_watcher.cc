#include "config/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "config/loader.h"
#include "config/state_file.h"

namespace strait::config {
namespace {

using Clock = std::chrono::steady_clock;

// Every event that can mean the watched name now points at other bytes:
// written in place (MODIFY, CLOSE_WRITE), renamed over (MOVED_TO), created,
// deleted or renamed away (then we wait for it to come back), or a symlink
// swapped by rename (ConfigMap's `..data`: MOVED_TO in the directory). ATTRIB
// covers a chmod that makes an unreadable file readable again. DELETE_SELF
// and MOVE_SELF tell us the directory itself went away.
constexpr uint32_t kEventMask = IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM |
                                IN_CREATE | IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_ONLYDIR;

// Quiet time after the last event before the file is read: a writer's
// truncate, writes and close (or a tool's write-then-rename) arrive as one
// burst and are judged once, when complete.
constexpr auto kSettle = std::chrono::milliseconds(50);
// A neighbour that writes constantly must not postpone the look forever.
constexpr auto kMaxSettle = std::chrono::seconds(1);
// While the directory itself is gone, how often to try watching it again.
constexpr auto kRewatchInterval = std::chrono::seconds(1);

// The directory holding `path`, as a path to open.
std::string DirectoryOf(const std::string& path) {
  std::filesystem::path p(path);
  return p.has_parent_path() ? p.parent_path().string() : ".";
}

int PollTimeoutMs(Clock::time_point now, Clock::time_point deadline) {
  if (deadline <= now) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
  return static_cast<int>(std::min<int64_t>(ms, INT_MAX));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FileWatcher>> FileWatcher::Start(std::string path,
                                                                ChangeCallback on_change,
                                                                FileWatcherOptions options) {
  if (path.empty()) return absl::InvalidArgumentError("file watcher: empty path");
  int inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat(path, ": inotify_init1"));
  int stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop_fd < 0) {
    int error = errno;
    close(inotify_fd);
    return absl::ErrnoToStatus(error, absl::StrCat(path, ": eventfd"));
  }
  const std::string dir = DirectoryOf(path);
  // The watch exists before the baseline is read below, so a change right
  // after that read is an event, never lost.
  int dir_wd = inotify_add_watch(inotify_fd, dir.c_str(), kEventMask);
  if (dir_wd < 0) {
    int error = errno;
    close(stop_fd);
    close(inotify_fd);
    return absl::ErrnoToStatus(error, absl::StrCat(path, ": inotify_add_watch ", dir));
  }
  std::unique_ptr<FileWatcher> watcher(new FileWatcher(
      std::move(path), std::move(on_change), std::move(options), inotify_fd, stop_fd, dir_wd));
  watcher->FollowTarget();
  const bool check_now = !watcher->options_.loaded_sha256.empty();
  if (check_now) {
    watcher->last_sha256_ = watcher->options_.loaded_sha256;
  } else if (absl::StatusOr<std::string> content = ReadFileBytes(watcher->path_); content.ok()) {
    watcher->last_sha256_ = Sha256Hex(*content);
  }
  FileWatcher* self = watcher.get();
  watcher->thread_ = std::thread([self, check_now] {
    // What the caller loaded may already be stale.
    if (check_now) self->Check();
    self->Run();
  });
  return watcher;
}

FileWatcher::FileWatcher(std::string path, ChangeCallback on_change, FileWatcherOptions options,
                         int inotify_fd, int stop_fd, int dir_wd)
    : path_(std::move(path)),
      dir_(DirectoryOf(path_)),
      on_change_(std::move(on_change)),
      options_(std::move(options)),
      inotify_fd_(inotify_fd),
      stop_fd_(stop_fd),
      dir_wd_(dir_wd) {}

FileWatcher::~FileWatcher() {
  Stop();
  close(stop_fd_);
  close(inotify_fd_);
}

void FileWatcher::Stop() {
  if (!thread_.joinable()) return;
  // Joining itself would deadlock: Stop from a callback is a caller bug.
  assert(std::this_thread::get_id() != thread_.get_id());
  uint64_t one = 1;
  // Cannot fail short of a bad fd: the counter is far from overflowing.
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof(one));
  thread_.join();
}

void FileWatcher::Run() {
  bool pending = false;
  Clock::time_point first_event{};
  Clock::time_point deadline{};
  Clock::time_point next_rewatch = Clock::now() + kRewatchInterval;
  for (;;) {
    Clock::time_point now = Clock::now();
    int timeout_ms = -1;
    if (pending) timeout_ms = PollTimeoutMs(now, deadline);
    if (dir_wd_ < 0) {
      int rewatch_ms = PollTimeoutMs(now, next_rewatch);
      timeout_ms = timeout_ms < 0 ? rewatch_ms : std::min(timeout_ms, rewatch_ms);
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, timeout_ms) < 0) {
      if (errno == EINTR) continue;
      // Only a bad fd or no memory: nothing more can be watched.
      ReportError(absl::ErrnoToStatus(errno, absl::StrCat(path_, ": poll")));
      return;
    }
    if (fds[1].revents != 0) return;  // Stop
    now = Clock::now();
    bool event = (fds[0].revents & POLLIN) != 0 && ReadEvents();
    if (dir_wd_ < 0 && now >= next_rewatch) {
      next_rewatch = now + kRewatchInterval;
      // Back: whatever it holds now may be new.
      event = RewatchDirectory() || event;
    }
    if (event) {
      if (!pending) first_event = now;
      pending = true;
      deadline = std::min(now + kSettle, first_event + kMaxSettle);
    }
    if (pending && Clock::now() >= deadline) {
      pending = false;
      Check();
    }
  }
}

bool FileWatcher::ReadEvents() {
  bool seen = false;
  alignas(inotify_event) char buffer[16 * 1024];
  for (;;) {
    ssize_t n = read(inotify_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return seen;  // EAGAIN: drained
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      // IN_Q_OVERFLOW (wd -1) lost events of ours: looking again covers it.
      seen = true;
      if (event->wd == dir_wd_ && (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
        // A moved directory keeps its watch under another name: drop it.
        inotify_rm_watch(inotify_fd_, dir_wd_);
        dir_wd_ = -1;
        ReportError(absl::NotFoundError(absl::StrCat(
            path_, ": directory ", dir_, " was removed or moved; waiting for it to come back")));
      } else if ((event->mask & IN_IGNORED) != 0) {
        if (event->wd == dir_wd_) dir_wd_ = -1;
        if (event->wd == target_wd_) {
          target_wd_ = -1;
          target_dir_.clear();
        }
      }
    }
  }
}

bool FileWatcher::RewatchDirectory() {
  int wd = inotify_add_watch(inotify_fd_, dir_.c_str(), kEventMask);
  if (wd < 0) return false;
  dir_wd_ = wd;
  // The target directory may be this very inode: its watch is dir_'s now.
  if (target_wd_ == wd) target_wd_ = -1;
  target_dir_.clear();
  return true;
}

void FileWatcher::Check() {
  absl::StatusOr<std::string> content = ReadFileBytes(path_);
  FollowTarget();
  if (!content.ok()) {
    // Missing or unreadable is not a change: wait for the next event.
    ReportError(content.status());
  } else {
    last_error_.reset();
    std::string sha256 = Sha256Hex(*content);
    if (sha256 != last_sha256_) {
      last_sha256_ = std::move(sha256);
      on_change_(*content);
    }
  }
  if (options_.on_checked) options_.on_checked();
}

void FileWatcher::FollowTarget() {
  char* resolved = realpath(path_.c_str(), nullptr);
  if (resolved == nullptr) return;  // missing for now: keep what we watch
  std::string dir = DirectoryOf(resolved);
  free(resolved);
  if (dir == target_dir_) return;
  int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kEventMask);
  if (wd < 0) return;  // tried again after the next event
  // The same inode as dir_ (a plain file, or a symlink within the directory)
  // gives dir_'s own watch back: never a second one to remove.
  if (target_wd_ >= 0 && target_wd_ != wd) inotify_rm_watch(inotify_fd_, target_wd_);
  target_wd_ = wd == dir_wd_ ? -1 : wd;
  target_dir_ = std::move(dir);
}

void FileWatcher::ReportError(const absl::Status& status) {
  if (last_error_.has_value() && *last_error_ == status) return;
  last_error_ = status;
  if (options_.on_error) options_.on_error(status);
}

}  // namespace strait::config
