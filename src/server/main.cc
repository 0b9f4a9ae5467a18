// strait: a gRPC load balancer.
//
//   strait --config FILE [flags]   serve (flags: command_line.h, or --help)
//   strait --check FILE            validate FILE and exit
//   strait probe ADDR [flags]      one grpc.health.v1 Check (probe.h)
//   strait --version | --help
//
// SIGINT/SIGTERM drain gracefully and exit 0. SIGHUP reloads FILE (so does a
// change of its content, seen by inotify, unless --no-watch): a valid file
// replaces the running configuration for new RPCs; an invalid one is
// reported and the running configuration stays. The admin gRPC service
// (default 127.0.0.1:9901) reads and changes the running configuration;
// its changes are persisted to the state file (default beside FILE).
// Prometheus metrics are served on GET /metrics of --metrics (default
// 127.0.0.1:9902). SIGUSR1 reopens the access log (after logrotate).
//
// Exit codes: 0 stopped by a signal (or --check: valid; probe: SERVING);
// 1 could not run (or --check: invalid; probe: anything else); 2 a bad
// command line, reported in one line before anything starts.
#include <signal.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/control_plane.h"
#include "admin/metrics.h"
#include "common/log.h"
#include "config/loader.h"
#include "observe/metrics_http_server.h"
#include "server/command_line.h"
#include "server/probe.h"
#include "server/version.h"

namespace {

int Fail(const std::string& message) {
  std::cerr << "strait: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "probe") {
    return strait::server::RunProbe({args.begin() + 1, args.end()});
  }
  absl::StatusOr<strait::server::CommandLine> parsed = strait::server::ParseCommandLine(args);
  if (!parsed.ok()) {
    std::cerr << "strait: " << parsed.status().message() << "\n";
    return 2;
  }
  const strait::server::CommandLine& line = *parsed;
  strait::SetLogLevel(line.log_level);
  strait::SetLogFormat(line.log_format);
  using Action = strait::server::CommandLine::Action;
  switch (line.action) {
    case Action::kHelp:
      std::cout << strait::server::kUsage;
      return 0;
    case Action::kVersion:
      std::cout << "strait " << strait::server::kVersion << " (git " << strait::server::kRevision
                << ")\n";
      return 0;
    case Action::kCheck: {
      absl::StatusOr<strait::config::v1::Config> config =
          strait::config::LoadAndValidate(line.config_path);
      if (!config.ok()) return Fail(std::string(config.status().message()));
      std::cout << line.config_path << ": ok\n";
      return 0;
    }
    case Action::kServe:
      break;
  }
  const std::string& config_path = line.config_path;
  const std::string& admin_address = line.admin.address;
  const std::string& metrics_address = line.metrics_address;

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
                                           .state_path = line.state_path,
                                           .watch = line.watch,
                                           .server = {.workers = line.workers}});
  if (!plane.ok()) return Fail(std::string(plane.status().message()));
  if (absl::Status status = (*plane)->Start(); !status.ok()) {
    return Fail(std::string(status.message()));
  }
  std::unique_ptr<strait::admin::AdminServer> admin;
  if (admin_address != "off") {
    absl::StatusOr<std::unique_ptr<strait::admin::AdminServer>> started =
        strait::admin::AdminServer::Start(**plane, line.admin);
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
    std::cout << "strait: entry point " << name << " on port " << (*plane)->server().port(name)
              << std::endl;
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
