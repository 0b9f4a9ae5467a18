#include "health/http_checker.h"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "event/dispatcher.h"
#include "net/address.h"
#include "net/socket.h"

namespace strait::health {
namespace {

// The exchange of one probe, seen by the nghttp2 callbacks.
struct Exchange {
  int32_t stream_id = -1;
  int status = 0;  // :status, 0 until the response HEADERS
  bool closed = false;
  uint32_t close_code = 0;
};

int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->hd.stream_id != exchange->stream_id) return 0;
  if (std::string_view(reinterpret_cast<const char*>(name), namelen) == ":status") {
    int status = 0;
    for (size_t i = 0; i < valuelen; ++i) {
      if (value[i] < '0' || value[i] > '9') return 0;
      status = status * 10 + (value[i] - '0');
    }
    exchange->status = status;
  }
  return 0;
}

int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  if (stream_id == exchange->stream_id) {
    exchange->closed = true;
    exchange->close_code = error_code;
  }
  return 0;
}

// A poll(2) timeout, rounded up (never 0: that would spin).
int PollMillis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))), 1, 1 << 30));
}

nghttp2_nv Nv(const std::string& name, const std::string& value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// poll() on `fd` for `events` and on the wake fd, until `deadline`.
// kOk with the revents of `fd`, kCancelled when woken, kDeadlineExceeded.
absl::StatusOr<short> Wait(int fd, short events, int wake_fd, absl::Time deadline,
                           absl::string_view what) {
  for (;;) {
    absl::Duration left = deadline - event::Dispatcher::MonotonicNow();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(absl::StrCat(what, ": timed out"));
    }
    pollfd fds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    int n = poll(fds, 2, PollMillis(left));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    if (fds[1].revents != 0) return absl::CancelledError("health checker stopped");
    if (fds[0].revents != 0) return fds[0].revents;
  }
}

// Owns the socket and the session of one probe.
struct Connection {
  int fd = -1;
  nghttp2_session* session = nullptr;
  ~Connection() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) close(fd);
  }
};

}  // namespace

absl::StatusOr<int> HttpChecker::Probe(const ProbeTarget& target, const CheckSettings& settings,
                                       int wake_fd) {
  const absl::Time deadline = event::Dispatcher::MonotonicNow() + settings.timeout;
  absl::StatusOr<net::HostPort> host_port = net::ParseHostPort(target.address);
  if (!host_port.ok()) return host_port.status();
  absl::StatusOr<net::SocketAddress> address = net::Resolve(*host_port);
  if (!address.ok()) return address.status();
  absl::StatusOr<int> fd = net::ConnectNonBlocking(*address);
  if (!fd.ok()) return fd.status();
  Connection c;
  c.fd = *fd;
  const std::string where = absl::StrCat("connect to ", target.address);
  absl::StatusOr<short> ready =
      Wait(c.fd, POLLOUT, wake_fd,
           std::min(deadline, event::Dispatcher::MonotonicNow() + settings.dial_timeout), where);
  if (!ready.ok()) return ready.status();
  if (int error = net::PendingSocketError(c.fd); error != 0) {
    return absl::UnavailableError(absl::StrCat(where, ": ", strerror(error)));
  }

  Exchange exchange;
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  int rv = nghttp2_session_client_new(&c.session, callbacks, &exchange);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return absl::InternalError(nghttp2_strerror(rv));
  nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, nullptr, 0);
  const std::string method = ":method", get = "GET", scheme = ":scheme", http = "http",
                    authority = ":authority", path = ":path", agent = "user-agent",
                    strait = "strait-health";
  nghttp2_nv nv[] = {Nv(method, get), Nv(scheme, http), Nv(authority, target.authority),
                     Nv(path, settings.path), Nv(agent, strait)};
  exchange.stream_id = nghttp2_submit_request(c.session, nullptr, nv, 5, nullptr, nullptr);
  if (exchange.stream_id < 0) return absl::InternalError(nghttp2_strerror(exchange.stream_id));

  const std::string request = absl::StrCat("GET ", settings.path);
  std::string out;
  while (!exchange.closed) {
    for (;;) {
      const uint8_t* data;
      ssize_t n = nghttp2_session_mem_send(c.session, &data);
      if (n < 0) return absl::InternalError(nghttp2_strerror(static_cast<int>(n)));
      if (n == 0) break;
      out.append(reinterpret_cast<const char*>(data), n);
    }
    if (!out.empty()) {
      ssize_t n = write(c.fd, out.data(), out.size());
      if (n > 0) out.erase(0, n);
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return absl::UnavailableError(absl::StrCat(request, ": write: ", strerror(errno)));
      }
    }
    ready = Wait(c.fd, out.empty() ? POLLIN : (POLLIN | POLLOUT), wake_fd, deadline, request);
    if (!ready.ok()) return ready.status();
    if (*ready & (POLLIN | POLLHUP | POLLERR)) {
      uint8_t buffer[16384];
      ssize_t n = read(c.fd, buffer, sizeof(buffer));
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        return absl::UnavailableError(absl::StrCat(request, ": connection closed"));
      }
      if (n > 0) {
        ssize_t used = nghttp2_session_mem_recv(c.session, buffer, n);
        if (used < 0) {
          return absl::UnavailableError(
              absl::StrCat(request, ": ", nghttp2_strerror(static_cast<int>(used))));
        }
      }
    }
  }
  if (exchange.status == 0) {
    return absl::UnavailableError(
        absl::StrCat(request, ": stream reset with code ", exchange.close_code));
  }
  return exchange.status;
}

HttpChecker::HttpChecker(const ProbeTarget& target, const CheckSettings& settings,
                         std::shared_ptr<ServerHealth> health)
    : target_(target),
      settings_(settings),
      health_(std::move(health)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { Run(); });
}

HttpChecker::~HttpChecker() {
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(wake_fd_);
}

void HttpChecker::Run() {
  Streak streak(settings_);
  for (;;) {
    absl::StatusOr<int> status = Probe(target_, settings_, wake_fd_);
    if (absl::IsCancelled(status.status())) return;
    const bool ok = status.ok() && *status >= 200 && *status < 300;
    streak.Record(ok);
    health_->SetActive(streak.up(),
                       status.ok() ? absl::StrCat("GET ", settings_.path, " answered ", *status)
                                   : std::string(status.status().message()));
    const absl::Duration pause =
        streak.up() ? settings_.interval : settings_.EffectiveUnhealthyInterval();
    pollfd wake = {wake_fd_, POLLIN, 0};
    int n;
    do {
      n = poll(&wake, 1, PollMillis(pause));
    } while (n < 0 && errno == EINTR);
    if (n > 0) return;
  }
}

}  // namespace strait::health
