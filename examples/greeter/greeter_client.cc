// Calls helloworld.Greeter/SayHello `--count` times over one channel and
// prints which server answered each call:
//   greeter_client --target 127.0.0.1:8080 --name you --count 6
// Behind strait the answers alternate between servers (per-RPC balancing),
// although every call uses the same HTTP/2 connection.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

#include "examples/greeter/greeter.grpc.pb.h"

namespace {

constexpr char kUsage[] =
    "usage: greeter_client [--target HOST:PORT] [--name NAME] [--count N]\n";

}  // namespace

int main(int argc, char** argv) {
  std::string target = "127.0.0.1:8080";
  std::string name = "world";
  int count = 6;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << kUsage;
      return 2;
    }
    if (flag == "--target") {
      target = argv[i + 1];
    } else if (flag == "--name") {
      name = argv[i + 1];
    } else if (flag == "--count") {
      count = std::atoi(argv[i + 1]);
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  auto stub = helloworld::Greeter::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  int failures = 0;
  for (int i = 1; i <= count; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    helloworld::HelloRequest request;
    request.set_name(name);
    helloworld::HelloReply reply;
    grpc::Status status = stub->SayHello(&ctx, request, &reply);
    if (status.ok()) {
      std::cout << i << ": " << reply.message() << "\n";
    } else {
      ++failures;
      std::cout << i << ": error " << status.error_code() << ": " << status.error_message()
                << "\n";
    }
  }
  return failures == 0 ? 0 : 1;
}
