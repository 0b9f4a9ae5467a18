#ifndef STRAIT_TESTS_INTEGRATION_LOAD_LOOPS_H_
#define STRAIT_TESTS_INTEGRATION_LOAD_LOOPS_H_

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "tests/support/echo.grpc.pb.h"

namespace strait::testing {

// Tallies final statuses from many threads: what client loops under load
// report.
class Outcomes {
 public:
  void Record(const grpc::Status& status, const std::string& what);
  int total() const;
  int failed() const;
  // Failures by status code.
  std::map<grpc::StatusCode, int> failures() const;
  // The first few failures, one per line.
  std::string examples() const;

 private:
  mutable std::mutex mu_;
  int total_ = 0;
  int failed_ = 0;
  std::map<grpc::StatusCode, int> failures_;
  std::vector<std::string> examples_;
};

// Client loops under load: `unary` loops of UnaryCall(stub, 0) and
// `streams` loops of StreamCall(stub, 5, 20), each on its own channel to
// 127.0.0.1:port, recording into outcomes() until Stop() (or destruction).
class LoadLoops {
 public:
  LoadLoops(int port, int unary, int streams);
  ~LoadLoops() { Stop(); }
  LoadLoops(const LoadLoops&) = delete;
  LoadLoops& operator=(const LoadLoops&) = delete;

  // Waits until `more` RPCs have finished since the call (at most 60 s):
  // steps of a test wait for RPCs, not for time, so load runs between them
  // however fast the machine is. False on timeout.
  bool WaitForMore(int more);
  // Stops the loops and joins them.
  void Stop();
  const Outcomes& outcomes() const { return outcomes_; }

 private:
  Outcomes outcomes_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

// One unary call (30 s deadline) whose payload must come back intact.
grpc::Status UnaryCall(test::v1::Echo::Stub& stub, int sleep_ms);
// One server stream of `messages` that must arrive complete and in order.
grpc::Status StreamCall(test::v1::Echo::Stub& stub, int messages, int sleep_ms);

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_LOAD_LOOPS_H_
