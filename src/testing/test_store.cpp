#include "testing/test_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
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
  // Stop the engine before the process's own teardown (tests have closed their connections),
  // then remove the folder.
  std::atexit([] {
    delete store;
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    // If a connection was still open the engine could not stop, and its background threads
    // (merges) can crash the rest of the teardown, turning a passed test into a SegFault:
    // leave now with the tests' verdict.
    _exit(::testing::UnitTest::GetInstance()->Passed() ? 0 : 1);
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
