#pragma once
/// For benchmarks that need the embedded store: one per benchmark process (the engine takes one
/// data folder per process), in a fresh temporary folder, never closed: at exit, its folder is
/// removed and the process ends with _exit(), before the engine's own exit handlers (after
/// BM_Pipeline/kafka, they crashed the process, and so did closing the engine).
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
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
    static std::string path = c.path;
    auto* s = new ChdbStore(c);
    // Registered after the engine's handlers (the library is loaded by then): runs before them.
    std::atexit([] {
      std::fflush(nullptr);
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      _exit(0);
    });
    return s;
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
