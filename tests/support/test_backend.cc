#include "tests/support/test_backend.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <grpcpp/health_check_service_interface.h>

extern char** environ;

namespace strait::testing {
namespace {

// A restart may find its port briefly still held by the old listener.
constexpr absl::Duration kRebindPatience = absl::Seconds(5);

}  // namespace

TestBackend::TestBackend(std::string name, BackendOptions options)
    : name_(std::move(name)), options_(options) {
  Start(0);
}

TestBackend::~TestBackend() { Kill(); }

std::shared_ptr<grpc::ServerCredentials> TestBackend::Credentials() const {
  if (options_.tls_cert_pem.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl(
      options_.tls_client_ca_pem.empty()
          ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
          : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = options_.tls_client_ca_pem;
  ssl.pem_key_cert_pairs.push_back({options_.tls_key_pem, options_.tls_cert_pem});
  return grpc::SslServerCredentials(ssl);
}

void TestBackend::Start(int port) {
  absl::Time give_up = absl::Now() + kRebindPatience;
  for (;;) {
    service_ = std::make_unique<EchoService>(name_, options_.unary_delay_ms);
    if (options_.health) grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int bound = 0;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), Credentials(), &bound);
    builder.RegisterService(service_.get());
    // gRPC sets SO_REUSEPORT by default: a port-0 bind elsewhere on this
    // machine (another test's strait, say) could then share this port.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetMaxReceiveMessageSize(kMaxTestMessageBytes);
    builder.SetMaxSendMessageSize(kMaxTestMessageBytes);
    if (options_.max_concurrent_streams > 0) {
      builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                                 options_.max_concurrent_streams);
    }
    server_ = builder.BuildAndStart();
    if (server_ != nullptr && bound != 0) {
      port_ = bound;
      if (options_.health) {
        for (const auto& [service, serving] : serving_) {
          server_->GetHealthCheckService()->SetServingStatus(service, serving);
        }
      }
      return;
    }
    server_.reset();
    if (port == 0 || absl::Now() > give_up) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  fprintf(stderr, "test backend %s could not listen on 127.0.0.1:%d\n", name_.c_str(), port);
  abort();
}

void TestBackend::Shutdown(absl::Duration grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
  server_->Wait();
  server_.reset();
}

void TestBackend::Restart(absl::Duration grace) {
  Shutdown(grace);
  Start(port_);
}

void TestBackend::SetServing(const std::string& service, bool serving) {
  serving_[service] = serving;
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(service, serving);
  }
}

void TestBackend::DrainAndRestart(absl::Duration notice, absl::Duration grace,
                                  absl::Duration down) {
  // What a gRPC C++ server does to leave cleanly: say so (every service
  // NOT_SERVING), give watchers the time to hear it, then stop. The waits
  // are the backend's script.
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->Shutdown();
  }
  absl::SleepFor(notice);
  Shutdown(grace);
  absl::SleepFor(down);
  Start(port_);  // a fresh health service: SERVING
}

ChildBackend::ChildBackend(std::string name, bool health) {
  int fds[2];
  if (pipe(fds) != 0) abort();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  std::string binary = STRAIT_ECHO_SERVER_BINARY;
  std::string health_flag = "--health";
  char* argv[] = {binary.data(), name.data(), health ? health_flag.data() : nullptr, nullptr};
  if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv, environ) != 0) {
    fprintf(stderr, "cannot run %s\n", binary.c_str());
    abort();
  }
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  // The child prints its port once it listens.
  FILE* out = fdopen(fds[0], "r");
  if (out == nullptr || fscanf(out, "%d", &port_) != 1) {
    fprintf(stderr, "%s did not report its port\n", binary.c_str());
    abort();
  }
  fclose(out);
}

ChildBackend::~ChildBackend() { Kill(); }

void ChildBackend::Freeze() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void ChildBackend::Thaw() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

void ChildBackend::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace strait::testing
