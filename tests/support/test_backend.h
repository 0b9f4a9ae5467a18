#ifndef STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_
#define STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "tests/support/echo_service.h"

namespace strait::testing {

struct BackendOptions {
  // SETTINGS_MAX_CONCURRENT_STREAMS the backend advertises (0: gRPC's own).
  int max_concurrent_streams = 0;
};

// A real gRPC C++ server with the echo service on 127.0.0.1, in this process.
// The port is chosen at start (or kept across Restart). Used from the test
// thread.
class TestBackend {
 public:
  explicit TestBackend(std::string name, BackendOptions options = {});
  ~TestBackend();

  int port() const { return port_; }
  const std::string& name() const { return name_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  EchoService& service() { return *service_; }

  // Graceful stop: GOAWAY, in-flight calls may finish within `grace`.
  void Shutdown(absl::Duration grace);
  // Starts again on the same port with a fresh service (after an immediate
  // stop, or a graceful one of `grace`).
  void Restart(absl::Duration grace = absl::ZeroDuration());

 private:
  void Start(int port);

  const std::string name_;
  const BackendOptions options_;
  int port_ = 0;
  std::unique_ptr<EchoService> service_;
  std::unique_ptr<grpc::Server> server_;
};

// The echo service in a child process (tests/support/echo_server), so a
// test can kill it with SIGKILL: the realest way for a backend to die.
class ChildBackend {
 public:
  explicit ChildBackend(std::string name);
  ~ChildBackend();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void Kill();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A channel to 127.0.0.1:port with its own connection, 64 MiB messages and
// gRPC's own retries off (so tests see what strait does).
std::shared_ptr<grpc::Channel> MakeChannel(int port);
// A stub on MakeChannel(port).
std::unique_ptr<test::v1::Echo::Stub> MakeStub(int port);

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_
