#pragma once
/// For tests: a real PostgreSQL, MariaDB or Redis server (Debian's packages) started in a temporary
/// folder on a free loopback port, with a user `akvo` (password `akvo-secret`) owning a
/// database `akvo`, and stopped by the destructor. stop() and start() restart it in place (the
/// data stays). As root, PostgreSQL runs as the `postgres` user (it refuses root) and MariaDB as
/// root (`--user=root`). The servers die with the test process (PR_SET_PDEATHSIG).
#include <fmt/format.h>
#include <libpq-fe.h>
#include <hiredis/hiredis.h>
#include <mysql.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "testing/ports.h"
#include "testing/temp_dir.h"

namespace akvo::testing {

class DbServer {
 public:
  virtual ~DbServer() { stop(); }
  virtual std::string dsn() const = 0;
  /// The DSN with a wrong password.
  virtual std::string badDsn() const = 0;
  uint16_t port() const { return port_; }
  /// Tests of the fixture: the port the next server tries first (then a free one).
  static inline uint16_t first_port_for_tests = 0;
  const std::string& error() const { return error_; }
  /// The server process has not exited (an exited one is reaped: a zombie answered kill(0), so
  /// a server that failed at start was waited on for the whole start timeout).
  bool running() const {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      return false;
    }
    return true;
  }
  /// Stops the server (a clean shutdown that closes the clients' connections) and waits for it.
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, stop_signal_);
    int status;
    waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  /// Starts it again on the same port and data; false (and error()) when it does not answer.
  virtual bool start() = 0;

 protected:
  /// Picks a free loopback port, lets `configure` use it, and starts the server; again on
  /// another port when the one picked was taken before the server bound it (another test
  /// process got it in between): false (and error()) after three tries or any other failure.
  template <class Configure>
  bool startOnFreePort(Configure&& configure) {
    for (int attempt = 0; attempt < 3; attempt++) {
      port_ = std::exchange(first_port_for_tests, 0);
      if (!port_) port_ = freeLoopbackPort();
      configure();
      if (start()) {
        error_.clear();
        return true;
      }
      stop();
      if (error_.find("Address already in use") == std::string::npos) return false;
    }
    return false;
  }
  /// Waits until `ready()` (the server's own answer) or the server exits, `tries` times
  /// `period` apart; on failure, error() says `name` did not start, with its log.
  template <class Ready>
  bool waitReady(Ready&& ready, int tries, std::chrono::milliseconds period, const char* name,
                 const std::filesystem::path& log) {
    for (int i = 0; i < tries; i++) {
      if (ready()) return true;
      if (!running()) break;
      std::this_thread::sleep_for(period);
    }
    error_ = fmt::format("{} did not start: {}", name, readFile(log));
    return false;
  }
  /// Runs `argv` to completion (as `user` when not empty and we are root); its output goes to
  /// `log`. True on exit status 0.
  static bool run(const std::vector<std::string>& argv, const std::string& user, const std::string& log) {
    int status = 0;
    waitpid(spawn(argv, user, log), &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  /// Starts `argv` in the background.
  static pid_t spawn(const std::vector<std::string>& argv, const std::string& user, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) execArgs(argv, user, log);
    return pid;
  }
  [[noreturn]] static void execArgs(std::vector<std::string> argv, const std::string& user,
                                    const std::string& log) {
    if (!user.empty() && geteuid() == 0) {
      const passwd* pw = getpwnam(user.c_str());
      if (!pw || initgroups(user.c_str(), pw->pw_gid) || setgid(pw->pw_gid) || setuid(pw->pw_uid)) _exit(126);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // after setuid(), which clears it
    FILE* f = fopen(log.c_str(), "a");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    setsid();  // a terminal's signals are the test's, not the server's
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  static std::string readFile(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::path makeDir(const char* kind) {
    static int counter = 0;
    auto d = tempDir() / fmt::format("{}-{}", kind, counter++);
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }
  mutable pid_t pid_ = 0;
  int stop_signal_ = SIGTERM;
  uint16_t port_ = 0;
  std::string error_;
};

class PostgresServer : public DbServer {
 public:
  static constexpr const char* kBin = "/usr/lib/postgresql/15/bin";
  /// `tls`: with a self-signed certificate (cert.pem, also the CA to verify it with), and TCP
  /// clients must use TLS (hostssl only); other.pem is a certificate that did not sign it.
  explicit PostgresServer(bool tls = false) : tls_(tls) {
    stop_signal_ = SIGINT;  // "fast" shutdown; SIGTERM waits for the clients to leave
    dir_ = makeDir("pg");
    std::ofstream(dir_ / "pw") << "akvo-secret\n";
    if (geteuid() == 0) {
      std::string own = fmt::format("chown -R postgres:postgres {}", dir_.string());
      if (std::system(own.c_str()) != 0) {
        error_ = "cannot give the folder to the postgres user";
        return;
      }
    }
    // The superuser is akvo, with a password (scram-sha-256 on TCP).
    if (!run({fmt::format("{}/initdb", kBin), "-D", (dir_ / "data").string(), "-U", "akvo",
              "--pwfile", (dir_ / "pw").string(), "-A", "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
              "--no-sync"},
             "postgres", (dir_ / "initdb.log").string())) {
      error_ = "initdb failed: " + readFile(dir_ / "initdb.log");
      return;
    }
    if (tls && !makeTls()) return;
    if (!startOnFreePort([] {})) return;
    PGconn* c = PQconnectdb((dsnFor("postgres", "akvo-secret")).c_str());
    PGresult* r = PQexec(c, "CREATE DATABASE akvo");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) error_ = PQerrorMessage(c);
    PQclear(r);
    PQfinish(c);
  }
  ~PostgresServer() override {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dsn() const override { return dsnFor("akvo", "akvo-secret"); }
  std::string badDsn() const override { return dsnFor("akvo", "wrong-secret"); }
  std::string certFile() const { return (dir_ / "cert.pem").string(); }
  std::string otherCertFile() const { return (dir_ / "other.pem").string(); }
  bool start() override {
    std::vector<std::string> argv = {fmt::format("{}/postgres", kBin), "-D", (dir_ / "data").string(), "-p",
                                     std::to_string(port_), "-k", dir_.string(), "-c",
                                     "listen_addresses=127.0.0.1", "-c", "fsync=off"};
    if (tls_)
      for (std::string a : {std::string("ssl=on"), "ssl_cert_file=" + certFile(), "ssl_key_file=" + (dir_ / "key.pem").string()})
        argv.insert(argv.end(), {"-c", a});
    pid_ = spawn(argv, "postgres", (dir_ / "server.log").string());
    std::string ping = fmt::format("host=127.0.0.1 port={} dbname=postgres connect_timeout=1", port_);
    return waitReady([&] { return PQping(ping.c_str()) == PQPING_OK; }, 200,
                     std::chrono::milliseconds(50), "postgres", dir_ / "server.log");
  }

 private:
  std::string dsnFor(const char* db, const char* password) const {
    return fmt::format("host=127.0.0.1 port={} user=akvo password={} dbname={}", port_, password, db);
  }
  bool makeTls() {
    for (const char* name : {"cert", "other"})
      if (!run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                "/CN=localhost", "-keyout", (dir_ / fmt::format("{}-key.pem", name)).string(), "-out",
                (dir_ / fmt::format("{}.pem", name)).string()},
               "postgres", (dir_ / "openssl.log").string())) {
        error_ = "openssl failed: " + readFile(dir_ / "openssl.log");
        return false;
      }
    std::filesystem::rename(dir_ / "cert-key.pem", dir_ / "key.pem");
    std::filesystem::permissions(dir_ / "key.pem", std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    // TCP only with TLS.
    std::ofstream(dir_ / "data" / "pg_hba.conf") << "local all all scram-sha-256\n"
                                                     "hostssl all all 127.0.0.1/32 scram-sha-256\n";
    return true;
  }
  bool tls_ = false;
  std::filesystem::path dir_;
};

class MariadbServer : public DbServer {
 public:
  /// `tls`: with a self-signed certificate, and TCP clients must use TLS
  /// (require_secure_transport).
  explicit MariadbServer(bool tls = false) : tls_(tls) {
    dir_ = makeDir("mariadb");
    if (tls && !run({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                     "-subj", "/CN=localhost", "-keyout", (dir_ / "key.pem").string(), "-out",
                     (dir_ / "cert.pem").string()},
                    "", (dir_ / "openssl.log").string())) {
      error_ = "openssl failed: " + readFile(dir_ / "openssl.log");
      return;
    }
    std::vector<std::string> install = {"/usr/bin/mariadb-install-db", "--no-defaults",
                                        "--datadir=" + (dir_ / "data").string(),
                                        "--auth-root-authentication-method=normal", "--skip-test-db"};
    if (geteuid() == 0) install.push_back("--user=root");
    if (!run(install, "", (dir_ / "install.log").string())) {
      error_ = "mariadb-install-db failed: " + readFile(dir_ / "install.log");
      return;
    }
    if (!startOnFreePort([] {})) return;
    // root has no password, over the socket: make akvo's user and database.
    MYSQL* m = mysql_init(nullptr);
    if (!mysql_real_connect(m, "localhost", "root", "", nullptr, 0, socket().c_str(), 0)) {
      error_ = mysql_error(m);
    } else {
      for (const char* sql : {"CREATE DATABASE akvo", "CREATE USER 'akvo'@'127.0.0.1' IDENTIFIED BY 'akvo-secret'",
                              "GRANT ALL ON akvo.* TO 'akvo'@'127.0.0.1'"})
        if (mysql_query(m, sql)) {
          error_ = mysql_error(m);
          break;
        }
    }
    mysql_close(m);
  }
  ~MariadbServer() override {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dsn() const override { return fmt::format("akvo:akvo-secret@tcp(127.0.0.1:{})/akvo", port_); }
  std::string badDsn() const override { return fmt::format("akvo:wrong-secret@tcp(127.0.0.1:{})/akvo", port_); }
  std::string socket() const { return (dir_ / "sock").string(); }
  bool tls() const { return tls_; }
  bool start() override {
    std::vector<std::string> argv = {"/usr/sbin/mariadbd", "--no-defaults",
                                     "--datadir=" + (dir_ / "data").string(), "--socket=" + socket(),
                                     "--port=" + std::to_string(port_), "--bind-address=127.0.0.1",
                                     "--pid-file=" + (dir_ / "pid").string(), "--skip-log-bin",
                                     "--innodb-buffer-pool-size=16M", "--innodb-flush-log-at-trx-commit=0",
                                     "--skip-name-resolve"};
    if (geteuid() == 0) argv.push_back("--user=root");
    if (tls_)
      for (std::string a : {"--ssl-cert=" + (dir_ / "cert.pem").string(),
                            "--ssl-key=" + (dir_ / "key.pem").string(), std::string("--require-secure-transport=ON")})
        argv.push_back(a);
    pid_ = spawn(argv, "", (dir_ / "server.log").string());
    auto ready = [&] {
      MYSQL* m = mysql_init(nullptr);
      bool ok = mysql_real_connect(m, "localhost", "root", "", nullptr, 0, socket().c_str(), 0) != nullptr;
      mysql_close(m);
      return ok;
    };
    return waitReady(ready, 300, std::chrono::milliseconds(50), "mariadbd", dir_ / "server.log");
  }

 private:
  bool tls_ = false;
  std::filesystem::path dir_;
};

/// Redis with its default user's password `default-secret` and an ACL user `akvo` (password
/// `akvo-secret`) allowed the keys `akvo:*` only.
class RedisServer : public DbServer {
 public:
  RedisServer() {
    dir_ = makeDir("redis");
    startOnFreePort([this] {
      std::ofstream(dir_ / "redis.conf") << fmt::format(
          "port {}\nbind 127.0.0.1 -::1\nsave \"\"\nappendonly no\ndir {}\n"
          "requirepass default-secret\nuser akvo on >akvo-secret ~akvo:* +@all\n",
          port_, dir_.string());
    });
  }
  ~RedisServer() override {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dsn() const override { return fmt::format("127.0.0.1:{}", port_); }
  std::string badDsn() const override { return dsn(); }
  bool start() override {
    pid_ = spawn({"/usr/bin/redis-server", (dir_ / "redis.conf").string()}, "", (dir_ / "server.log").string());
    // Redis's answer to PING (NOAUTH: the password is asked), not just a TCP accept: the port
    // may be another process's.
    auto ready = [&] {
      const timeval timeout{0, 200000};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, timeout);
      bool ok = false;
      if (c && !c->err && redisSetTimeout(c, timeout) == REDIS_OK) {
        auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
        ok = r && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
        if (r) freeReplyObject(r);
      }
      if (c) redisFree(c);
      return ok;
    };
    return waitReady(ready, 200, std::chrono::milliseconds(25), "redis-server", dir_ / "server.log");
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace akvo::testing
