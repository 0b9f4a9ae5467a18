#ifndef STRAIT_TESTS_UNIT_CONFIG_SCRATCH_DIR_H_
#define STRAIT_TESTS_UNIT_CONFIG_SCRATCH_DIR_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace strait::config::testing {

// A fresh directory under /tmp for one test, removed with everything in it
// when the test ends. Owned by the test; one thread.
class ScratchDir {
 public:
  ScratchDir() {
    char name[] = "/tmp/strait-config-test-XXXXXX";
    if (mkdtemp(name) == nullptr) ADD_FAILURE() << "mkdtemp: " << strerror(errno);
    path_ = name;
  }
  ~ScratchDir() {
    std::error_code ignored;
    // A test may have made a directory read-only; removal needs it back.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ignored);
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

  // Writes `content` to NAME in place (open with O_TRUNC, write, close), as
  // `echo > NAME` does; returns the full path.
  std::string Write(const std::string& name, const std::string& content) const {
    std::string full = Path(name);
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    EXPECT_TRUE(out) << "cannot write " << full;
    return full;
  }

  // The names in the directory NAME ("" for the top), sorted.
  std::vector<std::string> List(const std::string& name = "") const {
    std::vector<std::string> names;
    for (const auto& entry :
         std::filesystem::directory_iterator(name.empty() ? path_ : Path(name))) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::string path_;
};

}  // namespace strait::config::testing

#endif  // STRAIT_TESTS_UNIT_CONFIG_SCRATCH_DIR_H_
