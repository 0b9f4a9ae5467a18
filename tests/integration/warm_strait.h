#ifndef STRAIT_TESTS_INTEGRATION_WARM_STRAIT_H_
#define STRAIT_TESTS_INTEGRATION_WARM_STRAIT_H_

#include <gtest/gtest.h>

#include <memory>

#include "tests/integration/strait_process.h"
#include "tests/support/test_backend.h"

namespace strait::testing {

// The real strait process (2 workers) in front of one echo backend, warmed
// up with ten 1 MiB RPCs (connections, allocator) and its resident memory
// then taken as the baseline: for tests and benches that read strait's RSS.
class WarmStraitTest : public ::testing::Test {
 public:
  static constexpr size_t kMiB = 1 << 20;

 protected:
  void SetUp() override;

  std::unique_ptr<TestBackend> backend_;
  std::unique_ptr<StraitProcess> strait_;
  size_t baseline_ = 0;  // VmRSS after the warm-up
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_WARM_STRAIT_H_
