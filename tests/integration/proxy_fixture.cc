#include "tests/integration/proxy_fixture.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace strait::testing {

ProxyTest::Pki::Pki()
    : server(ca.Issue({.common_name = "strait test server",
                       .dns_names = {"localhost"},
                       .ips = {"127.0.0.1"}})) {
  ca.WriteTo(dir.path(), "ca");
  server.WriteTo(dir.path(), "server");
}

void ProxyTest::AddTls(config::v1::Config& config) {
  if (pki_ == nullptr) pki_ = std::make_unique<Pki>();
  config::v1::EntryPointTls* tls = (*config.mutable_entry_points())["web"].mutable_tls();
  if (tls->certificates_size() > 0) return;
  config::v1::TlsCertificate* cert = tls->add_certificates();
  cert->set_cert_file(pki_->server.cert_file());
  cert->set_key_file(pki_->server.key_file());
}

config::v1::Config ProxyTest::EchoConfig(const std::vector<std::string>& backend_addresses) {
  config::v1::Config config;
  (*config.mutable_entry_points())["web"].set_address("127.0.0.1:0");
  config::v1::Router& router = (*config.mutable_routers())["echo"];
  router.set_rule("GRPCService(`strait.test.v1.Echo`)");
  router.set_service("echo");
  config::v1::LoadBalancer* lb = (*config.mutable_services())["echo"].mutable_load_balancer();
  for (const std::string& address : backend_addresses) {
    lb->add_servers()->set_url(absl::StrCat("h2c://", address));
  }
  lb->set_servers_transport("fast");
  auto& transport = (*config.mutable_servers_transports())["fast"];
  transport.mutable_forwarding_timeouts()->mutable_dial_timeout()->set_seconds(2);
  return config;
}

void ProxyTest::StartAll(int count, int workers) {
  for (int i = 0; i < count; ++i) {
    backends_.push_back(std::make_unique<TestBackend>(absl::StrCat("backend-", i)));
  }
  StartProxy(EchoConfig(BackendAddresses()), workers);
}

void ProxyTest::StartProxy(const config::v1::Config& config, int workers,
                           const std::function<void(server::Server&)>& before_start) {
  config::v1::Config effective = config;
  if (tls_) AddTls(effective);
  absl::StatusOr<std::unique_ptr<server::Server>> server =
      server::Server::Create(effective, {.workers = workers});
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  if (before_start) before_start(*server_);
  absl::Status started = server_->Start();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_GT(proxy_port(), 0);
}

void ProxyTest::TearDown() {
  if (server_) server_->Shutdown();
  server_.reset();
  backends_.clear();
}

std::vector<std::string> ProxyTest::BackendAddresses() const {
  std::vector<std::string> out;
  for (const auto& b : backends_) out.push_back(b->address());
  return out;
}

std::shared_ptr<grpc::Channel> ProxyTest::ProxyChannel() const {
  if (!tls_) return MakeChannel(proxy_port());
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = pki_->ca.cert().CertPem();
  return MakeTlsChannel(proxy_port(), options);
}

std::map<std::string, int> ProxyTest::UnaryCalls(int n, const test::v1::EchoRequest& request,
                                                 const std::map<std::string, std::string>& metadata,
                                                 absl::Duration deadline) const {
  auto stub = ProxyStub();
  std::map<std::string, int> served;
  for (int i = 0; i < n; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(deadline));
    for (const auto& [key, value] : metadata) ctx.AddMetadata(key, value);
    test::v1::EchoResponse resp;
    grpc::Status s = stub->Unary(&ctx, request, &resp);
    ++served[s.ok() ? resp.backend_name() : absl::StrCat("error ", s.error_code())];
  }
  return served;
}

}  // namespace strait::testing
