#include "tests/support/echo_client.h"

#include <string>

namespace strait::testing {

std::shared_ptr<grpc::Channel> MakeChannel(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxTestMessageBytes);
  args.SetMaxSendMessageSize(kMaxTestMessageBytes);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<test::v1::Echo::Stub> MakeStub(int port) {
  return test::v1::Echo::NewStub(MakeChannel(port));
}

}  // namespace strait::testing
