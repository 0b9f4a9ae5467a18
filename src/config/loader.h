#ifndef STRAIT_CONFIG_LOADER_H_
#define STRAIT_CONFIG_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "strait/config/v1/config.pb.h"

namespace strait::config {

// Reads a configuration written in YAML or JSON (JSON is YAML): the Config
// message in protobuf's JSON mapping. Errors name the source, the line and
// column, the field path and the problem:
//   strait.yaml:12:9: services.api.loadBalancer.servers[1].url: expected a
//   string, got a map
// Only the shape is checked here; ValidateConfig checks the meaning.
absl::StatusOr<v1::Config> ParseConfig(absl::string_view text, absl::string_view source_name);

// The whole content of the file at `path`, byte for byte (through symlinks).
// Errors name the path and the call that failed, with the errno's status
// code (NotFound for a missing file):
//   /etc/strait/strait.yaml: open: No such file or directory
absl::StatusOr<std::string> ReadFileBytes(const std::string& path);

// ReadFileBytes, then ParseConfig.
absl::StatusOr<v1::Config> LoadConfigFile(const std::string& path);

// ParseConfig then ValidateConfig on text read from `path` (the control
// plane hashes the very bytes it parses); validation errors are prefixed
// with "PATH: ", one problem per line.
absl::StatusOr<v1::Config> ParseAndValidate(absl::string_view text, const std::string& path);

// ReadFileBytes then ParseAndValidate: what `strait --check` runs.
absl::StatusOr<v1::Config> LoadAndValidate(const std::string& path);

}  // namespace strait::config

#endif  // STRAIT_CONFIG_LOADER_H_
