#ifndef STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_
#define STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
// Not used here: included so that tests which make a backend also get
// MakeChannel/MakeStub with one include.
#include "tests/support/echo_client.h"
#include "tests/support/echo_service.h"

namespace strait::testing {

struct BackendOptions {
  // SETTINGS_MAX_CONCURRENT_STREAMS the backend advertises (0: gRPC's own).
  int max_concurrent_streams = 0;
};

// A real gRPC C++ server with the echo service on 127.0.0.1, in this
// process: the backend of unit and integration tests. Listens on a port the
// system picks at construction and keeps that port across Restart(). No
// health service. Owned and driven by the test thread; gRPC serves calls on
// its own threads.
class TestBackend {
 public:
  // Starts serving; aborts the test binary if it cannot listen.
  explicit TestBackend(std::string name, BackendOptions options = {});
  ~TestBackend();  // Kill()

  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  int port() const { return port_; }
  // Answers carry it as backend_name.
  const std::string& name() const { return name_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Graceful stop: GOAWAY, no new calls; calls in flight may finish within
  // `grace`, then they are cancelled. Returns once every handler returned.
  void Shutdown(absl::Duration grace);
  // A dying backend: cancels every call in flight and closes its
  // connections now.
  void Kill() { Shutdown(absl::ZeroDuration()); }
  // Stops (gracefully within `grace`, or at once) if running, then serves
  // again on the same port with a fresh service (counters back to 0).
  void Restart(absl::Duration grace = absl::ZeroDuration());

  // Since the last (re)start: RPCs started, RPCs that ended because they
  // observed their cancellation (see EchoService), and bounded waits for
  // them (false on timeout).
  int calls() const { return service_->calls(); }
  int cancelled() const { return service_->cancelled(); }
  bool WaitForCalls(int n, absl::Duration timeout) const {
    return service_->WaitForCalls(n, timeout);
  }
  bool WaitForCancelled(int n, absl::Duration timeout) const {
    return service_->WaitForCancelled(n, timeout);
  }
  // The service of the current start.
  EchoService& service() { return *service_; }

 private:
  void Start(int port);

  const std::string name_;
  const BackendOptions options_;
  int port_ = 0;
  // Replaced on every start; never null.
  std::unique_ptr<EchoService> service_;
  // Null while stopped.
  std::unique_ptr<grpc::Server> server_;
};

// The echo service in a child process (tests/support/echo_server), so a
// test can kill it with SIGKILL: the realest way for a backend to die (no
// GOAWAY, no RST_STREAM, the kernel closes its sockets).
class ChildBackend {
 public:
  // Spawns the child and waits until it listens; aborts on failure.
  explicit ChildBackend(std::string name);
  ~ChildBackend();  // Kill()

  ChildBackend(const ChildBackend&) = delete;
  ChildBackend& operator=(const ChildBackend&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // SIGKILL, then reaps the child.
  void Kill();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_
