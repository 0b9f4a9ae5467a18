#ifndef STRAIT_TESTS_SUPPORT_PEER_PROCESS_H_
#define STRAIT_TESTS_SUPPORT_PEER_PROCESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace strait::testing {

// A test peer in a child process: a client or server program of another
// gRPC stack (tests/interop), run as `argv[0] argv[1]...` (argv[0] is
// looked up in PATH, so `node script.js` works as well as a binary). Its
// stdout and stderr go to one pipe that a reader thread collects; its
// stdin is a pipe we hold open, so a peer can take end-of-stdin as "stop"
// and never outlives the test. Owned and driven by the test thread; only
// the reader thread writes the output and the exit status, under mu_.
class PeerProcess {
 public:
  // How a wait for exit ended.
  struct Exit {
    // False: still running when the wait gave up.
    bool exited = false;
    // The exit status, or 128 + the signal number that killed it.
    int code = -1;
    // Everything it printed so far, stdout and stderr interleaved.
    std::string output;
  };

  // Spawns the peer. On failure started() is false and output() says why.
  explicit PeerProcess(std::vector<std::string> argv);
  // Kills the peer (SIGKILL) if it still runs, and reaps it.
  ~PeerProcess();

  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Waits (at most `timeout`) for a whole output line that starts with
  // `prefix`; returns the rest of that line. nullopt on timeout, or once the
  // peer closed its output without printing one.
  std::optional<std::string> WaitForLine(const std::string& prefix, absl::Duration timeout);
  // Writes all of `data` to the peer's stdin (a tool that reads its input
  // there, such as `promtool check metrics`); blocks while the pipe is full.
  // False if stdin is closed or the peer stopped reading (EPIPE: no
  // SIGPIPE reaches the test).
  bool WriteStdin(absl::string_view data);
  // Closes the peer's stdin: the polite way to ask a peer to stop.
  void CloseStdin();
  // Sends `signal_number` (SIGTERM: stop cleanly) unless the peer was reaped.
  void Signal(int signal_number);
  // Waits (at most `timeout`) for the peer to exit and its output to end.
  Exit WaitForExit(absl::Duration timeout);
  // Everything printed so far.
  std::string output() const;
  // The command line, for messages.
  std::string command() const;

 private:
  // Reader thread: collects output to end of file, then reaps the peer.
  void Collect(int fd);

  const std::vector<std::string> argv_;
  pid_t pid_ = -1;
  // Write end of the peer's stdin; -1 once closed.
  int stdin_fd_ = -1;
  std::thread reader_;

  mutable absl::Mutex mu_;
  std::string output_ ABSL_GUARDED_BY(mu_);
  // The peer closed its output (usually: it exited).
  bool output_closed_ ABSL_GUARDED_BY(mu_) = false;
  // The peer was reaped; pid_ must not be signalled any more.
  bool reaped_ ABSL_GUARDED_BY(mu_) = false;
  int exit_code_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_PEER_PROCESS_H_
