#include "config/state_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "config/loader.h"
#include "google/protobuf/util/json_util.h"

namespace strait::config {
namespace {

// "PATH: CALL: strerror(error)", with the errno's status code.
absl::Status SysError(int error, const std::string& path, absl::string_view call) {
  return absl::ErrnoToStatus(error, absl::StrCat(path, ": ", call));
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SysError(errno, path, "write");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Writes `bytes` to the temporary file `fd` (named `tmp_path`), fsyncs it
// and renames it over `path`. Closes `fd` in every case; the caller removes
// `tmp_path` on error. Errors name `path`: the temporary file is ours.
absl::Status CommitTemporary(int fd, const std::string& tmp_path, const std::string& path,
                             absl::string_view bytes) {
  absl::Status written = WriteAll(fd, bytes, path);
  if (written.ok() && fsync(fd) != 0) written = SysError(errno, path, "fsync");
  // close() can report a delayed write error (NFS); it counts.
  if (close(fd) != 0 && written.ok()) written = SysError(errno, path, "close");
  if (!written.ok()) return written;
  if (rename(tmp_path.c_str(), path.c_str()) != 0) return SysError(errno, path, "rename");
  return absl::OkStatus();
}

// Makes the rename itself durable: a crash after SaveState returns must not
// bring back the old file.
absl::Status SyncDirectory(const std::string& dir, const std::string& path) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return SysError(errno, path, absl::StrCat("open directory ", dir));
  absl::Status synced = absl::OkStatus();
  if (fsync(fd) != 0) synced = SysError(errno, path, absl::StrCat("fsync directory ", dir));
  close(fd);
  return synced;
}

}  // namespace

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Only fails when out of memory or when the default provider lacks
  // SHA-256, neither of which strait can run without.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

absl::Status SaveState(const std::string& path, const v1::State& state) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  std::string json;
  if (auto s = google::protobuf::util::MessageToJsonString(state, &json, options); !s.ok()) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot encode the state as JSON: ", std::string(s.message())));
  }

  const std::filesystem::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  // A dot name beside the target: same filesystem, so rename is atomic, and
  // hidden from casual listings. mkstemp makes it 0600 and unique.
  std::string tmp_path = absl::StrCat(dir, "/.", target.filename().string(), ".tmp.XXXXXX");
  std::vector<char> tmp_template(tmp_path.begin(), tmp_path.end());
  tmp_template.push_back('\0');
  int fd = mkostemp(tmp_template.data(), O_CLOEXEC);
  if (fd < 0) return SysError(errno, path, "mkstemp");
  tmp_path = tmp_template.data();

  if (absl::Status s = CommitTemporary(fd, tmp_path, path, json); !s.ok()) {
    unlink(tmp_path.c_str());
    return s;
  }
  return SyncDirectory(dir, path);
}

absl::StatusOr<std::optional<v1::State>> LoadState(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFileBytes(path);
  if (absl::IsNotFound(bytes.status())) return std::nullopt;
  if (!bytes.ok()) return bytes.status();
  v1::State state;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a state we cannot fully read is not used
  if (auto s = google::protobuf::util::JsonStringToMessage(*bytes, &state, options); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat(path, ": not a valid state file: ", std::string(s.message())));
  }
  return state;
}

std::string DefaultStatePath(const std::string& config_path) {
  // The extension is the base name's last dot on, unless that dot starts it.
  return std::filesystem::path(config_path).replace_extension(".state.json").string();
}

}  // namespace strait::config
