#include "observe/metrics_http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "net/address.h"

namespace strait::observe {
namespace {

constexpr char kExpositionContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

MetricsHttpServer::MetricsHttpServer() = default;

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::StatusOr<int> MetricsHttpServer::Start(absl::string_view host_port, Render render) {
  if (server_ != nullptr) return absl::FailedPreconditionError("metrics server already started");
  absl::StatusOr<net::HostPort> address = net::ParseHostPort(host_port);
  if (!address.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address ", host_port, ": ", address.status().message()));
  }
  const std::string host = address->host.empty() ? "0.0.0.0" : address->host;
  render_ = std::move(render);

  auto server = std::make_unique<httplib::Server>();
  // Two threads: a slow or stalled client cannot keep a scrape out.
  server->new_task_queue = [] { return new httplib::ThreadPool(2); };
  server->set_keep_alive_max_count(1);
  server->set_keep_alive_timeout(1);
  // httplib's default also sets SO_REUSEPORT, with which a second strait
  // would share the port and take half the scrapes instead of failing.
  server->set_socket_options([](socket_t sock) {
    int on = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  });
  server->set_read_timeout(2, 0);
  server->set_write_timeout(2, 0);
  server->set_pre_routing_handler([](const httplib::Request& request, httplib::Response& response) {
    if (request.method == "GET" || request.method == "HEAD") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    response.status = 405;
    response.set_header("Allow", "GET, HEAD");
    response.set_content("method not allowed\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    absl::StatusOr<std::string> text;
    {
      absl::MutexLock lock(&render_mu_);
      text = render_();
    }
    if (!text.ok()) {
      response.status = 500;
      response.set_content(absl::StrCat(text.status().ToString(), "\n"),
                           "text/plain; charset=utf-8");
      return;
    }
    response.set_content(std::move(*text), kExpositionContentType);
  });
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain; charset=utf-8");
  });
  server->set_error_handler([](const httplib::Request&, httplib::Response& response) {
    if (response.status == 404) response.set_content("not found\n", "text/plain; charset=utf-8");
  });

  errno = 0;
  int port = address->port;
  bool bound;
  if (port == 0) {
    port = server->bind_to_any_port(host);
    bound = port > 0;
  } else {
    bound = server->bind_to_port(host, port);
  }
  if (!bound) {
    const int error = errno;
    return absl::UnavailableError(
        absl::StrCat("metrics address ", host_port, ": cannot listen",
                     error != 0 ? absl::StrCat(": ", std::strerror(error)) : std::string()));
  }
  port_ = port;
  server_ = std::move(server);
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_.store(true);
  });
  // httplib's stop() does nothing until listen_after_bind() has marked the
  // server running; wait for that (microseconds) so that a Stop() right
  // after Start() cannot be lost.
  while (!server_->is_running() && !listen_returned_.load()) std::this_thread::yield();
  return port_;
}

void MetricsHttpServer::Stop() {
  if (server_ == nullptr) return;
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace strait::observe
