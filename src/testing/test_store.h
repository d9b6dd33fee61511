#pragma once
/// For unit tests that need the embedded store: one chDB store per test process (the engine
/// takes one data folder per process) in a fresh temporary folder, and a fresh database per
/// test so that tests do not see each other's tables.
#include <memory>
#include <string>

#include "store/chdb_store.h"

namespace akvo::testing {

/// The process's store (created on first use, never closed).
ChdbStore& testStore();
/// A new connection whose current database is new and empty.
std::unique_ptr<StoreConnection> freshDatabase();

}  // namespace akvo::testing
