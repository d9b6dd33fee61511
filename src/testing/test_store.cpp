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
  // still run: a passed test would turn into a SegFault. So the test program leaves as soon as
  // its tests are done (end events reach the last listener first), with their verdict, before
  // exit() runs any destructor.
  struct LeaveBeforeTeardown : ::testing::EmptyTestEventListener {
    void OnTestProgramEnd(const ::testing::UnitTest& unit) override {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
      std::printf("[ %s ] %d tests (leaving before chDB's teardown)\n",
                  unit.Passed() ? "PASSED" : "FAILED", unit.test_to_run_count());
      std::fflush(stdout);
      std::fflush(stderr);
      _exit(unit.Passed() ? 0 : 1);
    }
  };
  ::testing::UnitTest::GetInstance()->listeners().Append(new LeaveBeforeTeardown);
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
