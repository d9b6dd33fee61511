#include "console/sql_db.h"

#include <errmsg.h>
#include <fmt/format.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "common/config.h"
#include "common/sigpipe.h"

namespace akvo::console {

const char* sqlDriverName(SqlDriver d) {
  switch (d) {
    case SqlDriver::kSqlite: return "sqlite";
    case SqlDriver::kMysql: return "mysql";
    case SqlDriver::kPostgresql: return "postgresql";
  }
  return "?";
}

SqlDriver sqlDriver(const std::string& name) {
  for (SqlDriver d : {SqlDriver::kSqlite, SqlDriver::kMysql, SqlDriver::kPostgresql})
    if (name == sqlDriverName(d)) return d;
  throw std::invalid_argument("unknown SQL driver " + name);
}

namespace {

/// Calls `emit(param index)` at each `?` outside single-quoted literals of `sql`, and
/// `text(piece)` for what is between; std::logic_error when the counts differ (a bug here).
template <class Text, class Emit>
void forPlaceholders(const std::string& sql, size_t params, Text text, Emit emit) {
  size_t n = 0, from = 0;
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); i++) {
    if (sql[i] == '\'') quoted = !quoted;
    if (sql[i] != '?' || quoted) continue;
    if (n == params) throw std::logic_error("sql: more placeholders than parameters: " + sql);
    text(std::string_view(sql).substr(from, i - from));
    emit(n++);
    from = i + 1;
  }
  if (n != params) throw std::logic_error("sql: fewer placeholders than parameters: " + sql);
  text(std::string_view(sql).substr(from));
}

std::string paramText(const SqlParam& p) {
  if (auto s = std::get_if<std::string>(&p)) return *s;
  if (auto i = std::get_if<int64_t>(&p)) return std::to_string(*i);
  return std::get<bool>(p) ? "1" : "0";
}

// ---- SQLite -------------------------------------------------------------------------------

class SqliteDb final : public SqlDb {
 public:
  explicit SqliteDb(const std::string& path) {
    name_ = path;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_URI;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw std::runtime_error(fmt::format("saved filters database {}: {}", path, msg));
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~SqliteDb() override { sqlite3_close(db_); }
  SqlDriver driver() const override { return SqlDriver::kSqlite; }
  const char* now() const override { return "datetime('now')"; }

  std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlParam>& params) override {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) fail();
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> owned(st, sqlite3_finalize);
    for (size_t i = 0; i < params.size(); i++) {
      int at = int(i + 1);
      if (auto s = std::get_if<std::string>(&params[i]))
        sqlite3_bind_text(st, at, s->data(), int(s->size()), SQLITE_TRANSIENT);
      else if (auto v = std::get_if<int64_t>(&params[i]))
        sqlite3_bind_int64(st, at, *v);
      else
        sqlite3_bind_int64(st, at, std::get<bool>(params[i]) ? 1 : 0);
    }
    std::vector<SqlRow> rows;
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail();
      SqlRow& row = rows.emplace_back();
      for (int c = 0, n = sqlite3_column_count(st); c < n; c++) {
        auto p = sqlite3_column_text(st, c);
        row.emplace_back(p ? reinterpret_cast<const char*>(p) : "", size_t(sqlite3_column_bytes(st, c)));
      }
    }
    return rows;
  }
  int64_t changes() override { return sqlite3_changes(db_); }
  int64_t insert(const std::string& sql, const std::vector<SqlParam>& params) override {
    query(sql, params);
    return sqlite3_last_insert_rowid(db_);
  }
  void exclusive(const std::function<void()>& fn) override {
    query("BEGIN IMMEDIATE", {});
    try {
      fn();
      query("COMMIT", {});
    } catch (...) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

 private:
  [[noreturn]] void fail() {
    throw std::runtime_error(fmt::format("saved filters database {}: {}", name_, sqlite3_errmsg(db_)));
  }
  sqlite3* db_ = nullptr;
};

// ---- PostgreSQL ---------------------------------------------------------------------------

class PostgresDb final : public SqlDb {
 public:
  explicit PostgresDb(const std::string& dsn) : dsn_(dsn) { connect(); }
  ~PostgresDb() override { PQfinish(conn_); }
  SqlDriver driver() const override { return SqlDriver::kPostgresql; }
  const char* now() const override { return "CURRENT_TIMESTAMP"; }

  std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlParam>& params) override {
    std::string text;
    forPlaceholders(sql, params.size(), [&](std::string_view s) { text += s; },
                    [&](size_t i) { text += fmt::format("${}", i + 1); });
    std::vector<std::string> values;
    for (const auto& p : params)
      values.push_back(std::holds_alternative<bool>(p) ? (std::get<bool>(p) ? "true" : "false") : paramText(p));
    std::vector<const char*> ptrs;
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (PQstatus(conn_) == CONNECTION_BAD) checkRetry();
    for (int attempt = 0;; attempt++) {
      PGresult* r = PQexecParams(conn_, text.c_str(), int(ptrs.size()), nullptr, ptrs.data(), nullptr,
                                 nullptr, 0);
      std::unique_ptr<PGresult, void (*)(PGresult*)> owned(r, PQclear);
      ExecStatusType st = PQresultStatus(r);
      if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        changes_ = std::atoll(PQcmdTuples(r));
        std::vector<SqlRow> rows(size_t(PQntuples(r)));
        for (int i = 0; i < PQntuples(r); i++)
          for (int c = 0; c < PQnfields(r); c++) {
            const char* v = PQgetvalue(r, i, c);
            if (PQftype(r, c) == 16 /* bool */) rows[size_t(i)].emplace_back(v[0] == 't' ? "1" : "0");
            else rows[size_t(i)].emplace_back(v, size_t(PQgetlength(r, i, c)));
          }
        return rows;
      }
      std::string msg = r ? PQresultErrorMessage(r) : PQerrorMessage(conn_);
      // The server went away (restarted): connect again and retry, but never within a
      // transaction, whose earlier statements are lost with the connection.
      if (attempt == 0 && !in_tx_ && PQstatus(conn_) == CONNECTION_BAD) {
        PQreset(conn_);
        if (PQstatus(conn_) == CONNECTION_OK) {
          setup();
          continue;
        }
        connectFailed();
        msg = PQerrorMessage(conn_);
      }
      throw std::runtime_error(fmt::format("saved filters database {}: {}", name_, trim(msg)));
    }
  }
  int64_t changes() override { return changes_; }
  int64_t insert(const std::string& sql, const std::vector<SqlParam>& params) override {
    auto rows = query(sql + " RETURNING id", params);
    if (rows.empty() || rows[0].empty()) throw std::runtime_error("saved filters: no id returned");
    return std::atoll(rows[0][0].c_str());
  }
  void exclusive(const std::function<void()>& fn) override {
    query("BEGIN", {});
    in_tx_ = true;
    try {
      // Held until the transaction ends; the key is akvo's own (any 64-bit number).
      query("SELECT pg_advisory_xact_lock(7387205346017)", {});
      fn();
      query("COMMIT", {});
      in_tx_ = false;
    } catch (...) {
      PQclear(PQexec(conn_, "ROLLBACK"));
      in_tx_ = false;
      throw;
    }
  }

 private:
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  void connect() {
    // connect_timeout first: the DSN's own setting, later, wins (expand_dbname).
    const char* keys[] = {"connect_timeout", "dbname", nullptr};
    const char* values[] = {"10", dsn_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn_) != CONNECTION_OK) {
      std::string msg = conn_ ? PQerrorMessage(conn_) : "out of memory";
      PQfinish(conn_);
      conn_ = nullptr;
      throw std::runtime_error(fmt::format("saved filters database (postgresql): {}", trim(msg)));
    }
    name_ = fmt::format("postgresql {}:{}/{}", PQhost(conn_), PQport(conn_), PQdb(conn_));
    setup();
  }
  void setup() {
    PQsetClientEncoding(conn_, "UTF8");
    // Notices ("relation already exists, skipping") are not errors: keep them off stderr.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
  }
  std::string dsn_;
  PGconn* conn_ = nullptr;
  bool in_tx_ = false;
  int64_t changes_ = 0;
};

// ---- MySQL / MariaDB ----------------------------------------------------------------------

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size() && isxdigit(uint8_t(s[i + 1])) && isxdigit(uint8_t(s[i + 2]))) {
      out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

class MysqlDb final : public SqlDb {
 public:
  explicit MysqlDb(const std::string& dsn) {
    std::string error;
    if (!parseMysqlDsn(dsn, dsn_, error))
      throw std::runtime_error(fmt::format("saved filters database (mysql): {}", error));
    name_ = dsn_.socket.empty()
                ? fmt::format("mysql {}@{}:{}/{}", dsn_.user, dsn_.host, dsn_.port, dsn_.database)
                : fmt::format("mysql {}@unix({})/{}", dsn_.user, dsn_.socket, dsn_.database);
    SigpipeGuard guard;
    connect();
  }
  ~MysqlDb() override {
    SigpipeGuard guard;
    if (my_) mysql_close(my_);
  }
  SqlDriver driver() const override { return SqlDriver::kMysql; }
  const char* now() const override { return "CURRENT_TIMESTAMP"; }

  std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlParam>& params) override {
    SigpipeGuard guard;
    // No connection: the last attempt to connect again failed (the server was still down).
    if (!my_) {
      checkRetry();
      connect();
    }
    for (int attempt = 0;; attempt++) {
      std::string text;
      forPlaceholders(sql, params.size(), [&](std::string_view s) { text += s; },
                      [&](size_t i) { text += literal(params[i]); });
      if (mysql_real_query(my_, text.data(), text.size()) == 0) {
        std::vector<SqlRow> rows;
        MYSQL_RES* res = mysql_store_result(my_);
        if (!res) {
          if (mysql_field_count(my_) != 0) fail();
          changes_ = int64_t(mysql_affected_rows(my_));
          return rows;
        }
        std::unique_ptr<MYSQL_RES, void (*)(MYSQL_RES*)> owned(res, mysql_free_result);
        unsigned n = mysql_num_fields(res);
        while (MYSQL_ROW row = mysql_fetch_row(res)) {
          unsigned long* len = mysql_fetch_lengths(res);
          SqlRow& r = rows.emplace_back();
          for (unsigned c = 0; c < n; c++) r.emplace_back(row[c] ? row[c] : "", row[c] ? len[c] : 0);
        }
        changes_ = 0;
        return rows;
      }
      unsigned e = mysql_errno(my_);
      // The server went away (restarted): connect again and retry, outside a transaction.
      if (attempt == 0 && !in_tx_ && (e == CR_SERVER_GONE_ERROR || e == CR_SERVER_LOST)) {
        mysql_close(my_);
        my_ = nullptr;
        connect();
        continue;
      }
      fail();
    }
  }
  int64_t changes() override { return changes_; }
  int64_t insert(const std::string& sql, const std::vector<SqlParam>& params) override {
    query(sql, params);  // connected when it returns
    return int64_t(mysql_insert_id(my_));
  }
  void exclusive(const std::function<void()>& fn) override {
    SigpipeGuard guard;
    // A named lock, held by this connection across the transaction (DDL commits implicitly in
    // MySQL, so the transaction alone would not keep two consoles apart while upgrading).
    auto got = query("SELECT GET_LOCK('akvo.saved_filters', 30)", {});
    if (got.empty() || got[0].empty() || got[0][0] != "1")
      throw std::runtime_error(fmt::format(
          "saved filters database {}: another console held the lock akvo.saved_filters for 30 s", name_));
    in_tx_ = true;
    try {
      query("START TRANSACTION", {});
      fn();
      query("COMMIT", {});
    } catch (...) {
      if (my_) {
        mysql_query(my_, "ROLLBACK");
        mysql_query(my_, "DO RELEASE_LOCK('akvo.saved_filters')");
      }
      in_tx_ = false;
      throw;
    }
    in_tx_ = false;
    query("DO RELEASE_LOCK('akvo.saved_filters')", {});
  }

 private:
  std::string literal(const SqlParam& p) {
    if (auto s = std::get_if<std::string>(&p)) {
      // Escaped for the connection's character set; with NO_BACKSLASH_ESCAPES the library
      // doubles quotes instead.
      std::string buf(s->size() * 2 + 1, '\0');
      unsigned long n = mysql_real_escape_string(my_, buf.data(), s->data(), s->size());
      if (n == static_cast<unsigned long>(-1)) fail();
      buf.resize(n);
      return fmt::format("'{}'", buf);
    }
    if (auto b = std::get_if<bool>(&p)) return *b ? "TRUE" : "FALSE";
    return paramText(p);
  }
  void connect() {
    my_ = mysql_init(nullptr);
    if (!my_) throw std::runtime_error("saved filters database (mysql): out of memory");
    unsigned timeout = dsn_.timeout_seconds;
    mysql_optionsv(my_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (dsn_.tls != "false") {
      my_bool on = 1, verify = dsn_.tls == "true";
      mysql_optionsv(my_, MYSQL_OPT_SSL_ENFORCE, &on);
      mysql_optionsv(my_, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify);
    }
    bool unix_socket = !dsn_.socket.empty();
    if (!mysql_real_connect(my_, unix_socket ? "localhost" : dsn_.host.c_str(), dsn_.user.c_str(),
                            dsn_.password.c_str(), dsn_.database.c_str(), unix_socket ? 0 : dsn_.port,
                            unix_socket ? dsn_.socket.c_str() : nullptr, 0)) {
      std::string msg = mysql_error(my_);
      mysql_close(my_);
      my_ = nullptr;
      connectFailed();
      throw std::runtime_error(fmt::format("saved filters database {}: {}", name_, msg));
    }
    if (mysql_set_character_set(my_, "utf8mb4") != 0) fail();
    // Double quotes quote identifiers ("user"), as in the other databases.
    if (mysql_query(my_, "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'ANSI_QUOTES')"))
      fail();
  }
  [[noreturn]] void fail() {
    throw std::runtime_error(fmt::format("saved filters database {}: {}", name_, mysql_error(my_)));
  }
  MysqlDsn dsn_;
  MYSQL* my_ = nullptr;
  bool in_tx_ = false;
  int64_t changes_ = 0;
};

}  // namespace

bool parseMysqlDsn(const std::string& dsn, MysqlDsn& out, std::string& error) {
  out = MysqlDsn{};
  // As go-sql-driver's ParseDSN: the last '/' starts the database (a password or a socket
  // path may hold one before it), the last '@' before it ends the credentials, whose first ':'
  // ends the user.
  size_t slash = dsn.rfind('/');
  if (slash == std::string::npos) {
    error = "no /dbname: the form is [user[:password]@][tcp(host:port)|unix(/path)]/dbname[?param=value]";
    return false;
  }
  std::string head = dsn.substr(0, slash), tail = dsn.substr(slash + 1);
  if (size_t at = head.rfind('@'); at != std::string::npos) {
    std::string cred = head.substr(0, at);
    size_t colon = cred.find(':');
    out.user = cred.substr(0, colon);
    if (colon != std::string::npos) out.password = cred.substr(colon + 1);
    head = head.substr(at + 1);
  }
  std::string net = head, addr;
  if (size_t p = head.find('('); p != std::string::npos) {
    if (head.back() != ')') {
      error = fmt::format("address \"{}\" does not end with ')'", head);
      return false;
    }
    net = head.substr(0, p);
    addr = head.substr(p + 1, head.size() - p - 2);
  }
  if (net.empty() || net == "tcp" || net == "tcp4" || net == "tcp6") {
    if (!addr.empty()) {
      size_t colon = addr.rfind(':');
      bool bracketed = addr.front() == '[';
      if (colon != std::string::npos && (!bracketed || addr[colon - 1] == ']')) {
        try {
          size_t used = 0;
          unsigned long port = std::stoul(addr.substr(colon + 1), &used);
          if (used != addr.size() - colon - 1 || port == 0 || port > 65535) throw std::invalid_argument("");
          out.port = unsigned(port);
        } catch (const std::exception&) {
          error = fmt::format("bad port in \"{}\"", addr);
          return false;
        }
        addr = addr.substr(0, colon);
      }
      if (addr.size() >= 2 && addr.front() == '[' && addr.back() == ']') addr = addr.substr(1, addr.size() - 2);
      if (!addr.empty()) out.host = addr;
    }
  } else if (net == "unix") {
    out.socket = addr.empty() ? "/tmp/mysql.sock" : addr;
  } else {
    error = fmt::format("network \"{}\": valid choices are tcp and unix", net);
    return false;
  }
  size_t q = tail.find('?');
  out.database = percentDecode(tail.substr(0, q));
  if (q == std::string::npos) return true;
  std::string params = tail.substr(q + 1);
  // Go's driver settings that only shape its own values: accepted, nothing to do here.
  static const char* kIgnored[] = {"charset", "collation", "parseTime", "loc", "readTimeout",
                                   "writeTimeout", "allowNativePasswords", "interpolateParams",
                                   "maxAllowedPacket", "clientFoundRows", "columnsWithAlias"};
  size_t start = 0;
  while (start <= params.size()) {
    size_t amp = params.find('&', start);
    std::string kv = params.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    start = amp == std::string::npos ? params.size() + 1 : amp + 1;
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    std::string key = kv.substr(0, eq), value = eq == std::string::npos ? "" : percentDecode(kv.substr(eq + 1));
    if (key == "tls") {
      if (value != "true" && value != "false" && value != "skip-verify") {
        error = fmt::format("tls={}: valid choices are true, false, skip-verify", value);
        return false;
      }
      out.tls = value;
    } else if (key == "timeout") {
      try {
        auto ms = parseDuration(value).count();
        out.timeout_seconds = unsigned(std::max<int64_t>(1, (ms + 999) / 1000));
      } catch (const std::exception& e) {
        error = fmt::format("timeout: {}", e.what());
        return false;
      }
    } else if (std::find_if(std::begin(kIgnored), std::end(kIgnored),
                            [&](const char* k) { return key == k; }) == std::end(kIgnored)) {
      std::string valid = "tls, timeout";
      for (const char* k : kIgnored) valid += fmt::format(", {}", k);
      error = fmt::format("parameter \"{}\": valid ones are {}", key, valid);
      return false;
    }
  }
  return true;
}

bool checkPostgresDsn(const std::string& dsn, std::string& error) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts) {
    PQconninfoFree(opts);
    return true;
  }
  error = err ? err : "out of memory";
  while (!error.empty() && (error.back() == '\n' || error.back() == ' ')) error.pop_back();
  PQfreemem(err);
  return false;
}

void SqlDb::checkRetry() const {
  auto left = retry_at_ - std::chrono::steady_clock::now();
  if (left.count() > 0)
    throw std::runtime_error(fmt::format(
        "saved filters database {}: unreachable at the last attempt, next one in {} ms", name_,
        std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1));
}

std::unique_ptr<SqlDb> SqlDb::open(SqlDriver driver, const std::string& dsn,
                                   std::chrono::milliseconds retry_after) {
  std::unique_ptr<SqlDb> db;
  switch (driver) {
    case SqlDriver::kSqlite: db = std::make_unique<SqliteDb>(dsn); break;
    case SqlDriver::kMysql: db = std::make_unique<MysqlDb>(dsn); break;
    case SqlDriver::kPostgresql: db = std::make_unique<PostgresDb>(dsn); break;
  }
  if (!db) throw std::logic_error("sql driver");
  db->retry_after_ = retry_after;
  return db;
}

}  // namespace akvo::console
