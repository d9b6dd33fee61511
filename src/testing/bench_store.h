#pragma once
/// For benchmarks that need the embedded store: one per benchmark process (the engine takes one
/// data folder per process), in a fresh temporary folder, never closed.
#include <stdlib.h>

#include <atomic>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "store/chdb_store.h"

namespace akvo::testing {

inline ChdbStore& benchStore() {
  static ChdbStore* store = [] {
    char tmpl[] = "/tmp/akvo-bench-store.XXXXXX";
    ChdbStore::Config c;
    c.path = mkdtemp(tmpl);
    return new ChdbStore(c);
  }();
  return *store;
}

/// A new connection whose current database is new and empty.
inline std::unique_ptr<StoreConnection> benchDatabase() {
  static std::atomic<int> n{0};
  auto conn = benchStore().connect();
  std::string db = fmt::format("bench_{}", n++);
  conn->query("CREATE DATABASE " + db, "TSV");
  conn->query("USE " + db, "TSV");
  return conn;
}

}  // namespace akvo::testing
