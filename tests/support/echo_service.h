#ifndef STRAIT_TESTS_SUPPORT_ECHO_SERVICE_H_
#define STRAIT_TESTS_SUPPORT_ECHO_SERVICE_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>

#include "absl/time/time.h"
#include "tests/support/echo.grpc.pb.h"

namespace strait::testing {

// The scripted echo service (see echo.proto). Thread-safe: gRPC calls it
// from its own threads.
class EchoService final : public test::v1::Echo::Service {
 public:
  explicit EchoService(std::string name) : name_(std::move(name)) {}

  int calls() const { return calls_.load(); }
  int cancelled() const { return cancelled_.load(); }
  // Waits (bounded) until at least `n` calls observed their cancellation.
  bool WaitForCancelled(int n, absl::Duration timeout);

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
  // Sends the scripted initial metadata (if not sent yet).
  void Begin(grpc::ServerContext* context, const test::v1::EchoRequest& request);
  void Describe(grpc::ServerContext* context, test::v1::EchoResponse* response) const;
  // Sleeps `ms`, returning early (false) if the call is cancelled.
  bool Sleep(grpc::ServerContext* context, int ms);
  grpc::Status Finish(grpc::ServerContext* context, const test::v1::EchoRequest& request);
  grpc::Status AwaitCancel(grpc::ServerContext* context);

  const std::string name_;
  std::atomic<int> calls_{0};
  std::atomic<int> cancelled_{0};
  std::mutex mu_;
  std::condition_variable cancelled_cv_;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_ECHO_SERVICE_H_
