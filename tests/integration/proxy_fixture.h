#ifndef STRAIT_TESTS_INTEGRATION_PROXY_FIXTURE_H_
#define STRAIT_TESTS_INTEGRATION_PROXY_FIXTURE_H_

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/server.h"
#include "strait/config/v1/config.pb.h"
#include "tests/support/certs.h"
#include "tests/support/test_backend.h"

namespace strait::testing {

// The whole proxy in process between real peers: N echo backends on
// loopback ports chosen at run time, strait in front of them (entry point
// "web" on 127.0.0.1:0, every request routed to service "echo"), and a gRPC
// C++ channel to strait. With `tls_` set before StartProxy, entry point
// "web" serves TLS with a certificate for 127.0.0.1/localhost from a CA made
// for the test, and ProxyChannel/ProxyStub speak TLS trusting that CA.
class ProxyTest : public ::testing::Test {
 protected:
  // The throwaway PKI of a TLS run.
  struct Pki {
    TempDir dir;
    CertAuthority ca = CertAuthority::Create("strait test CA");
    Cert server;
    Pki();
  };

  // A config with entry point "web" and service "echo" over `backends`.
  static config::v1::Config EchoConfig(const std::vector<std::string>& backend_addresses);

  // Starts `count` backends and strait in front of them.
  void StartAll(int count, int workers = 2);
  // Starts strait with `config` (backends already running), after
  // `before_start` (if any) has seen the created server.
  void StartProxy(const config::v1::Config& config, int workers = 2,
                  const std::function<void(server::Server&)>& before_start = nullptr);
  void TearDown() override;

  std::vector<std::string> BackendAddresses() const;
  static void SetDuration(google::protobuf::Duration* d, absl::Duration value) {
    d->set_seconds(absl::ToInt64Seconds(value));
    d->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(value - absl::Seconds(d->seconds()))));
  }
  int proxy_port() const { return server_->port("web"); }
  // A fresh channel (its own connection) to strait; TLS if tls_.
  std::shared_ptr<grpc::Channel> ProxyChannel() const;
  std::unique_ptr<test::v1::Echo::Stub> ProxyStub() const {
    return test::v1::Echo::NewStub(ProxyChannel());
  }
  // Adds TLS with pki_'s server certificate to entry point "web".
  void AddTls(config::v1::Config& config);
  // "https" when tls_, else "http".
  const char* scheme() const { return tls_ ? "https" : "http"; }
  // `n` sequential unary RPCs of `request` with `metadata` through strait
  // on one channel (one connection, so one worker), each with `deadline`:
  // how many each backend answered (by name), and failures as "error <code>".
  std::map<std::string, int> UnaryCalls(int n, const test::v1::EchoRequest& request = {},
                                        const std::map<std::string, std::string>& metadata = {},
                                        absl::Duration deadline = absl::Seconds(20)) const;

  bool tls_ = false;
  std::unique_ptr<Pki> pki_;  // made by StartProxy when tls_
  std::vector<std::unique_ptr<TestBackend>> backends_;
  std::unique_ptr<server::Server> server_;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_PROXY_FIXTURE_H_
