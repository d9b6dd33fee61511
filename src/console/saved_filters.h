#pragma once
/// Saved filters in SQLite, MySQL or PostgreSQL: each user's own plus shared ones, and the
/// shared filters of the configuration (owned by `__system`, replaced at each start). The schema
/// is upgraded step by step on open; its version is in `PRAGMA user_version` (SQLite) or in the
/// table `akvo_schema` (the servers). The table is Akvorado's (`saved_filters`: id, user,
/// shared, description, content) plus `created_at`: a database Akvorado used is taken over with
/// its filters.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "console/sql_db.h"

namespace akvo::console {

struct SavedFilter {
  int64_t id = 0;
  std::string user;
  bool shared = false;
  std::string description;
  std::string content;
};

class SavedFilters {
 public:
  /// The schema version this code writes.
  static constexpr int kSchemaVersion = 2;
  /// Opens (creating or upgrading) the SQLite database at `path` (":memory:" for a private
  /// one). Throws std::runtime_error naming the path.
  explicit SavedFilters(const std::string& path);
  /// The same in any database. Throws std::runtime_error naming it. `retry_after`: see SqlDb.
  SavedFilters(SqlDriver driver, const std::string& dsn,
               std::chrono::milliseconds retry_after = std::chrono::seconds(5));
  ~SavedFilters();
  SavedFilters(const SavedFilters&) = delete;
  SavedFilters& operator=(const SavedFilters&) = delete;

  /// Makes the `__system` filters (shared) exactly these; unchanged ones keep their id.
  void seed(const std::vector<SavedFilter>& filters);
  /// The user's filters and the shared ones, by id.
  std::vector<SavedFilter> list(const std::string& user);
  int64_t add(const std::string& user, const std::string& description, const std::string& content,
              bool shared);
  /// Deletes one of the user's filters; false when there is none with this id for this user.
  bool remove(const std::string& user, int64_t id);
  int schemaVersion();
  /// The database, for messages (no password).
  const std::string& name() const { return db_->name(); }

 private:
  int readVersion();
  void upgrade();
  std::mutex mutex_;  // guards db_ (one connection for all requests)
  std::unique_ptr<SqlDb> db_;
};

}  // namespace akvo::console
