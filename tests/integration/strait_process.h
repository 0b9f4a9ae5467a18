#ifndef STRAIT_TESTS_INTEGRATION_STRAIT_PROCESS_H_
#define STRAIT_TESTS_INTEGRATION_STRAIT_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace strait::testing {

// The real strait binary in a child process, for what only a process shows:
// its own resident memory, signals, exit codes, stderr. Used from the test
// thread.
class StraitProcess {
 public:
  // Writes `yaml` to a temporary file and starts `strait --config FILE`
  // with `extra_args` (plus `--admin 127.0.0.1:0` and `--metrics
  // 127.0.0.1:0` unless they name them); waits (at most 30 s) until it
  // reports its admin and metrics ports and one port per entry point of the
  // file, as the config parser reads it. With
  // `config_path`, the file is that one — written with `yaml` unless `yaml`
  // is empty — and is left behind, with its state file, for the next process.
  explicit StraitProcess(const std::string& yaml, std::vector<std::string> extra_args = {},
                         std::string config_path = "");
  ~StraitProcess();

  // Whether strait reported every port it was expected to (see above);
  // false for a file the parser refuses (strait exits: see Wait, output).
  bool started() const { return started_; }
  int port(const std::string& entry_point) const;
  // The admin service's port; -1 with `--admin off`.
  int admin_port() const { return admin_port_; }
  // The metrics HTTP port (`--metrics 127.0.0.1:0` unless the args name
  // --metrics); -1 with `--metrics off`.
  int metrics_port() const { return metrics_port_; }
  pid_t pid() const { return pid_; }
  const std::string& config_path() const { return config_path_; }
  // VmRSS of the process in bytes (0 if it is gone).
  size_t ResidentBytes() const;
  void Signal(int signal_number);
  // Waits (bounded) until the process's output, since the ports were
  // reported, contains `text` (a log line, say).
  bool WaitForOutput(const std::string& text, absl::Duration timeout = absl::Seconds(20));
  // The process's output so far, since the ports were reported.
  std::string output() const;
  // Waits (bounded) for the process to exit; its exit code, or -1 if it was
  // killed by a signal or did not exit in time.
  int Wait(absl::Duration timeout = absl::Seconds(30));

  // Runs `strait ARGS...` to completion (bounded); returns the exit code and
  // fills `output` with stdout+stderr.
  static int Run(const std::vector<std::string>& args, std::string* output);

 private:
  pid_t pid_ = -1;
  bool started_ = false;
  int exit_code_ = -2;
  std::string config_path_;
  bool owns_files_ = false;  // a temporary config (and its state file): removed at the end
  int admin_port_ = -1;
  int metrics_port_ = -1;
  std::map<std::string, int> ports_;
  // What strait printed before its ports, other than the port lines: shown
  // on stderr when the ports did not come.
  std::string startup_;
  // The output after the port lines; shared with the thread that reads it.
  struct Output {
    absl::Mutex mu;
    std::string text ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<Output> output_ = std::make_shared<Output>();
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_STRAIT_PROCESS_H_
