// A demo gRPC backend: `greeter_server --port 50051 --name a` serves
// helloworld.Greeter on 127.0.0.1, answering "Hello <name> from a", with
// server reflection so `grpcurl -plaintext 127.0.0.1:8080 list` works through
// strait, and grpc.health.v1 (Check and Watch) for strait's health checks and
// `strait probe`.
//   --host ADDR  the address to listen on (default 127.0.0.1; 0.0.0.0 in a
//                container)
//   --port 0     picks a free port; the "listening on" line names it
// SIGUSR1 flips the health status between SERVING and NOT_SERVING (for
// watching strait fail over); SIGINT/SIGTERM stop it cleanly.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "examples/greeter/greeter.grpc.pb.h"

namespace {

constexpr char kUsage[] = "usage: greeter_server [--host ADDR] [--port N] [--name NAME]\n";

// Called by gRPC on its own threads; holds only immutable state.
class Greeter final : public helloworld::Greeter::Service {
 public:
  explicit Greeter(std::string name) : name_(std::move(name)) {}

  // helloworld::Greeter::Service
  grpc::Status SayHello(grpc::ServerContext*, const helloworld::HelloRequest* request,
                        helloworld::HelloReply* reply) override {
    reply->set_message("Hello " + request->name() + " from " + name_);
    return grpc::Status::OK;
  }

  // `count` replies (at least one), numbered.
  grpc::Status SayHelloStream(grpc::ServerContext*, const helloworld::HelloRequest* request,
                              grpc::ServerWriter<helloworld::HelloReply>* writer) override {
    for (int i = 0; i < std::max(1, request->count()); ++i) {
      helloworld::HelloReply reply;
      reply.set_message("Hello " + request->name() + " #" + std::to_string(i) + " from " +
                        name_);
      if (!writer->Write(reply)) break;  // the client went away
    }
    return grpc::Status::OK;
  }

 private:
  const std::string name_;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 50051;
  std::string host = "127.0.0.1";
  std::string name = "greeter";
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (i + 1 >= argc) {
      std::cerr << kUsage;
      return 2;
    }
    if (flag == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (flag == "--host") {
      host = argv[i + 1];
    } else if (flag == "--name") {
      name = argv[i + 1];
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (port < 0 || port > 65535) {
    std::cerr << "greeter_server: --port must be 0..65535\n" << kUsage;
    return 2;
  }
  // Block the stop signals in every thread (gRPC's included, which inherit
  // the mask) so that only sigwait() below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::EnableDefaultHealthCheckService(true);
  Greeter service(name);
  grpc::ServerBuilder builder;
  const std::string address =
      (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":";
  int bound_port = 0;
  builder.AddListeningPort(address + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    std::cerr << "greeter_server: cannot listen on " << address << port << "\n";
    return 1;
  }
  std::cout << "greeter " << name << " listening on " << address << bound_port << std::endl;
  bool serving = true;
  int sig = 0;
  while (sigwait(&stop, &sig) == 0 && sig == SIGUSR1) {
    serving = !serving;
    server->GetHealthCheckService()->SetServingStatus(serving);
    std::cout << "greeter " << name << " health " << (serving ? "SERVING" : "NOT_SERVING")
              << std::endl;
  }
  std::cout << "greeter " << name << " stopping" << std::endl;
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}
