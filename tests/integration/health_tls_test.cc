// Active grpc.health.v1 checks of https:// servers (issue 18): a gRPC C++
// backend serving TLS with certificates the test made, strait in process,
// its verdicts read through Server::Health. The checks use the credentials
// of the servers transport: its root CAs, client certificate and serverName.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/integration/raw_h2_server.h"
#include "tests/unit/net/test_certs.h"

namespace strait::testing {
namespace {

using ::testing::HasSubstr;

class HealthTlsTest : public ProxyTest {
 protected:
  HealthTlsTest()
      : ca_(certs_.MakeCa("ca")),
        other_ca_(certs_.MakeCa("other-ca")),
        client_ca_(certs_.MakeCa("client-ca")),
        ip_cert_(certs_.MakeLeaf("ip", ca_, {.common_name = "ip", .sans = {"IP:127.0.0.1"}})),
        named_cert_(certs_.MakeLeaf("named", ca_,
                                    {.common_name = "named", .sans = {"DNS:api.internal"}})),
        client_cert_(certs_.MakeLeaf("client", client_ca_,
                                     {.common_name = "strait", .sans = {}, .client = true})),
        spiffe_cert_(certs_.MakeLeaf(
            "spiffe", ca_, {.common_name = "api", .sans = {"URI:spiffe://example.org/api"}})) {}

  // A TLS backend with gRPC's health service, SERVING.
  TestBackend& TlsBackend(const TestCert& cert, const TestCert* client_ca = nullptr) {
    BackendOptions options;
    options.health = true;
    options.tls_cert_pem = cert.cert_pem;
    options.tls_key_pem = cert.key_pem;
    if (client_ca != nullptr) options.tls_client_ca_pem = client_ca->cert_pem;
    backends_.push_back(std::make_unique<TestBackend>("tls", options));
    return *backends_.back();
  }

  // The echo service over https:// to `backend`, checked every 50 ms; its
  // transport ("fast") gets `tls`. A test expecting the server up starts it
  // down (only a check that passes brings it up); one expecting it down
  // starts it up (only a check that fails takes it down, with a reason).
  config::v1::Config Config(const TestBackend& backend, bool expect_up,
                            const std::function<void(config::v1::ServersTransport&)>& tls) {
    config::v1::Config config = EchoConfig({});
    config::v1::LoadBalancer* lb = config.mutable_services()->at("echo").mutable_load_balancer();
    lb->add_servers()->set_url(Url(backend));
    config::v1::HealthCheck* hc = lb->mutable_health_check();
    SetDuration(hc->mutable_interval(), absl::Milliseconds(50));
    SetDuration(hc->mutable_timeout(), absl::Seconds(1));
    hc->set_initially_healthy(!expect_up);
    tls(config.mutable_servers_transports()->at("fast"));
    return config;
  }
  static std::string Url(const TestBackend& b) { return "https://" + b.address(); }

  // strait's view has no event to wait on: poll it (bounded).
  bool Eventually(const std::function<bool()>& condition) {
    return RawH2Server::WaitFor(condition);
  }
  // Up; down with the reason of a failed check (none before the first).
  bool Up(const std::string& url) {
    std::optional<server::ServerHealthView> h = server_->Health("echo", url);
    return h && h->active_up;
  }
  bool DownAfterACheck(const std::string& url) {
    std::optional<server::ServerHealthView> h = server_->Health("echo", url);
    return h && !h->active_up && !h->reason.empty();
  }
  std::string Reason(const std::string& url) { return server_->Health("echo", url)->reason; }

  TestCerts certs_;
  const TestCert& ca_;
  const TestCert& other_ca_;
  const TestCert& client_ca_;
  const TestCert& ip_cert_;
  const TestCert& named_cert_;
  const TestCert& client_cert_;
  const TestCert& spiffe_cert_;  // a URI SAN only, no name or IP
};

TEST_F(HealthTlsTest, TheRightRootCaMakesTheServerHealthy) {
  TestBackend& backend = TlsBackend(ip_cert_);
  StartProxy(Config(backend, /*expect_up=*/true, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
  }));
  EXPECT_TRUE(Eventually([&] { return Up(Url(backend)); })) << Reason(Url(backend));
}

TEST_F(HealthTlsTest, AWrongRootCaTakesTheServerDownSayingWhy) {
  TestBackend& backend = TlsBackend(ip_cert_);
  StartProxy(Config(backend, /*expect_up=*/false, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(other_ca_.cert_file);
  }));
  ASSERT_TRUE(Eventually([&] { return DownAfterACheck(Url(backend)); }));
  // gRPC's words: "... Ssl handshake failed: ... certificate verify failed".
  EXPECT_THAT(Reason(Url(backend)), HasSubstr("certificate verify failed"));
  EXPECT_FALSE(Up(Url(backend)));
}

TEST_F(HealthTlsTest, ServerNameIsTheNameVerified) {
  // The certificate names api.internal only; the URL is an IP.
  TestBackend& backend = TlsBackend(named_cert_);
  StartProxy(Config(backend, /*expect_up=*/true, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
    t.set_server_name("api.internal");
  }));
  EXPECT_TRUE(Eventually([&] { return Up(Url(backend)); })) << Reason(Url(backend));
}

TEST_F(HealthTlsTest, WithoutServerNameTheUrlHostMustMatch) {
  TestBackend& backend = TlsBackend(named_cert_);
  StartProxy(Config(backend, /*expect_up=*/false, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
  }));
  ASSERT_TRUE(Eventually([&] { return DownAfterACheck(Url(backend)); }));
  EXPECT_THAT(Reason(Url(backend)), HasSubstr("Peer name 127.0.0.1 is not in peer certificate"));
}

TEST_F(HealthTlsTest, MutualTlsPresentsTheTransportsCertificate) {
  TestBackend& backend = TlsBackend(ip_cert_, &client_ca_);
  StartProxy(Config(backend, /*expect_up=*/true, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
    config::v1::Certificate* c = t.add_certificates();
    c->set_cert_file(client_cert_.cert_file);
    c->set_key_file(client_cert_.key_file);
  }));
  EXPECT_TRUE(Eventually([&] { return Up(Url(backend)); })) << Reason(Url(backend));
}

TEST_F(HealthTlsTest, MutualTlsWithoutACertificateIsRefused) {
  TestBackend& backend = TlsBackend(ip_cert_, &client_ca_);
  StartProxy(Config(backend, /*expect_up=*/false, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
  }));
  ASSERT_TRUE(Eventually([&] { return DownAfterACheck(Url(backend)); }));
  EXPECT_FALSE(Up(Url(backend)));
}

TEST_F(HealthTlsTest, PeerCertUriPresentMakesTheServerHealthy) {
  // As for RPCs, the URI replaces the URL host, which the certificate lacks.
  TestBackend& backend = TlsBackend(spiffe_cert_);
  StartProxy(Config(backend, /*expect_up=*/true, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
    t.set_peer_cert_uri("spiffe://example.org/api");
  }));
  EXPECT_TRUE(Eventually([&] { return Up(Url(backend)); })) << Reason(Url(backend));
}

TEST_F(HealthTlsTest, PeerCertUriAbsentTakesTheServerDown) {
  TestBackend& backend = TlsBackend(spiffe_cert_);
  StartProxy(Config(backend, /*expect_up=*/false, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
    t.set_peer_cert_uri("spiffe://example.org/billing");
  }));
  ASSERT_TRUE(Eventually([&] { return DownAfterACheck(Url(backend)); }));
  // gRPC passes our verifier's message on.
  EXPECT_THAT(Reason(Url(backend)),
              HasSubstr("peer certificate has no URI SAN spiffe://example.org/billing"));
}

TEST_F(HealthTlsTest, PeerCertUriStillNeedsTheRightRootCa) {
  TestBackend& backend = TlsBackend(spiffe_cert_);
  StartProxy(Config(backend, /*expect_up=*/false, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(other_ca_.cert_file);
    t.set_peer_cert_uri("spiffe://example.org/api");
  }));
  ASSERT_TRUE(Eventually([&] { return DownAfterACheck(Url(backend)); }));
  EXPECT_FALSE(Up(Url(backend)));
}

TEST_F(HealthTlsTest, InsecureSkipVerifyAcceptsAnUnknownCa) {
  TestBackend& backend = TlsBackend(named_cert_);
  StartProxy(Config(backend, /*expect_up=*/true, [&](config::v1::ServersTransport& t) {
    t.add_root_cas(other_ca_.cert_file);
    t.set_insecure_skip_verify(true);
  }));
  EXPECT_TRUE(Eventually([&] { return Up(Url(backend)); })) << Reason(Url(backend));
}

// RPCs to https:// servers (not only health checks): the servers transport's
// roots, client certificate and peerCertURI on strait's own TLS client.
TEST_F(HealthTlsTest, RpcsReachAnMtlsBackendCheckedByPeerCertUri) {
  TestBackend& backend = TlsBackend(spiffe_cert_, &client_ca_);
  config::v1::Config config = EchoConfig({});
  config.mutable_services()->at("echo").mutable_load_balancer()->add_servers()->set_url(
      Url(backend));
  config::v1::ServersTransport& t = config.mutable_servers_transports()->at("fast");
  t.add_root_cas(ca_.cert_file);
  t.set_peer_cert_uri("spiffe://example.org/api");
  config::v1::Certificate* client = t.add_certificates();
  client->set_cert_file(client_cert_.cert_file);
  client->set_key_file(client_cert_.key_file);
  StartProxy(config, 1);
  auto stub = MakeStub(proxy_port());
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    test::v1::EchoRequest request;
    request.set_payload("over tls " + std::to_string(i));
    test::v1::EchoResponse response;
    grpc::Status status = stub->Unary(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.payload(), request.payload());
  }
  EXPECT_EQ(backend.calls(), 3);
}

TEST_F(HealthTlsTest, AWrongCaOrPeerCertUriFailsRpcsSayingWhy) {
  TestBackend& backend = TlsBackend(spiffe_cert_);
  auto rpc = [&](const std::function<void(config::v1::ServersTransport&)>& tls) {
    config::v1::Config config = EchoConfig({});
    config.mutable_services()->at("echo").mutable_load_balancer()->add_servers()->set_url(
        Url(backend));
    tls(config.mutable_servers_transports()->at("fast"));
    StartProxy(config, 1);
    auto stub = MakeStub(proxy_port());
    grpc::ClientContext context;
    test::v1::EchoResponse response;
    grpc::Status status = stub->Unary(&context, test::v1::EchoRequest(), &response);
    server_->Shutdown();  // the next case starts its own strait
    server_.reset();
    return status;
  };
  grpc::Status wrong_ca = rpc([&](config::v1::ServersTransport& t) {
    t.add_root_cas(other_ca_.cert_file);
    t.set_peer_cert_uri("spiffe://example.org/api");
  });
  EXPECT_EQ(wrong_ca.error_code(), grpc::StatusCode::UNAVAILABLE);
  // The wording: who, over what, and OpenSSL's reason.
  EXPECT_EQ(wrong_ca.error_message(),
            absl::StrCat("service echo: TLS to ", Url(backend),
                         ": certificate verify failed: unable to get local issuer certificate"));

  grpc::Status wrong_uri = rpc([&](config::v1::ServersTransport& t) {
    t.add_root_cas(ca_.cert_file);
    t.set_peer_cert_uri("spiffe://example.org/billing");
  });
  EXPECT_EQ(wrong_uri.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(wrong_uri.error_message(),
              HasSubstr(absl::StrCat("service echo: TLS to ", Url(backend), ": ")));
  EXPECT_THAT(wrong_uri.error_message(),
              HasSubstr("peer certificate has no URI SAN spiffe://example.org/billing"));
  EXPECT_EQ(backend.calls(), 0);
}

}  // namespace
}  // namespace strait::testing
