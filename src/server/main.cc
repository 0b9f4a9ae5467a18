// strait: a gRPC load balancer.
//
//   strait --config FILE [--workers N] [--log-level debug|info|warn|error]
//          [--log-format text|json] [--metrics ADDR|off]
//          [--admin ADDR|off] [--admin-token-file FILE] [--state FILE|off]
//          [--no-watch]
//   strait --check FILE
//
// SIGINT/SIGTERM drain gracefully and exit 0. SIGHUP reloads FILE (so does a
// change of its content, seen by inotify, unless --no-watch): a valid file
// replaces the running configuration for new RPCs; an invalid one is
// reported and the running configuration stays. The admin gRPC service
// (default 127.0.0.1:9901) reads and changes the running configuration;
// its changes are persisted to the state file (default beside FILE).
// Prometheus metrics are served on GET /metrics of --metrics (default
// 127.0.0.1:9902). SIGUSR1 reopens the access log (after logrotate).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "admin/admin_server.h"
#include "admin/control_plane.h"
#include "admin/metrics.h"
#include "common/log.h"
#include "config/loader.h"
#include "observe/metrics_http_server.h"

namespace {

constexpr char kUsage[] =
    "usage: strait --config FILE [--workers N] [--log-level debug|info|warn|error]\n"
    "              [--log-format text|json] [--metrics ADDR|off]\n"
    "              [--admin ADDR|off] [--admin-token-file FILE] [--state FILE|off]\n"
    "              [--admin-tls-cert FILE --admin-tls-key FILE [--admin-tls-client-ca FILE]]\n"
    "              [--no-watch]\n"
    "       strait --check FILE\n"
    "\n"
    "  --config FILE            the configuration (YAML or JSON), reloaded on SIGHUP\n"
    "                           and when its content changes\n"
    "  --check FILE             validate FILE and exit (0: valid)\n"
    "  --workers N              worker threads (default: one per core)\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --log-format FORMAT      text (default) or json: one object per line\n"
    "  --metrics ADDR|off       serve Prometheus metrics on GET /metrics of this HTTP\n"
    "                           address (default 127.0.0.1:9902)\n"
    "  --admin ADDR|off         the admin gRPC service's address (default 127.0.0.1:9901)\n"
    "  --admin-token-file FILE  admin calls must carry 'authorization: Bearer <token>'\n"
    "                           with the token in FILE (default: no token)\n"
    "  --admin-tls-cert FILE    serve the admin service over TLS with this certificate\n"
    "  --admin-tls-key FILE     (PEM) and key (default: plaintext)\n"
    "  --admin-tls-client-ca FILE  and require client certificates signed by this CA\n"
    "  --state FILE|off         where admin changes are persisted (default: beside the\n"
    "                           config, NAME.state.json)\n"
    "  --no-watch               do not reload the config file when it changes\n";

int Fail(const std::string& message) {
  std::cerr << "strait: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool check_only = false;
  int workers = 0;
  std::string admin_address = "127.0.0.1:9901";
  std::string metrics_address = "127.0.0.1:9902";
  std::string token_file;
  strait::admin::AdminTlsOptions admin_tls;
  std::string state_path;
  bool watch = true;
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
    } else if (arg == "--admin") {
      admin_address = value("--admin");
    } else if (arg == "--metrics") {
      metrics_address = value("--metrics");
    } else if (arg == "--log-format") {
      std::string format = value("--log-format");
      if (format == "text") strait::SetLogFormat(strait::LogFormat::kText);
      else if (format == "json") strait::SetLogFormat(strait::LogFormat::kJson);
      else {
        std::cerr << "strait: unknown --log-format " << format << " (text or json)\n";
        return 2;
      }
    } else if (arg == "--admin-tls-cert") {
      admin_tls.cert_file = value("--admin-tls-cert");
    } else if (arg == "--admin-tls-key") {
      admin_tls.key_file = value("--admin-tls-key");
    } else if (arg == "--admin-tls-client-ca") {
      admin_tls.client_ca_file = value("--admin-tls-client-ca");
    } else if (arg == "--admin-token-file") {
      token_file = value("--admin-token-file");
    } else if (arg == "--state") {
      state_path = value("--state");
    } else if (arg == "--no-watch") {
      watch = false;
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

  if (check_only) {
    absl::StatusOr<strait::config::v1::Config> config =
        strait::config::LoadAndValidate(config_path);
    if (!config.ok()) return Fail(std::string(config.status().message()));
    std::cout << config_path << ": ok\n";
    return 0;
  }

  strait::admin::AdminServerOptions admin_options{.address = admin_address};
  if (!admin_tls.cert_file.empty() || !admin_tls.key_file.empty() ||
      !admin_tls.client_ca_file.empty()) {
    if (admin_tls.cert_file.empty() || admin_tls.key_file.empty()) {
      std::cerr << "strait: --admin-tls-cert and --admin-tls-key go together\n";
      return 2;
    }
    admin_options.tls = admin_tls;
  }
  if (!token_file.empty()) {
    std::ifstream file(token_file);
    if (!file) {
      std::cerr << "strait: --admin-token-file " << token_file << ": " << strerror(errno)
                << "\n";
      return 2;
    }
    std::stringstream text;
    text << file.rdbuf();
    admin_options.token = std::string(absl::StripAsciiWhitespace(text.str()));
    if (admin_options.token.empty()) {
      std::cerr << "strait: --admin-token-file " << token_file << ": the file is empty\n";
      return 2;
    }
  }

  // Block the stop signals in every thread; main waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<std::unique_ptr<strait::admin::ControlPlane>> plane =
      strait::admin::ControlPlane::Create({.config_path = config_path,
                                           .state_path = state_path,
                                           .watch = watch,
                                           .server = {.workers = workers}});
  if (!plane.ok()) return Fail(std::string(plane.status().message()));
  if (absl::Status status = (*plane)->Start(); !status.ok()) {
    return Fail(std::string(status.message()));
  }
  std::unique_ptr<strait::admin::AdminServer> admin;
  if (admin_address != "off") {
    absl::StatusOr<std::unique_ptr<strait::admin::AdminServer>> started =
        strait::admin::AdminServer::Start(**plane, admin_options);
    if (!started.ok()) {
      (*plane)->Shutdown();
      return Fail(std::string(started.status().message()));
    }
    admin = std::move(*started);
    std::cout << "strait: admin on port " << admin->port() << std::endl;
  }
  strait::observe::MetricsHttpServer metrics;
  if (metrics_address != "off") {
    strait::admin::ControlPlane* control_plane = plane->get();
    absl::StatusOr<int> port = metrics.Start(
        metrics_address, [control_plane] { return strait::admin::RenderMetrics(*control_plane); });
    if (!port.ok()) {
      if (admin) admin->Shutdown();
      (*plane)->Shutdown();
      return Fail(std::string(port.status().message()));
    }
    std::cout << "strait: metrics on port " << *port << std::endl;
  }
  const strait::admin::ControlPlane::Running running = (*plane)->Current();
  for (const auto& [name, ep] : running.config.entry_points()) {
    std::cout << "strait: entry point " << name << " on port "
              << (*plane)->server().port(name) << std::endl;
  }

  int signal_number = 0;
  for (;;) {
    sigwait(&stop_signals, &signal_number);
    if (signal_number == SIGUSR1) {
      (*plane)->server().ReopenAccessLog();
      continue;
    }
    if (signal_number != SIGHUP) break;
    (void)(*plane)->ReloadFromFile();  // logs its result
  }
  STRAIT_LOG(kInfo, "received ", strsignal(signal_number), ": draining");
  // A scrape waits on the workers: stop serving them before they stop.
  metrics.Stop();
  if (admin) admin->Shutdown();
  (*plane)->Shutdown();
  STRAIT_LOG(kInfo, "stopped");
  return 0;
}
