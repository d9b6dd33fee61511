#include "app/config_watch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace akvo {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Calls {
  std::mutex m;
  std::vector<std::string> paths;
  size_t count() {
    std::lock_guard l(m);
    return paths.size();
  }
  bool waitFor(size_t n, std::chrono::milliseconds limit = 3s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (count() < n && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(10ms);
    return count() >= n;
  }
};

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

// In-place writes, a burst of them, a rename into place and another file of the folder.
TEST(ConfigWatcher, SeesWritesAndRenamesOfItsFilesOnly) {
  fs::path dir = fs::temp_directory_path() / ("akvo-watch-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path file = dir / "akvo.yaml";
  write(file, "a: 1\n");
  Calls calls;
  {
    ConfigWatcher w({file.string()}, [&](const std::string& p) {
      std::lock_guard l(calls.m);
      calls.paths.push_back(p);
    }, 100ms);
    ASSERT_TRUE(w.watching());
    write(dir / "other.yaml", "b: 1\n");  // not watched
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(calls.count(), 0u);

    for (int i = 0; i < 5; i++) write(file, "a: " + std::to_string(i) + "\n");  // one burst
    ASSERT_TRUE(calls.waitFor(1));
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(calls.count(), 1u);
    EXPECT_EQ(calls.paths[0], fs::absolute(file).lexically_normal().string());

    write(dir / "new.yaml", "a: 9\n");
    fs::rename(dir / "new.yaml", file);  // as editors save
    EXPECT_TRUE(calls.waitFor(2));
  }
  fs::remove_all(dir);
}

// A relative path is watched as the absolute one.
TEST(ConfigWatcher, RelativePaths) {
  fs::path dir = fs::temp_directory_path() / ("akvo-watch-rel-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path old = fs::current_path();
  fs::current_path(dir);
  write("akvo.yaml", "a: 1\n");
  Calls calls;
  {
    ConfigWatcher w({"./akvo.yaml"}, [&](const std::string& p) {
      std::lock_guard l(calls.m);
      calls.paths.push_back(p);
    }, 50ms);
    write("akvo.yaml", "a: 2\n");
    EXPECT_TRUE(calls.waitFor(1));
  }
  fs::current_path(old);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace akvo
