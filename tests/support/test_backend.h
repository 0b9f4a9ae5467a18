#ifndef STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_
#define STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_

#include <sys/types.h>

#include <map>
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
  // Serve gRPC C++'s own grpc.health.v1 service (Check and Watch) too.
  // (gRPC turns it on per process: later servers of the test get it too.)
  bool health = false;
  // Every Unary call takes at least this long.
  int unary_delay_ms = 0;
  // Set: TLS (grpc::SslServerCredentials) with this certificate chain and
  // key, both PEM, instead of h2c.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // With TLS: clients must present a certificate signed by this CA (PEM).
  std::string tls_client_ca_pem;
};

// A real gRPC C++ server with the echo service on 127.0.0.1, in this
// process: the backend of unit and integration tests. Listens on a port the
// system picks at construction and keeps that port across Restart(). With
// BackendOptions::health, gRPC's real health service too. Owned and driven by the test thread; gRPC serves calls on
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
  // Serves again on the same port after Shutdown() or Kill().
  void Resume() {
    if (server_ == nullptr) Start(port_);
  }
  // A well-behaved restart: marks itself NOT_SERVING (its health service's
  // Shutdown(), as gRPC C++ servers do), keeps serving for
  // `notice` (the time a health watcher needs to hear it), shuts down
  // gracefully within `grace`, stays down for `down`, then serves again,
  // SERVING. Needs BackendOptions::health.
  void DrainAndRestart(absl::Duration notice, absl::Duration grace, absl::Duration down);
  // The status the health service reports for `service` ("" = the whole
  // server), now and after restarts. Needs BackendOptions::health.
  void SetServing(const std::string& service, bool serving);

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
  // h2c, or TLS per options_.
  std::shared_ptr<grpc::ServerCredentials> Credentials() const;

  const std::string name_;
  const BackendOptions options_;
  int port_ = 0;
  std::map<std::string, bool> serving_;  // set by SetServing
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
  // Spawns the child and waits until it listens; aborts on failure. With
  // `health`, it serves gRPC's health service too (SERVING).
  explicit ChildBackend(std::string name, bool health = false);
  ~ChildBackend();  // Kill()

  ChildBackend(const ChildBackend&) = delete;
  ChildBackend& operator=(const ChildBackend&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // SIGKILL, then reaps the child.
  void Kill();
  // SIGSTOP / SIGCONT: a frozen server (connections open, nothing answers).
  void Freeze();
  void Thaw();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_TEST_BACKEND_H_
