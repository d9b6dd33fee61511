#include "testing/test_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace akvo::testing {

ChdbStore& testStore() {
  static ChdbStore* store = nullptr;
  static char dir[] = "/tmp/akvo-test-store.XXXXXX";
  if (store) return *store;
  ChdbStore::Config c;
  c.path = mkdtemp(dir);
  store = new ChdbStore(c);
  // chDB's teardown at exit can crash while its background threads (merges, TTL mutations)
  // still run, most of all when a test left a connection open (the engine then cannot stop):
  // a passed test would turn into a SegFault. Leave before it, with the tests' verdict.
  std::atexit([] {
    int verdict = ::testing::UnitTest::GetInstance()->Passed() ? 0 : 1;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(verdict);
  });
  return *store;
}

std::unique_ptr<StoreConnection> freshDatabase() {
  static std::atomic<int> n{0};
  auto conn = testStore().connect();
  std::string db = fmt::format("test_{}_{}", getpid(), n++);
  conn->query("CREATE DATABASE " + db, "TSV");
  conn->query("USE " + db, "TSV");
  return conn;
}

}  // namespace akvo::testing
