#ifndef STRAIT_ADMIN_CONTROL_PLANE_H_
#define STRAIT_ADMIN_CONTROL_PLANE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "config/file_watcher.h"
#include "health/server_health.h"
#include "server/server.h"
#include "strait/admin/v1/admin.pb.h"
#include "strait/config/v1/config.pb.h"
#include "strait/config/v1/state.pb.h"

namespace strait::admin {

struct ControlPlaneOptions {
  // The base configuration (YAML or JSON).
  std::string config_path;
  // Where admin changes are persisted; empty: config::DefaultStatePath
  // beside the config; "off": not persisted.
  std::string state_path;
  // Reload the config file when its content changes (inotify).
  bool watch = true;
  server::ServerOptions server;
};

// A queue of Watch events for one subscriber (one Watch RPC). Bounded: a
// subscriber that falls more than kMaxPending events behind is closed with
// `overflowed()`, so that a stuck client never holds strait's memory; it
// reconnects and gets the current state again.
class WatchQueue {
 public:
  static constexpr size_t kMaxPending = 4096;

  // Adds `event` (any thread). False once closed.
  bool Push(const v1::WatchEvent& event);
  // Puts `events` in front of those queued (the current state, read after
  // the queue began to take live events).
  void Prepend(std::vector<v1::WatchEvent> events);
  // Waits up to `timeout` for an event; false if none came (or closed).
  bool Pop(v1::WatchEvent* event, absl::Duration timeout);
  void Close();
  bool closed() const;
  bool overflowed() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::WatchEvent> events_;
  bool closed_ = false;
  bool overflowed_ = false;
};

// The one owner of strait's running configuration and its version: every
// change — the config file at start, SIGHUP, an inotify change of the file,
// an admin RPC — goes through Apply(), which always does
//   validate → compile → hand to every worker and wait → persist → tell
//   watchers,
// serialized by one mutex, all or nothing. It owns the Server it
// configures, the file watcher and the Watch subscribers.
//
// Threads: thread-safe. Admin RPCs call it from gRPC's threads, main from
// its signal loop, the file watcher from its thread, health events arrive
// from checker and worker threads (PublishHealth only queues).
//
// Persistence: after every applied change the running configuration, its
// version and the drained servers are written (atomically) to the state
// file, with the SHA-256 of the config file content the running
// configuration descends from. On start the state file is used if that
// base still matches the config file; otherwise the file wins (and says so
// in the log) and the version continues from the state file's.
class ControlPlane {
 public:
  // Reads the config file (and the state file), validates and compiles the
  // starting configuration and creates the Server (not started). Errors name
  // the file and the field.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Create(ControlPlaneOptions options);
  ~ControlPlane();

  // Starts the Server (binds every entry point) and the file watcher.
  absl::Status Start();
  // Stops the watcher, ends every Watch stream, drains the Server.
  void Shutdown();

  server::Server& server() { return *server_; }
  const std::string& config_path() const { return options_.config_path; }
  const std::string& state_path() const { return state_path_; }

  struct Running {
    config::v1::Config config;
    uint64_t version = 0;
    v1::Origin origin;
  };
  Running Current() const;

  // An edit of a copy of the running configuration; an error from it is the
  // change's result (nothing applied).
  using Edit = std::function<absl::Status(config::v1::Config&)>;
  // Applies `edit` to the running configuration: FAILED_PRECONDITION naming
  // both versions when `options.expected_version` is set and not the
  // running one; INVALID_ARGUMENT naming the field path when the result does
  // not validate; with `validate_only`, answers as if applied and changes
  // nothing. `what` says what changed ("UpsertService services.api").
  absl::StatusOr<v1::ChangeResponse> Change(const Edit& edit, const v1::ChangeOptions& options,
                                            const std::string& what);
  // Reads the config file again and applies it (what SIGHUP does); the
  // running configuration stays if it does not parse or validate.
  absl::StatusOr<v1::ChangeResponse> ReloadFromFile();
  // For the metrics: the running version, and configuration changes after
  // start (the load at start is not one) by source ("file": SIGHUP, file
  // watch, ReloadFromFile; "admin") and result ("applied", "refused",
  // "validated" for validateOnly).
  struct Stats {
    uint64_t version = 0;
    std::map<std::pair<std::string, std::string>, uint64_t> changes;
  };
  Stats GetStats() const;

  // Admin drain (see server::Server::SetDrained), persisted.
  absl::StatusOr<server::DrainResult> SetDrained(const std::string& url, bool drained);

  // A new Watch subscriber, already holding the current state: the running
  // version, each server's state, then SYNCED; every later event follows.
  std::shared_ptr<WatchQueue> Subscribe();
  void Unsubscribe(const std::shared_ptr<WatchQueue>& queue);

 private:
  ControlPlane(ControlPlaneOptions options, std::string state_path);

  // Validate, compile, publish, persist, tell watchers. Holds change_mu_.
  absl::StatusOr<v1::ChangeResponse> ChangeLocked(const Edit& edit,
                                                  const v1::ChangeOptions& options,
                                                  const std::string& what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  void CountChange(const std::string& source, const std::string& result);
  absl::StatusOr<v1::ChangeResponse> ApplyLocked(const config::v1::Config& next,
                                                 v1::Origin::Kind kind, const std::string& what,
                                                 const std::string& base_sha256)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  // From the watcher's thread: the file's new content.
  void OnFileChanged(const std::string& content);
  absl::StatusOr<v1::ChangeResponse> ApplyFileContent(const std::string& content,
                                                      const std::string& why);
  void Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(change_mu_);
  void PublishHealth(const health::HealthEvent& event);
  void Broadcast(const v1::WatchEvent& event);
  v1::WatchEvent ConfigEvent() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_);

  const ControlPlaneOptions options_;
  const std::string state_path_;  // empty: not persisted
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<config::FileWatcher> watcher_;

  // Serializes changes (held across a whole Apply, which waits for the
  // workers); state_mu_ guards what readers see and is held only briefly.
  absl::Mutex change_mu_;
  mutable absl::Mutex state_mu_ ABSL_ACQUIRED_AFTER(change_mu_);
  Running running_ ABSL_GUARDED_BY(state_mu_);
  std::string base_sha256_ ABSL_GUARDED_BY(state_mu_);
  std::map<std::pair<std::string, std::string>, uint64_t> changes_ ABSL_GUARDED_BY(state_mu_);

  mutable absl::Mutex watch_mu_ ABSL_ACQUIRED_AFTER(state_mu_);
  std::vector<std::shared_ptr<WatchQueue>> watchers_ ABSL_GUARDED_BY(watch_mu_);
  bool started_ = false;
  // Create found a state file the config file won over: Start rewrites it.
  bool rewrite_state_ = false;
};

}  // namespace strait::admin

#endif  // STRAIT_ADMIN_CONTROL_PLANE_H_
