#ifndef STRAIT_TESTS_SUPPORT_ECHO_CLIENT_H_
#define STRAIT_TESTS_SUPPORT_ECHO_CLIENT_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "tests/support/echo.grpc.pb.h"

namespace strait::testing {

// The most a test message may weigh, both ways (gRPC's default is 4 MiB).
inline constexpr int kMaxTestMessageBytes = 64 << 20;

// A channel to 127.0.0.1:port for tests: insecure, 64 MiB messages, gRPC's
// own retries off (so a test sees what strait does, not what gRPC retried),
// and a subchannel pool of its own, so every channel made here opens its
// own connection instead of sharing one with the test's other channels.
std::shared_ptr<grpc::Channel> MakeChannel(int port);

// The same over TLS (grpc::SslCredentials with `options`: roots, client
// certificate). `server_name`, if given, is the name the client sends as
// SNI and checks the certificate against (else 127.0.0.1, an IP SAN).
std::shared_ptr<grpc::Channel> MakeTlsChannel(int port, const grpc::SslCredentialsOptions& options,
                                              const std::string& server_name = "");
// An Echo stub on MakeChannel(port).
std::unique_ptr<test::v1::Echo::Stub> MakeStub(int port);

}  // namespace strait::testing

#endif  // STRAIT_TESTS_SUPPORT_ECHO_CLIENT_H_
