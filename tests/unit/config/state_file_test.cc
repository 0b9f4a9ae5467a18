#include "config/state_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "config/loader.h"
#include "google/protobuf/util/message_differencer.h"
#include "scratch_dir.h"

namespace strait::config {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScratchDir;

// A State with every field set, the config big enough to take many write()s
// when `servers` is large.
v1::State FullState(uint64_t version, int servers = 2) {
  v1::State state;
  // Above 2^53: JSON numbers would lose it; the mapping writes a string.
  state.set_version(version);
  v1::Config& config = *state.mutable_config();
  (*config.mutable_entry_points())["web"].set_address("127.0.0.1:8080");
  (*config.mutable_routers())["api"].set_rule("PathPrefix(`/`)");
  (*config.mutable_routers())["api"].set_service("api");
  auto& lb = *(*config.mutable_services())["api"].mutable_load_balancer();
  for (int i = 0; i < servers; ++i) {
    lb.add_servers()->set_url("h2c://10.0.0." + std::to_string(i % 250) + ":" +
                              std::to_string(50000 + i));
  }
  state.set_base_sha256(Sha256Hex("entryPoints: {}\n"));
  state.set_base_path("/etc/strait/strait.yaml");
  state.add_drained_servers("h2c://10.0.0.0:50000");
  state.add_drained_servers("h2c://10.0.0.1:50001");
  state.mutable_saved_at()->set_seconds(1700000000);
  state.mutable_saved_at()->set_nanos(123456789);
  return state;
}

TEST(Sha256HexTest, KnownVectors) {
  // FIPS 180-2 appendix B.1, and the empty string.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(StateFileTest, SaveThenLoadRoundTripsEveryField) {
  ScratchDir dir;
  const std::string path = dir.Path("strait.state.json");
  const v1::State saved = FullState(9007199254740993u);
  ASSERT_TRUE(SaveState(path, saved).ok());

  absl::StatusOr<std::optional<v1::State>> loaded = LoadState(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_TRUE(MessageDifferencer::Equals(**loaded, saved)) << (*loaded)->DebugString();

  // People read it: protobuf's JSON mapping, lowerCamelCase, indented.
  absl::StatusOr<std::string> text = ReadFileBytes(path);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("\n \"baseSha256\": \"" + saved.base_sha256() + "\""));
  EXPECT_THAT(*text, HasSubstr("\"drainedServers\": ["));
  EXPECT_THAT(*text, HasSubstr("\"entryPoints\": {"));
  EXPECT_THAT(*text, HasSubstr("\"savedAt\": \"2023-11-14T22:13:20.123456789Z\""));
  EXPECT_THAT(*text, HasSubstr("\"version\": \"9007199254740993\""));
}

TEST(StateFileTest, SaveReplacesAnExistingFileAndLeavesNoTemporaryFile) {
  ScratchDir dir;
  const std::string path = dir.Path("state.json");
  ASSERT_TRUE(SaveState(path, FullState(1)).ok());
  ASSERT_TRUE(SaveState(path, FullState(2)).ok());
  absl::StatusOr<std::optional<v1::State>> loaded = LoadState(path);
  ASSERT_TRUE(loaded.ok() && loaded->has_value()) << loaded.status();
  EXPECT_EQ((*loaded)->version(), 2u);
  EXPECT_THAT(dir.List(), ElementsAre("state.json"));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

// A reader that loads while the file is being replaced sees the old state or
// the new one, never a part: the write goes to a temporary file that is
// renamed over.
TEST(StateFileTest, ReadersNeverSeeAPartialFile) {
  ScratchDir dir;
  const std::string path = dir.Path("state.json");
  // ~200 KiB each, so a non-atomic write would be seen half done.
  ASSERT_TRUE(SaveState(path, FullState(0, 5000)).ok());
  std::atomic<bool> done{false};
  std::atomic<bool> failed{false};
  int loads = 0;
  std::string error;  // the reader's until it is joined
  std::thread reader([&] {
    while (!done.load()) {
      absl::StatusOr<std::optional<v1::State>> loaded = LoadState(path);
      if (!loaded.ok() || !loaded->has_value()) {
        error = loaded.ok() ? "missing" : std::string(loaded.status().message());
        failed = true;
        return;
      }
      ++loads;
    }
  });
  absl::Status saved = absl::OkStatus();
  for (uint64_t v = 1; v <= 40 && saved.ok() && !failed.load(); ++v) {
    saved = SaveState(path, FullState(v, 5000));
  }
  done = true;
  reader.join();
  EXPECT_TRUE(saved.ok()) << saved;
  EXPECT_EQ(error, "") << "after " << loads << " good loads";
  EXPECT_THAT(dir.List(), ElementsAre("state.json"));
}

TEST(StateFileTest, LoadOfAMissingFileIsNullopt) {
  ScratchDir dir;
  absl::StatusOr<std::optional<v1::State>> loaded = LoadState(dir.Path("none.json"));
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_FALSE(loaded->has_value());
}

TEST(StateFileTest, ACorruptFileIsAnErrorNamingThePath) {
  ScratchDir dir;
  const std::string truncated = dir.Write("truncated.json", "{\n  \"version\": \"3\",\n  \"con");
  absl::StatusOr<std::optional<v1::State>> loaded = LoadState(truncated);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(truncated + ": not a valid state file"));

  // Written by something else (or a newer strait): not used half-understood.
  const std::string unknown = dir.Write("unknown.json", R"({"version": "3", "colour": "red"})");
  loaded = LoadState(unknown);
  ASSERT_FALSE(loaded.ok());
  EXPECT_THAT(loaded.status().message(), HasSubstr(unknown + ": not a valid state file"));

  const std::string empty = dir.Write("empty.json", "");
  EXPECT_FALSE(LoadState(empty).ok());
}

TEST(StateFileTest, SaveIntoAMissingDirectoryIsAnErrorNamingThePath) {
  ScratchDir dir;
  const std::string path = dir.Path("missing/state.json");
  absl::Status saved = SaveState(path, FullState(1));
  EXPECT_EQ(saved.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(saved.message(), HasSubstr(path + ": mkstemp: No such file or directory"));
}

TEST(StateFileTest, SaveIntoAReadOnlyDirectoryIsAnErrorNamingThePath) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes through directory permissions";
  ScratchDir dir;
  std::filesystem::create_directory(dir.Path("ro"));
  const std::string path = dir.Path("ro/state.json");
  ASSERT_EQ(chmod(dir.Path("ro").c_str(), 0555), 0);
  absl::Status saved = SaveState(path, FullState(1));
  EXPECT_EQ(saved.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(saved.message(), HasSubstr(path + ": mkstemp: Permission denied"));
  chmod(dir.Path("ro").c_str(), 0755);
  EXPECT_THAT(dir.List("ro"), ElementsAre());
}

// A rename that fails (here: over a directory, which root cannot do either)
// names the call, leaves what was at the path and removes the temporary file.
TEST(StateFileTest, AFailedRenameLeavesNoTemporaryFile) {
  ScratchDir dir;
  const std::string path = dir.Path("state.json");
  std::filesystem::create_directories(path + "/occupied");
  absl::Status saved = SaveState(path, FullState(1));
  EXPECT_FALSE(saved.ok());
  EXPECT_THAT(saved.message(), HasSubstr(path + ": rename: Is a directory"));
  EXPECT_THAT(dir.List(), ElementsAre("state.json"));
  EXPECT_THAT(dir.List("state.json"), ElementsAre("occupied"));
}

TEST(StateFileTest, DefaultStatePathIsBesideTheConfigFile) {
  EXPECT_EQ(DefaultStatePath("/etc/strait/strait.yaml"), "/etc/strait/strait.state.json");
  EXPECT_EQ(DefaultStatePath("strait.json"), "strait.state.json");
  EXPECT_EQ(DefaultStatePath("conf/strait"), "conf/strait.state.json");
  EXPECT_EQ(DefaultStatePath("/etc/strait/a.b.yaml"), "/etc/strait/a.b.state.json");
  EXPECT_EQ(DefaultStatePath("/etc/strait.d/strait"), "/etc/strait.d/strait.state.json");
  EXPECT_EQ(DefaultStatePath("/etc/.strait"), "/etc/.strait.state.json");
}

}  // namespace
}  // namespace strait::config
