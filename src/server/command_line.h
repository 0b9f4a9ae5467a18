#ifndef STRAIT_SERVER_COMMAND_LINE_H_
#define STRAIT_SERVER_COMMAND_LINE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "admin/admin_server.h"
#include "common/log.h"

namespace strait::server {

// What `strait FLAGS...` asks for (everything but `strait probe`, see
// probe.h), parsed and checked before anything starts: every flag known,
// every value well-formed, every named input file readable. Parsed once by
// main() on the main thread.
struct CommandLine {
  enum class Action {
    kServe,    // --config FILE: serve until SIGINT/SIGTERM
    kCheck,    // --check FILE: validate FILE and exit
    kHelp,     // --help: print kUsage and exit
    kVersion,  // --version: print the version and git revision and exit
  };
  Action action = Action::kServe;
  std::string config_path;  // --config or --check
  int workers = 0;          // 0: one per core
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
  std::string metrics_address = "127.0.0.1:9902";  // or "off"
  // The address ("off": no admin server), TLS files, and the token read
  // from --admin-token-file.
  admin::AdminServerOptions admin;
  std::string state_path;  // "": beside the config; "off": none
  bool watch = true;       // reload the config when its content changes
};

// `args` without the program name. Flags take their value as the next
// argument or after '=' (`--workers=4`). An error is one line that names the
// flag and the problem ("--workers: \"x\" is not a positive number"); main()
// prints it and exits 2.
absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// The --help text: every flag with its default, and the exit codes.
extern const char kUsage[];

}  // namespace strait::server

#endif  // STRAIT_SERVER_COMMAND_LINE_H_
