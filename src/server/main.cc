// strait: a gRPC load balancer.
//
//   strait --config FILE [--workers N] [--log-level debug|info|warn|error]
//   strait --check FILE
//
// SIGINT/SIGTERM drain gracefully and exit 0. SIGHUP reloads FILE: a valid
// file replaces the running configuration for new RPCs; an invalid one is
// reported and the running configuration stays.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "common/log.h"
#include "config/loader.h"
#include "server/server.h"

namespace {

constexpr char kUsage[] =
    "usage: strait --config FILE [--workers N] [--log-level debug|info|warn|error]\n"
    "       strait --check FILE\n";

int Fail(const std::string& message) {
  std::cerr << "strait: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  int workers = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "strait: " << flag << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--config") {
      config_path = value("--config");
    } else if (arg == "--check") {
      config_path = value("--check");
      check_only = true;
    } else if (arg == "--workers") {
      if (!absl::SimpleAtoi(value("--workers"), &workers) || workers < 1) {
        std::cerr << "strait: --workers must be a positive number\n";
        return 2;
      }
    } else if (arg == "--log-level") {
      std::string level = value("--log-level");
      if (level == "debug") strait::SetLogLevel(strait::LogLevel::kDebug);
      else if (level == "info") strait::SetLogLevel(strait::LogLevel::kInfo);
      else if (level == "warn") strait::SetLogLevel(strait::LogLevel::kWarn);
      else if (level == "error") strait::SetLogLevel(strait::LogLevel::kError);
      else {
        std::cerr << "strait: unknown --log-level " << level << "\n";
        return 2;
      }
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      std::cerr << "strait: unknown argument " << arg << "\n" << kUsage;
      return 2;
    }
  }
  if (config_path.empty()) {
    std::cerr << kUsage;
    return 2;
  }

  absl::StatusOr<strait::config::v1::Config> config =
      strait::config::LoadAndValidate(config_path);
  if (!config.ok()) return Fail(std::string(config.status().message()));
  if (check_only) {
    std::cout << config_path << ": ok\n";
    return 0;
  }

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<strait::server::Server>> server =
      strait::server::Server::Create(*config, {.workers = workers});
  if (!server.ok()) {
    return Fail(config_path + ": " + std::string(server.status().message()));
  }
  if (absl::Status status = (*server)->Start(); !status.ok()) {
    return Fail(std::string(status.message()));
  }
  for (const auto& [name, ep] : config->entry_points()) {
    std::cout << "strait: entry point " << name << " on port " << (*server)->port(name)
              << std::endl;
  }

  int signal_number = 0;
  for (;;) {
    sigwait(&stop_signals, &signal_number);
    if (signal_number != SIGHUP) break;
    absl::StatusOr<strait::config::v1::Config> next =
        strait::config::LoadAndValidate(config_path);
    absl::Status reloaded = next.ok() ? (*server)->Reload(*next) : next.status();
    if (reloaded.ok()) {
      STRAIT_LOG(kInfo, "reloaded ", config_path);
    } else {
      STRAIT_LOG(kError, "reload of ", config_path,
                 " refused, the running configuration stays: ", reloaded.message());
    }
  }
  STRAIT_LOG(kInfo, "received ", strsignal(signal_number), ": draining");
  (*server)->Shutdown();
  STRAIT_LOG(kInfo, "stopped");
  return 0;
}
