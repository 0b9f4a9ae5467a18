#ifndef STRAIT_TESTS_SUPPORT_HEALTH_BACKEND_H_
#define STRAIT_TESTS_SUPPORT_HEALTH_BACKEND_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace strait::testing {

// Polls `condition` (every millisecond, at most `timeout`) until it holds:
// for state that has no event to wait on, such as a ServerHealth's verdict.
// Returns whether it held.
bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(20));

// Counts the RPCs a server starts, per method ("/grpc.health.v1.Health/Check").
// Shared by a HealthBackend's successive server starts; thread-safe.
class MethodCounter {
 public:
  void Count(const std::string& method);
  int count(const std::string& method) const;
  // Waits (at most `timeout`) until count(method) >= n; false on timeout.
  bool WaitFor(const std::string& method, int n, absl::Duration timeout) const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, int> counts_ ABSL_GUARDED_BY(mu_);
};

// A real gRPC C++ server on 127.0.0.1 whose grpc.health.v1 service health
// checkers probe: gRPC's own default health service (kDefault: Check and
// Watch), or a hand-written one that implements Check only (kCheckOnly:
// Watch answers UNIMPLEMENTED). Every Check and Watch it receives is
// counted, across restarts. Serving statuses set here survive restarts.
// Listens on a port picked at construction and keeps it. Driven by the test
// thread; gRPC serves on its own threads.
class HealthBackend {
 public:
  enum class Kind { kDefault, kCheckOnly };

  explicit HealthBackend(Kind kind = Kind::kDefault);
  ~HealthBackend();  // Stop()

  HealthBackend(const HealthBackend&) = delete;
  HealthBackend& operator=(const HealthBackend&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // The status Check and Watch report for `service` ("" = the server). A
  // service never set is unknown (Check: NOT_FOUND; Watch: SERVICE_UNKNOWN),
  // except "", which starts SERVING.
  void SetServing(const std::string& service, bool serving);

  // Health RPCs started since construction.
  int checks() const { return counter_->count(kCheck); }
  int watches() const { return counter_->count(kWatch); }
  bool WaitForChecks(int n, absl::Duration timeout = absl::Seconds(20)) const {
    return counter_->WaitFor(kCheck, n, timeout);
  }
  bool WaitForWatches(int n, absl::Duration timeout = absl::Seconds(20)) const {
    return counter_->WaitFor(kWatch, n, timeout);
  }

  // Shuts the server down at once (open Watch streams end); no-op if stopped.
  void Stop();
  // Serves again on the same port, with the statuses set so far.
  void Start();

  static constexpr char kCheck[] = "/grpc.health.v1.Health/Check";
  static constexpr char kWatch[] = "/grpc.health.v1.Health/Watch";

 private:
  class CheckOnlyService;

  void StartOn(int port);

  const Kind kind_;
  const std::shared_ptr<MethodCounter> counter_ = std::make_shared<MethodCounter>();
  int port_ = 0;
  std::map<std::string, bool> statuses_;          // test thread only
  std::unique_ptr<CheckOnlyService> check_only_;  // kCheckOnly
  // kDefault: see StartOn; outlives server_ (declared before it).
  std::unique_ptr<grpc::CallbackGenericService> generic_;
  std::unique_ptr<grpc::Server> server_;  // null while stopped
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_HEALTH_BACKEND_H_
