// TlsServerContext (files, SNI names) and TlsTransport in both roles over a
// socketpair, driven by hand: no loop, no network.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "net/tls_server_context.h"
#include "net/tls_transport.h"
#include "tests/support/certs.h"

namespace strait::net {
namespace {

using ::strait::testing::Cert;
using ::strait::testing::CertAuthority;
using ::strait::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Status = Transport::Status;

class TlsTest : public ::testing::Test {
 protected:
  TlsTest() {
    server_ = ca_.Issue({.common_name = "server", .dns_names = {"api.example.com"}});
    server_.WriteTo(dir_.path(), "server");
    ca_.WriteTo(dir_.path(), "ca");
  }
  // A client context trusting ca_ (what the client-side builder will make).
  SSL_CTX* ClientCtx(const Cert* client_cert = nullptr) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca_.cert().x509());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (client_cert != nullptr) {
      SSL_CTX_use_certificate(ctx, client_cert->x509());
      SSL_CTX_use_PrivateKey(ctx, client_cert->key());
    }
    return ctx;
  }
  // Drives both handshakes until neither says kAgain; the final statuses.
  static std::pair<Status, Status> Handshake(Transport& a, Transport& b) {
    Status sa = Status::kAgain, sb = Status::kAgain;
    for (int i = 0; i < 100 && (sa == Status::kAgain || sb == Status::kAgain); ++i) {
      if (sa == Status::kAgain) sa = a.Handshake();
      if (sb == Status::kAgain) sb = b.Handshake();
    }
    return {sa, sb};
  }
  void SocketPair() { ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds_), 0); }

  TempDir dir_;
  CertAuthority ca_ = CertAuthority::Create("unit CA");
  Cert server_{nullptr, nullptr};
  int fds_[2] = {-1, -1};
};

TEST_F(TlsTest, BothRolesHandshakeNegotiateH2AndMoveBytes) {
  auto context =
      TlsServerContext::Create({.certificates = {{server_.cert_file(), server_.key_file()}}});
  ASSERT_TRUE(context.ok()) << context.status();
  SocketPair();
  SSL_CTX* client_ctx = ClientCtx();
  TlsTransport server(fds_[0], (*context)->ctx(), TlsTransport::Role::kServer);
  TlsTransport client(fds_[1], client_ctx, TlsTransport::Role::kClient, "api.example.com");
  SSL_CTX_free(client_ctx);  // the SSL holds its own reference
  auto [s, c] = Handshake(server, client);
  ASSERT_EQ(s, Status::kOk) << server.error();
  ASSERT_EQ(c, Status::kOk) << client.error();
  EXPECT_EQ(server.alpn(), "h2");
  EXPECT_EQ(client.alpn(), "h2");
  EXPECT_THAT(client.PeerSubject(), HasSubstr("CN=server"));

  const std::string hello = "PRI * HTTP/2.0";
  Transport::Result w = client.Write(reinterpret_cast<const uint8_t*>(hello.data()), hello.size());
  ASSERT_EQ(w.status, Status::kOk);
  EXPECT_EQ(w.bytes, hello.size());
  uint8_t buf[64];
  Transport::Result r = server.Read(buf, sizeof buf);
  ASSERT_EQ(r.status, Status::kOk) << server.error();
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), r.bytes), hello);
  EXPECT_EQ(server.Read(buf, sizeof buf).status, Status::kAgain);
  EXPECT_TRUE(server.wants_read());

  client.ShutdownWrite();  // close_notify, FIN
  EXPECT_EQ(server.Read(buf, sizeof buf).status, Status::kClosed);
}

TEST_F(TlsTest, ClientRefusesAServerWhoseNameDoesNotMatch) {
  auto context =
      TlsServerContext::Create({.certificates = {{server_.cert_file(), server_.key_file()}}});
  ASSERT_TRUE(context.ok());
  SocketPair();
  SSL_CTX* client_ctx = ClientCtx();
  TlsTransport server(fds_[0], (*context)->ctx(), TlsTransport::Role::kServer);
  TlsTransport client(fds_[1], client_ctx, TlsTransport::Role::kClient, "other.example.com");
  SSL_CTX_free(client_ctx);
  auto [s, c] = Handshake(server, client);
  EXPECT_EQ(c, Status::kError);
  EXPECT_THAT(client.error(), HasSubstr("certificate verify failed"));
  EXPECT_THAT(client.error(), HasSubstr("hostname mismatch"));
}

TEST_F(TlsTest, RequiredClientCertificate) {
  Cert good = ca_.Issue({.common_name = "client", .server_auth = false});
  auto context =
      TlsServerContext::Create({.certificates = {{server_.cert_file(), server_.key_file()}},
                                .ca_files = {ca_.cert_file()},
                                .client_auth = TlsClientAuth::kRequire});
  ASSERT_TRUE(context.ok()) << context.status();
  for (const Cert* cert : std::vector<const Cert*>{nullptr, &good}) {
    SocketPair();
    SSL_CTX* client_ctx = ClientCtx(cert);
    TlsTransport server(fds_[0], (*context)->ctx(), TlsTransport::Role::kServer);
    TlsTransport client(fds_[1], client_ctx, TlsTransport::Role::kClient, "api.example.com");
    SSL_CTX_free(client_ctx);
    auto [s, c] = Handshake(server, client);
    if (cert == nullptr) {
      EXPECT_EQ(s, Status::kError);
      EXPECT_THAT(server.error(), HasSubstr("certificate"));
    } else {
      EXPECT_EQ(s, Status::kOk) << server.error();
      EXPECT_THAT(server.PeerSubject(), HasSubstr("CN=client"));
    }
  }
}

TEST_F(TlsTest, CreateNamesTheFieldAndFileThatFail) {
  Cert other = ca_.Issue({.common_name = "other"});
  other.WriteTo(dir_.path(), "other");
  std::string missing = dir_.File("missing.key");
  auto err = [](const TlsServerOptions& o) {
    auto c = TlsServerContext::Create(o);
    return c.ok() ? std::string("ok") : std::string(c.status().message());
  };
  EXPECT_EQ(err({.certificates = {{server_.cert_file(), server_.key_file()},
                                  {other.cert_file(), missing}}}),
            "certificates[1].keyFile: " + missing + ": No such file or directory");
  EXPECT_EQ(err({.certificates = {{server_.cert_file(), other.key_file()}}}),
            "certificates[0].keyFile: " + other.key_file() +
                ": does not match the certificate in " + server_.cert_file());
  EXPECT_EQ(err({.certificates = {{server_.key_file(), server_.key_file()}}}),
            "certificates[0].certFile: " + server_.key_file() + ": no PEM certificate in it");
  std::string junk = dir_.File("junk.pem");
  std::ofstream(junk) << "not a certificate\n";
  EXPECT_EQ(err({.certificates = {{server_.cert_file(), server_.key_file()}},
                 .ca_files = {ca_.cert_file(), junk},
                 .client_auth = TlsClientAuth::kRequire}),
            "clientAuth.caFiles[1]: " + junk + ": no PEM certificate in it");
  EXPECT_EQ(err({.certificates = {{server_.cert_file(), server_.key_file()}},
                 .cipher_suites = {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "NOPE"}}),
            "cipherSuites[1]: unknown TLS 1.2 cipher suite \"NOPE\"");
  EXPECT_EQ(err({.certificates = {}}), "certificates: at least one is required");
}

TEST(TlsNamesTest, SanDnsNamesElseCommonName) {
  CertAuthority ca = CertAuthority::Create("ca");
  Cert sans =
      ca.Issue({.common_name = "ignored", .dns_names = {"A.example.com", "*.b.example.com"}});
  Cert cn = ca.Issue({.common_name = "cn.example.com"});
  EXPECT_THAT(CertificateNames(sans.x509()), ElementsAre("a.example.com", "*.b.example.com"));
  EXPECT_THAT(CertificateNames(cn.x509()), ElementsAre("cn.example.com"));
}

}  // namespace
}  // namespace strait::net
