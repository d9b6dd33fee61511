#include "console/console.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <set>
#include <sstream>

#include "console/test_flows.h"
#include "console/test_requests.h"
#include "testing/db_servers.h"
#include "testing/test_store.h"

namespace akvo::console {
namespace {

using nlohmann::json;

/// A console without a store (every route that does not query).
class ConsoleNoStore : public ::testing::Test {
 protected:
  void SetUp() override {
    console_ = std::make_unique<Console>(config_, schema_, clickhouse_,
                                         [](const std::string&, const std::string&) -> std::string {
                                           throw StoreError("no store in this test");
                                         },
                                         metrics_);
    console_->start();
  }
  ConsoleConfig config_;
  Schema schema_;
  ClickHouseConfig clickhouse_;
  Metrics metrics_;
  std::unique_ptr<Console> console_;
};

/// The value of the metric line `series` ("name{labels}"), -1 when absent.
double metricValue(const Metrics& m, const std::string& series) {
  std::istringstream lines(m.render());
  for (std::string line; std::getline(lines, line);)
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

// OBS-3: the store's failures counted by the table the query read.
TEST_F(ConsoleNoStore, StoreErrorsPerTable) {
  auto r = call(*console_, request("GET", "widget/flow-rate"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_queries_total{table=\"flows\"}"), 1);
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_query_errors_total{table=\"flows\"}"), 1);
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_query_errors_total{table=\"flows_1m0s\"}"), -1);
}

TEST_F(ConsoleNoStore, FilterValidate) {
  auto r = call(*console_, request("POST", "filter/validate", R"({"filter":"SrcAS = AS15169"})"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"message":"ok","parsed":"`SrcAS` = 15169"})"));
  r = call(*console_, request("POST", "filter/validate", R"({"filter":"SrcAS = 1 AND\n  Nope = 2"})"));
  EXPECT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["message"], "at line 2, column 3: unknown column \"Nope\"");
  EXPECT_EQ(j["errors"][0]["line"], 2);
  EXPECT_EQ(j["errors"][0]["column"], 3);
  EXPECT_EQ(j["errors"][0]["offset"], 16);
  EXPECT_FALSE(j.contains("parsed"));
  r = call(*console_, request("POST", "filter/validate", "{nope"));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(json::parse(r.body)["message"].get<std::string>().starts_with("invalid JSON"));
}

TEST_F(ConsoleNoStore, CompleteColumnsAndOperators) {
  auto r = call(*console_, request("POST", "filter/complete", R"({"what":"column","prefix":"dstas"})"));
  ASSERT_EQ(r.status, 200);
  auto c = json::parse(r.body)["completions"];
  ASSERT_EQ(c.size(), 2u);  // DstAS, DstASPath
  EXPECT_EQ(c[0], json::parse(R"({"label":"DstAS","detail":"column name","quoted":false})"));
  r = call(*console_, request("POST", "filter/complete", R"({"what":"operator","column":"InIfBoundary"})"));
  c = json::parse(r.body)["completions"];
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1]["label"], "!=");
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"InIfBoundary","prefix":"ex"})"));
  c = json::parse(r.body)["completions"];
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0]["label"], "external");
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"Proto","prefix":"ipv6"})"));
  c = json::parse(r.body)["completions"];
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0]["label"], "IPv6-ICMP");
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"Bytes"})"));
  EXPECT_EQ(r.status, 400);
  r = call(*console_, request("POST", "filter/complete", R"({"what":"nothing"})"));
  EXPECT_EQ(r.status, 400);
}

TEST_F(ConsoleNoStore, ConfigurationAndDocs) {
  auto r = call(*console_, request("GET", "configuration"));
  ASSERT_EQ(r.status, 200);
  json j = json::parse(r.body);
  EXPECT_EQ(j["defaultVisualizeOptions"]["dimensions"], json::array({"SrcAS"}));
  EXPECT_EQ(j["defaultVisualizeOptions"]["limitType"], "avg");
  EXPECT_EQ(j["dimensionsLimit"], 50);
  EXPECT_EQ(j["truncatable"], json::array({"SrcAddr", "DstAddr"}));
  // How the web console writes a clicked value in a filter.
  EXPECT_EQ(j["dimensionKinds"]["InIfProvider"], "string");
  EXPECT_EQ(j["dimensionKinds"]["InIfSpeed"], "uint");
  EXPECT_EQ(j["dimensionKinds"]["SrcAddr"], "ip");
  EXPECT_FALSE(j["dimensionKinds"].contains("SrcAS"));  // its own syntax (AS numbers)
  EXPECT_EQ(j["homepageTopWidgets"][0], "src-as");
  EXPECT_EQ(j["resolutions"][1], json::parse(R"({"table":"flows_1m0s","interval":60,"ttl":604800})"));
  bool has_srcas = false, has_bytes = false;
  for (const auto& d : j["dimensions"]) {
    has_srcas |= d == "SrcAS";
    has_bytes |= d == "Bytes";
  }
  EXPECT_TRUE(has_srcas);
  EXPECT_FALSE(has_bytes);
  r = call(*console_, request("GET", "docs/console-api"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/markdown; charset=utf-8");
  EXPECT_TRUE(r.body.starts_with("# Console API"));
  r = call(*console_, request("GET", "docs/console-api", "", {{"accept", "application/json"}}));
  j = json::parse(r.body);
  EXPECT_EQ(j["toc"][0]["title"], "Graphs");
  EXPECT_EQ(j["toc"][0]["id"], "graphs");
  r = call(*console_, request("GET", "docs"));
  EXPECT_GE(json::parse(r.body)["docs"].size(), 3u);
  EXPECT_EQ(call(*console_, request("GET", "docs/nope")).status, 404);
  EXPECT_EQ(call(*console_, request("GET", "nope")).status, 404);
  EXPECT_EQ(call(*console_, request("GET", "graph/line")).status, 405);
  r = call(*console_, request("POST", "graph/line", std::string(70000, ' ')));
  EXPECT_EQ(r.status, 413);
}

// Akvorado's graph types, heatmap included, as default-visualize-options' graph-type.
TEST(ConsoleConfig, DefaultGraphTypes) {
  Schema schema;
  auto graphType = [&](const std::string& type) {
    ConsoleConfig c;
    ConfigReader r(YAML::Load("default-visualize-options: {graph-type: " + type + "}"), "akvo.yaml", "console");
    c.read(r, schema);
    return c.default_visualize_options.graph_type;
  };
  for (const char* t : {"stacked", "stacked100", "lines", "grid", "heatmap", "sankey"}) EXPECT_EQ(graphType(t), t);
  EXPECT_THROW(graphType("pie"), ConfigError);
}

// The default limit may go up to dimensions-limit (it was capped at 50), never above it: the
// API would refuse every default graph.
TEST(ConsoleConfig, DefaultLimitWithinDimensionsLimit) {
  Schema schema;
  auto read = [&](const std::string& yaml) {
    ConsoleConfig c;
    ConfigReader r(YAML::Load(yaml), "akvo.yaml", "console");
    c.read(r, schema);
    return c;
  };
  EXPECT_EQ(read("{default-visualize-options: {limit: 200}, dimensions-limit: 300}").default_visualize_options.limit, 200);
  try {
    read("{default-visualize-options: {limit: 60}}");
    FAIL() << "a default limit above dimensions-limit (50) was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("dimensions-limit"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("60"), std::string::npos) << e.what();
  }
}

TEST_F(ConsoleNoStore, AuthFromHeaders) {
  auto r = call(*console_, request("GET", "user/info"));
  EXPECT_EQ(json::parse(r.body),
            json::parse(R"({"login":"__default","name":"Default User","avatar-url":"/api/v0/console/user/avatar"})"));
  r = call(*console_, request("GET", "user/info", "",
                              {{"remote-user", "alice"}, {"remote-name", "Alice"}, {"remote-email", "a@example.com"},
                               {"x-logout-url", "/logout"}}));
  json j = json::parse(r.body);
  EXPECT_EQ(j["login"], "alice");
  EXPECT_EQ(j["name"], "Alice");
  EXPECT_EQ(j["email"], "a@example.com");
  EXPECT_EQ(j["logout-url"], "/logout");
  // Login required: no default user.
  ConsoleConfig c;
  c.auth.default_login = "";
  c.auth.header_login = "X-Forwarded-User";
  c.auth.logout_url = "/oauth/logout?u={login}";
  Console strict(c, schema_, clickhouse_, nullptr, metrics_);
  strict.start();
  r = call(strict, request("GET", "user/info"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(json::parse(r.body)["message"], "authentication required");
  r = call(strict, request("GET", "user/info", "", {{"x-forwarded-user", "bob"}}));
  EXPECT_EQ(json::parse(r.body)["logout-url"], "/oauth/logout?u=bob");
}

// Akvorado's Go template syntax for auth.logout-url/avatar-url, the headers' URLs as
// .LogoutURL/.AvatarURL; a configured template wins over the header; unknown fields are errors.
TEST(UserTemplate, GoSyntaxAndAkvoSyntax) {
  User u{"bob", "Bob B", "bob@example.com", "/sso/logout", "/pics/bob.png"};
  EXPECT_EQ(renderUserTemplate("/logout?u={{ .Login }}&n={{.Name}}&e={{ .Email}}", u),
            "/logout?u=bob&n=Bob B&e=bob@example.com");
  EXPECT_EQ(renderUserTemplate("{{ .LogoutURL }}?next=/&who={login}", u), "/sso/logout?next=/&who=bob");
  EXPECT_EQ(renderUserTemplate("https://img/{{ .AvatarURL }}", u), "https://img//pics/bob.png");
  EXPECT_EQ(renderUserTemplate("{ not a field } {{", u), "{ not a field } {{");
  std::string error;
  renderUserTemplate("/x/{{ .Password }}", u, &error);
  EXPECT_NE(error.find("unknown template field \".Password\""), std::string::npos) << error;
  error.clear();
  renderUserTemplate("/x/{{ .Login", u, &error);
  EXPECT_NE(error.find("unclosed"), std::string::npos) << error;
}

TEST_F(ConsoleNoStore, UserTemplateWinsOverHeaders) {
  ConsoleConfig c;
  c.auth.logout_url = "{{ .LogoutURL }}?rd=/&user={{ .Login }}";
  Console con(c, schema_, clickhouse_, nullptr, metrics_);
  con.start();
  auto r = call(con, request("GET", "user/info", "",
                             {{"remote-user", "alice"}, {"x-logout-url", "/oauth2/sign_out"}}));
  EXPECT_EQ(json::parse(r.body)["logout-url"], "/oauth2/sign_out?rd=/&user=alice");
}

TEST_F(ConsoleNoStore, Avatar) {
  auto a = call(*console_, request("GET", "user/avatar", "", {{"remote-user", "alice"}}));
  auto b = call(*console_, request("GET", "user/avatar", "", {{"remote-user", "bob"}}));
  auto a2 = call(*console_, request("GET", "user/avatar", "", {{"remote-user", "alice"}}));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "image/png");
  EXPECT_TRUE(a.body.starts_with("\x89PNG\r\n\x1a\n"));
  EXPECT_EQ(a.body, a2.body);
  EXPECT_NE(a.body, b.body);
  std::string etag = a.headers[0].second;
  auto cached = call(*console_, request("GET", "user/avatar", "", {{"remote-user", "alice"}, {"if-none-match", etag}}));
  EXPECT_EQ(cached.status, 304);
  // Python's zlib and the PNG layout agree it is a valid 80x80 RGB image.
  std::string path = ::testing::TempDir() + "/avatar.png";
  FILE* f = fopen(path.c_str(), "wb");
  fwrite(a.body.data(), 1, a.body.size(), f);
  fclose(f);
  std::string cmd = "python3 -c \"import zlib,struct,sys;d=open('" + path +
                    "','rb').read();p=8;out=b'';w=h=0\n"
                    "while p<len(d):\n"
                    " n,t=struct.unpack('>I4s',d[p:p+8]);c=d[p+8:p+8+n];crc=struct.unpack('>I',d[p+8+n:p+12+n])[0]\n"
                    " assert zlib.crc32(t+c)==crc\n"
                    " if t==b'IHDR': w,h=struct.unpack('>II',c[:8])\n"
                    " if t==b'IDAT': out+=c\n"
                    " p+=12+n\n"
                    "raw=zlib.decompress(out);assert len(raw)==h*(1+3*w);sys.exit(0 if (w,h)==(80,80) else 1)\"";
  EXPECT_EQ(system(cmd.c_str()), 0);
}

TEST_F(ConsoleNoStore, SavedFilters) {
  std::map<std::string, std::string> alice = {{"remote-user", "alice"}}, bob = {{"remote-user", "bob"}};
  EXPECT_EQ(call(*console_, request("POST", "filter/saved",
                                    R"({"description":"mine","content":"SrcAS = 1","shared":false})", alice)).status,
            204);
  EXPECT_EQ(call(*console_, request("POST", "filter/saved",
                                    R"({"description":"ours","content":"DstAS = 2","shared":true})", alice)).status,
            204);
  auto r = call(*console_, request("POST", "filter/saved", R"({"description":"bad","content":"SrcAS ="})", alice));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(call(*console_, request("POST", "filter/saved", R"({"content":"SrcAS = 1"})", alice)).status, 400);
  auto list = [&](const std::map<std::string, std::string>& u) {
    return json::parse(call(*console_, request("GET", "filter/saved", "", u)).body)["filters"];
  };
  json a = list(alice), b = list(bob);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0]["user"], "alice");
  EXPECT_EQ(a[0]["content"], "SrcAS = 1");
  EXPECT_EQ(a[0]["shared"], false);
  ASSERT_EQ(b.size(), 1u);  // only the shared one
  EXPECT_EQ(b[0]["description"], "ours");
  int64_t id = a[0]["id"];
  // Bob cannot delete Alice's filter.
  EXPECT_EQ(call(*console_, request("DELETE", fmt::format("filter/saved/{}", id), "", bob)).status, 404);
  EXPECT_EQ(call(*console_, request("DELETE", fmt::format("filter/saved/{}", id), "", alice)).status, 204);
  EXPECT_EQ(call(*console_, request("DELETE", fmt::format("filter/saved/{}", id), "", alice)).status, 404);
  EXPECT_EQ(call(*console_, request("DELETE", "filter/saved/x", "", alice)).status, 400);
  EXPECT_EQ(list(alice).size(), 1u);
}

TEST(ConsoleSavedFilters, UpgradeFromVersion1AndSeed) {
  std::string path = ::testing::TempDir() + "/saved-" + std::to_string(getpid()) + ".sqlite";
  std::filesystem::remove(path);
  {
    // A database as the first version wrote it.
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TABLE saved_filters (id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT NOT NULL, "
                           "shared INTEGER NOT NULL DEFAULT 0, description TEXT NOT NULL, content TEXT NOT NULL);"
                           "INSERT INTO saved_filters (user, shared, description, content) VALUES "
                           "('alice', 0, 'old', 'SrcAS = 1'), ('__system', 1, 'stale', 'DstAS = 1');"
                           "PRAGMA user_version = 1;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  SavedFilters s(path);
  EXPECT_EQ(s.schemaVersion(), SavedFilters::kSchemaVersion);
  s.seed({SavedFilter{0, "", true, "From Internet", "InIfBoundary = external"}});
  auto l = s.list("alice");
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].description, "old");  // kept across the upgrade
  EXPECT_EQ(l[1].description, "From Internet");  // the stale seeded filter is gone
  EXPECT_EQ(l[1].user, "__system");
  // Reopening changes nothing.
  SavedFilters again(path);
  EXPECT_EQ(again.list("alice").size(), 2u);
  std::filesystem::remove(path);
}

TEST(ConsoleCache, EvictsOldestAndExpires) {
  Metrics metrics;
  ResponseCache c(2, 1 << 20, metrics);
  c.put("a", HttpResponse::json("1"), std::chrono::hours(1));
  c.put("b", HttpResponse::json("2"), std::chrono::hours(1));
  c.put("c", HttpResponse::json("3"), std::chrono::hours(1));
  HttpResponse r;
  EXPECT_FALSE(c.get("a", r));
  ASSERT_TRUE(c.get("c", r));
  EXPECT_EQ(r.body, "3");
  c.put("d", HttpResponse::json("4"), std::chrono::milliseconds(-1));
  EXPECT_FALSE(c.get("d", r));
}

// The byte bound: graph responses can be megabytes each, so 1,000 entries alone could hold
// gigabytes. Least recently used first; a response larger than the bound is not kept.
TEST(ConsoleCache, BoundedInBytesLeastRecentlyUsedFirst) {
  Metrics metrics;
  const std::string body(100000, 'x');
  const size_t one = ResponseCache::entryBytes("a", HttpResponse::json(body));
  ResponseCache c(1000, 3 * one + one / 2, metrics);  // room for three
  for (const char* k : {"a", "b", "c"}) c.put(k, HttpResponse::json(body), std::chrono::hours(1));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.bytes(), 3 * one);
  HttpResponse r;
  ASSERT_TRUE(c.get("a", r));  // "a" is now the most recently used: "b" goes first
  c.put("d", HttpResponse::json(body), std::chrono::hours(1));
  EXPECT_EQ(c.size(), 3u);
  EXPECT_LE(c.bytes(), 3 * one + one / 2);
  EXPECT_FALSE(c.get("b", r));
  EXPECT_TRUE(c.get("a", r));
  EXPECT_TRUE(c.get("c", r));
  EXPECT_TRUE(c.get("d", r));
  EXPECT_EQ(metrics.sum("akvo_console_cache_evictions_total"), 1u);
  // A response that needs two slots evicts the two least recently used ("a", then "c").
  c.put("e", HttpResponse::json(std::string(200000, 'y')), std::chrono::hours(1));
  EXPECT_FALSE(c.get("a", r));
  EXPECT_FALSE(c.get("c", r));
  EXPECT_TRUE(c.get("d", r));
  EXPECT_TRUE(c.get("e", r));
  EXPECT_EQ(metrics.sum("akvo_console_cache_evictions_total"), 3u);
  // Larger than the whole bound: not cached, nothing evicted for it.
  c.put("huge", HttpResponse::json(std::string(4 * one, 'z')), std::chrono::hours(1));
  EXPECT_FALSE(c.get("huge", r));
  EXPECT_TRUE(c.get("d", r));
  EXPECT_EQ(metrics.sum("akvo_console_cache_too_large_total"), 1u);
  EXPECT_EQ(metrics.sum("akvo_console_cache_evictions_total"), 3u);
  // Replacing a key counts its bytes once.
  const size_t before = c.bytes();
  c.put("d", HttpResponse::json(body), std::chrono::hours(1));
  EXPECT_EQ(c.bytes(), before);
  // Expired entries give their bytes back when found.
  c.put("f", HttpResponse::json("1"), std::chrono::milliseconds(-1));
  EXPECT_FALSE(c.get("f", r));
  EXPECT_EQ(c.bytes(), before);
}

TEST(ConsoleCache, ZeroBytesCachesNothing) {
  Metrics metrics;
  ResponseCache c(1000, 0, metrics);
  c.put("a", HttpResponse::json("1"), std::chrono::hours(1));
  HttpResponse r;
  EXPECT_FALSE(c.get("a", r));
  EXPECT_EQ(c.bytes(), 0u);
}

/// The console on a chDB store with the test flows.
class ConsoleApi : public ::testing::Test {
 protected:
  static constexpr int64_t kT0 = 1795730400;  // 2026-11-26T22:00:00Z

  void SetUp() override {
#ifdef AKVO_SANITIZE
    GTEST_SKIP() << "needs chDB: runs in the Release build";
#endif
    conn_ = testing::freshDatabase();
    Migrations m(clickhouse_, schema_, *conn_, metrics_);
    m.run();
    insertTestFlows(*conn_, kT0, 24000);
    m.consolidateFromRaw();
    make(config_);
  }

  void make(const ConsoleConfig& c) {
    console_ = std::make_unique<Console>(
        c, schema_, clickhouse_,
        [this](const std::string& sql, const std::string& f) {
          std::lock_guard lock(mutex_);
          queries_++;
          return conn_->query(sql, f);
        },
        metrics_);
    console_->setClock([] { return kT0 + 7200; });
    console_->start();
  }

  json get(const std::string& route) {
    HttpRequest req = request("GET", route.substr(0, route.find('?')));
    if (route.find('?') != std::string::npos) {
      std::string q = route.substr(route.find('?') + 1);
      req.query[q.substr(0, q.find('='))] = q.substr(q.find('=') + 1);
    }
    auto r = call(*console_, req);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }

  ConsoleConfig config_;
  // With the columns that are off by default whose values the console formats or completes.
  Schema schema_{SchemaConfig{.enabled = {"SrcMAC", "DstMAC", "MPLSLabels", "ICMPv4Type",
                                          "ICMPv4Code", "ICMPv4"}}};
  ClickHouseConfig clickhouse_;
  Metrics metrics_;
  std::mutex mutex_;
  int queries_ = 0;
  std::unique_ptr<StoreConnection> conn_;
  std::unique_ptr<Console> console_;
};

// http.cache.type redis: a graph one console computed, another console answers from Redis,
// headers included, without querying the store.
TEST_F(ConsoleApi, GraphsSharedThroughRedis) {
  testing::RedisServer redis;
  ASSERT_TRUE(redis.running() && redis.error().empty()) << redis.error();
  ConsoleConfig c = config_;
  c.cache_backend.type = "redis";
  c.cache_backend.server = redis.dsn();
  c.cache_backend.password = "default-secret";
  make(c);
  std::unique_ptr<Console> first = std::move(console_);
  make(c);
  std::string body = R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-27T00:00:00Z","dimensions":["DstAS"],"limit":2,"points":12})";
  auto r = call(*first, request("POST", "graph/line", body));
  ASSERT_EQ(r.status, 200) << r.body;
  int before = queries_;
  auto again = call(*console_, request("POST", "graph/line", body));
  EXPECT_EQ(again.body, r.body);
  EXPECT_EQ(again.headers, r.headers);
  EXPECT_EQ(queries_, before) << "answered from Redis";
  EXPECT_EQ(metrics_.sum("akvo_console_cache_hits_total"), 1u);
  EXPECT_EQ(metrics_.sum("akvo_console_cache_errors_total"), 0u);
}

TEST_F(ConsoleApi, GraphLineThroughTheApiIsCached) {
  std::string body = R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-27T00:00:00Z","dimensions":["SrcAS"],"limit":3,"points":24})";
  auto r = call(*console_, request("POST", "graph/line", body));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["rows"].size(), 4u);
  EXPECT_EQ(j["t"].size(), 24u);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "X-SQL-Query");
  EXPECT_NE(r.headers[0].second.find("FROM flows_5m0s"), std::string::npos);
  int before = queries_;
  auto again = call(*console_, request("POST", "graph/line", body));
  EXPECT_EQ(again.body, r.body);
  EXPECT_EQ(queries_, before);  // served from the cache
  EXPECT_EQ(metrics_.sum("akvo_console_cache_hits_total"), 1u);
  // OBS-3: the graph's query counted under the table it read; the tables' survey (oldest row
  // of each) once under each; no errors.
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_queries_total{table=\"flows_5m0s\"}"), 2);
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_queries_total{table=\"flows_1m0s\"}"), 1);
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_queries_total{table=\"flows\"}"), 1);
  EXPECT_EQ(metricValue(metrics_, "akvo_console_store_query_duration_seconds_count{table=\"flows_5m0s\"}"), 2);
  EXPECT_EQ(metrics_.sum("akvo_console_store_query_errors_total"), 0u);
  auto ti = call(*console_, request("POST", "graph/table-interval",
                                    R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-27T00:00:00Z","points":24})"));
  EXPECT_EQ(json::parse(ti.body), json::parse(R"({"table":"flows_5m0s","interval":300})"));
  auto bad = call(*console_, request("POST", "graph/line",
                                     R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-27T00:00:00Z","filter":"SrcAS = "})"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["message"], "invalid filter: at line 1, column 9: expecting an AS number");
  auto sk = call(*console_, request("POST", "graph/sankey",
                                    R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-27T00:00:00Z","dimensions":["SrcAS"]})"));
  EXPECT_EQ(sk.status, 400);
}

TEST_F(ConsoleApi, Widgets) {
  // The clock says T0 + 2h: the last 5 minutes hold 1,000 flows.
  json rate = get("widget/flow-rate");
  EXPECT_NEAR(rate["rate"].get<double>(), 1000.0 / 300, 0.05);  // (now - 300, now]
  EXPECT_EQ(rate["period"], "second");
  EXPECT_EQ(get("widget/exporters")["exporters"], json::array({"router1", "router2", "router3"}));
  json last = get("widget/flow-last");
  EXPECT_EQ(last["ExporterAddress"].get<std::string>().substr(0, 8), "192.0.2.");
  EXPECT_TRUE(last.contains("SrcAS"));
  json top = get("widget/top/src-country")["top"];
  ASSERT_EQ(top.size(), 3u);
  double sum = 0;
  for (const auto& t : top) sum += t["percent"].get<double>();
  EXPECT_NEAR(sum, 100, 0.01);
  json proto = get("widget/top/protocol")["top"];
  EXPECT_EQ(proto[0]["name"], "TCP");
  json ports = get("widget/top/dst-port")["top"];
  EXPECT_TRUE(ports[0]["name"].get<std::string>().starts_with("TCP/")) << ports;  // as Akvorado: TCP/443
  json et = get("widget/top/etype")["top"];
  EXPECT_EQ(et[0]["name"], "IPv4");
  EXPECT_NEAR(et[0]["percent"].get<double>(), 90, 2);
  EXPECT_EQ(call(*console_, request("GET", "widget/top/nope")).status, 404);
  json g = get("widget/graph?points=24");
  EXPECT_GT(g["data"].size(), 20u);
  double gbps = 0;
  for (const auto& p : g["data"]) gbps += p["gbps"].get<double>();
  EXPECT_GT(gbps, 0);
}

// As Akvorado, the last flow shows communities as text, not the numbers they are stored as.
TEST_F(ConsoleApi, LastFlowShowsCommunitiesAsText) {
  conn_->query(fmt::format("INSERT INTO flows (TimeReceived, SamplingRate, ExporterAddress, "
                           "DstCommunities, DstLargeCommunities, Bytes, Packets) SELECT "
                           "toDateTime({}), 10, toIPv6('::ffff:192.0.2.9'), [65000 * 65536 + 100, 1], "
                           "[bitOr(bitShiftLeft(toUInt128(65001), 64), toUInt128(4294967298))], 1, 1",
                           kT0 + 7200),
               "TSV");
  json last = get("widget/flow-last");
  EXPECT_EQ(last["ExporterAddress"], "192.0.2.9");
  EXPECT_EQ(last["SrcMAC"], "00:00:00:00:00:00");
  EXPECT_EQ(last["DstCommunities"], json::array({"65000:100", "0:1"})) << last;
  EXPECT_EQ(last["DstLargeCommunities"], json::array({"65001:1:2"})) << last;
}

// MACs, communities and MPLS labels complete from recent flows, in the filter's syntax; ICMP
// names also from the icmp dictionary.
TEST_F(ConsoleApi, CompleteMacsCommunitiesLabelsAndIcmp) {
  // The consolidated table (where completions of its columns look) lacks the main-table-only ones.
  for (const char* table : {"flows", "flows_1m0s"})
    conn_->query(fmt::format("INSERT INTO {0} (TimeReceived, SamplingRate, ExporterAddress, SrcMAC, "
                             "Proto, ICMPv4Type, Bytes, Packets{1}) SELECT toDateTime({2}), 10, "
                             "toIPv6('::ffff:192.0.2.9'), MACStringToNum('00:11:22:33:44:55'), 1, 8, "
                             "1, 1{3}",
                             table, table == std::string("flows") ? ", DstCommunities, MPLSLabels" : "",
                             kT0 + 7000,
                             table == std::string("flows") ? ", [65000 * 65536 + 100], [16001, 3]" : ""),
                 "TSV");
  auto labels = [&](const char* column, const char* prefix) {
    auto r = call(*console_, request("POST", "filter/complete",
                                     fmt::format(R"({{"what":"value","column":"{}","prefix":"{}"}})",
                                                 column, prefix)));
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    const json body = json::parse(r.body);
    for (const auto& c : body["completions"]) out.push_back(c["label"]);
    return out;
  };
  EXPECT_EQ(labels("SrcMAC", "00:11"), std::vector<std::string>{"00:11:22:33:44:55"});
  EXPECT_EQ(labels("DstCommunities", "6500"), std::vector<std::string>{"65000:100"});
  EXPECT_EQ(labels("MPLSLabels", "160"), std::vector<std::string>{"16001"});
  auto icmp = labels("ICMPv4", "echo");
  ASSERT_EQ(icmp.size(), 2u);
  EXPECT_EQ(icmp[0], "echo-request");  // seen in flows: first
  EXPECT_EQ(icmp[1], "echo-reply");    // from the dictionary
}

TEST_F(ConsoleApi, CompleteValuesFromTheStore) {
  auto r = call(*console_, request("POST", "filter/complete",
                                   R"({"what":"value","column":"InIfProvider","prefix":"co"})"));
  auto c = json::parse(r.body)["completions"];
  ASSERT_GE(c.size(), 1u) << r.body;
  EXPECT_EQ(c[0], json::parse(R"({"label":"cogent","detail":"InIfProvider","quoted":true})"));
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"SrcAS","prefix":"AS6450"})"));
  c = json::parse(r.body)["completions"];
  ASSERT_GE(c.size(), 1u) << r.body;
  EXPECT_TRUE(c[0]["label"].get<std::string>().starts_with("AS6450"));
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"ExporterName","prefix":"ro"})"));
  c = json::parse(r.body)["completions"];
  EXPECT_EQ(c[0]["label"].get<std::string>().substr(0, 6), "router");
  // Hostile prefixes are just text.
  r = call(*console_, request("POST", "filter/complete",
                              R"({"what":"value","column":"ExporterName","prefix":"' OR 1=1 --"})"));
  EXPECT_EQ(r.status, 200);
  c = json::parse(r.body)["completions"];
  for (const auto& x : c) EXPECT_EQ(x["detail"], "column name");
  // % and _ are literal: "%" matches no provider (none has a % in its name).
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"InIfProvider","prefix":"%"})"));
  json got = json::parse(r.body);
  for (const auto& x : got["completions"]) EXPECT_EQ(x["detail"], "column name") << r.body;
  // An AS seen in flows and found in the dictionary comes once.
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"SrcAS","prefix":"AS645","limit":50})"));
  got = json::parse(r.body);
  ASSERT_FALSE(got["completions"].empty());
  std::set<std::string> seen;
  for (const auto& x : got["completions"])
    EXPECT_TRUE(seen.insert(x["label"].get<std::string>()).second) << "twice: " << x;
  // Column names only after an operator that takes them.
  auto columns = [&](const char* op) {
    auto res = call(*console_, request("POST", "filter/complete",
                                       fmt::format(R"({{"what":"value","column":"InIfProvider","prefix":"OutIfProv","operator":"{}"}})", op)));
    EXPECT_EQ(res.status, 200) << res.body;
    json body = json::parse(res.body);
    size_t n = 0;
    for (const auto& x : body["completions"]) n += x["label"] == "OutIfProvider";
    return n;
  };
  EXPECT_EQ(columns("="), 1u);
  EXPECT_EQ(columns("LIKE"), 0u);
  // An AS path is completed with AS numbers, as an AS column.
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"DstASPath","prefix":"AS6450"})"));
  got = json::parse(r.body);
  ASSERT_FALSE(got["completions"].empty()) << r.body;
  EXPECT_TRUE(got["completions"][0]["label"].get<std::string>().starts_with("AS6450")) << r.body;
  // Fields of the wrong type: 400 naming the field, not a library message.
  r = call(*console_, request("POST", "filter/complete", R"({"what":"value","column":"SrcAS","limit":"x"})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["message"], "\"limit\" must be an integer");
  r = call(*console_, request("POST", "filter/complete", R"({"what":5})"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["message"], "\"what\" must be a string");
}

TEST_F(ConsoleApi, ResponseLargerThanTheCacheIsNotCached) {
  YAML::Node n = YAML::Load("cache-max-bytes: 1000");
  ConfigReader r(n, "test.yaml", "console");
  ConsoleConfig c;
  c.read(r, schema_);
  r.finish();
  ASSERT_EQ(c.cache_max_bytes, 1000);
  make(c);
  std::string body = R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-27T00:00:00Z","dimensions":["SrcAS"],"limit":3,"points":24})";
  ASSERT_EQ(call(*console_, request("POST", "graph/line", body)).status, 200);
  int before = queries_;
  ASSERT_EQ(call(*console_, request("POST", "graph/line", body)).status, 200);
  EXPECT_GT(queries_, before);  // computed again: the response (over 1,000 bytes) was not kept
  EXPECT_EQ(metrics_.sum("akvo_console_cache_too_large_total"), 2u);
  EXPECT_EQ(metrics_.sum("akvo_console_cache_hits_total"), 0u);
}

// Ports as Akvorado completes them: the number, its service name as detail; by number or by a
// part of the name; recent ports first, then the tcp and udp dictionaries.
TEST_F(ConsoleApi, CompletePortsByNumberOrServiceName) {
  auto complete = [&](const char* body) {
    auto r = call(*console_, request("POST", "filter/complete", body));
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body)["completions"];
  };
  // The test flows go to 443 and 80, TCP and UDP: both recent, with their names.
  json c = complete(R"({"what":"value","column":"DstPort"})");
  ASSERT_GE(c.size(), 2u) << c;
  std::set<std::string> first = {c[0]["label"].get<std::string>(), c[1]["label"].get<std::string>()};
  EXPECT_EQ(first, (std::set<std::string>{"443", "80"})) << c;
  for (size_t i = 0; i < 2; i++)
    EXPECT_EQ(c[i]["detail"], c[i]["label"] == "443" ? "https" : "http") << c;
  EXPECT_EQ(c[0]["quoted"], false);
  // By a part of the name: "http" finds the recent 80 and 443 first, then the dictionaries'
  // other HTTP services (8080 http-alt), each port once.
  c = complete(R"({"what":"value","column":"DstPort","prefix":"http"})");
  ASSERT_GE(c.size(), 3u) << c;
  std::set<std::string> labels;
  for (const auto& x : c) {
    EXPECT_TRUE(labels.insert(x["label"].get<std::string>()).second) << "twice: " << x;
    EXPECT_NE(x["detail"].get<std::string>().find("http"), std::string::npos) << x;
  }
  EXPECT_TRUE(labels.count("80") && labels.count("443") && labels.count("8080")) << c;
  EXPECT_TRUE(c[0]["label"] == "443" || c[0]["label"] == "80") << c;
  // Case does not matter; a name no flow carries comes from the dictionaries.
  c = complete(R"({"what":"value","column":"SrcPort","prefix":"SSH"})");
  ASSERT_FALSE(c.empty());
  EXPECT_EQ(c[0], json::parse(R"({"label":"22","detail":"ssh","quoted":false})"));
  // By number: the recent source ports (1024 to 1123) starting with 110, then the dictionaries'.
  c = complete(R"({"what":"value","column":"SrcPort","prefix":"110","limit":50})");
  ASSERT_GE(c.size(), 10u) << c;
  for (const auto& x : c) EXPECT_TRUE(x["label"].get<std::string>().starts_with("110")) << x;
  EXPECT_EQ(c[0]["label"].get<std::string>().size(), 4u) << c;  // a recent one, 1100-1109
  // Hostile text is just text.
  c = complete(R"({"what":"value","column":"DstPort","prefix":"' OR 1=1 --"})");
  for (const auto& x : c) EXPECT_EQ(x["detail"], "column name") << x;
}

TEST_F(ConsoleApi, SlowQueryIsCancelled) {
  ConsoleConfig c;
  c.query_timeout = std::chrono::seconds(1);
  // 24,000 rows x 0.1 ms: 2.4 s of work for a 1 s budget.
  c.homepage_graph_filter = "sleepEachRow(0.0001) = 0";
  make(c);
  auto t0 = std::chrono::steady_clock::now();
  auto r = call(*console_, request("GET", "widget/graph"));
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_EQ(json::parse(r.body)["message"], "the query took longer than 1s and was cancelled");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
}

}  // namespace
}  // namespace akvo::console
