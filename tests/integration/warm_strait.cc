#include "tests/integration/warm_strait.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace strait::testing {

void WarmStraitTest::SetUp() {
  backend_ = std::make_unique<TestBackend>("b");
  strait_ = std::make_unique<StraitProcess>(
      absl::StrCat("entryPoints: {web: {address: \"127.0.0.1:0\"}}\n"
                   "routers: {r: {rule: \"PathPrefix(`/`)\", service: s}}\n"
                   "services: {s: {loadBalancer: {servers: [{url: \"h2c://",
                   backend_->address(), "\"}]}}}\n"),
      std::vector<std::string>{"--workers", "2"});
  ASSERT_TRUE(strait_->started());
  auto stub = MakeStub(strait_->port("web"));
  for (int i = 0; i < 10; ++i) {
    grpc::ClientContext ctx;
    test::v1::EchoRequest req;
    req.set_payload(std::string(kMiB, 'w'));
    test::v1::EchoResponse resp;
    ASSERT_TRUE(stub->Unary(&ctx, req, &resp).ok());
  }
  baseline_ = strait_->ResidentBytes();
  ASSERT_GT(baseline_, 0u);
}

}  // namespace strait::testing
