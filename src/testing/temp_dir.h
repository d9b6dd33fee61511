#pragma once
/// For tests: a folder of this test process (`/tmp/akvo-test-<pid>`), created on first use and
/// removed with everything in it when the tests end (a gtest environment's teardown, which runs
/// before the chDB tests' early exit). Files that tests write and never remove themselves
/// (configurations that fail to load, servers' data) go there instead of piling up in /tmp.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace akvo::testing {

inline const std::filesystem::path& tempDir() {
  struct RemoveAtEnd : ::testing::Environment {
    explicit RemoveAtEnd(std::filesystem::path d) : dir(std::move(d)) {}
    void TearDown() override {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    std::filesystem::path dir;
  };
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("akvo-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    // Added during the run: gtest tears down the environments it has at the end.
    ::testing::AddGlobalTestEnvironment(new RemoveAtEnd(d));
    return d;
  }();
  return dir;
}

}  // namespace akvo::testing
