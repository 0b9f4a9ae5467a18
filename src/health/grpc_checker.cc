#include "health/grpc_checker.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace strait::health {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

constexpr absl::Duration kWatchBackoffInitial = absl::Milliseconds(100);
constexpr double kWatchBackoffMultiplier = 1.6;
constexpr double kWatchBackoffJitter = 0.2;
constexpr absl::Duration kWatchBackoffMax = absl::Seconds(30);
constexpr absl::Duration kReconnectBackoffInitial = absl::Milliseconds(100);
constexpr absl::Duration kReconnectBackoffMax = absl::Seconds(5);

std::chrono::system_clock::time_point After(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

std::string StatusText(const grpc::Status& status) {
  std::string text = absl::StrCat("RPC error code ", static_cast<int>(status.error_code()));
  if (!status.error_message().empty()) absl::StrAppend(&text, ": ", status.error_message());
  return text;
}

int Millis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 1, 1 << 30));
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeHealthChannel(
    const ProbeTarget& target, const CheckSettings& settings,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  if (!target.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, target.authority);
  // The name the server's certificate is verified against (and the SNI):
  // as for RPCs, serverName or the URL's host, never the :authority.
  if (target.tls != nullptr) args.SetSslTargetNameOverride(target.tls_name);
  // A checker's connection is its own: never shared with another checker
  // (whose settings may differ), fresh when a checker restarts.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // gRPC's name for the minimum connect timeout.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, Millis(settings.dial_timeout));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, Millis(kReconnectBackoffInitial));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              Millis(std::clamp(settings.EffectiveUnhealthyInterval(), kReconnectBackoffInitial,
                                kReconnectBackoffMax)));
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  return grpc::CreateCustomChannel(target.address, std::move(credentials), args);
}

namespace {

// After gRPC verified the chain: peerCertURI (and serverName, if set) on the
// server's certificate, as ClientTlsContext checks them for RPCs. Owned by
// gRPC (through the CertificateVerifier that Create makes); runs on gRPC's
// threads, synchronously.
class PeerIdentityVerifier final : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit PeerIdentityVerifier(std::shared_ptr<const net::ClientTlsContext> tls)
      : tls_(std::move(tls)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)>, grpc::Status* sync_status) override {
    grpc::string_ref pem = request->peer_cert();
    absl::Status status = tls_->VerifyPeerIdentity(absl::string_view(pem.data(), pem.size()));
    *sync_status = status.ok() ? grpc::Status::OK
                               : grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                              std::string(status.message()));
    return true;  // done synchronously
  }
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::shared_ptr<const net::ClientTlsContext> tls_;
};

}  // namespace

std::shared_ptr<grpc::ChannelCredentials> HealthCredentials(
    std::shared_ptr<const net::ClientTlsContext> tls) {
  const net::ClientTlsOptions& o = tls->options();
  if (!o.insecure_skip_verify && o.peer_cert_uri.empty()) {
    // The common case: gRPC's stable SSL credentials verify the chain and
    // the SSL target name (MakeHealthChannel).
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = tls->root_certs_pem();
    options.pem_private_key = tls->private_key_pem();
    options.pem_cert_chain = tls->cert_chain_pem();
    return grpc::SslCredentials(options);
  }
  // insecureSkipVerify and peerCertURI need a verifier of our own, which
  // only gRPC's (experimental) TlsCredentials take.
  namespace exp = grpc::experimental;
  std::vector<exp::IdentityKeyCertPair> identity;
  if (!tls->cert_chain_pem().empty()) {
    identity.push_back({tls->private_key_pem(), tls->cert_chain_pem()});
  }
  exp::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(
      std::make_shared<exp::StaticDataCertificateProvider>(tls->root_certs_pem(), identity));
  if (!tls->root_certs_pem().empty()) options.watch_root_certs();  // else the default roots
  if (!identity.empty()) options.watch_identity_key_cert_pairs();
  // The verifier is the name check (serverName or none: peerCertURI
  // replaces the URL host), not the per-call :authority.
  options.set_check_call_host(false);
  if (o.insecure_skip_verify) {
    options.set_verify_server_certs(false);
    options.set_certificate_verifier(std::make_shared<exp::NoOpCertificateVerifier>());
  } else {
    options.set_certificate_verifier(
        exp::ExternalCertificateVerifier::Create<PeerIdentityVerifier>(std::move(tls)));
  }
  return exp::TlsCredentials(options);
}

// One Check RPC; kept by its completion callback and, while in flight, by
// the checker.
struct GrpcChecker::CheckCall {
  grpc::ClientContext context;
  HealthCheckRequest request;
  HealthCheckResponse response;
};

// One Watch stream: holds itself (self_) from Start() until OnDone, and is
// held by the checker while open. Reports go to the checker as they arrive;
// OnDone tells the checker (which forgets the stream under its lock), drops
// its own hold, then ends the chain unless the checker re-armed it.
class GrpcChecker::WatchStream final : public grpc::ClientReadReactor<HealthCheckResponse> {
 public:
  explicit WatchStream(GrpcChecker* checker) : checker_(checker) {
    request_.set_service(checker->settings_.service);
  }
  void Start(std::shared_ptr<WatchStream> self) {
    self_ = std::move(self);
    checker_->stub_->async()->Watch(&context_, &request_, this);
    StartRead(&response_);
    StartCall();
  }
  // Any thread, any time (before Start, after OnDone: harmless).
  void Cancel() { context_.TryCancel(); }

  // grpc::ClientReadReactor
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (checker_->OnWatchReport(response_.status())) {
      StartRead(&response_);
      return;
    }
    // Not serving: a server says so before it stops, and an open stream
    // would hold its graceful shutdown up to the deadline (gRPC C++ and
    // grpc-go wait for every call). Let go; the checker watches again
    // after a backoff.
    ended_by_us_ = true;
    Cancel();
  }
  void OnDone(const grpc::Status& status) override {
    GrpcChecker* checker = checker_;
    bool goes_on = checker->OnWatchDone(status, ended_by_us_);
    self_.reset();  // may free this
    if (!goes_on) checker->EndChain();
  }

 private:
  GrpcChecker* const checker_;  // outlives the stream's callbacks: waits for its chain
  std::shared_ptr<WatchStream> self_;
  bool ended_by_us_ = false;  // cancelled after a NOT_SERVING report
  grpc::ClientContext context_;
  HealthCheckRequest request_;
  HealthCheckResponse response_;
};

GrpcChecker::GrpcChecker(const ProbeTarget& target, const CheckSettings& settings,
                         std::shared_ptr<ServerHealth> health,
                         std::shared_ptr<grpc::ChannelCredentials> credentials)
    : settings_(settings),
      health_(std::move(health)),
      service_label_(absl::StrCat("\"", absl::CEscape(settings.service), "\"")),
      channel_(MakeHealthChannel(target, settings, std::move(credentials))),
      stub_(grpc::health::v1::Health::NewStub(channel_)),
      streak_(settings),
      watch_backoff_(kWatchBackoffInitial) {
  bool watch = settings_.watch;
  {
    absl::MutexLock lock(&mu_);
    chains_ = watch ? 2 : 1;
    if (watch) watch_state_ = WatchState::kOpening;
    ArmCheckLocked(watch ? settings_.interval : absl::ZeroDuration());
  }
  if (watch) StartWatch();
}

GrpcChecker::~GrpcChecker() {
  std::shared_ptr<grpc::Alarm> check_alarm, watch_alarm;
  std::shared_ptr<CheckCall> check_call;
  std::shared_ptr<WatchStream> watch;
  {
    absl::MutexLock lock(&mu_);
    // From here on no callback arms an alarm or starts an RPC.
    stopped_ = true;
    check_alarm = check_alarm_;
    watch_alarm = watch_alarm_;
    check_call = check_call_;
    watch = watch_;
  }
  if (check_alarm != nullptr) check_alarm->Cancel();
  if (watch_alarm != nullptr) watch_alarm->Cancel();
  if (check_call != nullptr) check_call->context.TryCancel();
  if (watch != nullptr) watch->Cancel();
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* chains) { return *chains == 0; }, &chains_));
}

void GrpcChecker::EndChain() {
  absl::MutexLock lock(&mu_);
  --chains_;
}

bool GrpcChecker::UpLocked() const {
  bool watch_ok = true;
  switch (watch_state_) {
    case WatchState::kOff:
    case WatchState::kServing:
      break;
    case WatchState::kOpening:
      watch_ok = settings_.initially_healthy;
      break;
    case WatchState::kNotServing:
    case WatchState::kBroken:
      watch_ok = false;
      break;
  }
  return streak_.up() && watch_ok;
}

void GrpcChecker::PublishLocked(std::string reason) {
  health_->SetActive(UpLocked(), std::move(reason));
}

// --- Check

void GrpcChecker::ArmCheckLocked(absl::Duration after) {
  // An alarm calls back on gRPC's executor threads, never inside Set(), so
  // arming under mu_ is safe (an RPC start is not: it may complete inline).
  check_alarm_ = std::make_shared<grpc::Alarm>();
  check_alarm_->Set(After(after), [this](bool ok) { OnCheckAlarm(ok); });
}

void GrpcChecker::OnCheckAlarm(bool ok) {
  auto call = std::make_shared<CheckCall>();
  {
    absl::MutexLock lock(&mu_);
    if (!ok || stopped_) {
      --chains_;
      return;
    }
    call->request.set_service(settings_.service);
    call->context.set_deadline(After(settings_.timeout));
    check_call_ = call;
  }
  // Outside mu_: the callback may run inside this call. A TryCancel from the
  // destructor before the RPC starts still cancels it.
  stub_->async()->Check(&call->context, &call->request, &call->response,
                        [this, call](grpc::Status status) { OnCheckDone(*call, status); });
}

void GrpcChecker::OnCheckDone(const CheckCall& call, const grpc::Status& status) {
  const bool serving = status.ok() && call.response.status() == HealthCheckResponse::SERVING;
  std::string reason =
      status.ok() ? absl::StrCat("Check(", service_label_, ") answered ",
                                 HealthCheckResponse::ServingStatus_Name(call.response.status()))
                  : absl::StrCat("Check(", service_label_, ") failed: ", StatusText(status));
  absl::MutexLock lock(&mu_);
  check_call_.reset();
  if (stopped_) {
    --chains_;
    return;
  }
  streak_.Record(serving);
  PublishLocked(std::move(reason));
  ArmCheckLocked(UpLocked() ? settings_.interval : settings_.EffectiveUnhealthyInterval());
}

// --- Watch

void GrpcChecker::StartWatch() {
  auto stream = std::make_shared<WatchStream>(this);
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) {
      --chains_;
      return;
    }
    watch_ = stream;
  }
  // Outside mu_, as for Check. Cancel() before Start() still cancels.
  stream->Start(stream);
}

void GrpcChecker::ArmWatchLocked(absl::Duration after) {
  watch_alarm_ = std::make_shared<grpc::Alarm>();
  watch_alarm_->Set(After(after), [this](bool ok) { OnWatchAlarm(ok); });
}

void GrpcChecker::OnWatchAlarm(bool ok) {
  if (!ok) {
    EndChain();
    return;
  }
  StartWatch();
}

bool GrpcChecker::OnWatchReport(HealthCheckResponse::ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return false;
  const bool serving = status == HealthCheckResponse::SERVING;
  // Only SERVING starts the backoff over: a server that stays NOT_SERVING
  // is watched again ever more slowly (up to the interval), not in a loop.
  if (serving) watch_backoff_ = kWatchBackoffInitial;
  watch_state_ = serving ? WatchState::kServing : WatchState::kNotServing;
  // Authoritative: the Check streak starts over from the report.
  streak_.Reset(serving);
  PublishLocked(absl::StrCat("Watch(", service_label_, ") reported ",
                             HealthCheckResponse::ServingStatus_Name(status)));
  return serving;
}

bool GrpcChecker::OnWatchDone(const grpc::Status& status, bool after_not_serving) {
  absl::MutexLock lock(&mu_);
  watch_.reset();
  if (stopped_) return false;
  if (after_not_serving) {
    // Closed by us after NOT_SERVING: the verdict (and its reason) stands.
    ArmWatchLocked(NextWatchBackoffLocked());
    return true;
  }
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    // No Watch on this server: Check alone decides from now on.
    STRAIT_LOG(kInfo, "health: ", health_->label(),
               ": Watch is unimplemented, Check alone decides");
    watch_state_ = WatchState::kOff;
    PublishLocked(
        absl::StrCat("Watch(", service_label_, ") is unimplemented; Check alone decides"));
    return false;
  }
  watch_state_ = WatchState::kBroken;
  PublishLocked(absl::StrCat("Watch(", service_label_, ") stream ended: ", StatusText(status)));
  ArmWatchLocked(NextWatchBackoffLocked());
  return true;
}

absl::Duration GrpcChecker::NextWatchBackoffLocked() {
  const absl::Duration cap =
      std::max(kWatchBackoffInitial, std::min(kWatchBackoffMax, settings_.interval));
  const absl::Duration delay =
      watch_backoff_ * absl::Uniform(rng_, 1.0 - kWatchBackoffJitter, 1.0 + kWatchBackoffJitter);
  watch_backoff_ = std::min(cap, watch_backoff_ * kWatchBackoffMultiplier);
  return delay;
}

}  // namespace strait::health
