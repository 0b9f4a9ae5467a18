#ifndef STRAIT_CONFIG_STATE_FILE_H_
#define STRAIT_CONFIG_STATE_FILE_H_

// The state file: admin changes that survive a restart.
//
// The file given with `--config` is the base. After every admin change the
// control plane saves a v1::State (the running Config, what it was built on,
// the drained servers) with SaveState. On start it compares the state's
// `base_sha256` with Sha256Hex of the config file's current bytes: equal, the
// state is used; different (the file was edited since), missing or
// unreadable, the config file wins and the caller logs why.
//
// Plain functions, no shared state: safe on any thread, but two writers of
// the same path at once are the caller's to avoid (the last rename wins).

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "strait/config/v1/state.pb.h"

namespace strait::config {

// Lowercase hex SHA-256 of `bytes` (64 characters), as State.base_sha256
// records it.
std::string Sha256Hex(absl::string_view bytes);

// Writes `state` to `path` as JSON (protobuf's JSON mapping, lowerCamelCase,
// indented), atomically: into a temporary file in the same directory, which
// is fsynced and renamed over `path`, then the directory is fsynced. Readers
// see the old file or the new one, never a part; on error the temporary file
// is removed and `path` is left as it was. The file is created mode 0600 (it
// holds the whole configuration). `state` is written as given: the caller
// sets `saved_at` and `version`. Errors name the path and the failed call:
//   /var/lib/strait/state.json: rename: Permission denied
absl::Status SaveState(const std::string& path, const v1::State& state);

// Reads a state file written by SaveState. nullopt when `path` does not
// exist; any other failure, an unparsable file or unknown fields included, is
// an error naming the path (the caller then falls back to the config file).
absl::StatusOr<std::optional<v1::State>> LoadState(const std::string& path);

// Where the state file lives when none is given: beside the config file,
// named after its base name without the extension:
//   /etc/strait/strait.yaml -> /etc/strait/strait.state.json
//   strait.json             -> strait.state.json
//   /etc/strait/strait      -> /etc/strait/strait.state.json
// Only the last extension goes (a.b.yaml -> a.b.state.json), and a leading
// dot is part of the name (.strait -> .strait.state.json). The directory must
// be writable: a read-only mount such as a Kubernetes ConfigMap needs an
// explicit state path elsewhere.
std::string DefaultStatePath(const std::string& config_path);

}  // namespace strait::config

#endif  // STRAIT_CONFIG_STATE_FILE_H_
