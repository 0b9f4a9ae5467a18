#ifndef STRAIT_TESTS_INTEGRATION_RAW_H2_SERVER_H_
#define STRAIT_TESTS_INTEGRATION_RAW_H2_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "common/header.h"

namespace strait::testing {

// A listening TCP socket on 127.0.0.1 with a port chosen by the system.
// Returns the fd; `port` receives the port.
int ListenOnLoopback(int backlog, int* port);

// A scripted HTTP/2 backend built on nghttp2, for the ways a backend can
// misbehave that a gRPC server will not show on demand: refusing or
// resetting streams, GOAWAY, never answering, going silent. Listens on
// 127.0.0.1 (port chosen at start) and runs its own thread. What it saw is
// recorded and safe to read from the test thread.
class RawH2Server {
 public:
  enum class Behavior {
    kGrpcStatus,          // trailers-only answer with `grpc_status`
    kRefuse,              // RST_STREAM(REFUSED_STREAM)
    kReset,               // RST_STREAM(`reset_code`) without answering
    kHeadersThenReset,    // response HEADERS, then RST_STREAM(INTERNAL_ERROR)
    kGoawayBeforeStream,  // GOAWAY(last_stream_id 0): the stream was never processed
    kStuck,               // never answer (but keep reading: resets are seen)
    kBlackhole,           // stop reading and writing the connection entirely
    // The first stream the server sees stays open, unanswered, until
    // ReleaseHeld(); every later one gets the kGrpcStatus answer.
    kHoldFirst,
    // As kHoldFirst, and right after the held stream's HEADERS the server
    // sends GOAWAY(last_stream_id = that stream), then a PING: its ACK
    // (goaways_seen) shows strait has read the GOAWAY.
    kHoldFirstThenGoaway,
  };

  explicit RawH2Server(Behavior behavior, int grpc_status = 14, uint32_t reset_code = 2);
  ~RawH2Server();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // kGrpcStatus answers with exactly these headers (and END_STREAM)
  // instead: a non-gRPC status, an oversized list.
  void set_response_headers(HeaderList headers) {
    std::lock_guard<std::mutex> lock(mu_);
    response_headers_ = std::move(headers);
  }

  int streams() const;               // request streams seen
  size_t data_bytes() const {        // request DATA bytes received
    std::lock_guard<std::mutex> lock(mu_);
    return data_bytes_;
  }
  int connections_accepted() const;
  int connections_closed() const;    // closed by the peer (strait)
  std::vector<HeaderList> requests() const;
  std::vector<uint32_t> resets_received() const;  // RST_STREAM codes from strait
  // The SETTINGS strait sent (last value per id).
  std::map<int32_t, uint32_t> settings_received() const;

  // Answers the stream held by kHoldFirst* (from the server's thread, soon).
  void ReleaseHeld() { release_held_ = true; }
  // While true, the server reads DATA but sends no WINDOW_UPDATE: strait's
  // windows toward it close (65535 bytes per stream and per connection).
  // Back to false, what was held is credited (from the server's thread).
  void WithholdCredit(bool withhold) { withhold_credit_ = withhold; }
  // SETTINGS_MAX_CONCURRENT_STREAMS for connections accepted from now on
  // (0: not advertised, unlimited).
  void set_max_concurrent_streams(uint32_t n) { max_concurrent_streams_ = n; }
  // While on, connections accepted are counted but neither read nor written
  // (no SETTINGS: strait's connection never becomes ready) until turned off.
  void set_hold_new_connections(bool on) { hold_new_connections_ = on; }
  // From now on every new connection is accepted and closed at once, before
  // any SETTINGS: a dial that fails after the TCP connect.
  void RejectNewConnections() { reject_new_connections_ = true; }
  int connections_rejected() const;
  // The next `n` connections accepted get, in one write, an empty SETTINGS
  // frame and right behind it a DATA frame on stream 0 (a connection error),
  // and nothing else: strait learns the connection is ready and that it is
  // broken in the same read, before it could send anything on it.
  void BreakNextConnections(int n) { break_next_ = n; }
  int goaways_seen() const;  // PING ACKs for the PINGs sent after GOAWAY

  // Polls `condition` (bounded) until it holds.
  static bool WaitFor(const std::function<bool()>& condition,
                      absl::Duration timeout = absl::Seconds(20));

 private:
  struct Connection;
  void Loop();

  const Behavior behavior_;
  const int grpc_status_;
  const uint32_t reset_code_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> release_held_{false};
  std::atomic<bool> withhold_credit_{false};
  std::atomic<uint32_t> max_concurrent_streams_{0};
  std::atomic<bool> hold_new_connections_{false};
  std::atomic<bool> reject_new_connections_{false};
  std::atomic<int> break_next_{0};
  bool held_one_ = false;  // kHoldFirst*: the first stream was held; loop thread only
  std::vector<std::unique_ptr<Connection>> connections_;  // loop thread only
  mutable std::mutex mu_;
  int streams_ = 0;
  int accepted_ = 0;
  int closed_ = 0;
  int rejected_ = 0;
  int goaways_seen_ = 0;
  std::vector<HeaderList> requests_;
  HeaderList response_headers_;
  size_t data_bytes_ = 0;
  std::vector<uint32_t> resets_;
  std::map<int32_t, uint32_t> settings_;
  std::thread thread_;

  friend struct RawH2ServerCallbacks;
};

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_RAW_H2_SERVER_H_
