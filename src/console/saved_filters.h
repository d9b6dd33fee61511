#pragma once
/// Saved filters in SQLite: each user's own plus shared ones, and the shared filters of the
/// configuration (owned by `__system`, replaced at each start). The schema carries its version
/// in `PRAGMA user_version` and is upgraded step by step on open.
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

struct sqlite3;

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
  /// Opens (creating or upgrading) the database at `path` (":memory:" for a private one).
  /// Throws std::runtime_error naming the path.
  explicit SavedFilters(const std::string& path);
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

 private:
  void exec(const std::string& sql);
  void upgrade();
  std::mutex mutex_;  // guards db_ (one connection for all requests)
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace akvo::console
