#include "tests/support/test_backend.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

extern char** environ;

namespace strait::testing {

TestBackend::TestBackend(std::string name, BackendOptions options)
    : name_(std::move(name)), options_(options) {
  Start(0);
}

TestBackend::~TestBackend() { Shutdown(absl::ZeroDuration()); }

void TestBackend::Start(int port) {
  service_ = std::make_unique<EchoService>(name_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port),
                           grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  if (options_.max_concurrent_streams > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                               options_.max_concurrent_streams);
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port_ == 0) {
    fprintf(stderr, "test backend %s could not start on port %d\n", name_.c_str(), port);
    abort();
  }
}

void TestBackend::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(grace));
  server_->Wait();
  server_.reset();
}

void TestBackend::Restart(absl::Duration grace) {
  Shutdown(grace);
  Start(port_);
}

ChildBackend::ChildBackend(std::string name) {
  int fds[2];
  if (pipe(fds) != 0) abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string binary = STRAIT_ECHO_SERVER_BINARY;
  char* argv[] = {binary.data(), name.data(), nullptr};
  if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv, environ) != 0) abort();
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  // The child prints its port once it listens.
  FILE* out = fdopen(fds[0], "r");
  if (out == nullptr || fscanf(out, "%d", &port_) != 1) abort();
  fclose(out);
}

ChildBackend::~ChildBackend() { Kill(); }

void ChildBackend::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::shared_ptr<grpc::Channel> MakeChannel(int port) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<test::v1::Echo::Stub> MakeStub(int port) {
  return test::v1::Echo::NewStub(MakeChannel(port));
}

}  // namespace strait::testing
