#include "admin/control_plane.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "config/loader.h"
#include "config/state_file.h"
#include "config/validate.h"
#include "google/protobuf/util/time_util.h"

namespace strait::admin {

namespace {

using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp ToProto(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

v1::Origin MakeOrigin(v1::Origin::Kind kind, const std::string& detail) {
  v1::Origin origin;
  origin.set_kind(kind);
  origin.set_detail(detail);
  *origin.mutable_applied_at() = ToProto(absl::Now());
  return origin;
}

}  // namespace

// WatchQueue

bool WatchQueue::Push(const v1::WatchEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (events_.size() >= kMaxPending) {
      overflowed_ = true;
      closed_ = true;
    } else {
      events_.push_back(event);
    }
  }
  cv_.notify_one();
  return true;
}

void WatchQueue::Prepend(std::vector<v1::WatchEvent> events) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    events_.insert(events_.begin(), std::make_move_iterator(events.begin()),
                   std::make_move_iterator(events.end()));
  }
  cv_.notify_one();
}

bool WatchQueue::Pop(v1::WatchEvent* event, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
               [&] { return !events_.empty() || closed_; });
  if (events_.empty() || overflowed_) return false;
  *event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void WatchQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

bool WatchQueue::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_ && (events_.empty() || overflowed_);
}

bool WatchQueue::overflowed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return overflowed_;
}

// ControlPlane

ControlPlane::ControlPlane(ControlPlaneOptions options, std::string state_path)
    : options_(std::move(options)), state_path_(std::move(state_path)) {}

ControlPlane::~ControlPlane() { Shutdown(); }

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(ControlPlaneOptions options) {
  std::string state_path = options.state_path.empty()
                               ? config::DefaultStatePath(options.config_path)
                               : options.state_path == "off" ? "" : options.state_path;
  std::unique_ptr<ControlPlane> plane(new ControlPlane(std::move(options), state_path));
  const std::string& path = plane->options_.config_path;

  absl::StatusOr<std::string> content = config::ReadFileBytes(path);
  if (!content.ok()) return content.status();
  absl::StatusOr<config::v1::Config> file_config = config::ParseAndValidate(*content, path);
  if (!file_config.ok()) return file_config.status();
  const std::string file_sha = config::Sha256Hex(*content);

  Running start{.config = *file_config, .version = 1,
                .origin = MakeOrigin(v1::Origin::FILE, path)};
  std::vector<std::string> drained;
  if (!state_path.empty()) {
    absl::StatusOr<std::optional<config::v1::State>> state = config::LoadState(state_path);
    if (!state.ok()) {
      STRAIT_LOG(kError, "state file ignored, starting from ", path, ": ",
                 state.status().message());
    } else if (state->has_value()) {
      const config::v1::State& saved = **state;
      if (saved.base_sha256() != file_sha) {
        STRAIT_LOG(kWarn, path, " changed since ", state_path,
                   " was written: the file wins, admin changes made before are dropped");
        start.version = saved.version() + 1;
        plane->rewrite_state_ = true;
      } else if (absl::Status valid = config::ValidateConfig(saved.config()); !valid.ok()) {
        STRAIT_LOG(kError, state_path, " does not validate, starting from ", path, ": ",
                   valid.message());
        start.version = saved.version() + 1;
        plane->rewrite_state_ = true;
      } else {
        start.config = saved.config();
        start.version = saved.version();
        start.origin = MakeOrigin(v1::Origin::STATE_FILE, state_path);
        drained.assign(saved.drained_servers().begin(), saved.drained_servers().end());
        STRAIT_LOG(kInfo, "configuration version ", saved.version(), " from ", state_path,
                   " (admin changes on top of ", path, ")");
      }
    }
  }

  absl::StatusOr<std::unique_ptr<server::Server>> server =
      server::Server::Create(start.config, plane->options_.server);
  if (!server.ok()) {
    return absl::Status(server.status().code(),
                        absl::StrCat(path, ": ", server.status().message()));
  }
  plane->server_ = std::move(*server);
  plane->server_->SetHealthListener(
      [raw = plane.get()](const health::HealthEvent& event) { raw->PublishHealth(event); });
  for (const std::string& url : drained) {
    if (!plane->server_->SetDrained(url, true).ok()) {
      STRAIT_LOG(kInfo, "drained server ", url, " is no longer listed: forgotten");
    }
  }
  {
    absl::MutexLock lock(&plane->state_mu_);
    plane->running_ = std::move(start);
    plane->base_sha256_ = file_sha;
  }
  return plane;
}

absl::Status ControlPlane::Start() {
  if (absl::Status started = server_->Start(); !started.ok()) return started;
  started_ = true;
  if (rewrite_state_) {
    // The file won over the state file: rewritten now, so the version on
    // disk follows the running one.
    absl::MutexLock change(&change_mu_);
    Persist();
  }
  if (options_.watch) {
    config::FileWatcherOptions watch;
    {
      // What was loaded: a change made since Create is not missed.
      absl::MutexLock lock(&state_mu_);
      watch.loaded_sha256 = base_sha256_;
    }
    watch.on_error = [path = options_.config_path](const absl::Status& status) {
      STRAIT_LOG(kWarn, "watching ", path, ": ", status.message());
    };
    absl::StatusOr<std::unique_ptr<config::FileWatcher>> watcher = config::FileWatcher::Start(
        options_.config_path, [this](const std::string& content) { OnFileChanged(content); },
        std::move(watch));
    if (!watcher.ok()) {
      STRAIT_LOG(kWarn, "not watching ", options_.config_path, ": ",
                 watcher.status().message());
    } else {
      watcher_ = std::move(*watcher);
    }
  }
  return absl::OkStatus();
}

void ControlPlane::Shutdown() {
  if (watcher_) watcher_->Stop();
  {
    absl::MutexLock lock(&watch_mu_);
    for (auto& queue : watchers_) queue->Close();
    watchers_.clear();
  }
  if (started_) {
    started_ = false;
    server_->Shutdown();
  }
}

ControlPlane::Running ControlPlane::Current() const {
  absl::MutexLock lock(&state_mu_);
  return running_;
}

absl::StatusOr<v1::ChangeResponse> ControlPlane::Change(const Edit& edit,
                                                        const v1::ChangeOptions& options,
                                                        const std::string& what) {
  absl::MutexLock change(&change_mu_);
  absl::StatusOr<v1::ChangeResponse> result = ChangeLocked(edit, options, what);
  CountChange("admin", !result.ok() ? "refused" : result->applied() ? "applied" : "validated");
  return result;
}

void ControlPlane::CountChange(const std::string& source, const std::string& result) {
  absl::MutexLock lock(&state_mu_);
  ++changes_[{source, result}];
}

ControlPlane::Stats ControlPlane::GetStats() const {
  absl::MutexLock lock(&state_mu_);
  return Stats{.version = running_.version, .changes = changes_};
}

absl::StatusOr<v1::ChangeResponse> ControlPlane::ChangeLocked(const Edit& edit,
                                                              const v1::ChangeOptions& options,
                                                              const std::string& what) {
  Running now = Current();
  if (options.expected_version() != 0 && options.expected_version() != now.version) {
    return absl::FailedPreconditionError(
        absl::StrCat("expected version ", options.expected_version(),
                     " but the running configuration is version ", now.version,
                     ": read it again (GetConfig) and retry"));
  }
  config::v1::Config next = now.config;
  if (absl::Status edited = edit(next); !edited.ok()) return edited;
  if (absl::Status valid = config::ValidateConfig(next); !valid.ok()) {
    return absl::InvalidArgumentError(valid.message());
  }
  if (options.validate_only()) {
    v1::ChangeResponse response;
    response.set_version(now.version);
    response.set_applied(false);
    return response;
  }
  std::string base;
  {
    absl::MutexLock lock(&state_mu_);
    base = base_sha256_;
  }
  return ApplyLocked(next, v1::Origin::ADMIN, what, base);
}

absl::StatusOr<v1::ChangeResponse> ControlPlane::ReloadFromFile() {
  absl::StatusOr<std::string> content = config::ReadFileBytes(options_.config_path);
  if (!content.ok()) {
    STRAIT_LOG(kError, "reload refused, the running configuration stays: ",
               content.status().message());
    return content.status();
  }
  return ApplyFileContent(*content, "reload");
}

void ControlPlane::OnFileChanged(const std::string& content) {
  (void)ApplyFileContent(content, "change seen");
}

absl::StatusOr<v1::ChangeResponse> ControlPlane::ApplyFileContent(const std::string& content,
                                                                  const std::string& why) {
  const std::string& path = options_.config_path;
  absl::MutexLock change(&change_mu_);
  absl::StatusOr<config::v1::Config> next = config::ParseAndValidate(content, path);
  absl::StatusOr<v1::ChangeResponse> applied =
      next.ok() ? ApplyLocked(*next, v1::Origin::FILE, path, config::Sha256Hex(content))
                : absl::StatusOr<v1::ChangeResponse>(next.status());
  CountChange("file", applied.ok() ? "applied" : "refused");
  if (applied.ok()) {
    STRAIT_LOG(kInfo, "reloaded ", path, " (", why, "): configuration version ",
               applied->version());
  } else {
    STRAIT_LOG(kError, path, " (", why, ") refused, the running configuration stays: ",
               applied.status().message());
  }
  return applied;
}

absl::StatusOr<v1::ChangeResponse> ControlPlane::ApplyLocked(const config::v1::Config& next,
                                                             v1::Origin::Kind kind,
                                                             const std::string& what,
                                                             const std::string& base_sha256) {
  // Reload validates again, compiles, binds new entry points and returns once
  // every worker runs the new snapshot; on an error nothing changed.
  if (absl::Status reloaded = server_->Reload(next); !reloaded.ok()) return reloaded;
  v1::WatchEvent event;
  {
    absl::MutexLock lock(&state_mu_);
    running_.config = next;
    running_.version += 1;
    running_.origin = MakeOrigin(kind, what);
    base_sha256_ = base_sha256;
    event = ConfigEvent();
  }
  Persist();
  Broadcast(event);
  v1::ChangeResponse response;
  response.set_version(event.version());
  response.set_applied(true);
  if (kind == v1::Origin::ADMIN) {
    STRAIT_LOG(kInfo, "configuration version ", event.version(), " by admin: ", what);
  }
  return response;
}

void ControlPlane::Persist() {
  if (state_path_.empty()) return;
  config::v1::State state;
  {
    absl::MutexLock lock(&state_mu_);
    state.set_version(running_.version);
    *state.mutable_config() = running_.config;
    state.set_base_sha256(base_sha256_);
  }
  state.set_base_path(options_.config_path);
  for (const std::string& url : server_->DrainedServers()) state.add_drained_servers(url);
  *state.mutable_saved_at() = ToProto(absl::Now());
  if (absl::Status saved = config::SaveState(state_path_, state); !saved.ok()) {
    // The change runs but would not survive a restart: say so loudly.
    STRAIT_LOG(kError, "running configuration not persisted: ", saved.message());
  }
}

absl::StatusOr<server::DrainResult> ControlPlane::SetDrained(const std::string& url,
                                                             bool drained) {
  absl::MutexLock change(&change_mu_);
  absl::StatusOr<server::DrainResult> result = server_->SetDrained(url, drained);
  if (result.ok()) Persist();
  return result;
}

v1::WatchEvent ControlPlane::ConfigEvent() const {
  v1::WatchEvent event;
  event.set_kind(v1::WatchEvent::CONFIG_APPLIED);
  *event.mutable_time() = ToProto(absl::Now());
  event.set_version(running_.version);
  *event.mutable_origin() = running_.origin;
  return event;
}

void ControlPlane::PublishHealth(const health::HealthEvent& health) {
  v1::WatchEvent event;
  switch (health.kind) {
    case health::HealthEvent::Kind::kHealth:
      event.set_kind(v1::WatchEvent::HEALTH_CHANGED);
      break;
    case health::HealthEvent::Kind::kEjected:
      event.set_kind(v1::WatchEvent::EJECTED);
      break;
    case health::HealthEvent::Kind::kDrain:
      event.set_kind(v1::WatchEvent::DRAIN_CHANGED);
      break;
  }
  *event.mutable_time() = ToProto(absl::Now());
  event.set_url(health.url);
  event.set_healthy(health.healthy);
  event.set_ejected(health.ejected);
  event.set_drained(health.drained);
  event.set_reason(health.reason);
  Broadcast(event);
}

void ControlPlane::Broadcast(const v1::WatchEvent& event) {
  absl::MutexLock lock(&watch_mu_);
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    if ((*it)->Push(event) && !(*it)->overflowed()) {
      ++it;
    } else {
      it = watchers_.erase(it);
    }
  }
}

std::shared_ptr<WatchQueue> ControlPlane::Subscribe() {
  auto queue = std::make_shared<WatchQueue>();
  {
    // Live events queue up from here on; the current state, read below
    // without holding watch_mu_ (ListServers waits for every worker, and a
    // worker may be publishing an ejection), goes in front of them.
    absl::MutexLock lock(&watch_mu_);
    watchers_.push_back(queue);
  }
  std::vector<v1::WatchEvent> initial;
  {
    absl::MutexLock lock(&state_mu_);
    initial.push_back(ConfigEvent());
  }
  std::map<std::string, v1::WatchEvent> by_url;
  for (const server::ServerStatus& s : server_->ListServers()) {
    v1::WatchEvent& event = by_url[s.url];
    event.set_kind(v1::WatchEvent::SERVER_STATE);
    *event.mutable_time() = ToProto(absl::Now());
    event.set_url(s.url);
    event.set_healthy(s.healthy);
    event.set_ejected(s.ejected);
    event.set_drained(s.drained);
    event.set_reason(s.reason);
    event.add_services(s.service);
  }
  for (auto& [url, event] : by_url) initial.push_back(std::move(event));
  v1::WatchEvent synced;
  synced.set_kind(v1::WatchEvent::SYNCED);
  *synced.mutable_time() = ToProto(absl::Now());
  initial.push_back(std::move(synced));
  queue->Prepend(std::move(initial));
  return queue;
}

void ControlPlane::Unsubscribe(const std::shared_ptr<WatchQueue>& queue) {
  queue->Close();
  absl::MutexLock lock(&watch_mu_);
  std::erase(watchers_, queue);
}

}  // namespace strait::admin
