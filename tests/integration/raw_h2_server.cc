#include "tests/integration/raw_h2_server.h"

#include <arpa/inet.h>
#include <nghttp2/nghttp2.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/time/clock.h"

namespace strait::testing {

struct RawH2Server::Connection {
  RawH2Server* server;
  int fd;
  nghttp2_session* session = nullptr;
  bool silent = false;  // blackholed: never touched again
  bool done = false;
  bool parked = false;    // accepted while hold_new_connections_: untouched
  std::vector<int32_t> held;  // kHoldFirst*: the stream left open
  std::map<int32_t, HeaderList> pending;  // headers of streams being received
  std::vector<int32_t> reset_after_send;  // reset once their HEADERS went out
  std::map<int32_t, size_t> uncredited;   // DATA bytes held back by WithholdCredit
};

struct RawH2ServerCallbacks {
  using Connection = RawH2Server::Connection;

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user) {
    auto* c = static_cast<Connection*>(user);
    c->pending[frame->hd.stream_id].push_back(
        {std::string(reinterpret_cast<const char*>(name), namelen),
         std::string(reinterpret_cast<const char*>(value), valuelen)});
    return 0;
  }

  static void RespondGrpc(nghttp2_session* session, RawH2Server* s, int32_t id) {
    HeaderList custom;
    {
      std::lock_guard<std::mutex> lock(s->mu_);
      custom = s->response_headers_;
    }
    if (!custom.empty()) {
      std::vector<nghttp2_nv> nv;
      for (const Header& h : custom) {
        nv.push_back({(uint8_t*)h.name.data(), (uint8_t*)h.value.data(), h.name.size(),
                      h.value.size(), NGHTTP2_NV_FLAG_NONE});
      }
      nghttp2_submit_response(session, id, nv.data(), nv.size(), nullptr);
      return;
    }
    std::string code = std::to_string(s->grpc_status_);
    nghttp2_nv nv[] = {
        {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"content-type", (uint8_t*)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"grpc-status", (uint8_t*)code.data(), 11, code.size(), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t*)"grpc-message", (uint8_t*)"scripted", 12, 8, NGHTTP2_NV_FLAG_NONE},
    };
    nghttp2_submit_response(session, id, nv, 4, nullptr);
  }

  static int OnFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    auto* c = static_cast<Connection*>(user);
    RawH2Server* s = c->server;
    if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      std::lock_guard<std::mutex> lock(s->mu_);
      for (size_t i = 0; i < frame->settings.niv; ++i) {
        s->settings_[frame->settings.iv[i].settings_id] = frame->settings.iv[i].value;
      }
      return 0;
    }
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      std::lock_guard<std::mutex> lock(s->mu_);
      ++s->goaways_seen_;  // the only PINGs this server sends follow a GOAWAY
      return 0;
    }
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
      std::lock_guard<std::mutex> lock(s->mu_);
      s->resets_.push_back(frame->rst_stream.error_code);
      return 0;
    }
    bool end_stream = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
    if (frame->hd.type == NGHTTP2_DATA && end_stream && Answers(c, frame->hd.stream_id)) {
      RespondGrpc(session, s, frame->hd.stream_id);
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;
    }
    int32_t id = frame->hd.stream_id;
    {
      std::lock_guard<std::mutex> lock(s->mu_);
      ++s->streams_;
      s->requests_.push_back(c->pending[id]);
    }
    c->pending.erase(id);
    switch (s->behavior_) {
      case RawH2Server::Behavior::kGrpcStatus:
        // Answered once the whole request is in, as a unary server would.
        if (end_stream) RespondGrpc(session, s, id);
        break;
      case RawH2Server::Behavior::kRefuse:
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_REFUSED_STREAM);
        break;
      case RawH2Server::Behavior::kReset:
        nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, s->reset_code_);
        break;
      case RawH2Server::Behavior::kHeadersThenReset: {
        nghttp2_nv nv[] = {
            {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
            {(uint8_t*)"content-type", (uint8_t*)"application/grpc", 12, 16,
             NGHTTP2_NV_FLAG_NONE},
        };
        nghttp2_data_provider never{};
        never.read_callback = [](nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                                 nghttp2_data_source*, void*) -> ssize_t {
          return NGHTTP2_ERR_DEFERRED;
        };
        nghttp2_submit_response(session, id, nv, 2, &never);
        c->reset_after_send.push_back(id);  // queued together, nghttp2 would drop the HEADERS
        break;
      }
      case RawH2Server::Behavior::kGoawayBeforeStream:
        nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, 0, NGHTTP2_NO_ERROR, nullptr, 0);
        break;
      case RawH2Server::Behavior::kStuck:
        break;
      case RawH2Server::Behavior::kBlackhole:
        c->silent = true;
        break;
      case RawH2Server::Behavior::kHoldFirst:
      case RawH2Server::Behavior::kHoldFirstThenGoaway:
        if (s->held_one_) {
          if (end_stream) RespondGrpc(session, s, id);
          break;
        }
        s->held_one_ = true;
        c->held.push_back(id);
        if (s->behavior_ == RawH2Server::Behavior::kHoldFirstThenGoaway) {
          nghttp2_submit_goaway(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR, nullptr, 0);
          nghttp2_submit_ping(session, NGHTTP2_FLAG_NONE, nullptr);
        }
        break;
    }
    return 0;
  }

  // Whether the stream gets the scripted grpc-status answer once its request
  // is complete.
  static bool Answers(Connection* c, int32_t id) {
    switch (c->server->behavior_) {
      case RawH2Server::Behavior::kGrpcStatus:
        return true;
      case RawH2Server::Behavior::kHoldFirst:
      case RawH2Server::Behavior::kHoldFirstThenGoaway:
        return std::find(c->held.begin(), c->held.end(), id) == c->held.end();
      default:
        return false;
    }
  }

  static int OnData(nghttp2_session* session, uint8_t, int32_t id, const uint8_t*, size_t len,
                    void* user) {
    auto* c = static_cast<Connection*>(user);
    RawH2Server* s = c->server;
    if (s->withhold_credit_) {
      c->uncredited[id] += len;
    } else {
      nghttp2_session_consume(session, id, len);
    }
    std::lock_guard<std::mutex> lock(s->mu_);
    s->data_bytes_ += len;
    return 0;
  }
};

int ListenOnLoopback(int backlog, int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  listen(fd, backlog);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

RawH2Server::RawH2Server(Behavior behavior, int grpc_status, uint32_t reset_code)
    : behavior_(behavior), grpc_status_(grpc_status), reset_code_(reset_code) {
  listen_fd_ = ListenOnLoopback(64, &port_);
  thread_ = std::thread([this] { Loop(); });
}

RawH2Server::~RawH2Server() {
  stop_ = true;
  thread_.join();
  for (auto& c : connections_) {
    nghttp2_session_del(c->session);
    close(c->fd);
  }
  close(listen_fd_);
}

void RawH2Server::Loop() {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, RawH2ServerCallbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, RawH2ServerCallbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, RawH2ServerCallbacks::OnData);
  nghttp2_option* option;
  nghttp2_option_new(&option);
  // Credit is given by hand (OnData), so that it can be withheld.
  nghttp2_option_set_no_auto_window_update(option, 1);
  while (!stop_) {
    if (!hold_new_connections_) {
      for (auto& c : connections_) c->parked = false;
    }
    if (!withhold_credit_) {
      for (auto& c : connections_) {
        for (auto& [id, n] : c->uncredited) nghttp2_session_consume(c->session, id, n);
        c->uncredited.clear();
      }
    }
    if (release_held_) {
      for (auto& c : connections_) {
        for (int32_t id : c->held) RawH2ServerCallbacks::RespondGrpc(c->session, this, id);
        c->held.clear();
      }
    }
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
    std::vector<Connection*> polled;
    for (auto& c : connections_) {
      if (c->silent || c->done || c->parked) continue;
      fds.push_back({c->fd, POLLIN, 0});
      polled.push_back(c.get());
    }
    // On a timeout, still send: ReleaseHeld and unparking queue frames.
    if (poll(fds.data(), fds.size(), 50) < 0) continue;
    if (fds[0].revents & POLLIN) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0 && reject_new_connections_) {
        close(fd);
        std::lock_guard<std::mutex> lock(mu_);
        ++rejected_;
      } else if (fd >= 0) {
        auto c = std::make_unique<Connection>();
        c->server = this;
        c->fd = fd;
        if (break_next_ > 0) {
          --break_next_;
          static constexpr uint8_t kReadyThenBroken[18] = {
              0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0,  // SETTINGS, empty
              0, 0, 0, NGHTTP2_DATA,     0, 0, 0, 0, 0,  // DATA on stream 0
          };
          (void)!write(fd, kReadyThenBroken, sizeof kReadyThenBroken);
          c->silent = true;
        }
        c->parked = hold_new_connections_;
        nghttp2_session_server_new2(&c->session, cb, c.get(), option);
        nghttp2_settings_entry limit{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS,
                                     max_concurrent_streams_};
        nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, &limit,
                                limit.value > 0 ? 1 : 0);
        connections_.push_back(std::move(c));
        std::lock_guard<std::mutex> lock(mu_);
        ++accepted_;
      }
    }
    for (size_t i = 0; i < polled.size(); ++i) {
      Connection* c = polled[i];
      if (!(fds[i + 1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      uint8_t buf[16384];
      ssize_t n = recv(c->fd, buf, sizeof buf, 0);
      if (n <= 0 || nghttp2_session_mem_recv(c->session, buf, n) < 0) {
        c->done = true;
        std::lock_guard<std::mutex> lock(mu_);
        ++closed_;
        continue;
      }
    }
    for (auto& c : connections_) {
      if (c->silent || c->done || c->parked) continue;
      const uint8_t* data;
      ssize_t n;
      while ((n = nghttp2_session_mem_send(c->session, &data)) > 0) {
        send(c->fd, data, n, MSG_NOSIGNAL);
      }
      if (!c->reset_after_send.empty()) {
        for (int32_t id : c->reset_after_send) {
          nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, id, NGHTTP2_INTERNAL_ERROR);
        }
        c->reset_after_send.clear();
        while ((n = nghttp2_session_mem_send(c->session, &data)) > 0) {
          send(c->fd, data, n, MSG_NOSIGNAL);
        }
      }
    }
  }
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cb);
}

int RawH2Server::streams() const {
  std::lock_guard<std::mutex> lock(mu_);
  return streams_;
}
int RawH2Server::connections_accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}
int RawH2Server::connections_rejected() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rejected_;
}
int RawH2Server::goaways_seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return goaways_seen_;
}
int RawH2Server::connections_closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}
std::vector<HeaderList> RawH2Server::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}
std::map<int32_t, uint32_t> RawH2Server::settings_received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return settings_;
}
std::vector<uint32_t> RawH2Server::resets_received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return resets_;
}

bool RawH2Server::WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

}  // namespace strait::testing
