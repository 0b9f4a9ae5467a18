#include "tests/integration/strait_process.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "config/loader.h"

extern char** environ;

namespace strait::testing {
namespace {

// How long strait may take to report every port it was expected to.
constexpr absl::Duration kStartTimeout = absl::Seconds(30);

// The value of `--flag VALUE` or `--flag=VALUE` in `args`; "" if absent.
std::string FlagValue(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind(flag + "=", 0) == 0) return args[i].substr(flag.size() + 1);
  }
  return "";
}

pid_t Spawn(const std::vector<std::string>& args, int out_fd) {
  std::vector<std::string> argv_strings = {STRAIT_BINARY};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDERR_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

}  // namespace

StraitProcess::StraitProcess(const std::string& yaml, std::vector<std::string> extra_args,
                             std::string config_path) {
  std::string text = yaml;
  if (config_path.empty()) {
    char path[] = "/tmp/strait-test-XXXXXX.yaml";
    int fd = mkstemps(path, 5);
    if (fd < 0) return;
    if (write(fd, yaml.data(), yaml.size()) != static_cast<ssize_t>(yaml.size())) return;
    close(fd);
    config_path_ = path;
    owns_files_ = true;
  } else if (!yaml.empty()) {
    std::ofstream(config_path) << yaml;
    config_path_ = config_path;
  } else {
    std::ifstream file(config_path);
    std::stringstream read;
    read << file.rdbuf();
    text = read.str();
    config_path_ = config_path;
  }
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return;
  std::vector<std::string> args = {"--config", config_path_};
  // Tests run side by side: the admin service on a port of its own unless
  // the test names one.
  if (std::find(extra_args.begin(), extra_args.end(), "--admin") == extra_args.end()) {
    args.insert(args.end(), {"--admin", "127.0.0.1:0"});
  }
  if (std::find(extra_args.begin(), extra_args.end(), "--metrics") == extra_args.end()) {
    args.insert(args.end(), {"--metrics", "127.0.0.1:0"});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  pid_ = Spawn(args, pipe_fds[1]);
  close(pipe_fds[1]);
  // strait prints its admin and metrics ports, then one line per entry
  // point once all listen. The entry points are those of the file as the
  // real parser reads it (a comment or a string that says "address:" is
  // not one); a file that does not parse starts nothing, and strait exits.
  // Entry points that only the state file adds (UpsertEntryPoint before a
  // restart) are not waited for.
  absl::StatusOr<config::v1::Config> parsed = config::ParseConfig(text, config_path_);
  const size_t entry_points = parsed.ok() ? parsed->entry_points_size() : 0;
  const bool admin_expected = FlagValue(extra_args, "--admin") != "off";
  const bool metrics_expected = FlagValue(extra_args, "--metrics") != "off";
  auto all_seen = [&] {
    return (!admin_expected || admin_port_ >= 0) && (!metrics_expected || metrics_port_ >= 0) &&
           ports_.size() >= entry_points;
  };
  // Bounded: a strait that hangs before listening fails the test instead of
  // blocking it. Lines are read from the raw descriptor (poll, then read) so
  // that what follows them is handed whole to the draining thread.
  const absl::Time deadline = absl::Now() + kStartTimeout;
  std::string pending;  // bytes read past the last whole line
  bool open = true;
  while (parsed.ok() && open && !all_seen()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd ready = {.fd = pipe_fds[0], .events = POLLIN};
    if (poll(&ready, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) continue;
    char buf[4096];
    ssize_t n = read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) {
      open = false;
      break;
    }
    pending.append(buf, n);
    for (size_t eol = pending.find('\n'); eol != std::string::npos && !all_seen();
         eol = pending.find('\n')) {
      std::string line = pending.substr(0, eol);
      pending.erase(0, eol + 1);
      char name[256];
      int port;
      if (sscanf(line.c_str(), "strait: entry point %255s on port %d", name, &port) == 2) {
        ports_[name] = port;
      } else if (sscanf(line.c_str(), "strait: admin on port %d", &port) == 1) {
        admin_port_ = port;
      } else if (sscanf(line.c_str(), "strait: metrics on port %d", &port) == 1) {
        metrics_port_ = port;
      } else {
        startup_ += line + "\n";
      }
    }
  }
  started_ = pid_ > 0 && parsed.ok() && all_seen();
  if (!started_ && parsed.ok()) {
    std::cerr << "StraitProcess: strait did not report its ports (" << ports_.size() << " of "
              << entry_points << " entry points) "
              << (open ? absl::StrCat("within ", absl::FormatDuration(kStartTimeout))
                       : std::string("before its output ended"))
              << "; it printed:\n"
              << startup_ << pending << std::flush;
  }
  {
    absl::MutexLock lock(&output_->mu);
    output_->text = pending;
  }
  // Keep draining the child's output so it never blocks on a full pipe,
  // and keep it for WaitForOutput.
  std::thread([fd = pipe_fds[0], output = output_] {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      absl::MutexLock lock(&output->mu);
      output->text.append(buf, n);
    }
    close(fd);
  }).detach();
}

StraitProcess::~StraitProcess() {
  if (pid_ > 0 && exit_code_ == -2) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (owns_files_) {
    unlink(config_path_.c_str());
    // The state file strait writes beside its config by default.
    std::string state = config_path_.substr(0, config_path_.size() - 5) + ".state.json";
    unlink(state.c_str());
  }
}

bool StraitProcess::WaitForOutput(const std::string& text, absl::Duration timeout) {
  absl::MutexLock lock(&output_->mu);
  auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(output_->mu) {
    return output_->text.find(text) != std::string::npos;
  };
  return output_->mu.AwaitWithTimeout(absl::Condition(&seen), timeout);
}

int StraitProcess::port(const std::string& entry_point) const {
  auto it = ports_.find(entry_point);
  return it == ports_.end() ? -1 : it->second;
}

size_t StraitProcess::ResidentBytes() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream in(line.substr(6));
      size_t kb = 0;
      in >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

void StraitProcess::Signal(int signal_number) {
  if (pid_ > 0) kill(pid_, signal_number);
}

int StraitProcess::Wait(absl::Duration timeout) {
  if (exit_code_ != -2) return exit_code_;
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return exit_code_;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return -1;
}

int StraitProcess::Run(const std::vector<std::string>& args, std::string* output) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return -1;
  pid_t pid = Spawn(args, pipe_fds[1]);
  close(pipe_fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) output->append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string StraitProcess::output() const {
  absl::MutexLock lock(&output_->mu);
  return output_->text;
}

}  // namespace strait::testing
