#include "console/saved_filters.h"

#include <fmt/format.h>

#include <stdexcept>

namespace akvo::console {

namespace {

// Schema steps per driver: step i brings the database from version i to i + 1, one statement
// at a time. The first creates the table only when missing: Akvorado's (the same columns, made
// by its ORM) is taken over as it is.
using Steps = std::vector<std::vector<const char*>>;
const Steps kSqlite = {
    {"CREATE TABLE IF NOT EXISTS saved_filters (id INTEGER PRIMARY KEY AUTOINCREMENT, "
     "user TEXT NOT NULL, shared INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL, "
     "content TEXT NOT NULL)"},
    // 2: creation time and an index per user.
    {"ALTER TABLE saved_filters ADD COLUMN created_at TEXT NOT NULL DEFAULT ''",
     "CREATE INDEX saved_filters_user ON saved_filters (user)"},
};
const Steps kPostgresql = {
    {"CREATE TABLE IF NOT EXISTS saved_filters (id BIGSERIAL PRIMARY KEY, \"user\" TEXT NOT NULL, "
     "shared BOOLEAN NOT NULL DEFAULT FALSE, description TEXT NOT NULL, content TEXT NOT NULL)",
     "CREATE INDEX IF NOT EXISTS idx_saved_filters_user ON saved_filters (\"user\")"},
    {"ALTER TABLE saved_filters ADD COLUMN IF NOT EXISTS created_at TIMESTAMPTZ NOT NULL "
     "DEFAULT CURRENT_TIMESTAMP"},
};
const Steps kMysql = {
    // VARCHAR(191): an indexed column must have a length (191 characters fit utf8mb4 in the
    // 767-byte index keys of older servers, as Akvorado's ORM does).
    {"CREATE TABLE IF NOT EXISTS saved_filters (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT "
     "PRIMARY KEY, \"user\" VARCHAR(191) NOT NULL, shared BOOLEAN NOT NULL DEFAULT FALSE, "
     "description LONGTEXT NOT NULL, content LONGTEXT NOT NULL, "
     "INDEX idx_saved_filters_user (\"user\")) DEFAULT CHARSET=utf8mb4"},
    {"ALTER TABLE saved_filters ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"},
};

const Steps& steps(SqlDriver d) {
  switch (d) {
    case SqlDriver::kSqlite: return kSqlite;
    case SqlDriver::kPostgresql: return kPostgresql;
    case SqlDriver::kMysql: return kMysql;
  }
  throw std::logic_error("sql driver");
}

int64_t toInt(const std::string& s) { return std::stoll(s); }

}  // namespace

SavedFilters::SavedFilters(const std::string& path) : SavedFilters(SqlDriver::kSqlite, path) {}

SavedFilters::SavedFilters(SqlDriver driver, const std::string& dsn, std::chrono::milliseconds retry_after)
    : db_(SqlDb::open(driver, dsn, retry_after)) {
  for (const auto& s : {kSqlite, kPostgresql, kMysql})
    if (s.size() != size_t(kSchemaVersion)) throw std::logic_error("saved filters: schema steps");
  upgrade();
}

SavedFilters::~SavedFilters() = default;

int SavedFilters::readVersion() {
  if (db_->driver() == SqlDriver::kSqlite) return int(toInt(db_->query("PRAGMA user_version").at(0).at(0)));
  auto rows = db_->query("SELECT version FROM akvo_schema WHERE name = 'saved_filters'");
  return rows.empty() ? 0 : int(toInt(rows[0].at(0)));
}

int SavedFilters::schemaVersion() {
  std::lock_guard lock(mutex_);
  return readVersion();
}

void SavedFilters::upgrade() {
  std::lock_guard lock(mutex_);
  // In one exclusive transaction: consoles sharing a server upgrade it one after the other,
  // and the second finds the work done.
  db_->exclusive([&] {
    bool server = db_->driver() != SqlDriver::kSqlite;
    if (server)
      db_->query("CREATE TABLE IF NOT EXISTS akvo_schema (name VARCHAR(64) NOT NULL PRIMARY KEY, "
                 "version INTEGER NOT NULL)");
    int version = readVersion();
    if (version > kSchemaVersion)
      throw std::runtime_error(fmt::format(
          "saved filters database {}: schema version {} is newer than this akvo ({})", db_->name(),
          version, kSchemaVersion));
    for (int v = version; v < kSchemaVersion; v++) {
      for (const char* sql : steps(db_->driver())[size_t(v)]) db_->query(sql);
      if (!server) {
        db_->query(fmt::format("PRAGMA user_version = {}", v + 1));
        continue;
      }
      db_->query("DELETE FROM akvo_schema WHERE name = 'saved_filters'");
      db_->query("INSERT INTO akvo_schema (name, version) VALUES ('saved_filters', ?)", {int64_t(v + 1)});
    }
  });
}

void SavedFilters::seed(const std::vector<SavedFilter>& filters) {
  std::lock_guard lock(mutex_);
  db_->exclusive([&] {
    // Keep the seeded filters that did not change (their ids stay), drop the others.
    std::vector<bool> present(filters.size(), false);
    for (const auto& row :
         db_->query("SELECT id, description, content FROM saved_filters WHERE \"user\" = '__system'")) {
      bool keep = false;
      for (size_t i = 0; i < filters.size(); i++)
        if (!present[i] && filters[i].description == row.at(1) && filters[i].content == row.at(2)) {
          present[i] = keep = true;
          break;
        }
      if (!keep) db_->query("DELETE FROM saved_filters WHERE id = ?", {toInt(row.at(0))});
    }
    for (size_t i = 0; i < filters.size(); i++) {
      if (present[i]) continue;
      db_->query(fmt::format("INSERT INTO saved_filters (\"user\", shared, description, content, "
                             "created_at) VALUES ('__system', TRUE, ?, ?, {})",
                             db_->now()),
                 {filters[i].description, filters[i].content});
    }
  });
}

std::vector<SavedFilter> SavedFilters::list(const std::string& user) {
  std::lock_guard lock(mutex_);
  std::vector<SavedFilter> out;
  for (const auto& r : db_->query("SELECT id, \"user\", shared, description, content FROM saved_filters "
                                  "WHERE \"user\" = ? OR shared = TRUE ORDER BY id",
                                  {user}))
    out.push_back(SavedFilter{toInt(r.at(0)), r.at(1), r.at(2) == "1", r.at(3), r.at(4)});
  return out;
}

int64_t SavedFilters::add(const std::string& user, const std::string& description,
                          const std::string& content, bool shared) {
  std::lock_guard lock(mutex_);
  return db_->insert(fmt::format("INSERT INTO saved_filters (\"user\", shared, description, content, "
                                 "created_at) VALUES (?, ?, ?, ?, {})",
                                 db_->now()),
                     {user, shared, description, content});
}

bool SavedFilters::remove(const std::string& user, int64_t id) {
  std::lock_guard lock(mutex_);
  db_->query("DELETE FROM saved_filters WHERE id = ? AND \"user\" = ?", {id, user});
  return db_->changes() > 0;
}

}  // namespace akvo::console
