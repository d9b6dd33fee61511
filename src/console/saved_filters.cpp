#include "console/saved_filters.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <stdexcept>

namespace akvo::console {

namespace {

/// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK)
      throw std::runtime_error(fmt::format("saved filters: {}", sqlite3_errmsg(db)));
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement& bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  /// True while there is a row.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(fmt::format("saved filters: {}", sqlite3_errmsg(db_)));
  }
  std::string text(int i) {
    auto p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(stmt_, i))) : "";
  }
  int64_t integer(int i) { return sqlite3_column_int64(stmt_, i); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// Schema steps: step i brings the database from version i to i + 1.
const char* kUpgrades[] = {
    // 1: the table as first shipped.
    "CREATE TABLE saved_filters (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, "
    "shared INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL, content TEXT NOT NULL)",
    // 2: creation time and an index per user.
    "ALTER TABLE saved_filters ADD COLUMN created_at TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX saved_filters_user ON saved_filters (user)",
};
static_assert(std::size(kUpgrades) == SavedFilters::kSchemaVersion);

}  // namespace

SavedFilters::SavedFilters(const std::string& path) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error(fmt::format("saved filters database {}: {}", path, msg));
  }
  sqlite3_busy_timeout(db_, 5000);
  upgrade();
}

SavedFilters::~SavedFilters() { sqlite3_close(db_); }

void SavedFilters::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(fmt::format("saved filters database {}: {}", path_, msg));
  }
}

int SavedFilters::schemaVersion() {
  std::lock_guard lock(mutex_);
  Statement s(db_, "PRAGMA user_version");
  s.step();
  return int(s.integer(0));
}

void SavedFilters::upgrade() {
  int version;
  {
    Statement s(db_, "PRAGMA user_version");
    s.step();
    version = int(s.integer(0));
  }
  if (version > kSchemaVersion)
    throw std::runtime_error(fmt::format(
        "saved filters database {}: schema version {} is newer than this akvo ({})", path_, version,
        kSchemaVersion));
  for (int v = version; v < kSchemaVersion; v++) {
    exec("BEGIN");
    try {
      exec(kUpgrades[v]);
      exec(fmt::format("PRAGMA user_version = {}", v + 1));
      exec("COMMIT");
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

void SavedFilters::seed(const std::vector<SavedFilter>& filters) {
  std::lock_guard lock(mutex_);
  exec("BEGIN");
  try {
    // Keep the seeded filters that did not change (their ids stay), drop the others.
    std::vector<std::pair<int64_t, std::pair<std::string, std::string>>> existing;
    {
      Statement s(db_, "SELECT id, description, content FROM saved_filters WHERE user = '__system'");
      while (s.step()) existing.push_back({s.integer(0), {s.text(1), s.text(2)}});
    }
    std::vector<bool> present(filters.size(), false);
    for (const auto& [id, dc] : existing) {
      bool keep = false;
      for (size_t i = 0; i < filters.size(); i++)
        if (!present[i] && filters[i].description == dc.first && filters[i].content == dc.second) {
          present[i] = keep = true;
          break;
        }
      if (!keep) Statement(db_, "DELETE FROM saved_filters WHERE id = ?").bind(1, id).step();
    }
    for (size_t i = 0; i < filters.size(); i++) {
      if (present[i]) continue;
      Statement s(db_,
                  "INSERT INTO saved_filters (user, shared, description, content, created_at) "
                  "VALUES ('__system', 1, ?, ?, datetime('now'))");
      s.bind(1, filters[i].description).bind(2, filters[i].content).step();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<SavedFilter> SavedFilters::list(const std::string& user) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "SELECT id, user, shared, description, content FROM saved_filters "
              "WHERE user = ? OR shared = 1 ORDER BY id");
  s.bind(1, user);
  std::vector<SavedFilter> out;
  while (s.step())
    out.push_back(SavedFilter{s.integer(0), s.text(1), s.integer(2) != 0, s.text(3), s.text(4)});
  return out;
}

int64_t SavedFilters::add(const std::string& user, const std::string& description,
                          const std::string& content, bool shared) {
  std::lock_guard lock(mutex_);
  Statement s(db_,
              "INSERT INTO saved_filters (user, shared, description, content, created_at) "
              "VALUES (?, ?, ?, ?, datetime('now'))");
  s.bind(1, user).bind(2, int64_t(shared)).bind(3, description).bind(4, content).step();
  return sqlite3_last_insert_rowid(db_);
}

bool SavedFilters::remove(const std::string& user, int64_t id) {
  std::lock_guard lock(mutex_);
  Statement s(db_, "DELETE FROM saved_filters WHERE id = ? AND user = ?");
  s.bind(1, id).bind(2, user).step();
  return sqlite3_changes(db_) > 0;
}

}  // namespace akvo::console
