#ifndef STRAIT_CONFIG_FILE_WATCHER_H_
#define STRAIT_CONFIG_FILE_WATCHER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace strait::config {

// What a FileWatcher may do besides reporting changes. Every field is
// optional.
struct FileWatcherOptions {
  // Lowercase hex SHA-256 (Sha256Hex) of the content the caller has already
  // loaded. When set, any other content is a change, even one made before
  // Start: nothing between the caller's read and Start is missed. When empty,
  // the content found at Start is the baseline (a file missing at Start is
  // changed by appearing).
  std::string loaded_sha256;
  // Called on the watcher's thread when, after an event, the file cannot be
  // read (NotFound while it is missing, e.g. between a delete and its
  // re-creation; PermissionDenied; ...) or its directory stops being
  // watched. Once per distinct error, not on every event; the watcher keeps
  // going and reports the next change.
  std::function<void(const absl::Status& status)> on_error;
  // For tests: called on the watcher's thread after each settled look at
  // the file, changed or not, so a test can tell that an event was seen and
  // judged without waiting for a while.
  std::function<void()> on_checked;
};

// Watches one file (Traefik's `watch`) and calls back with its new content
// when the content changes: a SHA-256 of the bytes is compared with the last
// one seen, so touches and rewrites with identical bytes are not changes. A
// missing file is not a change either; its reappearance may be.
//
// It watches the file's directory, not the file's inode, so every way of
// replacing a file is seen: an in-place write, a temporary file renamed
// over it, delete and re-create, and Kubernetes ConfigMap mounts (the file
// is a symlink `strait.yaml -> ..data/strait.yaml` and `..data` is a symlink
// swapped by rename to a new directory). The path is resolved again after
// every change, and the directory the symlink chain ends in is watched too,
// so editing a symlink's target in another directory is seen. (Symlinks in
// the directories above the file's own are not watched.) If the directory
// itself is removed or moved away, the watcher reports it through on_error
// and watches it again once it is back.
//
// Bursts of events are coalesced: the file is read once its directory has
// been quiet for a short settle time (at most about a second after the
// first event when a neighbour keeps writing).
//
// Owned by its creator (the control plane) through the unique_ptr Start
// returns. Start, Stop and the destructor are called from one thread that
// is not the watcher's own (never from inside a callback). Callbacks run on
// the watcher's own thread, one at a time, until Stop returns.
class FileWatcher {
 public:
  // Receives the new content exactly as it was hashed, so the caller parses
  // the bytes that were judged changed.
  using ChangeCallback = std::function<void(const std::string& content)>;

  // Starts watching `path`. Fails, naming the path, when its directory
  // cannot be watched (missing, not a directory, out of inotify watches).
  static absl::StatusOr<std::unique_ptr<FileWatcher>> Start(std::string path,
                                                            ChangeCallback on_change,
                                                            FileWatcherOptions options = {});

  // Stop().
  ~FileWatcher();

  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Wakes the watcher's thread and joins it: prompt even in the middle of a
  // settle, and waits for a callback in progress. No callback starts after
  // Stop returns. Idempotent.
  void Stop();

  const std::string& path() const { return path_; }

 private:
  FileWatcher(std::string path, ChangeCallback on_change, FileWatcherOptions options,
              int inotify_fd, int stop_fd, int dir_wd);

  // The watcher thread's loop: poll, coalesce, Check, until Stop.
  void Run();
  // Reads every queued inotify event; true when any was seen.
  bool ReadEvents();
  // Reads and hashes the file; calls on_change_ when the hash differs from
  // the last one seen.
  void Check();
  // Watches the directory the path's symlinks end in, when it is not dir_.
  void FollowTarget();
  // Watches dir_ again after it was removed or moved; true when it is back.
  bool RewatchDirectory();
  void ReportError(const absl::Status& status);

  const std::string path_;
  // The directory holding path_, as path_ names it ("." for a bare name).
  const std::string dir_;
  const ChangeCallback on_change_;
  const FileWatcherOptions options_;
  // Owned; closed by the destructor.
  const int inotify_fd_;
  // eventfd written by Stop to wake poll(); owned.
  const int stop_fd_;

  // Everything below is the watcher thread's alone once Start returns.

  // inotify watch of dir_; -1 while the directory is gone.
  int dir_wd_;
  // Watch of the directory path_ resolves into, when it differs from dir_
  // (a symlink into another directory); -1 when there is none.
  int target_wd_ = -1;
  // That directory's real path; empty when not known yet.
  std::string target_dir_;
  // Hex SHA-256 of the content last reported (or the baseline).
  std::string last_sha256_;
  // The error last reported, so it is reported once until it changes.
  std::optional<absl::Status> last_error_;

  std::thread thread_;
};

}  // namespace strait::config

#endif  // STRAIT_CONFIG_FILE_WATCHER_H_
