#include "tests/integration/strait_process.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/time/clock.h"

extern char** environ;

namespace strait::testing {
namespace {

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
  // strait prints one line per entry point once all listen; the count of
  // entry points is the count of "address:" keys in the file.
  size_t expected = 0;
  for (size_t at = text.find("address:"); at != std::string::npos;
       at = text.find("address:", at + 1)) {
    ++expected;
  }
  FILE* out = fdopen(pipe_fds[0], "r");
  char line[1024];
  while (ports_.size() < expected && fgets(line, sizeof line, out) != nullptr) {
    char name[256];
    int port;
    if (sscanf(line, "strait: entry point %255s on port %d", name, &port) == 2) {
      ports_[name] = port;
    } else if (sscanf(line, "strait: admin on port %d", &port) == 1) {
      admin_port_ = port;
    } else if (sscanf(line, "strait: metrics on port %d", &port) == 1) {
      metrics_port_ = port;
    }
  }
  // Keep draining the child's output so it never blocks on a full pipe,
  // and keep it for WaitForOutput.
  std::thread([out, output = output_] {
    char buf[4096];
    while (fgets(buf, sizeof buf, out) != nullptr) {
      absl::MutexLock lock(&output->mu);
      output->text += buf;
    }
    fclose(out);
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
