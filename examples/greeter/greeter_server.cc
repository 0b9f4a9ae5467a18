// A demo gRPC backend: `greeter_server --port 50051 --name a`. Serves
// helloworld.Greeter with server reflection (so grpcurl works through
// strait) until SIGINT/SIGTERM.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "examples/greeter/greeter.grpc.pb.h"

namespace {

class Greeter final : public helloworld::Greeter::Service {
 public:
  explicit Greeter(std::string name) : name_(std::move(name)) {}

  grpc::Status SayHello(grpc::ServerContext*, const helloworld::HelloRequest* request,
                        helloworld::HelloReply* reply) override {
    reply->set_message("Hello " + request->name() + " from " + name_);
    return grpc::Status::OK;
  }

  grpc::Status SayHelloStream(grpc::ServerContext*, const helloworld::HelloRequest* request,
                              grpc::ServerWriter<helloworld::HelloReply>* writer) override {
    for (int i = 0; i < std::max(1, request->count()); ++i) {
      helloworld::HelloReply reply;
      reply.set_message("Hello " + request->name() + " #" + std::to_string(i) + " from " +
                        name_);
      if (!writer->Write(reply)) break;
    }
    return grpc::Status::OK;
  }

 private:
  std::string name_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 50051;
  std::string name = "greeter";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (flag == "--name") {
      name = argv[i + 1];
    } else {
      std::cerr << "usage: greeter_server [--port N] [--name NAME]\n";
      return 2;
    }
  }
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  Greeter service(name);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "greeter_server: cannot listen on 127.0.0.1:" << port << "\n";
    return 1;
  }
  std::cout << "greeter " << name << " listening on 127.0.0.1:" << port << std::endl;
  int sig;
  sigwait(&stop, &sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return 0;
}
