#include "net/client_tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/net/test_certs.h"

namespace strait::net {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using strait::testing::LeafSpec;
using strait::testing::TestCert;
using strait::testing::TestCerts;

// A blocking OpenSSL server for one handshake at a time, on the other end
// of a socketpair, run on its own thread by Handshake().
struct ServerOptions {
  const TestCert* cert = nullptr;
  bool alpn_h2 = true;                  // false: selects no protocol
  const TestCert* client_ca = nullptr;  // set: a client certificate is required
};

class TestServer {
 public:
  explicit TestServer(const ServerOptions& options) : options_(options) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    SSL_CTX_use_certificate(ctx_, options.cert->cert);
    SSL_CTX_use_PrivateKey(ctx_, options.cert->key);
    SSL_CTX_set_alpn_select_cb(ctx_, &SelectAlpn, this);
    if (options.client_ca != nullptr) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), options.client_ca->cert);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
  }
  ~TestServer() { SSL_CTX_free(ctx_); }

  // One handshake on `fd`, then one byte sent; records what it saw.
  void Serve(int fd) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    accepted = SSL_accept(ssl) == 1;
    if (accepted) {
      const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
      sni_seen = sni != nullptr ? sni : "";
      if (X509* peer = SSL_get0_peer_certificate(ssl)) {
        char cn[256] = {0};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
        client_cn = cn;
      }
      SSL_write(ssl, "x", 1);
      char byte;
      SSL_read(ssl, &byte, 1);  // until the client closes
    }
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
  }

  bool accepted = false;
  std::string sni_seen;
  std::string client_cn;

 private:
  static int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen,
                        const unsigned char* in, unsigned int inlen, void* arg) {
    auto* self = static_cast<TestServer*>(arg);
    if (!self->options_.alpn_h2) return SSL_TLSEXT_ERR_NOACK;
    static const unsigned char kH2[] = {2, 'h', '2'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kH2, sizeof(kH2), in, inlen) !=
        OPENSSL_NPN_NEGOTIATED) {
      return SSL_TLSEXT_ERR_NOACK;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
  }

  const ServerOptions options_;
  SSL_CTX* ctx_;
};

struct Outcome {
  absl::Status status;  // of the handshake, then of VerifyPeer
  bool resumed = false;
};

// Connects `context` to `server` (named `host`) over a socketpair, the way
// the transport will: NewConnection, SSL_connect, HandshakeError or
// VerifyPeer.
Outcome Handshake(const ClientTlsContext& context, TestServer& server,
                  const std::string& host = "localhost") {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::thread server_thread([&] { server.Serve(fds[1]); });
  Outcome outcome;
  absl::StatusOr<SSL*> ssl = context.NewConnection(HostPort{host, 443});
  EXPECT_TRUE(ssl.ok()) << ssl.status();
  SSL_set_fd(*ssl, fds[0]);
  if (SSL_connect(*ssl) != 1) {
    outcome.status = absl::UnavailableError(context.HandshakeError(*ssl));
  } else {
    outcome.status = context.VerifyPeer(*ssl);
    outcome.resumed = SSL_session_reused(*ssl) == 1;
    char byte;
    SSL_read(*ssl, &byte, 1);  // takes TLS 1.3 session tickets in
    SSL_shutdown(*ssl);         // close_notify: else OpenSSL drops the session
    ERR_clear_error();
  }
  SSL_free(*ssl);
  shutdown(fds[0], SHUT_RDWR);
  close(fds[0]);
  server_thread.join();
  return outcome;
}

class ClientTlsContextTest : public ::testing::Test {
 protected:
  // A peer that gives up mid-handshake closes its end: writes must fail
  // with EPIPE, not kill the test.
  static void SetUpTestSuite() { signal(SIGPIPE, SIG_IGN); }

  ClientTlsContextTest()
      : ca_(certs_.MakeCa("ca")),
        other_ca_(certs_.MakeCa("other-ca")),
        server_cert_(certs_.MakeLeaf("server", ca_,
                                     {.common_name = "server",
                                      .sans = {"DNS:localhost", "DNS:api.internal",
                                               "IP:127.0.0.1",
                                               "URI:spiffe://example.org/ns/prod/sa/api"}})) {}

  std::shared_ptr<const ClientTlsContext> Build(ClientTlsOptions options) {
    absl::StatusOr<std::shared_ptr<const ClientTlsContext>> context =
        ClientTlsContext::Build(options);
    EXPECT_TRUE(context.ok()) << context.status();
    return context.ok() ? *context : nullptr;
  }
  ClientTlsOptions Trusting(const TestCert& ca) {
    ClientTlsOptions options;
    options.root_ca_files = {ca.cert_file};
    return options;
  }

  TestCerts certs_;
  const TestCert& ca_;
  const TestCert& other_ca_;
  const TestCert& server_cert_;
};

TEST_F(ClientTlsContextTest, VerifiesAgainstTheConfiguredCa) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(Trusting(ca_));
  Outcome outcome = Handshake(*context, server);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(server.accepted);
  EXPECT_EQ(server.sni_seen, "localhost");
}

TEST_F(ClientTlsContextTest, AnotherCaIsRefusedWithOpenSslsReason) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(Trusting(other_ca_));
  Outcome outcome = Handshake(*context, server);
  EXPECT_EQ(outcome.status.message(),
            "certificate verify failed: unable to get local issuer certificate");
  EXPECT_FALSE(server.accepted);
}

TEST_F(ClientTlsContextTest, TheSystemRootsDoNotTrustATestCa) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(ClientTlsOptions{});
  Outcome outcome = Handshake(*context, server);
  EXPECT_EQ(outcome.status.message(),
            "certificate verify failed: unable to get local issuer certificate");
}

TEST_F(ClientTlsContextTest, InsecureSkipVerifyAcceptsAnyCertificate) {
  TestServer server({.cert = &server_cert_});
  ClientTlsOptions options = Trusting(other_ca_);
  options.insecure_skip_verify = true;
  auto context = Build(options);
  EXPECT_TRUE(Handshake(*context, server, "elsewhere.example").status.ok());
}

TEST_F(ClientTlsContextTest, TheHostNameMustMatch) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(Trusting(ca_));
  Outcome outcome = Handshake(*context, server, "db.internal");
  EXPECT_EQ(outcome.status.message(),
            "certificate verify failed: hostname mismatch (expected \"db.internal\")");
}

TEST_F(ClientTlsContextTest, AnIpHostIsCheckedAgainstIpSansAndSentWithoutSni) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(Trusting(ca_));
  EXPECT_TRUE(Handshake(*context, server, "127.0.0.1").status.ok());
  EXPECT_EQ(server.sni_seen, "");
  Outcome outcome = Handshake(*context, server, "10.0.0.7");
  EXPECT_THAT(std::string(outcome.status.message()),
              StartsWith("certificate verify failed: IP address mismatch"));
}

TEST_F(ClientTlsContextTest, ServerNameIsSentAndVerifiedInsteadOfTheUrlHost) {
  TestServer server({.cert = &server_cert_});
  ClientTlsOptions options = Trusting(ca_);
  options.server_name = "api.internal";
  auto context = Build(options);
  Outcome outcome = Handshake(*context, server, "10.0.0.7");
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_EQ(server.sni_seen, "api.internal");

  options.server_name = "db.internal";
  outcome = Handshake(*Build(options), server, "localhost");
  EXPECT_EQ(outcome.status.message(),
            "certificate verify failed: hostname mismatch (expected \"db.internal\")");
}

TEST_F(ClientTlsContextTest, PeerCertUriPresentPassesInsteadOfTheHostName) {
  TestServer server({.cert = &server_cert_});
  ClientTlsOptions options = Trusting(ca_);
  options.peer_cert_uri = "spiffe://example.org/ns/prod/sa/api";
  auto context = Build(options);
  // The URL host is in no SAN: the URI is the identity checked.
  Outcome outcome = Handshake(*context, server, "10.0.0.7");
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
}

TEST_F(ClientTlsContextTest, PeerCertUriAbsentFailsNamingTheUri) {
  TestServer server({.cert = &server_cert_});
  ClientTlsOptions options = Trusting(ca_);
  options.peer_cert_uri = "spiffe://example.org/ns/prod/sa/billing";
  auto context = Build(options);
  Outcome outcome = Handshake(*context, server);
  EXPECT_EQ(outcome.status.message(),
            "peer certificate has no URI SAN spiffe://example.org/ns/prod/sa/billing "
            "(it has: spiffe://example.org/ns/prod/sa/api)");
}

TEST_F(ClientTlsContextTest, PeerCertUriStillNeedsAVerifiedChain) {
  TestServer server({.cert = &server_cert_});
  ClientTlsOptions options = Trusting(other_ca_);
  options.peer_cert_uri = "spiffe://example.org/ns/prod/sa/api";
  Outcome outcome = Handshake(*Build(options), server);
  EXPECT_EQ(outcome.status.message(),
            "certificate verify failed: unable to get local issuer certificate");
}

TEST_F(ClientTlsContextTest, VerifyPeerIdentityChecksAPemCertificate) {
  ClientTlsOptions options = Trusting(ca_);
  options.peer_cert_uri = "spiffe://example.org/ns/prod/sa/api";
  EXPECT_TRUE(Build(options)->VerifyPeerIdentity(server_cert_.cert_pem).ok());
  options.server_name = "api.internal";
  EXPECT_TRUE(Build(options)->VerifyPeerIdentity(server_cert_.cert_pem).ok());
  options.server_name = "db.internal";
  EXPECT_EQ(Build(options)->VerifyPeerIdentity(server_cert_.cert_pem).message(),
            "certificate verify failed: hostname mismatch (expected \"db.internal\")");
  options.server_name = "";
  options.peer_cert_uri = "spiffe://example.org/other";
  EXPECT_EQ(Build(options)->VerifyPeerIdentity(server_cert_.cert_pem).message(),
            "peer certificate has no URI SAN spiffe://example.org/other "
            "(it has: spiffe://example.org/ns/prod/sa/api)");
  EXPECT_EQ(Build(options)->VerifyPeerIdentity("").message(), "server sent no certificate");
}

TEST_F(ClientTlsContextTest, AServerWithoutH2AlpnIsRefused) {
  TestServer server({.cert = &server_cert_, .alpn_h2 = false});
  auto context = Build(Trusting(ca_));
  Outcome outcome = Handshake(*context, server);
  EXPECT_EQ(outcome.status.message(), "server did not negotiate h2 (ALPN)");
}

TEST_F(ClientTlsContextTest, MutualTlsPresentsTheConfiguredCertificate) {
  const TestCert& client_ca = certs_.MakeCa("client-ca");
  const TestCert& client =
      certs_.MakeLeaf("client", client_ca, {.common_name = "client-a", .sans = {}, .client = true});
  TestServer server({.cert = &server_cert_, .client_ca = &client_ca});
  ClientTlsOptions options = Trusting(ca_);
  options.cert_file = client.cert_file;
  options.key_file = client.key_file;
  Outcome outcome = Handshake(*Build(options), server);
  EXPECT_TRUE(outcome.status.ok()) << outcome.status;
  EXPECT_TRUE(server.accepted);
  EXPECT_EQ(server.client_cn, "client-a");

  // Without it the server refuses the connection.
  TestServer strict({.cert = &server_cert_, .client_ca = &client_ca});
  Handshake(*Build(Trusting(ca_)), strict);
  EXPECT_FALSE(strict.accepted);
}

TEST_F(ClientTlsContextTest, ASecondConnectionResumesTheSession) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(Trusting(ca_));
  EXPECT_FALSE(Handshake(*context, server).resumed);
  Outcome second = Handshake(*context, server);
  EXPECT_TRUE(second.status.ok()) << second.status;
  EXPECT_TRUE(second.resumed);
  // Sessions are per server: another host starts afresh.
  EXPECT_FALSE(Handshake(*context, server, "api.internal").resumed);
}

TEST_F(ClientTlsContextTest, PrepareConnectionSetsUpAnSslMadeElsewhere) {
  TestServer server({.cert = &server_cert_});
  auto context = Build(Trusting(ca_));
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::thread server_thread([&] { server.Serve(fds[1]); });
  SSL* ssl = SSL_new(context->ssl_ctx());
  ASSERT_TRUE(context->PrepareConnection(ssl, HostPort{"db.internal", 443}).ok());
  SSL_set_fd(ssl, fds[0]);
  EXPECT_NE(SSL_connect(ssl), 1);
  EXPECT_EQ(context->HandshakeError(ssl),
            "certificate verify failed: hostname mismatch (expected \"db.internal\")");
  SSL_free(ssl);
  close(fds[0]);
  server_thread.join();

  SSL_CTX* other = SSL_CTX_new(TLS_client_method());
  SSL* foreign = SSL_new(other);
  EXPECT_EQ(context->PrepareConnection(foreign, HostPort{"localhost", 443}).code(),
            absl::StatusCode::kInternal);
  SSL_free(foreign);
  SSL_CTX_free(other);
}

TEST_F(ClientTlsContextTest, BuildNamesTheFieldAndFile) {
  ClientTlsOptions options;
  options.root_ca_files = {ca_.cert_file, "/nonexistent/ca.pem"};
  EXPECT_EQ(ClientTlsContext::Build(options).status().message(),
            "rootCAs[1]: \"/nonexistent/ca.pem\": open: No such file or directory");

  options.root_ca_files = {ca_.key_file};
  EXPECT_EQ(ClientTlsContext::Build(options).status().message(),
            absl::StrCat("rootCAs[0]: \"", ca_.key_file, "\": no PEM certificate in the file"));

  options.root_ca_files = {};
  options.cert_file = server_cert_.cert_file;
  options.key_file = "/nonexistent/key.pem";
  EXPECT_EQ(ClientTlsContext::Build(options).status().message(),
            "certificates[0].keyFile: \"/nonexistent/key.pem\": open: No such file or directory");

  options.key_file = ca_.key_file;
  EXPECT_EQ(ClientTlsContext::Build(options).status().message(),
            absl::StrCat("certificates[0].keyFile: \"", ca_.key_file,
                         "\": the key does not match the certificate of certFile \"",
                         server_cert_.cert_file, "\""));

  options.cert_file = "";
  options.key_file = server_cert_.key_file;
  EXPECT_EQ(ClientTlsContext::Build(options).status().message(),
            "certificates[0].certFile: a path is required");

  options.cert_file = server_cert_.key_file;
  EXPECT_THAT(std::string(ClientTlsContext::Build(options).status().message()),
              HasSubstr("certificates[0].certFile: \"" + server_cert_.key_file +
                        "\": no PEM certificate"));
}

TEST_F(ClientTlsContextTest, TheIdentityFollowsTheFilesContents) {
  std::string path = certs_.WriteFile("roots.pem", ca_.cert_pem);
  ClientTlsOptions options;
  options.root_ca_files = {path};
  std::string before = Build(options)->identity();
  EXPECT_EQ(Build(options)->identity(), before);
  certs_.WriteFile("roots.pem", other_ca_.cert_pem);
  EXPECT_NE(Build(options)->identity(), before);
  options.server_name = "api.internal";
  EXPECT_NE(Build(options)->identity(), Build(ClientTlsOptions{})->identity());
}

TEST_F(ClientTlsContextTest, PemTextsForGrpc) {
  const TestCert& client =
      certs_.MakeLeaf("client2", ca_, {.common_name = "client-b", .sans = {}, .client = true});
  ClientTlsOptions options = Trusting(ca_);
  options.root_ca_files.push_back(other_ca_.cert_file);
  options.cert_file = client.cert_file;
  options.key_file = client.key_file;
  auto context = Build(options);
  EXPECT_EQ(context->root_certs_pem(), ca_.cert_pem + other_ca_.cert_pem);
  EXPECT_EQ(context->cert_chain_pem(), client.cert_pem);
  EXPECT_EQ(context->private_key_pem(), client.key_pem);
  EXPECT_EQ(Build(ClientTlsOptions{})->root_certs_pem(), "");
}

}  // namespace
}  // namespace strait::net
