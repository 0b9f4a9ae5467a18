#include "config/file_watcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "config/state_file.h"
#include "scratch_dir.h"

namespace strait::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScratchDir;

// How long a test waits for a callback before it fails. Generous: only a
// broken watcher takes this long.
constexpr auto kDeadline = std::chrono::seconds(10);

// What a watcher's callbacks reported, and waiting for it. Owned by the test
// and declared before the watcher, so it outlives the watcher's thread.
class Recorder {
 public:
  FileWatcher::ChangeCallback OnChange() {
    return [this](const std::string& content) {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) ++after_stop_;
      changes_.push_back(content);
      cv_.notify_all();
    };
  }

  FileWatcherOptions Options(std::string loaded_sha256 = "") {
    FileWatcherOptions options;
    options.loaded_sha256 = std::move(loaded_sha256);
    options.on_error = [this](const absl::Status& status) {
      std::lock_guard<std::mutex> lock(mu_);
      errors_.push_back(status);
      cv_.notify_all();
    };
    options.on_checked = [this] {
      std::lock_guard<std::mutex> lock(mu_);
      ++checks_;
      cv_.notify_all();
    };
    return options;
  }

  // Each waits until at least `n` have been reported, or kDeadline.
  bool WaitForChanges(size_t n) {
    return Wait([&] { return changes_.size() >= n; });
  }
  bool WaitForErrors(size_t n) {
    return Wait([&] { return errors_.size() >= n; });
  }
  bool WaitForChecks(int n) {
    return Wait([&] { return checks_ >= n; });
  }

  // Marks the watcher stopped: a change reported from now on is counted.
  void MarkStopped() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }

  std::vector<std::string> changes() {
    std::lock_guard<std::mutex> lock(mu_);
    return changes_;
  }
  std::vector<absl::Status> errors() {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  int checks() {
    std::lock_guard<std::mutex> lock(mu_);
    return checks_;
  }
  int after_stop() {
    std::lock_guard<std::mutex> lock(mu_);
    return after_stop_;
  }

 private:
  template <typename Pred>
  bool Wait(Pred pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, pred);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> changes_;
  std::vector<absl::Status> errors_;
  int checks_ = 0;
  bool stopped_ = false;
  int after_stop_ = 0;
};

class FileWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directory(dir_.Path("etc"));
    path_ = dir_.Path("etc/strait.yaml");
  }

  std::unique_ptr<FileWatcher> StartWatcher(Recorder& recorder, std::string loaded_sha256 = "") {
    absl::StatusOr<std::unique_ptr<FileWatcher>> watcher =
        FileWatcher::Start(path_, recorder.OnChange(), recorder.Options(std::move(loaded_sha256)));
    EXPECT_TRUE(watcher.ok()) << watcher.status();
    return watcher.ok() ? std::move(*watcher) : nullptr;
  }

  // Replaces the file the way a tool that writes elsewhere and renames does.
  // The temporary file lives outside the watched directory, so the rename is
  // the only event the watcher gets.
  void RenameOver(const std::string& content) {
    std::filesystem::create_directories(dir_.Path("staging"));
    std::string tmp = dir_.Write("staging/strait.yaml.tmp", content);
    ASSERT_EQ(rename(tmp.c_str(), path_.c_str()), 0) << strerror(errno);
  }

  ScratchDir dir_;
  std::string path_;
  Recorder recorder_;
};

TEST_F(FileWatcherTest, InPlaceRewriteIsAChange) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);
  dir_.Write("etc/strait.yaml", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
}

TEST_F(FileWatcherTest, RenameOverIsAChange) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);
  RenameOver("version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
}

// The file is missing in between: that is reported as an error, not as a
// change, and the re-created file is the change.
TEST_F(FileWatcherTest, DeleteThenRecreateIsAChange) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);
  ASSERT_EQ(unlink(path_.c_str()), 0);
  ASSERT_TRUE(recorder_.WaitForErrors(1));
  EXPECT_EQ(recorder_.errors()[0].code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(recorder_.errors()[0].message(), HasSubstr(path_ + ": open"));
  EXPECT_THAT(recorder_.changes(), ElementsAre());

  dir_.Write("etc/strait.yaml", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
}

// A Kubernetes ConfigMap volume, updated the way the kubelet does it: the
// new files go into a fresh timestamped directory, a `..data_tmp` symlink to
// it is renamed over `..data`, then the old directory is removed. The
// watched name itself (`strait.yaml -> ..data/strait.yaml`) never changes.
TEST_F(FileWatcherTest, ConfigMapSymlinkSwapIsAChange) {
  auto publish = [&](const std::string& stamp, const std::string& content) {
    std::filesystem::create_directory(dir_.Path("etc/" + stamp));
    dir_.Write("etc/" + stamp + "/strait.yaml", content);
    std::filesystem::create_directory_symlink(stamp, dir_.Path("etc/..data_tmp"));
    std::filesystem::rename(dir_.Path("etc/..data_tmp"), dir_.Path("etc/..data"));
  };
  publish("..2024_01_01_00_00_00.1", "version: 1\n");
  std::filesystem::create_symlink("..data/strait.yaml", path_);
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);

  publish("..2024_01_01_00_01_00.2", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
  std::filesystem::remove_all(dir_.Path("etc/..2024_01_01_00_00_00.1"));

  // And the next update too, from the new directory.
  publish("..2024_01_01_00_02_00.3", "version: 3\n");
  ASSERT_TRUE(recorder_.WaitForChanges(2));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n", "version: 3\n"));
}

// A symlink into another directory: editing the target in place is seen
// although nothing happens in the watched name's own directory.
TEST_F(FileWatcherTest, EditingASymlinkTargetElsewhereIsAChange) {
  std::filesystem::create_directory(dir_.Path("real"));
  dir_.Write("real/strait.yaml", "version: 1\n");
  std::filesystem::create_symlink("../real/strait.yaml", path_);
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);
  dir_.Write("real/strait.yaml", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
}

// Each no-op is seen and judged (on_checked) before the real change is
// made, so they are not merely coalesced with it.
TEST_F(FileWatcherTest, IdenticalContentIsNotAChange) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);

  dir_.Write("etc/strait.yaml", "version: 1\n");
  ASSERT_TRUE(recorder_.WaitForChecks(1));
  ASSERT_EQ(utime(path_.c_str(), nullptr), 0);  // touch
  ASSERT_TRUE(recorder_.WaitForChecks(2));
  RenameOver("version: 1\n");
  ASSERT_TRUE(recorder_.WaitForChecks(3));

  dir_.Write("etc/strait.yaml", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  watcher->Stop();
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
}

TEST_F(FileWatcherTest, AnUnrelatedFileInTheDirectoryIsNotAChange) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);

  // E.g. the state file saved beside the config.
  dir_.Write("etc/strait.state.json", "{}\n");
  ASSERT_TRUE(recorder_.WaitForChecks(1));

  dir_.Write("etc/strait.yaml", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_EQ(recorder_.changes()[0], "version: 2\n");
}

// The caller loaded version 1 and the file moved on before Start: that is a
// change, delivered without any further event.
TEST_F(FileWatcherTest, AChangeBeforeStartIsSeenAgainstTheLoadedContent) {
  dir_.Write("etc/strait.yaml", "version: 2\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_, Sha256Hex("version: 1\n"));
  ASSERT_NE(watcher, nullptr);
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
}

// The whole directory moved away (as a deploy tool may swap it): reported,
// and the directory that comes back under the name is watched.
TEST_F(FileWatcherTest, ADirectoryThatComesBackIsWatchedAgain) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);
  std::filesystem::rename(dir_.Path("etc"), dir_.Path("etc.old"));
  ASSERT_TRUE(recorder_.WaitForErrors(1));
  EXPECT_THAT(recorder_.errors()[0].message(), HasSubstr("was removed or moved"));

  // Editing the old directory is no change to the watched name.
  dir_.Write("etc.old/strait.yaml", "version: old\n");
  std::filesystem::create_directory(dir_.Path("etc"));
  dir_.Write("etc/strait.yaml", "version: 2\n");
  ASSERT_TRUE(recorder_.WaitForChanges(1));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n"));
  dir_.Write("etc/strait.yaml", "version: 3\n");
  ASSERT_TRUE(recorder_.WaitForChanges(2));
  EXPECT_THAT(recorder_.changes(), ElementsAre("version: 2\n", "version: 3\n"));
}

TEST_F(FileWatcherTest, AMissingDirectoryIsAnErrorNamingThePath) {
  const std::string path = dir_.Path("missing/strait.yaml");
  absl::StatusOr<std::unique_ptr<FileWatcher>> watcher =
      FileWatcher::Start(path, [](const std::string&) {});
  ASSERT_FALSE(watcher.ok());
  EXPECT_EQ(watcher.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(watcher.status().message(), HasSubstr(path + ": inotify_add_watch"));
}

// Stop wakes a watcher idle in poll() (only Stop can), and nothing is
// reported after it returns: a second watcher, started after the first
// stopped, sees two changes that the first never reports.
TEST_F(FileWatcherTest, StopIsPromptAndNothingFollowsIt) {
  dir_.Write("etc/strait.yaml", "version: 1\n");
  std::unique_ptr<FileWatcher> watcher = StartWatcher(recorder_);
  ASSERT_NE(watcher, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;
  std::thread stopper([&] {
    watcher->Stop();
    std::lock_guard<std::mutex> lock(mu);
    stopped = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, kDeadline, [&] { return stopped; })) {
      ADD_FAILURE() << "Stop did not return";
      // The stuck thread still uses the watcher: leak both rather than hang.
      stopper.detach();
      watcher.release();
      return;
    }
  }
  stopper.join();
  recorder_.MarkStopped();

  Recorder witness;
  std::unique_ptr<FileWatcher> second = StartWatcher(witness);
  ASSERT_NE(second, nullptr);
  dir_.Write("etc/strait.yaml", "version: 2\n");
  ASSERT_TRUE(witness.WaitForChanges(1));
  dir_.Write("etc/strait.yaml", "version: 3\n");
  ASSERT_TRUE(witness.WaitForChanges(2));
  second->Stop();
  EXPECT_EQ(recorder_.after_stop(), 0);
  EXPECT_THAT(recorder_.changes(), ElementsAre());

  watcher->Stop();  // again: a no-op
}

}  // namespace
}  // namespace strait::config
