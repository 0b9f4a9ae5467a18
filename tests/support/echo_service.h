#ifndef STRAIT_TESTS_SUPPORT_ECHO_SERVICE_H_
#define STRAIT_TESTS_SUPPORT_ECHO_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tests/support/echo.grpc.pb.h"

namespace strait::testing {

// The scripted echo service: each EchoRequest says how to answer (see
// echo.proto). Owned by a TestBackend, one instance per server start. gRPC
// calls the handlers on its own threads, many at once; the counters are
// read from the test thread.
class EchoService final : public test::v1::Echo::Service {
 public:
  // `unary_delay_ms`: every Unary call takes at least this long (a slow
  // server, for balancers that should notice).
  explicit EchoService(std::string name, int unary_delay_ms = 0)
      : name_(std::move(name)), unary_delay_ms_(unary_delay_ms) {}

  // RPCs started.
  int calls() const;
  // RPCs that observed their cancellation (client cancel, deadline, or the
  // server shutting down with a passed deadline) and ended because of it.
  int cancelled() const;
  // Wait (at most `timeout`) until calls() / cancelled() reach `n`; false on
  // timeout. Tests wait on these instead of sleeping.
  bool WaitForCalls(int n, absl::Duration timeout) const;
  bool WaitForCancelled(int n, absl::Duration timeout) const;

  // What one call saw of its request: for a backend whose answers nobody
  // reads (a mirror). Recorded once the handler has the whole request
  // (Unary and ServerStream at once, ClientStream and Bidi at the client's
  // half-close; a call cancelled first is not recorded).
  struct SeenRequest {
    std::string method;  // "Unary", "ServerStream", "ClientStream", "Bidi"
    std::map<std::string, std::string> metadata;  // every client metadata entry
    std::string authority;
    std::chrono::system_clock::time_point deadline;  // max() without grpc-timeout
    int64_t messages = 0;
    int64_t bytes = 0;  // payload bytes over all messages
    std::string first_payload;
  };
  // Calls recorded so far, the last one's record, and a bounded wait for
  // the count (false on timeout).
  int seen() const;
  SeenRequest last_seen() const;
  bool WaitForSeen(int n, absl::Duration timeout) const;

  // Echo::Service
  grpc::Status Unary(grpc::ServerContext* context, const test::v1::EchoRequest* request,
                     test::v1::EchoResponse* response) override;
  grpc::Status ServerStream(grpc::ServerContext* context,
                            const test::v1::EchoRequest* request,
                            grpc::ServerWriter<test::v1::EchoResponse>* writer) override;
  grpc::Status ClientStream(grpc::ServerContext* context,
                            grpc::ServerReader<test::v1::EchoRequest>* reader,
                            test::v1::EchoResponse* response) override;
  grpc::Status Bidi(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<test::v1::EchoResponse, test::v1::EchoRequest>* stream) override;

 private:
  void CountCall();
  void Record(grpc::ServerContext* context, const char* method, int64_t messages,
              int64_t bytes, const std::string& first_payload);
  // Ends a call that observed its cancellation: counts it once.
  grpc::Status EndCancelled(const char* where);
  // Ends a call whose Read or Write failed: cancelled if the context says
  // so, otherwise the peer is simply gone.
  grpc::Status EndBroken(grpc::ServerContext* context, const char* where);
  // Queues the scripted initial metadata (before the first message goes out).
  void Begin(grpc::ServerContext* context, const test::v1::EchoRequest& request);
  // Fills in what the backend saw of the call.
  void Describe(grpc::ServerContext* context, test::v1::EchoResponse* response) const;
  // Sleeps `ms`; false (early) once the call is cancelled.
  bool Sleep(grpc::ServerContext* context, int ms);
  // The scripted trailers and status.
  grpc::Status Finish(grpc::ServerContext* context, const test::v1::EchoRequest& request);
  // wait_for_cancel: blocks until the call is cancelled, at most 30 s.
  grpc::Status AwaitCancel(grpc::ServerContext* context);

  const std::string name_;
  const int unary_delay_ms_;
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int cancelled_ ABSL_GUARDED_BY(mu_) = 0;
  int seen_ ABSL_GUARDED_BY(mu_) = 0;
  SeenRequest last_seen_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_ECHO_SERVICE_H_
