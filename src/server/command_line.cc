#include "server/command_line.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "net/address.h"

namespace strait::server {

const char kUsage[] =
    "usage: strait --config FILE [flags]   serve\n"
    "       strait --check FILE            validate FILE and exit\n"
    "       strait probe ADDR [flags]      ask a grpc.health.v1 server (see strait probe --help)\n"
    "       strait --version | --help\n"
    "\n"
    "  --config FILE            the configuration (YAML or JSON), reloaded on SIGHUP\n"
    "                           and when its content changes (required to serve)\n"
    "  --check FILE             validate FILE and exit: 0 valid, 1 invalid\n"
    "  --workers N              worker threads (default: one per core)\n"
    "  --log-level LEVEL        debug, info, warn or error (default info)\n"
    "  --log-format FORMAT      text or json, one object per line (default text)\n"
    "  --metrics ADDR|off       serve Prometheus metrics on GET /metrics of this HTTP\n"
    "                           address (default 127.0.0.1:9902)\n"
    "  --admin ADDR|off         the admin gRPC service, with grpc.health.v1 for\n"
    "                           `strait probe` (default 127.0.0.1:9901)\n"
    "  --admin-token-file FILE  admin calls must carry 'authorization: Bearer <token>'\n"
    "                           with the token in FILE (default: no token)\n"
    "  --admin-tls-cert FILE    serve the admin service over TLS with this certificate\n"
    "  --admin-tls-key FILE     and key, PEM (default: plaintext)\n"
    "  --admin-tls-client-ca FILE  and require client certificates signed by this CA\n"
    "                           (default: none asked for)\n"
    "  --state FILE|off         where admin changes are persisted (default: beside the\n"
    "                           config, NAME.state.json)\n"
    "  --no-watch               do not reload the config file when it changes\n"
    "                           (default: watch it; SIGHUP reloads either way)\n"
    "  --version                print the version and git revision\n"
    "  --help                   print this\n"
    "\n"
    "Flags take their value as the next argument or after '=' (--workers=4).\n"
    "Signals: SIGINT/SIGTERM drain and exit 0; SIGHUP reloads FILE; SIGUSR1 reopens\n"
    "the access log.\n"
    "Exit status: 0 stopped by a signal, or --check found FILE valid;\n"
    "             1 could not run (e.g. invalid config, address in use), or --check\n"
    "               found FILE invalid;\n"
    "             2 bad command line: unknown flag, bad value, missing or unreadable file.\n";

namespace {

// The file's content, or an error naming `flag` and why it cannot be read.
absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::ifstream file(path);
  if (!file)
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": ", strerror(errno)));
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": is a directory"));
  }
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

absl::Status CheckReadable(const std::string& flag, const std::string& path) {
  return ReadFile(flag, path).status();
}

absl::Status CheckAddress(const std::string& flag, const std::string& address) {
  if (address == "off") return absl::OkStatus();
  absl::StatusOr<net::HostPort> parsed = net::ParseHostPort(address);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", address, ": ", parsed.status().message(), " (HOST:PORT or off)"));
  }
  return absl::OkStatus();
}

// The checks that need every flag seen: pairs, required ones, files.
absl::Status CheckWhole(CommandLine& line, const std::string& token_file) {
  if (line.action == CommandLine::Action::kHelp || line.action == CommandLine::Action::kVersion) {
    return absl::OkStatus();
  }
  const char* config_flag = line.action == CommandLine::Action::kCheck ? "--check" : "--config";
  if (line.config_path.empty()) {
    return absl::InvalidArgumentError("--config FILE is required (see strait --help)");
  }
  if (absl::Status s = CheckReadable(config_flag, line.config_path); !s.ok()) return s;
  if (line.action == CommandLine::Action::kCheck) return absl::OkStatus();

  if (line.admin.tls) {
    const admin::AdminTlsOptions& tls = *line.admin.tls;
    if (tls.cert_file.empty() || tls.key_file.empty()) {
      return absl::InvalidArgumentError("--admin-tls-cert and --admin-tls-key go together");
    }
    if (absl::Status s = CheckReadable("--admin-tls-cert", tls.cert_file); !s.ok()) return s;
    if (absl::Status s = CheckReadable("--admin-tls-key", tls.key_file); !s.ok()) return s;
    if (!tls.client_ca_file.empty()) {
      absl::Status s = CheckReadable("--admin-tls-client-ca", tls.client_ca_file);
      if (!s.ok()) return s;
    }
  }
  if (!token_file.empty()) {
    absl::StatusOr<std::string> token = ReadFile("--admin-token-file", token_file);
    if (!token.ok()) return token.status();
    line.admin.token = std::string(absl::StripAsciiWhitespace(*token));
    if (line.admin.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--admin-token-file ", token_file, ": the file is empty"));
    }
  }
  if (!line.state_path.empty() && line.state_path != "off") {
    // The file itself may not exist yet; its directory must.
    std::filesystem::path dir = std::filesystem::path(line.state_path).parent_path();
    std::error_code error;
    if (!dir.empty() && !std::filesystem::is_directory(dir, error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--state ", line.state_path, ": no directory ", dir.string()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine line;
  std::string token_file;
  admin::AdminTlsOptions tls;
  bool config_seen = false, check_seen = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (size_t eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    // The flag's value; sets `missing` when there is none.
    bool missing = false;
    auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= args.size()) {
        missing = true;
        return "";
      }
      return args[++i];
    };
    auto bad = [&](const std::string& v, const std::string& want) {
      return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", v, "\" is not ", want));
    };
    auto no_value = [&] {
      return absl::InvalidArgumentError(absl::StrCat(flag, " needs a value"));
    };

    if (flag == "--help" || flag == "-h") {
      line.action = CommandLine::Action::kHelp;
      return line;  // whatever else is there
    } else if (flag == "--version") {
      line.action = CommandLine::Action::kVersion;
      return line;
    } else if (flag == "--no-watch") {
      if (inline_value) return absl::InvalidArgumentError("--no-watch takes no value");
      line.watch = false;
      continue;
    } else if (!flag.starts_with("-")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", flag, "\" (see strait --help)"));
    }

    static const char* const kWithValue[] = {"--config",
                                             "--check",
                                             "--workers",
                                             "--log-level",
                                             "--log-format",
                                             "--metrics",
                                             "--admin",
                                             "--admin-token-file",
                                             "--admin-tls-cert",
                                             "--admin-tls-key",
                                             "--admin-tls-client-ca",
                                             "--state"};
    bool known = false;
    for (const char* f : kWithValue) known = known || flag == f;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag ", flag, " (see strait --help)"));
    }
    std::string v = value();
    if (missing) return no_value();
    if (v.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": empty value"));

    if (flag == "--config") {
      line.config_path = v;
      config_seen = true;
    } else if (flag == "--check") {
      line.config_path = v;
      line.action = CommandLine::Action::kCheck;
      check_seen = true;
    } else if (flag == "--workers") {
      if (!absl::SimpleAtoi(v, &line.workers) || line.workers < 1) {
        return bad(v, "a positive number");
      }
    } else if (flag == "--log-level") {
      std::optional<LogLevel> level = ParseLogLevel(v);
      if (!level) return bad(v, "debug, info, warn or error");
      line.log_level = *level;
    } else if (flag == "--log-format") {
      std::optional<LogFormat> format = ParseLogFormat(v);
      if (!format) return bad(v, "text or json");
      line.log_format = *format;
    } else if (flag == "--metrics") {
      if (absl::Status s = CheckAddress(flag, v); !s.ok()) return s;
      line.metrics_address = v;
    } else if (flag == "--admin") {
      if (absl::Status s = CheckAddress(flag, v); !s.ok()) return s;
      line.admin.address = v;
    } else if (flag == "--admin-token-file") {
      token_file = v;
    } else if (flag == "--admin-tls-cert") {
      tls.cert_file = v;
    } else if (flag == "--admin-tls-key") {
      tls.key_file = v;
    } else if (flag == "--admin-tls-client-ca") {
      tls.client_ca_file = v;
    } else if (flag == "--state") {
      line.state_path = v;
    }
  }
  if (config_seen && check_seen) {
    return absl::InvalidArgumentError("--config and --check: give one of them");
  }
  if (!tls.cert_file.empty() || !tls.key_file.empty() || !tls.client_ca_file.empty()) {
    line.admin.tls = tls;
  }
  if (absl::Status s = CheckWhole(line, token_file); !s.ok()) return s;
  return line;
}

}  // namespace strait::server
