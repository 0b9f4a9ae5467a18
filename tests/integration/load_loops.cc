#include "tests/integration/load_loops.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/support/echo_client.h"

namespace strait::testing {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

void Outcomes::Record(const grpc::Status& status, const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  ++total_;
  if (!status.ok()) {
    ++failed_;
    ++failures_[status.error_code()];
    if (examples_.size() < 5) {
      examples_.push_back(
          absl::StrCat(what, ": ", status.error_code(), " ", status.error_message()));
    }
  }
}

int Outcomes::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

int Outcomes::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

std::map<grpc::StatusCode, int> Outcomes::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::string Outcomes::examples() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& e : examples_) out += e + "\n";
  return out;
}

LoadLoops::LoadLoops(int port, int unary, int streams) {
  for (int i = 0; i < unary + streams; ++i) {
    bool is_unary = i < unary;
    threads_.emplace_back([this, port, is_unary] {
      auto stub = MakeStub(port);
      while (!stop_) {
        if (is_unary) {
          outcomes_.Record(UnaryCall(*stub, 0), "unary");
        } else {
          outcomes_.Record(StreamCall(*stub, 5, 20), "stream");
        }
      }
    });
  }
}

bool LoadLoops::WaitForMore(int more) {
  int target = outcomes_.total() + more;
  absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (outcomes_.total() < target && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return outcomes_.total() >= target;
}

void LoadLoops::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

grpc::Status UnaryCall(test::v1::Echo::Stub& stub, int sleep_ms) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  EchoRequest req;
  req.set_payload("drain me");
  req.set_sleep_ms(sleep_ms);
  EchoResponse resp;
  grpc::Status s = stub.Unary(&ctx, req, &resp);
  if (s.ok() && resp.payload() != "drain me") return grpc::Status(grpc::DATA_LOSS, "payload");
  return s;
}

grpc::Status StreamCall(test::v1::Echo::Stub& stub, int messages, int sleep_ms) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  EchoRequest req;
  req.set_response_count(messages);
  req.set_response_size(100);
  req.set_sleep_ms(sleep_ms);
  auto reader = stub.ServerStream(&ctx, req);
  EchoResponse resp;
  int n = 0;
  while (reader->Read(&resp)) {
    if (resp.index() != n++) return grpc::Status(grpc::DATA_LOSS, "out of order");
  }
  grpc::Status s = reader->Finish();
  if (s.ok() && n != messages) return grpc::Status(grpc::DATA_LOSS, absl::StrCat(n, " msgs"));
  return s;
}

}  // namespace strait::testing
