#ifndef STRAIT_HEALTH_GRPC_CHECKER_H_
#define STRAIT_HEALTH_GRPC_CHECKER_H_

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "health/checker.h"

namespace strait::health {

// The channel a gRPC checker talks over: its own connection (a local
// subchannel pool), `:authority` = target.authority, gRPC's minimum connect
// timeout = the dial timeout, reconnect backoff from 100 ms up to the
// unhealthy interval (at most 5 s) so a returning server is seen soon, no
// retries. `credentials`: insecure for h2c, HealthCredentials for https,
// whose certificate must then carry target.tls_name (the SSL target name).
std::shared_ptr<grpc::Channel> MakeHealthChannel(
    const ProbeTarget& target, const CheckSettings& settings,
    std::shared_ptr<grpc::ChannelCredentials> credentials);

// The credentials of checks of an https:// server, from its transport's
// `tls`: its roots (the default ones when it has none) and client
// certificate. gRPC's SslCredentials verify the chain and the SSL target
// name; with insecureSkipVerify (nothing verified) or peerCertURI (the chain,
// the URI SAN, and serverName only if set, as for RPCs) gRPC's experimental
// TlsCredentials with a verifier of ours.
std::shared_ptr<grpc::ChannelCredentials> HealthCredentials(
    std::shared_ptr<const net::ClientTlsContext> tls);

// grpc.health.v1 checks of one server, entirely on gRPC's callback API and
// grpc::Alarm: no thread of its own; every callback runs on a gRPC thread,
// takes mu_, and writes verdicts into the ServerHealth.
//
// - Check(service) runs `interval` after the previous one ended
//   (`unhealthy_interval` while the server is down), with `timeout` as its
//   deadline. SERVING counts as a success; any other answer or RPC error
//   (DEADLINE_EXCEEDED, UNAVAILABLE, NOT_FOUND for an unknown service...) as
//   a failure; the Streak turns them into up/down. Without watch the first
//   Check starts at once.
// - With watch, one Watch(service) stream is held open as well. Its reports
//   are authoritative and immediate: NOT_SERVING (or SERVICE_UNKNOWN) takes
//   the server down, SERVING brings it up, both without thresholds. A stream
//   that ends (the server shut down or went away) takes the server down and
//   is re-opened after an exponential backoff with jitter (100 ms × 1.6 per
//   attempt, ±20%, capped at 30 s or the interval if shorter, reset by a
//   report). A server answering UNIMPLEMENTED has no Watch: the checker
//   falls back to Check alone. Check keeps running beside Watch (its first
//   one an interval after the start): a frozen server keeps a Watch stream
//   silent forever, and gRPC servers strike the keepalive PINGs that could
//   tell otherwise on an idle stream — Check is the liveness probe.
//   The server is up when the Check streak says up and the last Watch
//   report (if any Watch) was SERVING.
//
// Stopping (the destructor, on the control thread) cancels the pending
// alarm and the RPCs in flight, then waits for their callbacks: it returns
// within a cancellation's round trip through gRPC, not a check interval.
class GrpcChecker final : public Checker {
 public:
  GrpcChecker(const ProbeTarget& target, const CheckSettings& settings,
              std::shared_ptr<ServerHealth> health,
              std::shared_ptr<grpc::ChannelCredentials> credentials);
  ~GrpcChecker() override;

 private:
  class WatchStream;
  struct CheckCall;

  enum class WatchState {
    kOff,         // not watching: settings.watch is off, or Watch is UNIMPLEMENTED
    kOpening,     // first stream opened, no report yet: initially_healthy decides
    kServing,     // the last report was SERVING
    kNotServing,  // the last report was anything else
    kBroken,      // the stream ended; another opens after a backoff
  };

  // Check chain: alarm -> RPC -> alarm...
  void ArmCheckLocked(absl::Duration after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnCheckAlarm(bool ok);
  void OnCheckDone(const CheckCall& call, const grpc::Status& status);
  // Watch chain: stream -> (broken) alarm -> stream...
  void ArmWatchLocked(absl::Duration after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnWatchAlarm(bool ok);
  void StartWatch();
  // Returns whether the stream should go on (the server is SERVING).
  bool OnWatchReport(grpc::health::v1::HealthCheckResponse::ServingStatus status);
  // Returns whether the chain goes on (an alarm was armed).
  // `after_not_serving`: the stream ended because we let go of it.
  bool OnWatchDone(const grpc::Status& status, bool after_not_serving);
  // The delay before watching again, with jitter; grows it.
  absl::Duration NextWatchBackoffLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends one chain of callbacks; the last thing a callback does.
  void EndChain();

  // Writes the verdict of the streak and the watch into health_.
  void PublishLocked(std::string reason) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool UpLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CheckSettings settings_;
  const std::shared_ptr<ServerHealth> health_;
  const std::string service_label_;  // for reasons: `Check("foo")`
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;

  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Chains of callbacks still running (0..2: Check, Watch); the destructor
  // waits for 0.
  int chains_ ABSL_GUARDED_BY(mu_) = 0;
  Streak streak_ ABSL_GUARDED_BY(mu_);
  WatchState watch_state_ ABSL_GUARDED_BY(mu_) = WatchState::kOff;
  absl::Duration watch_backoff_ ABSL_GUARDED_BY(mu_);
  absl::BitGen rng_ ABSL_GUARDED_BY(mu_);
  // What the destructor cancels: the next Check's or Watch re-open's alarm
  // (replaced on each arming), the Check in flight, the Watch stream. Shared,
  // because the destructor cancels them after letting go of mu_ — gRPC may
  // run callbacks inside a cancel, and they take mu_ — and must find them
  // alive even if their callbacks ran meanwhile.
  std::shared_ptr<grpc::Alarm> check_alarm_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<grpc::Alarm> watch_alarm_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<CheckCall> check_call_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<WatchStream> watch_ ABSL_GUARDED_BY(mu_);
};

}  // namespace strait::health

#endif  // STRAIT_HEALTH_GRPC_CHECKER_H_
