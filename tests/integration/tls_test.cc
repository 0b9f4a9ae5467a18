// TLS entry points: SNI, ALPN, the handshake timeout, client certificates and
// certificate rotation, between real peers (gRPC C++ SslCredentials clients,
// or a raw OpenSSL client where the handshake itself is under test) and h2c
// echo backends. The data-path matrix over TLS is proxy_test's Tls half.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/server.h"
#include "tests/integration/proxy_fixture.h"
#include "tests/support/certs.h"

namespace strait::testing {
namespace {

using test::v1::EchoRequest;
using test::v1::EchoResponse;
using ::testing::HasSubstr;

// Bounded waits: a broken strait fails a test instead of hanging it.
constexpr int kIoTimeoutSeconds = 10;

int ConnectTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{kIoTimeoutSeconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One blocking OpenSSL handshake against strait, to see what it serves.
struct Handshake {
  bool ok = false;
  std::string error;        // why it failed (OpenSSL's reason)
  std::string common_name;  // of the certificate strait served
  std::vector<std::string> dns_names;
  std::string alpn;
  bool reused = false;             // the session was resumed
  SSL_SESSION* session = nullptr;  // to resume with (owned by the caller)
};

struct HandshakeOptions {
  std::string sni;                         // empty: none sent
  std::vector<std::string> alpn = {"h2"};  // empty: no ALPN extension
  const Cert* client_cert = nullptr;
  int max_version = 0;  // 0: any
  SSL_SESSION* resume = nullptr;
};

Handshake Connect(int port, const HandshakeOptions& options) {
  Handshake out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (options.max_version != 0) SSL_CTX_set_max_proto_version(ctx, options.max_version);
  if (options.client_cert != nullptr) {
    SSL_CTX_use_certificate(ctx, options.client_cert->x509());
    SSL_CTX_use_PrivateKey(ctx, options.client_cert->key());
  }
  SSL* ssl = SSL_new(ctx);
  if (!options.alpn.empty()) {
    std::string wire;
    for (const std::string& p : options.alpn) {
      wire.push_back(static_cast<char>(p.size()));
      wire += p;
    }
    SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(wire.data()), wire.size());
  }
  if (!options.sni.empty()) SSL_set_tlsext_host_name(ssl, options.sni.c_str());
  if (options.resume != nullptr) SSL_set_session(ssl, options.resume);
  int fd = ConnectTcp(port);
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) == 1) {
    // TLS 1.3: a refused client certificate is reported after the client's
    // handshake finished; a read brings the alert in.
    out.ok = true;
    X509* peer = SSL_get0_peer_certificate(ssl);
    if (peer != nullptr) {
      out.common_name = SubjectCommonName(peer);
      out.dns_names = DnsNames(peer);
    }
    const unsigned char* a = nullptr;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &a, &n);
    out.alpn.assign(reinterpret_cast<const char*>(a), n);
    out.reused = SSL_session_reused(ssl);
    // strait's SETTINGS follow the handshake; reading them brings in the
    // TLS 1.3 session tickets sent before.
    char buf[64];
    SSL_read(ssl, buf, sizeof buf);
    out.session = SSL_get1_session(ssl);
    // A clean close: OpenSSL will not resume a session whose connection
    // ended without close_notify.
    SSL_shutdown(ssl);
  } else {
    unsigned long e = ERR_peek_last_error();
    const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
    out.error = reason != nullptr ? reason : absl::StrCat("error ", e, ", errno ", errno);
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  close(fd);
  return out;
}

// Waits (bounded) until strait closes `fd`: true on EOF or reset, false
// if the wait timed out with the connection still open.
bool ClosedByPeer(int fd) {
  char buf[256];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n > 0) continue;  // an alert, say
    return errno == ECONNRESET;
  }
}

// What strait's certificate rotation did (Server::SetTlsRotationListener),
// for a test to wait on instead of polling what strait serves.
class RotationLog {
 public:
  server::Server::TlsRotationListener Listener() {
    return [this](const std::string& files, const absl::Status& result) {
      absl::MutexLock lock(&mu_);
      results_.push_back(absl::StrCat(files, ": ", result.ok() ? "OK" : result.message()));
      if (result.ok()) {
        ++applied_;
      } else {
        refusals_.emplace_back(result.message());
      }
    };
  }
  // Waits (bounded: the watchers settle a burst within about a second)
  // until `n` rotations were applied, or refused; false if they never were.
  bool AwaitRefused(int n) {
    return Await([&] {
      mu_.AssertHeld();
      return static_cast<int>(refusals_.size()) >= n;
    });
  }
  bool AwaitApplied(int n) {
    return Await([&] {
      mu_.AssertHeld();
      return applied_ >= n;
    });
  }
  // "files: OK" or "files: why", in order.
  std::vector<std::string> results() const {
    absl::MutexLock lock(&mu_);
    return results_;
  }
  // The refused rotations' messages.
  std::vector<std::string> refusals() const {
    absl::MutexLock lock(&mu_);
    return refusals_;
  }

 private:
  template <typename Reached>
  bool Await(Reached reached) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(30));
  }

  mutable absl::Mutex mu_;
  std::vector<std::string> results_ ABSL_GUARDED_BY(mu_);
  int applied_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> refusals_ ABSL_GUARDED_BY(mu_);
};

class TlsTest : public ProxyTest {
 protected:
  // Backend "backend-0" and strait, entry point web with `tls`; rotations
  // go to rotations_.
  void Start(const config::v1::EntryPointTls& tls) {
    backends_.push_back(std::make_unique<TestBackend>("backend-0"));
    config::v1::Config config = EchoConfig(BackendAddresses());
    *(*config.mutable_entry_points())["web"].mutable_tls() = tls;
    StartProxy(config, /*workers=*/2, [this](server::Server& server) {
      server.SetTlsRotationListener(rotations_.Listener());
    });
  }
  static void AddCert(config::v1::EntryPointTls& tls, const Cert& cert) {
    config::v1::TlsCertificate* c = tls.add_certificates();
    c->set_cert_file(cert.cert_file());
    c->set_key_file(cert.key_file());
  }
  // One unary RPC over TLS trusting `ca`, as `client` if given.
  grpc::Status Call(const CertAuthority& ca, const Cert* client = nullptr,
                    const std::string& server_name = "", EchoResponse* resp = nullptr) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ca.cert().CertPem();
    if (client != nullptr) {
      options.pem_cert_chain = client->CertPem();
      options.pem_private_key = client->KeyPem();
    }
    auto stub = test::v1::Echo::NewStub(MakeTlsChannel(proxy_port(), options, server_name));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    EchoRequest req;
    req.set_payload("over tls");
    EchoResponse local;
    return stub->Unary(&ctx, req, resp != nullptr ? resp : &local);
  }

  TempDir dir_;
  CertAuthority ca_ = CertAuthority::Create("tls test CA");
  RotationLog rotations_;
};

TEST_F(TlsTest, SniPicksTheCertificateByItsNamesAndTheFirstIsTheDefault) {
  Cert a = ca_.Issue({.common_name = "a", .dns_names = {"a.example.com"}});
  Cert b = ca_.Issue({.common_name = "b", .dns_names = {"b.example.com", "b2.example.com"}});
  Cert wild = ca_.Issue({.common_name = "wild", .dns_names = {"*.wild.example.com"}});
  Cert cn_only = ca_.Issue({.common_name = "cn.example.com"});
  a.WriteTo(dir_.path(), "a");
  b.WriteTo(dir_.path(), "b");
  wild.WriteTo(dir_.path(), "wild");
  cn_only.WriteTo(dir_.path(), "cn");
  config::v1::EntryPointTls tls;
  for (const Cert* c : {&a, &b, &wild, &cn_only}) AddCert(tls, *c);
  Start(tls);

  auto served = [&](const std::string& sni) {
    Handshake h = Connect(proxy_port(), {.sni = sni});
    EXPECT_TRUE(h.ok) << sni << ": " << h.error;
    EXPECT_EQ(h.alpn, "h2") << sni;
    return h.common_name;
  };
  EXPECT_EQ(served("a.example.com"), "a");
  EXPECT_EQ(served("b.example.com"), "b");
  EXPECT_EQ(served("B2.Example.COM"), "b");
  EXPECT_EQ(served("x.wild.example.com"), "wild");
  EXPECT_EQ(served("cn.example.com"), "cn.example.com");  // no SAN: the CN
  // A wildcard covers one label only; unknown names and no SNI: the default.
  EXPECT_EQ(served("y.x.wild.example.com"), "a");
  EXPECT_EQ(served("wild.example.com"), "a");
  EXPECT_EQ(served("other.org"), "a");
  EXPECT_EQ(served(""), "a");
  Handshake h = Connect(proxy_port(), {.sni = "x.wild.example.com"});
  EXPECT_THAT(h.dns_names, ::testing::ElementsAre("*.wild.example.com"));

  // And a gRPC client asking for b gets an RPC through, verified.
  EchoResponse resp;
  grpc::Status s = Call(ca_, nullptr, "b2.example.com", &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.request_metadata().at("x-forwarded-proto"), "https");
}

TEST_F(TlsTest, AlpnWithoutH2GetsAnAlertNotAHang) {
  Cert server = ca_.Issue({.common_name = "server", .ips = {"127.0.0.1"}});
  server.WriteTo(dir_.path(), "server");
  config::v1::EntryPointTls tls;
  AddCert(tls, server);
  Start(tls);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    Handshake h = Connect(proxy_port(), {.alpn = {"http/1.1"}, .max_version = version});
    EXPECT_FALSE(h.ok);
    EXPECT_THAT(h.error, HasSubstr("no application protocol")) << version;
  }
  // h2 among others is fine; no ALPN at all is served h2 (the preface decides).
  Handshake both = Connect(proxy_port(), {.alpn = {"http/1.1", "h2"}});
  EXPECT_TRUE(both.ok) << both.error;
  EXPECT_EQ(both.alpn, "h2");
  Handshake none = Connect(proxy_port(), {.alpn = {}});
  EXPECT_TRUE(none.ok) << none.error;
}

TEST_F(TlsTest, SessionsResumeWithTicketsOnTls12And13) {
  Cert server = ca_.Issue({.common_name = "server", .ips = {"127.0.0.1"}});
  server.WriteTo(dir_.path(), "server");
  config::v1::EntryPointTls tls;
  AddCert(tls, server);
  Start(tls);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    Handshake first = Connect(proxy_port(), {.max_version = version});
    ASSERT_TRUE(first.ok) << first.error;
    EXPECT_FALSE(first.reused);
    ASSERT_NE(first.session, nullptr);
    Handshake second = Connect(proxy_port(), {.max_version = version, .resume = first.session});
    EXPECT_TRUE(second.ok) << second.error;
    EXPECT_TRUE(second.reused) << version;
    SSL_SESSION_free(first.session);
    SSL_SESSION_free(second.session);
  }
}

TEST_F(TlsTest, StalledHandshakesAreDroppedAfterTheTimeoutWhileOthersProceed) {
  Cert server = ca_.Issue({.common_name = "server", .ips = {"127.0.0.1"}});
  server.WriteTo(dir_.path(), "server");
  config::v1::EntryPointTls tls;
  AddCert(tls, server);
  tls.mutable_handshake_timeout()->set_seconds(1);
  Start(tls);

  int silent = ConnectTcp(proxy_port());  // TCP only, never a byte
  int partial = ConnectTcp(proxy_port());
  ASSERT_GE(silent, 0);
  ASSERT_GE(partial, 0);
  // The start of a ClientHello record announcing 512 bytes, then nothing.
  const unsigned char hello_start[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc};
  ASSERT_EQ(send(partial, hello_start, sizeof hello_start, 0),
            static_cast<ssize_t>(sizeof hello_start));
  // Meanwhile other clients handshake and get RPCs through, on every worker.
  for (int i = 0; i < 4; ++i) {
    grpc::Status s = Call(ca_);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // The stalled ones are closed by strait (the wait is bounded by
  // SO_RCVTIMEO, far beyond the 1s under test).
  EXPECT_TRUE(ClosedByPeer(silent));
  EXPECT_TRUE(ClosedByPeer(partial));
  close(silent);
  close(partial);
}

TEST_F(TlsTest, MtlsRequireRefusesClientsWithoutAGoodCertificate) {
  Cert server = ca_.Issue({.common_name = "server", .ips = {"127.0.0.1"}});
  server.WriteTo(dir_.path(), "server");
  CertAuthority client_ca = CertAuthority::Create("client CA");
  client_ca.WriteTo(dir_.path(), "client-ca");
  CertAuthority stranger_ca = CertAuthority::Create("stranger CA");
  Cert good = client_ca.Issue({.common_name = "good client",
                               .uris = {"spiffe://example.org/ns/x/sa/y"},
                               .server_auth = false});
  Cert stranger = stranger_ca.Issue({.common_name = "stranger", .server_auth = false});
  config::v1::EntryPointTls tls;
  AddCert(tls, server);
  tls.mutable_client_auth()->add_ca_files(client_ca.cert_file());
  tls.mutable_client_auth()->set_mode("require");
  Start(tls);

  EXPECT_EQ(Call(ca_).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(ca_, &stranger).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::Status s = Call(ca_, &good);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(TlsTest, RotatedCertificateGoesToNewConnectionsWhileOldOnesKeepStreaming) {
  Cert v1 = ca_.Issue({.common_name = "v1", .ips = {"127.0.0.1"}});
  Cert v2 = ca_.Issue({.common_name = "v2", .ips = {"127.0.0.1"}});
  v1.WriteTo(dir_.path(), "server");
  config::v1::EntryPointTls tls;
  AddCert(tls, v1);
  Start(tls);
  ASSERT_EQ(Connect(proxy_port(), {}).common_name, "v1");

  // A bidi stream on a connection made before the rotation.
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ca_.cert().CertPem();
  auto stub = test::v1::Echo::NewStub(MakeTlsChannel(proxy_port(), options));
  grpc::ClientContext ctx;
  auto stream = stub->Bidi(&ctx);
  auto echo = [&](int i) {
    EchoRequest req;
    req.set_payload(absl::StrCat("message-", i));
    EchoResponse resp;
    return stream->Write(req) && stream->Read(&resp) &&
           resp.payload() == absl::StrCat("message-", i);
  };
  ASSERT_TRUE(echo(0));

  // Rotation as tools do it: the key, then the certificate, each renamed
  // over the old file. In between the pair does not match and is refused;
  // the first rotation applied has both.
  WriteFileAtomically(v1.key_file(), v2.KeyPem());
  WriteFileAtomically(v1.cert_file(), v2.CertPem());
  ASSERT_TRUE(rotations_.AwaitApplied(1)) << ::testing::PrintToString(rotations_.results());
  EXPECT_EQ(Connect(proxy_port(), {}).common_name, "v2");
  grpc::Status s = Call(ca_);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // The old connection still streams.
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(echo(i)) << i;
  stream->WritesDone();
  grpc::Status finished = stream->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_message();
}

TEST_F(TlsTest, ABadRotatedCertificateIsRefusedWithItsPathAndTheOldOneServed) {
  Cert v1 = ca_.Issue({.common_name = "v1", .ips = {"127.0.0.1"}});
  Cert v2 = ca_.Issue({.common_name = "v2", .ips = {"127.0.0.1"}});
  v1.WriteTo(dir_.path(), "server");
  config::v1::EntryPointTls tls;
  AddCert(tls, v1);
  Start(tls);

  // Not a certificate: refused, saying which file.
  WriteFileAtomically(v1.cert_file(), "-----BEGIN CERTIFICATE-----\nnot base64\n");
  ASSERT_TRUE(rotations_.AwaitRefused(1)) << ::testing::PrintToString(rotations_.results());
  EXPECT_THAT(rotations_.refusals(),
              ::testing::ElementsAre(HasSubstr(absl::StrCat(v1.cert_file(), ": "))));
  EXPECT_THAT(rotations_.results(), ::testing::SizeIs(1));
  // v1 is still what new connections get, and RPCs work.
  EXPECT_EQ(Connect(proxy_port(), {}).common_name, "v1");
  grpc::Status s = Call(ca_);
  EXPECT_TRUE(s.ok()) << s.error_message();

  // A good file later is taken.
  WriteFileAtomically(v1.key_file(), v2.KeyPem());
  WriteFileAtomically(v1.cert_file(), v2.CertPem());
  ASSERT_TRUE(rotations_.AwaitApplied(1)) << ::testing::PrintToString(rotations_.results());
  EXPECT_EQ(Connect(proxy_port(), {}).common_name, "v2");
}

}  // namespace
}  // namespace strait::testing
