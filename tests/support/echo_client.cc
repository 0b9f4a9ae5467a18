#include "tests/support/echo_client.h"

#include <string>

namespace strait::testing {

namespace {

grpc::ChannelArguments TestArgs() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxTestMessageBytes);
  args.SetMaxSendMessageSize(kMaxTestMessageBytes);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return args;
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(int port) {
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), TestArgs());
}

std::shared_ptr<grpc::Channel> MakeTlsChannel(int port, const grpc::SslCredentialsOptions& options,
                                              const std::string& server_name) {
  grpc::ChannelArguments args = TestArgs();
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::SslCredentials(options), args);
}

std::unique_ptr<test::v1::Echo::Stub> MakeStub(int port) {
  return test::v1::Echo::NewStub(MakeChannel(port));
}

}  // namespace strait::testing
