#ifndef STRAIT_TESTS_INTEGRATION_RAW_H2_CLIENT_H_
#define STRAIT_TESTS_INTEGRATION_RAW_H2_CLIENT_H_

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/header.h"

namespace strait::testing {

// A bare HTTP/2 client over a blocking loopback socket, driven by nghttp2
// itself, for what a gRPC client cannot do: look at exact frames
// (trailers-only responses, RST_STREAM codes, GOAWAY) and behave badly on
// purpose. Single-threaded; one per test.
class RawH2Client {
 public:
  // What happened on one stream.
  struct StreamResult {
    HeaderList headers;   // the response HEADERS
    HeaderList trailers;  // a later HEADERS block, if any
    std::string body;
    bool closed = false;
    uint32_t close_code = 0;  // NGHTTP2_NO_ERROR or the RST_STREAM code
    int header_blocks = 0;    // HEADERS frames received (1 = trailers-only)
  };

  struct Options {
    // false: never send WINDOW_UPDATE (until Consume): the peer's windows
    // toward this client close after 65535 bytes per stream and in all.
    bool window_updates = true;
    // Non-empty: speak TLS (ALPN h2), trusting only this PEM CA for a
    // certificate naming 127.0.0.1.
    std::string tls_ca_pem;
  };
  static absl::StatusOr<std::unique_ptr<RawH2Client>> Connect(int port);
  static absl::StatusOr<std::unique_ptr<RawH2Client>> Connect(int port, Options options);
  ~RawH2Client();

  nghttp2_session* session() { return session_; }
  // A request; `body` (if any) is sent as DATA, then END_STREAM unless
  // `keep_open`.
  int32_t Submit(const HeaderList& headers, const std::string* body = nullptr,
                 bool keep_open = false);
  // A gRPC request for `path` with a length-prefixed message `message`.
  int32_t SubmitGrpc(const std::string& path, const std::string& message = "",
                     const HeaderList& extra = {});
  // The same, but the request stream stays open after `message` (a
  // streaming call held open): SendMore continues and ends it.
  int32_t OpenGrpc(const std::string& path, const std::string& message);
  // With window_updates off: from now on, credit what arrives, and what
  // arrived so far, like an ordinary client.
  void ResumeWindowUpdates();
  // Request body bytes of `stream_id` not yet handed to nghttp2 (not yet
  // allowed by the peer's windows).
  size_t unsent_body_bytes(int32_t stream_id) { return bodies_[stream_id].size(); }
  // Sends a PING and waits for its ACK: everything the peer sent before
  // answering has arrived then.
  bool PingRoundTrip();
  // DATA bytes received on every stream.
  size_t body_bytes() const;
  // More request DATA on a stream submitted with `keep_open`; END_STREAM
  // after it if `end_stream`.
  void SendMore(int32_t stream_id, const std::string& bytes, bool end_stream);
  // PINGs the peer sent (each answered by nghttp2).
  int pings_received() const { return pings_received_; }
  // Writes bytes straight to the socket, bypassing nghttp2.
  bool SendRaw(const std::string& bytes);
  // Pumps I/O until `done()` holds, the connection ends, or `timeout` passes.
  // Returns done().
  bool RunUntil(const std::function<bool()>& done,
                absl::Duration timeout = absl::Seconds(10));
  bool WaitForClose(int32_t stream_id, absl::Duration timeout = absl::Seconds(10)) {
    return RunUntil([&] { return streams_[stream_id].closed; }, timeout);
  }

  StreamResult& stream(int32_t id) { return streams_[id]; }
  bool goaway_received() const { return goaway_received_; }
  uint32_t goaway_error() const { return goaway_error_; }
  bool connection_closed() const { return connection_closed_; }

 private:
  RawH2Client(int fd, SSL* ssl, Options options);
  bool FlushOut();
  // The whole of `bytes` to the peer (through TLS when ssl_).
  bool Send(const uint8_t* bytes, size_t length);
  int32_t SubmitGrpcRequest(const std::string& path, const std::string& message,
                            const HeaderList& extra, bool keep_open);

  int fd_;
  SSL* ssl_;  // null on h2c
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, StreamResult> streams_;
  std::map<int32_t, std::string> bodies_;  // request bodies to send
  bool window_updates_;
  std::map<int32_t, bool> open_bodies_;  // keep_open streams not yet ended
  int pings_received_ = 0;
  int ping_acks_ = 0;
  std::map<int32_t, size_t> unconsumed_;  // DATA bytes not credited, by stream
  bool goaway_received_ = false;
  uint32_t goaway_error_ = 0;
  bool connection_closed_ = false;

  friend struct RawH2ClientCallbacks;
};

// A gRPC length-prefixed message frame.
std::string GrpcFrame(const std::string& message);

}  // namespace strait::testing

#endif  // STRAIT_TESTS_INTEGRATION_RAW_H2_CLIENT_H_
