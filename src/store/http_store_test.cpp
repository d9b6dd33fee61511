// The HTTP store against a real ClickHouse server: Debian's clickhouse-server 18.16 (old, but
// a real server), two of them for failover, on loopback ports, with tables it understands.
#include "store/http_store.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>
#include <yaml-cpp/yaml.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/metrics.h"
#include "orchestrator/clickhouse.h"
#include "testing/ports.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace akvo {
namespace {

constexpr const char* kServer = "/usr/sbin/clickhouse-server";

uint16_t freePort() { return testing::freeLoopbackPort(SOCK_STREAM); }

/// The files of a test PKI, made with openssl in `dir`: a CA, a server certificate for
/// 127.0.0.1 signed by it, a client certificate signed by it (also with its key in one file),
/// and a second CA that signed nothing here.
struct TestPki {
  std::string dir, ca, server_crt, server_key, client_crt, client_key, client_both, other_ca;
  bool ok = false;
  explicit TestPki(const std::string& d) : dir(d) {
    std::filesystem::create_directories(dir);
    ca = dir + "/ca.crt";
    server_crt = dir + "/server.crt";
    server_key = dir + "/server.key";
    client_crt = dir + "/client.crt";
    client_key = dir + "/client.key";
    client_both = dir + "/client.pem";
    other_ca = dir + "/other-ca.crt";
    const std::string o = "openssl", q = " 2>/dev/null";
    auto run = [&](const std::string& cmd) { return std::system(("cd " + dir + " && " + cmd + q).c_str()) == 0; };
    ok = run(o + " req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=akvo test CA'") &&
         run(o + " req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.crt -days 2 -subj '/CN=other CA'") &&
         run(o + " req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj '/CN=127.0.0.1'") &&
         run("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext") &&
         run(o + " x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext") &&
         run(o + " req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=akvo'") &&
         run(o + " x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2") &&
         run("cat client.crt client.key > client.pem");
  }
};

/// One clickhouse-server process in its own folder; with `pki`, it answers HTTPS only and
/// requires a client certificate signed by the PKI's CA.
class ClickHouseServer {
 public:
  explicit ClickHouseServer(const std::string& dir, const TestPki* pki = nullptr)
      : dir_(dir), http_(freePort()), pki_(pki) {
    std::filesystem::create_directories(dir_);
    std::ostringstream listen;
    if (pki_)
      listen << "<https_port>" << http_ << "</https_port><openSSL><server><certificateFile>"
             << pki_->server_crt << "</certificateFile><privateKeyFile>" << pki_->server_key
             << "</privateKeyFile><caConfig>" << pki_->ca << "</caConfig>"
             << "<verificationMode>strict</verificationMode><loadDefaultCAFile>false"
             << "</loadDefaultCAFile></server></openSSL>";
    else
      listen << "<http_port>" << http_ << "</http_port>";
    std::ofstream(dir_ + "/config.xml") << "<?xml version=\"1.0\"?><yandex><logger><level>warning</level>"
        << "<log>" << dir_ << "/server.log</log><errorlog>" << dir_ << "/err.log</errorlog></logger>"
        << listen.str() << "<tcp_port>" << freePort() << "</tcp_port>"
        << "<listen_host>127.0.0.1</listen_host><path>" << dir_ << "/data/</path>"
        << "<tmp_path>" << dir_ << "/tmp/</tmp_path><user_files_path>" << dir_ << "/files/</user_files_path>"
        << "<users_config>users.xml</users_config><default_profile>default</default_profile>"
        << "<default_database>default</default_database><mark_cache_size>5368709</mark_cache_size></yandex>";
    std::ofstream(dir_ + "/users.xml")
        << "<?xml version=\"1.0\"?><yandex><profiles><default></default></profiles><users>"
        << "<default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>"
        << "<akvo><password>s3cret</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></akvo>"
        << "</users><quotas><default></default></quotas></yandex>";
    start();
  }
  ~ClickHouseServer() { stop(); }
  void start() {
    std::string cfg = "--config-file=" + dir_ + "/config.xml";
    char* argv[] = {const_cast<char*>(kServer), cfg.data(), nullptr};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, (dir_ + "/stdout.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, kServer, &fa, nullptr, argv, environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
    HttpStore::Config pc{.servers = {address()}, .max_retries = 0,
                         .connect_timeout = std::chrono::milliseconds(200)};
    if (pki_) {
      pc.tls = true;
      pc.ca_file = pki_->ca;
      pc.cert_file = pki_->client_crt;
      pc.key_file = pki_->client_key;
    }
    HttpStore probe(pc);
    auto c = probe.connect();
    for (int i = 0; i < 100; i++) {
      try {
        c->query("SELECT 1");
        return;
      } catch (const StoreError&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }
  void stop() {
    if (!pid_) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(http_); }

 private:
  std::string dir_;
  uint16_t http_;
  const TestPki* pki_;
  pid_t pid_ = 0;
};

class HttpStoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access(kServer, X_OK) != 0) return;
    std::string base = (akvo::testing::tempDir() / "ch").string();
    a_ = new ClickHouseServer(base + "/a");
    b_ = new ClickHouseServer(base + "/b");
  }
  static void TearDownTestSuite() {
    delete a_;
    delete b_;
    a_ = b_ = nullptr;
  }
  void SetUp() override {
    if (!a_) GTEST_SKIP() << "clickhouse-server not installed (scripts/deps.sh --test)";
    table_ = std::string("t_") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (auto* s : {a_, b_}) {
      HttpStore st({.servers = {s->address()}});
      auto c = st.connect();
      c->query("DROP TABLE IF EXISTS " + table_);
      c->query("CREATE TABLE " + table_ + " (a UInt32, s String) ENGINE = MergeTree ORDER BY a");
    }
  }
  static ClickHouseServer* a_;
  static ClickHouseServer* b_;
  std::string table_;
};
ClickHouseServer* HttpStoreTest::a_ = nullptr;
ClickHouseServer* HttpStoreTest::b_ = nullptr;

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(v | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void str(std::string& out, std::string_view s) {
  varint(out, s.size());
  out.append(s);
}

TEST_F(HttpStoreTest, InsertsNativeAndRowBinaryAndSelects) {
  Metrics m;
  HttpStore store({.servers = {a_->address()}, .compression = HttpStore::Compression::kGzip}, &m);
  auto conn = store.connect();
  // Native: columns, rows, then each column's name, type and values.
  std::string native;
  varint(native, 2);
  varint(native, 3);
  str(native, "a");
  str(native, "UInt32");
  for (uint32_t v : {1u, 2u, 3u}) native.append(reinterpret_cast<const char*>(&v), 4);
  str(native, "s");
  str(native, "String");
  for (auto s : {"one", "two", "three"}) str(native, s);
  conn->insertNative("INSERT INTO " + table_ + " (a, s)", native);
  // RowBinary: values one row after the other.
  std::string rb;
  for (uint32_t v : {10u, 11u}) {
    rb.append(reinterpret_cast<const char*>(&v), 4);
    str(rb, v == 10 ? "ten" : "eleven");
  }
  static_cast<HttpConnection&>(*conn).insert("INSERT INTO " + table_ + " (a, s)", "RowBinary", rb);
  EXPECT_EQ(conn->query("SELECT a, s FROM " + table_ + " ORDER BY a"),
            "1\tone\n2\ttwo\n3\tthree\n10\tten\n11\televen\n");
  EXPECT_EQ(conn->query("SELECT count() AS c FROM " + table_, "JSONEachRow"), "{\"c\":\"5\"}\n");
  // 2 inserts and 2 selects over one kept-alive TCP connection.
  EXPECT_EQ(m.sum("akvo_clickhouse_http_requests_total"), 4u);
  EXPECT_EQ(m.sum("akvo_clickhouse_http_connections_total"), 1u);
}

// Settings of one insert go as URL parameters; this server (18.16) does not know async_insert
// and says so in the words the outlet's writer looks for to stop asking (writer_test.cpp).
TEST_F(HttpStoreTest, InsertSettingsReachTheServer) {
  HttpStore store({.servers = {a_->address()}, .compression = HttpStore::Compression::kGzip});
  auto conn = store.connect();
  std::string native;
  varint(native, 1);
  varint(native, 1);
  str(native, "a");
  str(native, "UInt32");
  uint32_t v = 7;
  native.append(reinterpret_cast<const char*>(&v), 4);
  const std::string prefix = "INSERT INTO " + table_ + " (a)";
  try {
    conn->insertNativeParts(prefix, {native}, {{"async_insert", "1"}});
    ADD_FAILURE() << "ClickHouse 18.16 took async_insert";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("Unknown setting async_insert"), std::string::npos) << e.what();
  }
  // A setting it knows, and two parts in one insert.
  conn->insertNativeParts(prefix, {native, native}, {{"max_insert_block_size", "1000"}});
  EXPECT_EQ(conn->query("SELECT count(), sum(a) FROM " + table_), "2\t14\n");
}

TEST_F(HttpStoreTest, ServerErrorsAreClearAndNotRetried) {
  Metrics m;
  HttpStore store({.servers = {a_->address()}}, &m);
  auto conn = store.connect();
  try {
    conn->query("SELECT * FROM no_such_table");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 404"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no_such_table doesn't exist"), std::string::npos) << e.what();
  }
  EXPECT_THROW(conn->query("SELEC 1"), StoreError);
  EXPECT_EQ(m.sum("akvo_clickhouse_http_retries_total"), 0u);
  // 18.16 does not know zstd bodies: its own message comes back.
  try {
    conn->insertNative("INSERT INTO " + table_ + " (a, s)", std::string("\x00\x00", 2));
    FAIL() << "18.16 accepted zstd?";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("Unknown Content-Encoding of HTTP request: zstd"),
              std::string::npos) << e.what();
  }
}

TEST_F(HttpStoreTest, AuthenticationAndReadOnly) {
  HttpStore good({.servers = {a_->address()}, .username = "akvo", .password = "s3cret"});
  EXPECT_EQ(good.connect()->query("SELECT DISTINCT user FROM system.processes"), "akvo\n");
  HttpStore bad({.servers = {a_->address()}, .username = "akvo", .password = "wrong"});
  try {
    bad.connect()->query("SELECT 1");
    FAIL() << "wrong password accepted";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("Wrong password for user akvo"), std::string::npos) << e.what();
  }
  auto ro = good.connect(true);
  EXPECT_EQ(ro->query("SELECT 1"), "1\n");
  EXPECT_THROW(ro->query("INSERT INTO " + table_ + " VALUES (1, 'x')"), StoreError);
  EXPECT_EQ(good.connect()->query("SELECT count() FROM " + table_), "0\n");
}

TEST_F(HttpStoreTest, FailsOverToTheNextServer) {
  Metrics m;
  // Connections start at the first server here, a dead port: requests go to the second, and
  // so do the next connections' (no retry on the dead one).
  HttpStore store({.servers = {"127.0.0.1:" + std::to_string(freePort()), b_->address()},
                   .first_server = 0,
                   .compression = HttpStore::Compression::kGzip,
                   .initial_backoff = std::chrono::milliseconds(10)},
                  &m);
  auto conn = store.connect();
  conn->query("INSERT INTO " + table_ + " VALUES (7, 'seven')");
  EXPECT_EQ(static_cast<HttpConnection&>(*conn).server(), 1u);
  EXPECT_EQ(m.sum("akvo_clickhouse_http_failovers_total"), 1u);
  auto next = store.connect();
  EXPECT_EQ(next->query("SELECT count() FROM " + table_), "1\n");
  EXPECT_EQ(m.sum("akvo_clickhouse_http_failovers_total"), 1u);
  // Without first_server, each store starts at a server taken at random (outlets spread):
  // over 32 stores of two servers, both are taken.
  std::set<size_t> starts;
  for (int i = 0; i < 32; i++) {
    HttpStore s({.servers = {b_->address(), b_->address()}});
    auto c = s.connect();
    c->query("SELECT 1");
    starts.insert(static_cast<HttpConnection&>(*c).server());
  }
  EXPECT_EQ(starts.size(), 2u);
  HttpStore direct({.servers = {b_->address()}});
  EXPECT_EQ(direct.connect()->query("SELECT a, s FROM " + table_), "7\tseven\n");
  // Every server down: a clear error after the retries.
  HttpStore none({.servers = {"127.0.0.1:" + std::to_string(freePort())}, .max_retries = 2,
                  .initial_backoff = std::chrono::milliseconds(10)},
                 &m);
  try {
    none.connect()->query("SELECT 1");
    FAIL() << "no error";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("unreachable after 3 attempts"), std::string::npos) << e.what();
  }
}

TEST_F(HttpStoreTest, SurvivesAServerRestart) {
  HttpStore store({.servers = {a_->address(), b_->address()}, .first_server = 0,
                   .initial_backoff = std::chrono::milliseconds(10)});
  auto conn = store.connect();
  EXPECT_EQ(conn->query("SELECT 1"), "1\n");
  EXPECT_EQ(static_cast<HttpConnection&>(*conn).server(), 0u);
  a_->stop();  // the kept-alive connection breaks
  EXPECT_EQ(conn->query("SELECT 2"), "2\n");
  EXPECT_EQ(static_cast<HttpConnection&>(*conn).server(), 1u);
  a_->start();
}

// CH-1 on a real server: Debian's 18.16 is older than akvo's SQL needs (format() with a
// structure, 23.2). The migrations stop before their first statement, naming the version found
// and the minimum, even when someone else manages the schema (skip-migrations).
TEST_F(HttpStoreTest, MigrationsRefuseAnOldServer) {
  HttpStore store({.servers = {a_->address()}});
  auto conn = store.connect();
  Metrics metrics;
  ClickHouseConfig config;
  config.servers = {a_->address()};
  Schema schema;
  for (bool skip : {false, true}) {
    config.skip_migrations = skip;
    Migrations m(config, schema, *conn, metrics);
    try {
      m.run();
      ADD_FAILURE() << "ClickHouse 18.16 accepted";
    } catch (const StoreError& e) {
      EXPECT_STREQ(e.what(), "ClickHouse 18.16.1 is too old: akvo needs 23.2 or later");
    }
    EXPECT_TRUE(m.applied().empty());
  }
  EXPECT_EQ(conn->query("EXISTS TABLE protocols_data"), "0\n");
}

// GEN-8 on a real server over TLS: clickhouse-server answering HTTPS only and requiring a client
// certificate, with a PKI made by openssl for the test. The configuration's clickhouse.tls goes
// through httpStoreConfig() as akvo's roles use it.
class HttpStoreTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (access(kServer, X_OK) != 0) return;
    base_ = (akvo::testing::tempDir() / "ch-tls").string();
    pki_ = new TestPki(base_ + "/pki");
    if (pki_->ok) server_ = new ClickHouseServer(base_ + "/server", pki_);
  }
  static void TearDownTestSuite() {
    delete server_;
    delete pki_;
    server_ = nullptr;
    pki_ = nullptr;
    if (!base_.empty()) std::filesystem::remove_all(base_);
  }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << "clickhouse-server or openssl missing (scripts/deps.sh --test)";
  }
  /// The store a configuration file with this tls block gives.
  static HttpStore store(const std::string& tls) {
    YAML::Node root = YAML::Load(fmt::format(
        "clickhouse: {{servers: ['{}'], compression: gzip, tls: {}}}", server_->address(), tls));
    ClickHouseConfig c;
    ConfigReader r(root["clickhouse"], "test.yaml", "clickhouse");
    c.read(r);
    r.finish();
    HttpStore::Config hc = httpStoreConfig(c);
    hc.max_retries = 1;
    hc.initial_backoff = std::chrono::milliseconds(10);
    return HttpStore(hc);
  }
  static std::string error(HttpStore&& s) {
    try {
      s.connect()->query("SELECT 1");
    } catch (const StoreError& e) {
      return e.what();
    }
    return "";
  }
  static std::string base_;
  static TestPki* pki_;
  static ClickHouseServer* server_;
};
std::string HttpStoreTlsTest::base_;
TestPki* HttpStoreTlsTest::pki_ = nullptr;
ClickHouseServer* HttpStoreTlsTest::server_ = nullptr;

TEST_F(HttpStoreTlsTest, VerifiesTheServerWithTheCaFile) {
  const std::string client = fmt::format("cert-file: {}, key-file: {}", pki_->client_crt,
                                         pki_->client_key);
  // The system's CAs do not know the test CA; nor does another CA: refused at once (no retry),
  // with what the TLS library said.
  std::string e = error(store("{enable: true, " + client + "}"));
  EXPECT_NE(e.find("https://" + server_->address()), std::string::npos) << e;
  EXPECT_NE(e.find("SSL certificate problem"), std::string::npos) << e;
  e = error(store(fmt::format("{{enable: true, ca-file: {}, {}}}", pki_->other_ca, client)));
  EXPECT_NE(e.find("SSL certificate problem"), std::string::npos) << e;
  // The right CA: queries and inserts go through.
  HttpStore good = store(fmt::format("{{enable: true, ca-file: {}, {}}}", pki_->ca, client));
  auto conn = good.connect();
  EXPECT_EQ(conn->query("SELECT 1"), "1\n");
  conn->query("CREATE TABLE IF NOT EXISTS tls_t (a UInt32) ENGINE = Memory");
  static_cast<HttpConnection&>(*conn).insert("INSERT INTO tls_t (a)", "TSV", "7\n8\n");
  EXPECT_EQ(conn->query("SELECT sum(a) FROM tls_t"), "15\n");
  // skip-verify: no CA needed (not recommended, but Akvorado's).
  EXPECT_EQ(store("{enable: true, skip-verify: true, " + client + "}").connect()->query("SELECT 2"),
            "2\n");
}

TEST_F(HttpStoreTlsTest, PresentsTheClientCertificate) {
  // The server requires one: without it, the server closes the connection.
  std::string e = error(store(fmt::format("{{enable: true, ca-file: {}}}", pki_->ca)));
  EXPECT_NE(e.find("https://" + server_->address()), std::string::npos) << e;
  EXPECT_NE(e.find("if the server requires a client certificate, none was given"),
            std::string::npos)
      << e;
  // With it (and its key in its own file, or in the certificate's file when key-file is empty).
  EXPECT_EQ(store(fmt::format("{{enable: true, ca-file: {}, cert-file: {}, key-file: {}}}",
                              pki_->ca, pki_->client_crt, pki_->client_key))
                .connect()
                ->query("SELECT 4"),
            "4\n");
  EXPECT_EQ(store(fmt::format("{{enable: true, ca-file: {}, cert-file: {}}}", pki_->ca,
                              pki_->client_both))
                .connect()
                ->query("SELECT 3"),
            "3\n");
  // A key that is not the certificate's: refused by curl before sending anything.
  e = error(store(fmt::format("{{enable: true, ca-file: {}, cert-file: {}, key-file: {}}}",
                              pki_->ca, pki_->client_crt, pki_->server_key)));
  EXPECT_NE(e.find("certificate"), std::string::npos) << e;
  // Without TLS the HTTPS port answers nothing useful.
  EXPECT_FALSE(error(store("{enable: false}")).empty());
}

TEST(HttpStoreConfig, NeedsAServer) { EXPECT_THROW(HttpStore(HttpStore::Config{}), std::invalid_argument); }

}  // namespace
}  // namespace akvo
