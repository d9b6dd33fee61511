// The console's response cache in a real Redis (http.cache.type redis).
#include "console/redis_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/config.h"
#include "testing/config.h"
#include "testing/db_servers.h"

namespace akvo::console {
namespace {

using namespace std::chrono_literals;

HttpResponse sample() {
  HttpResponse r = HttpResponse::json(std::string("{\"rows\":[1,2]}\0\xff tail", 21));
  r.headers = {{"X-SQL-Query", "SELECT 1"}, {"X-Empty", ""}};
  return r;
}

TEST(RedisCacheFormat, RoundTripAndRefusals) {
  HttpResponse in = sample(), out;
  std::string data = RedisCache::encode(in);
  ASSERT_TRUE(RedisCache::decode(data, out));
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(out.content_type, "application/json");
  EXPECT_EQ(out.body, in.body);
  EXPECT_EQ(out.headers, in.headers);
  // Every truncation before the body is refused, and so is another format.
  for (size_t n = 0; n < data.size() - in.body.size(); n++)
    EXPECT_FALSE(RedisCache::decode(data.substr(0, n), out)) << n;
  EXPECT_FALSE(RedisCache::decode("AKV0" + data.substr(4), out));
  std::string k = RedisCache::redisKey("POST graph/line?\n{}");
  EXPECT_EQ(k.rfind("akvo:console:" AKVO_VERSION ":", 0), 0u) << k;
  EXPECT_EQ(k.size(), std::string("akvo:console:" AKVO_VERSION ":").size() + 64);
  EXPECT_EQ(k, RedisCache::redisKey("POST graph/line?\n{}"));
  EXPECT_NE(k, RedisCache::redisKey("POST graph/line?\n{ }"));
}

TEST(RedisCacheConfig, KeysAndErrors) {
  auto read = [](const std::string& yaml) { return testing::readSection<HttpServer::Config>(yaml, "http").cache; };
  auto error = [&](const std::string& yaml) { return testing::configError([&] { read(yaml); }); };
  auto c = read("{cache: {type: redis, server: 'cache.example.net:6380', username: akvo, password: x, db: 2}}");
  EXPECT_EQ(c.type, "redis");
  EXPECT_EQ(c.server, "cache.example.net:6380");
  EXPECT_EQ(c.db, 2);
  EXPECT_EQ(read("{}").type, "memory");
  EXPECT_EQ(read("{}").server, "127.0.0.1:6379");
  EXPECT_NE(error("{cache: {type: memcached}}").find("memory, redis"), std::string::npos);
  std::string e = error("{cache: {type: redis, server: cache}}");
  EXPECT_NE(e.find("http.cache.server"), std::string::npos) << e;
  EXPECT_NE(e.find("host:port"), std::string::npos) << e;
  EXPECT_NE(error("{cache: {server: 'c:99999'}}").find("host:port"), std::string::npos);
  EXPECT_NE(error("{cache: {protocol: unix, server: redis.sock}}").find("absolute path"), std::string::npos);
  EXPECT_NE(error("{cache: {username: akvo}}").find("required with a username"), std::string::npos);
  EXPECT_NE(error("{cache: {db: -1}}").find("db"), std::string::npos);
}

class RedisCacheServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<testing::RedisServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { ASSERT_TRUE(server_->running() && server_->error().empty()) << server_->error(); }
  /// As the ACL user akvo (keys akvo:* only), in database `db`.
  HttpServer::Config::Cache config(int64_t db = 0) {
    HttpServer::Config::Cache c;
    c.type = "redis";
    c.server = server_->dsn();
    c.username = "akvo";
    c.password = "akvo-secret";
    c.db = db;
    return c;
  }
  static inline std::unique_ptr<testing::RedisServer> server_;
  Metrics metrics_;
};

// The fixtures pick a free port, which another test process may take before the server binds
// it: the server then starts on another one.
TEST(DbServerFixture, StartsOnAnotherPortWhenItsPortIsTaken) {
  uint16_t taken = 0;
  int fd = testing::boundLoopbackSocket(SOCK_STREAM, &taken);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(listen(fd, 1), 0);
  testing::DbServer::first_port_for_tests = taken;
  testing::RedisServer server;
  close(fd);
  EXPECT_TRUE(server.running() && server.error().empty()) << server.error();
  EXPECT_NE(server.port(), taken);
  EXPECT_EQ(testing::DbServer::first_port_for_tests, 0);
}

// What one console put, another reads (the ACL user may only touch akvo:* keys: the key
// prefix is checked by Redis itself); it expires with the TTL given.
TEST_F(RedisCacheServer, SharedAndExpiring) {
  RedisCache a(config(), 1 << 20, metrics_), b(config(), 1 << 20, metrics_);
  EXPECT_EQ(a.check(), "");
  HttpResponse out;
  EXPECT_FALSE(b.get("GET widget/exporters?\n", out));
  a.put("GET widget/exporters?\n", sample(), 30s);
  ASSERT_TRUE(b.get("GET widget/exporters?\n", out));
  EXPECT_EQ(out.body, sample().body);
  EXPECT_EQ(out.headers, sample().headers);
  a.put("short", sample(), 150ms);
  EXPECT_TRUE(b.get("short", out));
  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(b.get("short", out)) << "expired in Redis";
  EXPECT_EQ(metrics_.sum("akvo_console_cache_errors_total"), 0u);
  // Larger than the bound: not sent.
  RedisCache small(config(), 64, metrics_);
  small.put("big", sample(), 30s);
  EXPECT_FALSE(b.get("big", out));
  EXPECT_EQ(metrics_.sum("akvo_console_cache_too_large_total"), 1u);
}

// An IPv6 server is written [address]:port.
TEST_F(RedisCacheServer, Ipv6Address) {
  if (system("ip -6 addr show dev lo | grep -q '::1'") != 0) GTEST_SKIP() << "no IPv6 loopback here";
  auto c = config();
  c.server = fmt::format("[::1]:{}", server_->port());
  RedisCache six(c, 1 << 20, metrics_), four(config(), 1 << 20, metrics_);
  EXPECT_EQ(six.check(), "");
  six.put("v6", sample(), 30s);
  HttpResponse out;
  EXPECT_TRUE(four.get("v6", out));
}

// The database is chosen with SELECT: another database does not see the entries.
TEST_F(RedisCacheServer, DatabasesAreApart) {
  RedisCache three(config(3), 1 << 20, metrics_), zero(config(0), 1 << 20, metrics_),
      three_again(config(3), 1 << 20, metrics_);
  three.put("k", sample(), 30s);
  HttpResponse out;
  EXPECT_FALSE(zero.get("k", out));
  EXPECT_TRUE(three_again.get("k", out));
}

// The default user's password alone works; a wrong one is a miss (never an error for the
// request), counted, and not retried at each request.
TEST_F(RedisCacheServer, LoginsAndRefusals) {
  auto c = config();
  c.username = "";
  c.password = "default-secret";
  RedisCache def(c, 1 << 20, metrics_);
  EXPECT_EQ(def.check(), "");
  def.put("d", sample(), 30s);
  HttpResponse out;
  EXPECT_TRUE(def.get("d", out));

  c.password = "wrong";
  RedisCache wrong(c, 1 << 20, metrics_, 1h);
  std::string why = wrong.check();
  EXPECT_NE(why.find("WRONGPASS"), std::string::npos) << why;
  uint64_t before = metrics_.sum("akvo_console_cache_errors_total");
  EXPECT_FALSE(wrong.get("d", out));
  wrong.put("d", sample(), 30s);
  EXPECT_FALSE(wrong.get("d", out));
  // check() set the back-off: the requests did not even connect.
  EXPECT_EQ(metrics_.sum("akvo_console_cache_errors_total"), before);

  RedisCache fresh(c, 1 << 20, metrics_, 1h);
  EXPECT_FALSE(fresh.get("d", out));
  EXPECT_EQ(metrics_.sum("akvo_console_cache_errors_total"), before + 1) << "one failed connection";
  EXPECT_FALSE(fresh.get("d", out));
  EXPECT_EQ(metrics_.sum("akvo_console_cache_errors_total"), before + 1) << "backing off";

  // No password at all: Redis refuses the commands (NOAUTH), each a miss and an error.
  c.password = "";
  RedisCache none(c, 1 << 20, metrics_);
  EXPECT_FALSE(none.get("d", out));
  EXPECT_EQ(metrics_.sum("akvo_console_cache_errors_total"), before + 2);
}

// Redis restarts: while it is down, misses; then the kept connections, broken, are replaced.
TEST_F(RedisCacheServer, SurvivesRestart) {
  RedisCache a(config(), 1 << 20, metrics_, 100ms);
  a.put("before", sample(), 30s);
  HttpResponse out;
  ASSERT_TRUE(a.get("before", out));
  server_->stop();
  EXPECT_FALSE(a.get("before", out));
  a.put("down", sample(), 30s);  // nothing to do, and no crash (SIGPIPE)
  EXPECT_GT(metrics_.sum("akvo_console_cache_errors_total"), 0u);
  ASSERT_TRUE(server_->start()) << server_->error();
  std::this_thread::sleep_for(200ms);  // past the back-off
  EXPECT_FALSE(a.get("before", out)) << "a new Redis: empty";
  a.put("after", sample(), 30s);
  EXPECT_TRUE(a.get("after", out));
}

}  // namespace
}  // namespace akvo::console
