#include "tests/support/peer_process.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace strait::testing {
namespace {

// The text after `prefix` on the first complete line of `output` that
// starts with it.
std::optional<std::string> FindLine(const std::string& output, const std::string& prefix) {
  size_t start = 0;
  for (size_t end; (end = output.find('\n', start)) != std::string::npos; start = end + 1) {
    if (output.compare(start, prefix.size(), prefix) == 0 && end - start >= prefix.size()) {
      return output.substr(start + prefix.size(), end - start - prefix.size());
    }
  }
  return std::nullopt;
}

}  // namespace

PeerProcess::PeerProcess(std::vector<std::string> argv) : argv_(std::move(argv)) {
  // Close-on-exec everywhere: a pipe end that leaked into another child (a
  // second peer spawned meanwhile) would keep our reads from ever seeing
  // end of file, and the peer's stdin from ever closing.
  if (argv_.empty()) {
    output_ = "PeerProcess: empty command line";
    return;
  }
  int out[2], in[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    output_ = absl::StrCat("pipe: ", strerror(errno));
    return;
  }
  if (pipe2(in, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    output_ = absl::StrCat("pipe: ", strerror(errno));
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  std::vector<std::string> args = argv_;
  std::vector<char*> c_argv;
  for (std::string& arg : args) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  int error = posix_spawnp(&pid_, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  if (error != 0) {
    pid_ = -1;
    close(in[1]);
    close(out[0]);
    output_ = absl::StrCat("cannot run ", command(), ": ", strerror(error));
    return;
  }
  stdin_fd_ = in[1];
  reader_ = std::thread([this, fd = out[0]] { Collect(fd); });
}

PeerProcess::~PeerProcess() {
  CloseStdin();
  if (pid_ <= 0) return;
  {
    // Under mu_: the reader reaps only under mu_, so until reaped_ the pid
    // is still ours (a zombie at worst) and cannot name another process.
    absl::MutexLock lock(&mu_);
    if (!reaped_) kill(pid_, SIGKILL);
  }
  reader_.join();
}

void PeerProcess::Collect(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    absl::MutexLock lock(&mu_);
    output_.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  {
    absl::MutexLock lock(&mu_);
    output_closed_ = true;
  }
  // Wait for the exit without reaping, so that the destructor may still
  // signal the pid until the reaping below, which happens under mu_.
  siginfo_t info;
  while (waitid(P_PID, pid_, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  absl::MutexLock lock(&mu_);
  int status = 0;
  if (waitpid(pid_, &status, 0) == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  reaped_ = true;
}

std::optional<std::string> PeerProcess::WaitForLine(const std::string& prefix,
                                                    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<std::string> line;
  auto found_or_closed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    line = FindLine(output_, prefix);
    return line.has_value() || output_closed_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&found_or_closed), timeout);
  return line;
}

bool PeerProcess::WriteStdin(absl::string_view data) {
  if (stdin_fd_ < 0) return false;
  // A write to a pipe nobody reads raises SIGPIPE, which would end the test
  // binary: block it on this thread, and take a pending one back after EPIPE.
  sigset_t pipe_signal, old_mask;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
  bool ok = true;
  while (!data.empty()) {
    ssize_t n = write(stdin_fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ok = false;
      break;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (!ok && errno == EPIPE) {
    const timespec no_wait = {0, 0};
    sigtimedwait(&pipe_signal, nullptr, &no_wait);
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  return ok;
}

void PeerProcess::CloseStdin() {
  if (stdin_fd_ < 0) return;
  close(stdin_fd_);
  stdin_fd_ = -1;
}

void PeerProcess::Signal(int signal_number) {
  if (pid_ <= 0) return;
  absl::MutexLock lock(&mu_);  // see ~PeerProcess
  if (!reaped_) kill(pid_, signal_number);
}

PeerProcess::Exit PeerProcess::WaitForExit(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  if (pid_ <= 0) return {.exited = false, .output = output_};
  bool reaped = mu_.AwaitWithTimeout(absl::Condition(&reaped_), timeout);
  return {.exited = reaped, .code = reaped ? exit_code_ : -1, .output = output_};
}

std::string PeerProcess::output() const {
  absl::MutexLock lock(&mu_);
  return output_;
}

std::string PeerProcess::command() const { return absl::StrJoin(argv_, " "); }

}  // namespace strait::testing
