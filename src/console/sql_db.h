#pragma once
/// One connection to the console's SQL database: SQLite (a file), MySQL/MariaDB or PostgreSQL,
/// as Akvorado's `database.driver` and `database.dsn`. Statements are written once, with `?`
/// placeholders, `"user"` quoted with double quotes and booleans as TRUE/FALSE: each driver
/// carries them over (`$n` for PostgreSQL; MySQL runs with ANSI_QUOTES). A MySQL or PostgreSQL
/// connection lost between statements is opened again and the statement retried once, outside a
/// transaction: a console outlives its database's restarts. When that fails, statements fail at
/// once (naming the wait) until `retry_after` has passed: a server that is away does not make
/// each request wait its connect timeout.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace akvo::console {

enum class SqlDriver { kSqlite, kMysql, kPostgresql };

/// "sqlite", "mysql", "postgresql" (the configuration's names).
const char* sqlDriverName(SqlDriver d);
/// The driver of one of those names (std::invalid_argument for another).
SqlDriver sqlDriver(const std::string& name);

using SqlParam = std::variant<std::string, int64_t, bool>;
/// A row's values as text (NULL as ""); booleans come back as "1"/"0" from every driver.
using SqlRow = std::vector<std::string>;

/// A MySQL DSN in the form Akvorado's Go driver reads:
/// `[user[:password]@][tcp[(host:port)]|unix(/path)]/dbname[?param=value&...]`.
struct MysqlDsn {
  std::string user, password, host = "127.0.0.1", socket, database;
  unsigned port = 3306;
  /// `tls`: false (default), true (verified), skip-verify (encrypted, not verified), preferred
  /// (encrypted when the server offers it).
  std::string tls = "false";
  unsigned timeout_seconds = 10;  ///< `timeout` (connect), a Go duration: 5s, 1m, 500ms
};
/// Parses `dsn`; false and `error` (what is wrong, and where) when it is not one.
bool parseMysqlDsn(const std::string& dsn, MysqlDsn& out, std::string& error);

/// Checks a PostgreSQL DSN (libpq's key=value pairs or URL) without connecting: false and
/// libpq's reason (an unknown key, a bad URL) when it is not one.
bool checkPostgresDsn(const std::string& dsn, std::string& error);

class SqlDb {
 public:
  /// Opens the connection. Throws std::runtime_error naming the database (never its password).
  static std::unique_ptr<SqlDb> open(SqlDriver driver, const std::string& dsn,
                                     std::chrono::milliseconds retry_after = std::chrono::seconds(5));
  virtual ~SqlDb() = default;
  virtual SqlDriver driver() const = 0;
  /// The database in messages: the SQLite file, or driver and server, without the password.
  const std::string& name() const { return name_; }
  /// Runs one statement, `?` taking `params` in order; its rows (none for a statement that
  /// returns none). Throws std::runtime_error with the server's message.
  virtual std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlParam>& params = {}) = 0;
  /// Rows the last statement changed.
  virtual int64_t changes() = 0;
  /// Runs an INSERT into a table with an `id` key and returns the new row's id.
  virtual int64_t insert(const std::string& sql, const std::vector<SqlParam>& params) = 0;
  /// Runs `fn` in a transaction that no other connection to the same database runs at the same
  /// time (consoles starting together seed the same rows): committed when `fn` returns, rolled
  /// back when it throws (and rethrown).
  virtual void exclusive(const std::function<void()>& fn) = 0;
  /// The SQL expression of the current time, for a column.
  virtual const char* now() const = 0;

 protected:
  /// Throws when a connection failed less than retry_after ago (see above).
  void checkRetry() const;
  /// A connection failed: the next attempt waits retry_after.
  void connectFailed() { retry_at_ = std::chrono::steady_clock::now() + retry_after_; }
  std::string name_;
  std::chrono::milliseconds retry_after_{std::chrono::seconds(5)};
  std::chrono::steady_clock::time_point retry_at_{};
};

}  // namespace akvo::console
