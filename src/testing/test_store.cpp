#include "testing/test_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

namespace akvo::testing {

ChdbStore& testStore() {
  static ChdbStore* store = [] {
    char tmpl[] = "/tmp/akvo-test-store.XXXXXX";
    std::string dir = mkdtemp(tmpl);
    ChdbStore::Config c;
    c.path = dir;
    auto* s = new ChdbStore(c);  // never closed: closing the last connection stops the engine
    // chDB's own teardown at exit can crash while its background threads (merges) still run,
    // turning a passed test into a SegFault: leave before it, with the tests' verdict.
    std::atexit([] { _exit(::testing::UnitTest::GetInstance()->Passed() ? 0 : 1); });
    return s;
  }();
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
