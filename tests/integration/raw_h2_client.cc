#include "tests/integration/raw_h2_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace strait::testing {

struct RawH2ClientCallbacks {
  static RawH2Client* Self(void* p) { return static_cast<RawH2Client*>(p); }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                      void* user) {
    auto& s = Self(user)->streams_[frame->hd.stream_id];
    Header h{std::string(reinterpret_cast<const char*>(name), namelen),
             std::string(reinterpret_cast<const char*>(value), valuelen)};
    (s.header_blocks == 0 ? s.headers : s.trailers).push_back(std::move(h));
    return 0;
  }
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    RawH2Client* self = Self(user);
    if (frame->hd.type == NGHTTP2_HEADERS) {
      ++self->streams_[frame->hd.stream_id].header_blocks;
    } else if (frame->hd.type == NGHTTP2_PING) {
      ++(frame->hd.flags & NGHTTP2_FLAG_ACK ? self->ping_acks_ : self->pings_received_);
    } else if (frame->hd.type == NGHTTP2_GOAWAY) {
      self->goaway_received_ = true;
      self->goaway_error_ = frame->goaway.error_code;
    }
    return 0;
  }
  static int OnData(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                    size_t len, void* user) {
    RawH2Client* self = Self(user);
    self->streams_[id].body.append(reinterpret_cast<const char*>(data), len);
    if (self->window_updates_) {
      nghttp2_session_consume(session, id, len);
    } else {
      self->unconsumed_[id] += len;
    }
    return 0;
  }
  static int OnClose(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    auto& s = Self(user)->streams_[id];
    s.closed = true;
    s.close_code = code;
    return 0;
  }
  static ssize_t ReadBody(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                          uint32_t* flags, nghttp2_data_source* source, void* user) {
    RawH2Client* self = Self(user);
    std::string& body = self->bodies_[id];
    size_t n = std::min(length, body.size());
    memcpy(buf, body.data(), n);
    body.erase(0, n);
    if (body.empty()) {
      // A keep_open stream waits for SendMore.
      if (self->open_bodies_[id]) return n > 0 ? static_cast<ssize_t>(n) : NGHTTP2_ERR_DEFERRED;
      *flags |= NGHTTP2_DATA_FLAG_EOF;
    }
    return static_cast<ssize_t>(n);
  }
};

absl::StatusOr<std::unique_ptr<RawH2Client>> RawH2Client::Connect(int port) {
  return Connect(port, Options{});
}

absl::StatusOr<std::unique_ptr<RawH2Client>> RawH2Client::Connect(int port, Options options) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect: ", strerror(errno)));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options.tls_ca_pem.empty()) {
    return std::unique_ptr<RawH2Client>(new RawH2Client(fd, nullptr, options));
  }
  // A blocking handshake, bounded like every read here.
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  BIO* pem = BIO_new_mem_buf(options.tls_ca_pem.data(), static_cast<int>(options.tls_ca_pem.size()));
  X509* ca = PEM_read_bio_X509(pem, nullptr, nullptr, nullptr);
  BIO_free(pem);
  if (ca != nullptr) X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
  X509_free(ca);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_CTX_free(ctx);  // the SSL holds its own reference
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl, kH2, sizeof kH2);
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
  SSL_set_fd(ssl, fd);
  if (SSL_connect(ssl) != 1) {
    unsigned long e = ERR_get_error();
    std::string why = e != 0 ? ERR_reason_error_string(e) : "the connection closed";
    ERR_clear_error();
    SSL_free(ssl);
    close(fd);
    return absl::UnavailableError(absl::StrCat("TLS handshake: ", why));
  }
  return std::unique_ptr<RawH2Client>(new RawH2Client(fd, ssl, options));
}

RawH2Client::RawH2Client(int fd, SSL* ssl, Options options)
    : fd_(fd), ssl_(ssl), window_updates_(options.window_updates) {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_header_callback(cb, RawH2ClientCallbacks::OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, RawH2ClientCallbacks::OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, RawH2ClientCallbacks::OnData);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, RawH2ClientCallbacks::OnClose);
  nghttp2_option* option;
  nghttp2_option_new(&option);
  // Credit is given by hand (OnData), so that it can be withheld.
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session_client_new2(&session_, cb, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cb);
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
}

RawH2Client::~RawH2Client() {
  nghttp2_session_del(session_);
  SSL_free(ssl_);
  close(fd_);
}

bool RawH2Client::Send(const uint8_t* bytes, size_t length) {
  if (ssl_ == nullptr) {
    return send(fd_, bytes, length, MSG_NOSIGNAL) == static_cast<ssize_t>(length);
  }
  size_t written = 0;  // SSL_write_ex writes all of it (no partial writes asked for)
  bool ok = SSL_write_ex(ssl_, bytes, length, &written) == 1 && written == length;
  ERR_clear_error();
  return ok;
}

int32_t RawH2Client::Submit(const HeaderList& headers, const std::string* body,
                            bool keep_open) {
  std::vector<nghttp2_nv> nv;
  for (const Header& h : headers) {
    nv.push_back({(uint8_t*)h.name.data(), (uint8_t*)h.value.data(), h.name.size(),
                  h.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  nghttp2_data_provider provider{};
  provider.source.ptr = keep_open ? this : nullptr;
  provider.read_callback = RawH2ClientCallbacks::ReadBody;
  bool has_body = body != nullptr || keep_open;
  int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                      has_body ? &provider : nullptr, nullptr);
  if (id > 0 && body != nullptr) bodies_[id] = *body;
  if (id > 0 && keep_open) open_bodies_[id] = true;
  streams_[id];
  return id;
}

int32_t RawH2Client::SubmitGrpc(const std::string& path, const std::string& message,
                                const HeaderList& extra) {
  return SubmitGrpcRequest(path, message, extra, /*keep_open=*/false);
}

int32_t RawH2Client::OpenGrpc(const std::string& path, const std::string& message) {
  return SubmitGrpcRequest(path, message, {}, /*keep_open=*/true);
}

int32_t RawH2Client::SubmitGrpcRequest(const std::string& path, const std::string& message,
                                       const HeaderList& extra, bool keep_open) {
  HeaderList headers = {{":method", "POST"},
                        {":scheme", "http"},
                        {":authority", "strait.test"},
                        {":path", path},
                        {"content-type", "application/grpc"},
                        {"te", "trailers"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  std::string body = GrpcFrame(message);
  return Submit(headers, &body, keep_open);
}

void RawH2Client::SendMore(int32_t stream_id, const std::string& bytes, bool end_stream) {
  bodies_[stream_id] += bytes;
  if (end_stream) open_bodies_[stream_id] = false;
  nghttp2_session_resume_data(session_, stream_id);
  FlushOut();
}

bool RawH2Client::PingRoundTrip() {
  int want = ping_acks_ + 1;
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
  return RunUntil([&] { return ping_acks_ >= want; });
}

void RawH2Client::ResumeWindowUpdates() {
  window_updates_ = true;
  for (auto& [id, n] : unconsumed_) nghttp2_session_consume(session_, id, n);
  unconsumed_.clear();
  FlushOut();
}

size_t RawH2Client::body_bytes() const {
  size_t n = 0;
  for (const auto& [id, s] : streams_) n += s.body.size();
  return n;
}

bool RawH2Client::SendRaw(const std::string& bytes) {
  if (!FlushOut()) return false;
  return Send(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

bool RawH2Client::FlushOut() {
  for (;;) {
    const uint8_t* data;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n <= 0) return n == 0;
    if (!Send(data, static_cast<size_t>(n))) return false;
  }
}

bool RawH2Client::RunUntil(const std::function<bool()>& done, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (connection_closed_) return done();
    // A failed send (the peer closed) still leaves what it sent to read.
    FlushOut();
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    // Bytes OpenSSL already decrypted are not on the socket any more.
    if (ssl_ == nullptr || SSL_pending(ssl_) == 0) {
      pollfd p{fd_, POLLIN, 0};
      int ready = poll(&p, 1, static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left), 100)));
      if (ready <= 0) continue;
    }
    uint8_t buf[16384];
    ssize_t n;
    if (ssl_ == nullptr) {
      n = recv(fd_, buf, sizeof buf, 0);
    } else {
      size_t got = 0;
      n = SSL_read_ex(ssl_, buf, sizeof buf, &got) == 1 ? static_cast<ssize_t>(got) : 0;
      ERR_clear_error();
    }
    if (n <= 0) {
      connection_closed_ = true;
      return done();
    }
    if (nghttp2_session_mem_recv(session_, buf, n) < 0) {
      connection_closed_ = true;
      return done();
    }
  }
  FlushOut();
  return true;
}

std::string GrpcFrame(const std::string& message) {
  std::string out(5, '\0');
  uint32_t len = htonl(static_cast<uint32_t>(message.size()));
  memcpy(&out[1], &len, 4);
  return out + message;
}

}  // namespace strait::testing
