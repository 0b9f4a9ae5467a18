// Memory under backpressure, a bench (bench/memory.sh), not a test: 1 GiB
// through strait to slow readers (a reader that pauses 2 ms per MiB), in both
// directions, while strait's own resident memory (VmRSS of the real process)
// is sampled every 10 ms. Without end-to-end flow control strait would
// buffer what the fast side sends; with it, memory stays near its windows.
// Prints the peak growth over the baseline taken in the same run and its
// ratio to the bytes carried. The deterministic proofs of the same promise
// are tests/integration/flow_control_test.cc and pressure_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/rss_sampler.h"
#include "tests/integration/raw_h2_client.h"
#include "tests/integration/strait_process.h"
#include "tests/integration/warm_strait.h"
#include "tests/support/test_backend.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;

// Generous: strait's windows (64 KiB per stream, 1 MiB per connection, both
// sides) plus its output buffers are a few MiB; 1 GiB of traffic is 1024 MiB.
constexpr size_t kAllowedGrowth = 64 * WarmStraitTest::kMiB;

class MemoryBench : public WarmStraitTest {
 protected:

  void ExpectBounded(size_t peak, const char* what) {
    RecordProperty(absl::StrCat(what, "_baseline_kib"), static_cast<int>(baseline_ / 1024));
    RecordProperty(absl::StrCat(what, "_peak_kib"), static_cast<int>(peak / 1024));
    std::cout << what << ": strait RSS baseline " << baseline_ / kMiB << " MiB, peak "
              << peak / kMiB << " MiB, growth " << (peak - std::min(peak, baseline_)) / 1024
              << " KiB = " << static_cast<double>(peak - std::min(peak, baseline_)) / (1 << 30)
              << " of the 1 GiB carried\n";
    EXPECT_LT(peak, baseline_ + kAllowedGrowth)
        << what << ": strait buffered what the slow side could not take";
  }

  // One server stream of `count` × 1 MiB, read slowly; returns bytes read.
  size_t SlowServerStream(int count) {
    auto stub = MakeStub(strait_->port("web"));
    grpc::ClientContext ctx;
    EchoRequest req;
    req.set_response_count(count);
    req.set_response_size(kMiB);
    auto reader = stub->ServerStream(&ctx, req);
    EchoResponse resp;
    size_t bytes = 0;
    int expected = 0;
    while (reader->Read(&resp)) {
      EXPECT_EQ(resp.index(), expected++);
      bytes += resp.payload().size();
      absl::SleepFor(absl::Milliseconds(2));  // the slow reader
    }
    EXPECT_TRUE(reader->Finish().ok());
    return bytes;
  }

};

TEST_F(MemoryBench, GibibyteToASlowReadingBackend) {
  RssSampler sampler(*strait_);
  auto stub = MakeStub(strait_->port("web"));
  grpc::ClientContext ctx;
  EchoResponse resp;
  auto writer = stub->ClientStream(&ctx, &resp);
  EchoRequest req;
  req.set_payload(std::string(kMiB, 'c'));
  req.set_sleep_ms(2);  // the backend sleeps after reading each message
  for (int i = 0; i < 1024; ++i) ASSERT_TRUE(writer->Write(req)) << i;
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(resp.messages_received(), 1024);
  EXPECT_EQ(resp.bytes_received(), static_cast<int64_t>(1024 * kMiB));
  ExpectBounded(sampler.Stop(), "client_to_slow_backend");
}

TEST_F(MemoryBench, GibibyteToASlowReadingClient) {
  RssSampler sampler(*strait_);
  EXPECT_EQ(SlowServerStream(1024), 1024 * kMiB);
  ExpectBounded(sampler.Stop(), "backend_to_slow_client");
}

TEST_F(MemoryBench, ManySlowStreamsDoNotMultiplyMemoryPastTheirWindows) {
  RssSampler sampler(*strait_);
  std::vector<std::thread> readers;
  std::atomic<size_t> total{0};
  for (int i = 0; i < 8; ++i) {
    readers.emplace_back([&] { total += SlowServerStream(128); });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(total.load(), 8 * 128 * kMiB);
  ExpectBounded(sampler.Stop(), "eight_streams_to_slow_clients");
}

}  // namespace
}  // namespace strait::testing
