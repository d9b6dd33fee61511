#pragma once
/// For unit tests that need the embedded store: one chDB store per test process (the engine
/// takes one data folder per process) in a fresh temporary folder, and a fresh database per
/// test so that tests do not see each other's tables.
#include <memory>
#include <string>

#include "store/chdb_store.h"
#include "store/native.h"

/// First line of a test that needs the store: chDB cannot be loaded into an ASan process, so in
/// the sanitizer build the test is skipped (it runs in the Release build).
#ifdef AKVO_SANITIZE
#define AKVO_REQUIRE_STORE() GTEST_SKIP() << "needs chDB: runs in the Release build"
#else
#define AKVO_REQUIRE_STORE() (void)0
#endif

namespace akvo::testing {

/// The process's store (created on first use, never closed).
ChdbStore& testStore();
/// A new connection whose current database is new and empty.
std::unique_ptr<StoreConnection> freshDatabase();

/// Inserts a batch as the outlet's writer does: its raw rows into `flows`, then, when it
/// consolidates, its rows of the first consolidated table (flows_1m0s by default).
inline void insertBatch(StoreConnection& conn, NativeBatch& batch,
                        const std::string& consolidated_table = "flows_1m0s") {
  conn.insertNative("INSERT INTO flows (" + batch.columnList() + ")", batch.encode());
  if (batch.consolidating())
    conn.insertNative("INSERT INTO " + consolidated_table + " (" + batch.consolidatedColumnList() + ")",
                      batch.encodeConsolidated());
}

}  // namespace akvo::testing
