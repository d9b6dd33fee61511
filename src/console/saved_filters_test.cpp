// Saved filters on real MySQL (MariaDB) and PostgreSQL servers, as Akvorado's `database.driver`
// and `database.dsn`, and the MySQL DSN of Akvorado's Go driver.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "common/config.h"
#include "console/console.h"
#include "console/saved_filters.h"
#include "console/test_requests.h"
#include "testing/config.h"
#include "testing/db_servers.h"

namespace akvo::console {

/// The driver's name in test names and messages.
void PrintTo(SqlDriver d, std::ostream* os) { *os << sqlDriverName(d); }

namespace {

using nlohmann::json;

/// Why opening the saved filters at `dsn` fails, "" when it opens.
std::string openError(SqlDriver driver, const std::string& dsn) {
  try {
    SavedFilters s(driver, dsn);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

TEST(MysqlDsn, GoDriverForms) {
  MysqlDsn d;
  std::string e;
  ASSERT_TRUE(parseMysqlDsn("akvorado:secret@tcp(db.example.net:3307)/akvorado?parseTime=true", d, e)) << e;
  EXPECT_EQ(d.user, "akvorado");
  EXPECT_EQ(d.password, "secret");
  EXPECT_EQ(d.host, "db.example.net");
  EXPECT_EQ(d.port, 3307u);
  EXPECT_EQ(d.database, "akvorado");
  EXPECT_EQ(d.tls, "false");
  // A password with ':', '@' and '/': the last '@' and the last '/' delimit.
  ASSERT_TRUE(parseMysqlDsn("u:p:a@s/s@tcp([2001:db8::1]:3306)/db?tls=skip-verify&timeout=1m30s", d, e)) << e;
  EXPECT_EQ(d.user, "u");
  EXPECT_EQ(d.password, "p:a@s/s");
  EXPECT_EQ(d.host, "2001:db8::1");
  EXPECT_EQ(d.port, 3306u);
  EXPECT_EQ(d.tls, "skip-verify");
  EXPECT_EQ(d.timeout_seconds, 90u);
  // Defaults: TCP to 127.0.0.1:3306, no user.
  ASSERT_TRUE(parseMysqlDsn("/akvo", d, e)) << e;
  EXPECT_EQ(d.host, "127.0.0.1");
  EXPECT_EQ(d.port, 3306u);
  EXPECT_EQ(d.user, "");
  ASSERT_TRUE(parseMysqlDsn("root@unix(/run/mysqld/mysqld.sock)/akvo", d, e)) << e;
  EXPECT_EQ(d.socket, "/run/mysqld/mysqld.sock");
  EXPECT_EQ(d.database, "akvo");
  ASSERT_TRUE(parseMysqlDsn("u@tcp(db)/x%2Dy", d, e)) << e;
  EXPECT_EQ(d.host, "db");
  EXPECT_EQ(d.port, 3306u);
  EXPECT_EQ(d.database, "x-y");
}

TEST(MysqlDsn, ErrorsSayWhat) {
  MysqlDsn d;
  auto error = [&](const std::string& dsn) {
    std::string e;
    EXPECT_FALSE(parseMysqlDsn(dsn, d, e)) << dsn;
    return e;
  };
  EXPECT_NE(error("akvo@tcp(db:3306)").find("no /dbname"), std::string::npos);
  EXPECT_NE(error("u@tcp(db:3306/x").find("does not end with ')'"), std::string::npos);
  EXPECT_NE(error("u@tcp(db:70000)/x").find("bad port"), std::string::npos);
  EXPECT_NE(error("u@udp(db)/x").find("valid choices are tcp and unix"), std::string::npos);
  EXPECT_NE(error("u@tcp(db)/x?tls=maybe").find("true, false, skip-verify"), std::string::npos);
  EXPECT_NE(error("u@tcp(db)/x?timeout=soon").find("timeout"), std::string::npos);
  std::string e = error("u@tcp(db)/x?poolSize=3");
  EXPECT_NE(e.find("poolSize"), std::string::npos) << e;
  EXPECT_NE(e.find("tls, timeout"), std::string::npos) << e;
}

// The configuration: driver and dsn as Akvorado's, the errors at the key.
TEST(SavedFiltersConfig, DriverAndDsn) {
  Schema schema;
  auto read = [&](const std::string& yaml) { return testing::readSectionWith<ConsoleConfig>(yaml, "console", schema); };
  auto error = [&](const std::string& yaml) { return testing::configError([&] { read(yaml); }); };
  EXPECT_EQ(read("{}").database_driver, "sqlite");
  EXPECT_EQ(read("{database: {driver: sqlite, dsn: /var/lib/akvo/f.sqlite}}").database_path, "/var/lib/akvo/f.sqlite");
  ConsoleConfig c = read("{database: {driver: postgresql, dsn: 'host=db dbname=akvo'}}");
  EXPECT_EQ(c.database_dsn, "host=db dbname=akvo");
  EXPECT_NE(error("{database: {driver: oracle}}").find("sqlite, mysql, postgresql"), std::string::npos);
  std::string e = error("{database: {driver: mysql, dsn: 'akvo@tcp(db'}}");
  EXPECT_NE(e.find("console.database.dsn"), std::string::npos) << e;
  EXPECT_NE(e.find("no /dbname"), std::string::npos) << e;
  EXPECT_NE(error("{database: {driver: mysql}}").find("required with driver mysql"), std::string::npos);
  e = error("{database: {driver: postgresql, dsn: 'host=db dbnme=akvo'}}");
  EXPECT_NE(e.find("invalid connection option \"dbnme\""), std::string::npos) << e;
  EXPECT_EQ(read("{database: {driver: postgresql, dsn: 'postgres://akvo:pw@db:5432/akvo?sslmode=require'}}").database_dsn,
            "postgres://akvo:pw@db:5432/akvo?sslmode=require");
  EXPECT_NE(error("{database: {driver: postgresql, path: /x}}").find("give dsn"), std::string::npos);
  EXPECT_NE(error("{database: {dsn: /a, path: /b}}").find("given twice"), std::string::npos);
}

// Akvorado's default SQLite DSN, a URI: one in-memory database shared by the connections of
// the process (without URI support, a file of that name would be created).
TEST(SavedFiltersSqlite, AkvoradoDefaultUri) {
  const std::string uri = "file::memory:?cache=shared";
  SavedFilters a(SqlDriver::kSqlite, uri), b(SqlDriver::kSqlite, uri);
  a.add("alice", "in memory", "SrcAS = 1", false);
  ASSERT_EQ(b.list("alice").size(), 1u);
  EXPECT_EQ(b.list("alice")[0].description, "in memory");
  EXPECT_FALSE(std::filesystem::exists("file::memory:?cache=shared"));
}

/// One server of each kind for the whole suite (starting one takes seconds), stopped after it.
std::map<SqlDriver, std::unique_ptr<testing::DbServer>> servers;
testing::DbServer& server(SqlDriver d) {
  auto& s = servers[d];
  if (!s) {
    if (d == SqlDriver::kPostgresql) s = std::make_unique<testing::PostgresServer>();
    else s = std::make_unique<testing::MariadbServer>();
  }
  return *s;
}

class SavedFiltersServer : public ::testing::TestWithParam<SqlDriver> {
 protected:
  static void TearDownTestSuite() { servers.clear(); }
  void SetUp() override {
    auto& s = server(GetParam());
    ASSERT_TRUE(s.running() && s.error().empty()) << s.error();
    dsn_ = s.dsn();
    // Each test from an empty database.
    auto db = SqlDb::open(GetParam(), dsn_);
    db->query("DROP TABLE IF EXISTS saved_filters", {});
    db->query("DROP TABLE IF EXISTS akvo_schema", {});
  }
  std::unique_ptr<SavedFilters> open() { return std::make_unique<SavedFilters>(GetParam(), dsn_); }
  std::string dsn_;
};

// Two consoles on one database: each sees what the other saved; values come back byte for
// byte, quotes, backslashes, placeholders and UTF-8 included.
TEST_P(SavedFiltersServer, SharedBetweenConsoles) {
  auto a = open(), b = open();
  EXPECT_EQ(a->schemaVersion(), SavedFilters::kSchemaVersion);
  std::string tricky = "it's a \"test\" \\ with ? and $1 and é";
  int64_t mine = a->add("alice", tricky, "SrcAS = 1 AND ExporterName = 'r?'", false);
  int64_t ours = a->add("alice", "ours", "DstAS = 2", true);
  EXPECT_GT(ours, mine);
  auto l = b->list("alice");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].id, mine);
  EXPECT_EQ(l[0].description, tricky);
  EXPECT_EQ(l[0].content, "SrcAS = 1 AND ExporterName = 'r?'");
  EXPECT_FALSE(l[0].shared);
  EXPECT_TRUE(l[1].shared);
  EXPECT_EQ(l[1].user, "alice");
  auto bob = b->list("bob");
  ASSERT_EQ(bob.size(), 1u);  // only the shared one
  EXPECT_EQ(bob[0].id, ours);
  EXPECT_FALSE(b->remove("bob", mine)) << "not bob's";
  EXPECT_TRUE(b->remove("alice", mine));
  EXPECT_FALSE(a->remove("alice", mine)) << "already gone";
  EXPECT_EQ(a->list("alice").size(), 1u);
}

// Consoles starting together seed the configured filters once; a changed list replaces the
// stale ones and keeps the unchanged ones' ids.
TEST_P(SavedFiltersServer, SeedOnceFromConsolesStartingTogether) {
  std::vector<SavedFilter> seeded = {{0, "", true, "From Internet", "InIfBoundary = external"},
                                     {0, "", true, "Web", "DstPort = 443"}};
  std::vector<std::thread> consoles;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; i++)
    consoles.emplace_back([&] {
      try {
        open()->seed(seeded);
      } catch (const std::exception& e) {
        failures++;
        ADD_FAILURE() << e.what();
      }
    });
  for (auto& t : consoles) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto s = open();
  auto l = s->list("anyone");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].user, "__system");
  EXPECT_TRUE(l[0].shared);
  int64_t kept = l[0].id;
  s->seed({seeded[0], {0, "", true, "DNS", "DstPort = 53"}});
  l = s->list("anyone");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].id, kept);
  EXPECT_EQ(l[1].description, "DNS");
}

// A database Akvorado used: its ORM's table is taken over with its rows.
TEST_P(SavedFiltersServer, TakesOverAkvoradoTable) {
  {
    auto db = SqlDb::open(GetParam(), dsn_);
    if (GetParam() == SqlDriver::kPostgresql) {
      db->query("CREATE TABLE saved_filters (id bigserial, \"user\" text, shared boolean, "
                "description text, content text, PRIMARY KEY (id))", {});
      db->query("CREATE INDEX idx_saved_filters_user ON saved_filters (\"user\")", {});
    } else {
      db->query("CREATE TABLE saved_filters (id bigint unsigned AUTO_INCREMENT, \"user\" varchar(191), "
                "shared boolean, description longtext, content longtext, PRIMARY KEY (id), "
                "INDEX idx_saved_filters_user (\"user\"))", {});
    }
    db->query("INSERT INTO saved_filters (\"user\", shared, description, content) VALUES "
              "('alice', FALSE, 'from akvorado', 'SrcAS = 64500')", {});
  }
  auto s = open();
  EXPECT_EQ(s->schemaVersion(), SavedFilters::kSchemaVersion);
  auto l = s->list("alice");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].description, "from akvorado");
  EXPECT_GT(s->add("alice", "new", "DstAS = 1", false), l[0].id);
  // Opening again upgrades nothing more.
  EXPECT_EQ(open()->list("alice").size(), 2u);
}

// The server restarts under a running console: the next request connects again. While it is
// away, a failed attempt to connect again makes the requests fail at once, for retry_after.
TEST_P(SavedFiltersServer, SurvivesServerRestart) {
  using namespace std::chrono_literals;
  auto s = std::make_unique<SavedFilters>(GetParam(), dsn_, 300ms);
  s->add("alice", "before", "SrcAS = 1", false);
  auto& srv = server(GetParam());
  srv.stop();
  EXPECT_THROW(s->list("alice"), std::runtime_error) << "the server is down";
  try {
    s->list("alice");
    ADD_FAILURE() << "the server is still down";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("next one in"), std::string::npos) << e.what();
  }
  ASSERT_TRUE(srv.start()) << srv.error();
  std::this_thread::sleep_for(400ms);  // past retry_after
  auto l = s->list("alice");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0].description, "before");
  s->add("alice", "after", "SrcAS = 2", false);
  EXPECT_EQ(s->list("alice").size(), 2u);
}

// A refused login names the database and the server's reason, never the password.
TEST_P(SavedFiltersServer, WrongPasswordIsAClearError) {
  std::string m = openError(GetParam(), server(GetParam()).badDsn());
  ASSERT_NE(m, "") << "opened with a wrong password";
  EXPECT_NE(m.find("saved filters database"), std::string::npos) << m;
  EXPECT_NE(m.find(GetParam() == SqlDriver::kMysql ? "Access denied" : "password authentication failed"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("wrong-secret"), std::string::npos) << m;
}

// The console's API on the server: what a user saves through one console, another lists.
TEST_P(SavedFiltersServer, ConsoleApi) {
  Schema schema;
  ClickHouseConfig clickhouse;
  Metrics metrics;
  ConsoleConfig config;
  config.database_driver = sqlDriverName(GetParam());
  config.database_dsn = dsn_;
  config.saved_filters = {{0, "", true, "From Internet", "InIfBoundary = external"}};
  auto noStore = [](const std::string&, const std::string&) -> std::string { throw StoreError("no store"); };
  Console one(config, schema, clickhouse, noStore, metrics), two(config, schema, clickhouse, noStore, metrics);
  one.start();
  two.start();
  std::map<std::string, std::string> alice = {{"remote-user", "alice"}};
  EXPECT_EQ(call(one, request("POST", "filter/saved", R"({"description":"mine","content":"SrcAS = 1"})", alice)).status,
            204);
  json l = json::parse(call(two, request("GET", "filter/saved", "", alice)).body)["filters"];
  ASSERT_EQ(l.size(), 2u) << l.dump();
  EXPECT_EQ(l[0]["description"], "From Internet");
  EXPECT_EQ(l[1]["description"], "mine");
  int64_t id = l[1]["id"];
  EXPECT_EQ(call(two, request("DELETE", fmt::format("filter/saved/{}", id), "", alice)).status, 204);
  EXPECT_EQ(call(one, request("DELETE", fmt::format("filter/saved/{}", id), "", alice)).status, 404);
}

// MySQL over TLS (the server refuses TCP clients without it): tls=skip-verify encrypts,
// tls=true also verifies the certificate, which a self-signed one fails.
TEST(SavedFiltersMysqlTls, SkipVerifyAndVerify) {
  testing::MariadbServer server(true);
  ASSERT_TRUE(server.running() && server.error().empty()) << server.error();
  auto error = [](const std::string& dsn) { return openError(SqlDriver::kMysql, dsn); };
  // Without TLS, the same login is refused (MariaDB says "Access denied").
  EXPECT_NE(error(server.dsn()), "");
  EXPECT_EQ(error(server.dsn() + "?tls=skip-verify"), "");
  SavedFilters s(SqlDriver::kMysql, server.dsn() + "?tls=skip-verify&timeout=5s");
  s.add("alice", "over tls", "SrcAS = 1", false);
  EXPECT_EQ(s.list("alice").size(), 1u);
  std::string verified = error(server.dsn() + "?tls=true");
  EXPECT_NE(verified, "") << "a self-signed certificate was verified";
  EXPECT_NE(verified.find("saved filters database mysql"), std::string::npos) << verified;
  EXPECT_NE(verified.find("self-signed certificate"), std::string::npos) << verified;
}

// PostgreSQL over TLS (the server takes TCP clients with TLS only): libpq's sslmode and
// sslrootcert in the DSN, as they are.
TEST(SavedFiltersPostgresTls, SslModes) {
  testing::PostgresServer server(true);
  ASSERT_TRUE(server.running() && server.error().empty()) << server.error();
  auto error = [](const std::string& dsn) { return openError(SqlDriver::kPostgresql, dsn); };
  std::string plain = error(server.dsn() + " sslmode=disable");
  EXPECT_NE(plain.find("no encryption"), std::string::npos) << plain;
  EXPECT_EQ(error(server.dsn() + " sslmode=require"), "");
  EXPECT_EQ(error(server.dsn() + " sslmode=verify-ca sslrootcert=" + server.certFile()), "");
  std::string other = error(server.dsn() + " sslmode=verify-ca sslrootcert=" + server.otherCertFile());
  EXPECT_NE(other.find("certificate verify failed"), std::string::npos) << other;
}

INSTANTIATE_TEST_SUITE_P(Servers, SavedFiltersServer,
                         ::testing::Values(SqlDriver::kPostgresql, SqlDriver::kMysql),
                         [](const auto& info) { return std::string(sqlDriverName(info.param)); });

}  // namespace
}  // namespace akvo::console
