#include "common/remote_source.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/http_server.h"
#include "testing/ports.h"

extern char** environ;

namespace akvo {
namespace {

using namespace std::chrono_literals;

/// A real HTTP server on a loopback port, for the sources to fetch from.
struct Server {
  Metrics metrics;
  HttpServer http;
  Server() : http(config(), metrics) {}
  static HttpServer::Config config() {
    HttpServer::Config c;
    c.listen = "127.0.0.1:0";
    return c;
  }
  void start() { http.start(); }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(http.port()) + path;
  }
};

RemoteSource source(const std::string& url, const std::string& transform = ".[]",
                    RemoteSource::Parser parser = RemoteSource::Parser::kJson) {
  RemoteSource s;
  s.url = url;
  s.interval = 1min;
  s.timeout = 5s;
  s.parser = parser;
  s.setTransform(transform);
  return s;
}

std::string dumpAll(const std::vector<jq::Value>& values) {
  std::string out;
  for (const auto& v : values) out += v.dump() + "\n";
  return out;
}

std::string errorKind(const RemoteSource& s) {
  try {
    fetchRemoteSource(s);
  } catch (const RemoteSourceError& e) {
    return e.kind + ": " + e.what();
  }
  return "(no error)";
}

TEST(RemoteSource, CsvRowsAreF1ToFn) {
  using P = RemoteSource::Parser;
  EXPECT_EQ(
      parseRemoteBody("192.0.2.0/24,a b,\"x, \"\"y\"\"\"\r\n\n2001:db8::/32,c\n", P::kCsvComma)
          .dump(),
      R"([{"f1":"192.0.2.0/24","f2":"a b","f3":"x, \"y\""},{"f1":"2001:db8::/32","f2":"c"}])");
  EXPECT_EQ(parseRemoteBody("a;b;c\n", P::kCsvSemicolon).dump(),
            R"([{"f1":"a","f2":"b","f3":"c"}])");
  EXPECT_EQ(parseRemoteBody("a:b\n\"multi\nline\":\n", P::kCsvColon).dump(),
            R"([{"f1":"a","f2":"b"},{"f1":"multi\nline","f2":""}])");
  EXPECT_EQ(parseRemoteBody("prefix,name\n192.0.2.0/24,x\n", P::kCsvHeader).dump(),
            R"([{"prefix":"192.0.2.0/24","name":"x"}])");
  EXPECT_EQ(parseRemoteBody("  192.0.2.0/24 \r\n\n198.51.100.0/24", P::kPlain).dump(),
            R"(["192.0.2.0/24","198.51.100.0/24"])");
  EXPECT_EQ(parseRemoteBody(R"({"a": [1]})", P::kJson).dump(), R"({"a":[1]})");
  EXPECT_THROW(parseRemoteBody("a,\"b\n", P::kCsvComma), RemoteSourceError);
  EXPECT_THROW(parseRemoteBody("{", P::kJson), RemoteSourceError);
}

// Each parser on a body served over HTTP, shaped by a transform.
TEST(RemoteSource, EachParserOverHttp) {
  Server s;
  s.http.route("GET", "/data.json", [](const HttpRequest&) {
    return HttpResponse::json(R"({"items": [{"p": "192.0.2.0/24"}]})");
  });
  s.http.route("GET", "/data.csv", [](const HttpRequest&) {
    return HttpResponse::text("192.0.2.0/24,one\n198.51.100.0/24,two\n");
  });
  s.http.route("GET", "/data.ssv",
               [](const HttpRequest&) { return HttpResponse::text("192.0.2.0/24;one\n"); });
  s.http.route("GET", "/data.colon",
               [](const HttpRequest&) { return HttpResponse::text("one:two\n"); });
  s.http.route("GET", "/data.txt", [](const HttpRequest&) {
    return HttpResponse::text("192.0.2.0/24\n198.51.100.0/24\n");
  });
  s.start();
  using P = RemoteSource::Parser;
  EXPECT_EQ(dumpAll(fetchRemoteSource(source(s.url("/data.json"), ".items[] | {prefix: .p}"))),
            "{\"prefix\":\"192.0.2.0/24\"}\n");
  EXPECT_EQ(dumpAll(fetchRemoteSource(
                source(s.url("/data.csv"), ".[] | {prefix: .f1, name: .f2}", P::kCsvComma))),
            "{\"prefix\":\"192.0.2.0/24\",\"name\":\"one\"}\n"
            "{\"prefix\":\"198.51.100.0/24\",\"name\":\"two\"}\n");
  EXPECT_EQ(dumpAll(fetchRemoteSource(source(s.url("/data.ssv"), ".[]", P::kCsvSemicolon))),
            "{\"f1\":\"192.0.2.0/24\",\"f2\":\"one\"}\n");
  EXPECT_EQ(dumpAll(fetchRemoteSource(source(s.url("/data.colon"), ".[].f2", P::kCsvColon))),
            "\"two\"\n");
  EXPECT_EQ(dumpAll(fetchRemoteSource(
                source(s.url("/data.txt"), ".[] | {prefix: ., name: \"blocked\"}", P::kPlain))),
            "{\"prefix\":\"192.0.2.0/24\",\"name\":\"blocked\"}\n"
            "{\"prefix\":\"198.51.100.0/24\",\"name\":\"blocked\"}\n");
}

TEST(RemoteSource, HeadersAndPostReachTheServer) {
  Server s;
  std::mutex m;
  std::vector<std::string> seen;
  s.http.route("*", "/api", [&](const HttpRequest& r) {
    std::lock_guard lock(m);
    seen.push_back(r.method + " " + r.header("authorization") + " " + r.header("x-tenant") +
                   " accept=" + r.header("accept"));
    return HttpResponse::json(R"([{"ok": true}])");
  });
  s.start();
  RemoteSource src = source(s.url("/api"));
  src.method = "POST";
  src.headers = {{"Authorization", "Token s3cret"}, {"X-Tenant", "acme"}};
  EXPECT_EQ(dumpAll(fetchRemoteSource(src)), "{\"ok\":true}\n");
  src.method = "GET";
  src.headers["Accept"] = "application/vnd.netbox+json";
  fetchRemoteSource(src);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], "POST Token s3cret acme accept=application/json");
  EXPECT_EQ(seen[1], "GET Token s3cret acme accept=application/vnd.netbox+json");
}

// link-next: the JSON document's "next" field (NetBox-style), relative or absolute.
TEST(RemoteSource, LinkNextFollowsEveryPage) {
  Server s;
  std::atomic<int> requests{0};
  s.http.route("GET", "/api/prefixes", [&](const HttpRequest& r) {
    requests++;
    std::string page = r.query.count("page") ? r.query.at("page") : "1";
    std::string next = page == "1"   ? "\"/api/prefixes?page=2\""
                       : page == "2" ? "\"http://127.0.0.1:" + std::to_string(s.http.port()) +
                                           "/api/prefixes?page=3\""
                                     : "null";
    return HttpResponse::json(R"({"next": )" + next + R"(, "results": [{"prefix": "10.0.)" + page +
                              R"(.0/24"}]})");
  });
  s.start();
  RemoteSource src = source(s.url("/api/prefixes"), ".results[] | .prefix");
  for (auto p : {RemoteSource::Pagination::kLinkNext, RemoteSource::Pagination::kAuto}) {
    src.pagination = p;
    EXPECT_EQ(dumpAll(fetchRemoteSource(src)),
              "\"10.0.1.0/24\"\n\"10.0.2.0/24\"\n\"10.0.3.0/24\"\n");
  }
  EXPECT_EQ(requests.load(), 6);
  src.pagination = RemoteSource::Pagination::kNone;
  EXPECT_EQ(dumpAll(fetchRemoteSource(src)), "\"10.0.1.0/24\"\n");
  src.pagination = RemoteSource::Pagination::kRelNext;  // no Link header: one page
  EXPECT_EQ(dumpAll(fetchRemoteSource(src)), "\"10.0.1.0/24\"\n");
}

// rel-next: RFC 8288 Link headers (GitHub-style), among other relations.
TEST(RemoteSource, RelNextFollowsTheLinkHeader) {
  Server s;
  s.http.route("GET", "/list", [&](const HttpRequest& r) {
    int page = r.query.count("page") ? std::stoi(r.query.at("page")) : 1;
    HttpResponse resp = HttpResponse::json("[\"192.0.2." + std::to_string(page) + "\"]");
    std::string links = "</list?page=1>; rel=\"first\"";
    if (page < 3)
      links += ", </list?page=" + std::to_string(page + 1) + ">; title=\"a, b\"; rel=\"next\"";
    resp.headers.emplace_back("Link", links);
    return resp;
  });
  s.http.route("GET", "/loop", [&](const HttpRequest&) {
    HttpResponse resp = HttpResponse::json("[1]");
    resp.headers.emplace_back("Link", "</loop>; rel=next");
    return resp;
  });
  s.start();
  RemoteSource src = source(s.url("/list"));
  for (auto p : {RemoteSource::Pagination::kRelNext, RemoteSource::Pagination::kAuto}) {
    src.pagination = p;
    EXPECT_EQ(dumpAll(fetchRemoteSource(src)), "\"192.0.2.1\"\n\"192.0.2.2\"\n\"192.0.2.3\"\n");
  }
  src.pagination = RemoteSource::Pagination::kLinkNext;  // the body has no "next"
  EXPECT_EQ(dumpAll(fetchRemoteSource(src)), "\"192.0.2.1\"\n");
  RemoteSource loop = source(s.url("/loop"));
  EXPECT_NE(errorKind(loop).find("fetch: "), std::string::npos);
  EXPECT_NE(errorKind(loop).find("already fetched"), std::string::npos);
}

TEST(RemoteSource, LinkHeaderParsing) {
  EXPECT_EQ(linkNextTargets({R"(<https://a/?p=2>; rel="next", <https://a/?p=9>; rel="last")"}),
            std::vector<std::string>{"https://a/?p=2"});
  EXPECT_EQ(linkNextTargets({R"(<x>; rel="prev next")", R"(<y>; REL=Next)"}),
            (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(linkNextTargets({R"(<x>; rel="nextish", <z>; title="rel=next")"}),
            std::vector<std::string>{});
  EXPECT_EQ(linkNextTargets({R"(<x>; rel="prev"; rel="next")"}), std::vector<std::string>{});
  EXPECT_EQ(linkNextTargets({"garbage", "<unclosed"}), std::vector<std::string>{});
}

TEST(RemoteSource, FailuresHaveKinds) {
  Server s;
  s.http.route("GET", "/500", [](const HttpRequest&) { return HttpResponse::json("{}", 500); });
  s.http.route("GET", "/bad", [](const HttpRequest&) { return HttpResponse::json("[1,"); });
  s.http.route("GET", "/ok", [](const HttpRequest&) { return HttpResponse::json("[1, \"a\"]"); });
  s.start();
  EXPECT_EQ(errorKind(source(s.url("/500"))).substr(0, 8), "status: ");
  EXPECT_NE(errorKind(source(s.url("/500"))).find("HTTP status 500"), std::string::npos);
  EXPECT_EQ(errorKind(source(s.url("/bad"))).substr(0, 7), "parse: ");
  EXPECT_EQ(
      errorKind(source(s.url("/ok"), ".[] | . + 1")),
      "transform: " + s.url("/ok") + ": transform: string (\"a\") and number (1) cannot be added");
  EXPECT_EQ(errorKind(source(s.url("/ok"), ".[] | select(. == 2)")),
            "empty: the transform gave no value");
  uint16_t port = s.http.port();
  s.http.stop();
  EXPECT_EQ(errorKind(source("http://127.0.0.1:" + std::to_string(port) + "/ok")).substr(0, 7),
            "fetch: ");
}

// A source that starts failing keeps its data and is retried sooner than its interval, with a
// growing delay; it is updated again once the server recovers.
TEST(RemoteSources, FailingSourceKeepsDataAndRetries) {
  Server s;
  std::atomic<bool> failing{false};
  std::atomic<int> hits{0};
  std::atomic<int> version{1};
  s.http.route("GET", "/data", [&](const HttpRequest&) {
    hits++;
    if (failing) return HttpResponse::json("oops", 503);
    return HttpResponse::json("[" + std::to_string(version.load()) + "]");
  });
  s.start();
  std::map<std::string, RemoteSource> sources;
  sources["local"] = source(s.url("/data"));
  sources["local"].interval = 1600ms;  // first retry after 160 ms, then 320, 640, 1280...
  Metrics metrics;
  std::mutex m;
  std::vector<int> updates;
  RemoteSources rs(sources, &metrics, "akvo_test_remote", "test",
                   [&](const std::string& name, const std::vector<jq::Value>& values) {
                     EXPECT_EQ(name, "local");
                     std::lock_guard lock(m);
                     updates.push_back(values.at(0).get<int>());
                     return values.size();
                   });
  EXPECT_FALSE(rs.ready());
  rs.start();
  ASSERT_TRUE(rs.waitReady(5s));
  EXPECT_EQ(metrics.sum("akvo_test_remote_updates_total"), 1u);
  EXPECT_NE(metrics.render().find("akvo_test_remote_data_total{source=\"local\"} 1"),
            std::string::npos);
  failing = true;
  version = 2;
  int before = hits.load();
  // Within 1.4 s the source is asked at least 3 more times (at 1.6 s or so, then +160 ms,
  // +320 ms, +640 ms... is more than 3 by 4 s), never updated meanwhile.
  std::this_thread::sleep_for(3500ms);
  int during = hits.load() - before;
  EXPECT_GE(during, 3) << "not retried sooner than the interval";
  EXPECT_LE(during, 6) << "retried without backoff";
  EXPECT_GE(metrics.sum("akvo_test_remote_errors_total"), 2u);
  EXPECT_NE(
      metrics.render().find(R"(akvo_test_remote_errors_total{source="local",error="status"})"),
      std::string::npos)
      << metrics.render();
  {
    std::lock_guard lock(m);
    EXPECT_EQ(updates, std::vector<int>{1});  // the previous data is kept
  }
  failing = false;
  for (int i = 0; i < 100; i++) {
    {
      std::lock_guard lock(m);
      if (updates.size() > 1) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  rs.stop();
  std::lock_guard lock(m);
  ASSERT_GE(updates.size(), 2u);
  EXPECT_EQ(updates[1], 2);
}

// Stopping does not wait for a slow server: the transfer under way is aborted.
TEST(RemoteSources, StopAbortsAFetchUnderWay) {
  Server s;
  std::atomic<bool> release{false};
  s.http.route("GET", "/slow", [&](const HttpRequest&) {
    for (int i = 0; i < 100 && !release; i++) std::this_thread::sleep_for(50ms);
    return HttpResponse::json("[1]");
  });
  s.start();
  std::map<std::string, RemoteSource> sources{{"slow", source(s.url("/slow"))}};
  sources["slow"].timeout = 30s;
  RemoteSources rs(sources, nullptr, "akvo_test_remote", "test",
                   [](const std::string&, const std::vector<jq::Value>& v) { return v.size(); });
  rs.start();
  std::this_thread::sleep_for(200ms);  // the request is under way
  auto t0 = std::chrono::steady_clock::now();
  rs.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_FALSE(rs.ready());
  release = true;
}

// An update the component rejects is an error of kind "validate", and not ready yet.
TEST(RemoteSources, RejectedUpdateIsAValidateError) {
  Server s;
  s.http.route("GET", "/data", [](const HttpRequest&) { return HttpResponse::json("[1]"); });
  s.start();
  std::map<std::string, RemoteSource> sources{{"x", source(s.url("/data"))}};
  Metrics metrics;
  RemoteSources rs(sources, &metrics, "akvo_test_remote", "test",
                   [](const std::string&, const std::vector<jq::Value>&) -> size_t {
                     throw std::runtime_error("object 1: no prefix");
                   });
  rs.start();
  EXPECT_FALSE(rs.waitReady(500ms));
  rs.stop();
  EXPECT_NE(metrics.render().find(R"(akvo_test_remote_errors_total{source="x",error="validate"})"),
            std::string::npos);
  EXPECT_EQ(metrics.sum("akvo_test_remote_updates_total"), 0u);
}

RemoteSource readSource(const std::string& yaml) {
  YAML::Node n = YAML::Load(yaml);
  ConfigReader r(n, "test.yaml", "src");
  RemoteSource s;
  s.read(r);
  r.finish();
  return s;
}

std::string configError(const std::string& yaml) {
  try {
    readSource(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RemoteSource, ConfigKeysAndErrors) {
  RemoteSource s = readSource(R"(
url: https://example.net/ranges.json
method: POST
headers: {Authorization: "Token x", X-A: b}
timeout: 10s
interval: 10m
parser: csv-semicolon
pagination: rel-next
proxy: true
transform: |
  .[] | {prefix: .f1}
)");
  EXPECT_EQ(s.method, "POST");
  EXPECT_EQ(s.headers.at("Authorization"), "Token x");
  EXPECT_EQ(s.timeout, 10s);
  EXPECT_EQ(s.interval, 10min);
  EXPECT_EQ(s.parser, RemoteSource::Parser::kCsvSemicolon);
  EXPECT_EQ(s.pagination, RemoteSource::Pagination::kRelNext);
  EXPECT_TRUE(s.proxy);
  ASSERT_TRUE(s.program);
  RemoteSource d = readSource("url: http://x/\ninterval: 1m\n");
  EXPECT_EQ(d.method, "GET");
  EXPECT_EQ(d.timeout, 1min);
  EXPECT_EQ(d.parser, RemoteSource::Parser::kJson);
  EXPECT_EQ(d.pagination, RemoteSource::Pagination::kAuto);
  EXPECT_EQ(d.transform, ".[]");

  EXPECT_EQ(configError("url: http://x/\ninterval: 1m\nmethod: PUT\n"),
            "test.yaml:3:9: src.method: \"PUT\" is not a valid choice; valid choices: GET, POST");
  EXPECT_EQ(configError("url: http://x/\ninterval: 1m\nparser: xml\n"),
            "test.yaml:3:9: src.parser: \"xml\" is not a valid choice; valid choices: json, "
            "csv-comma, csv-semicolon, csv-colon, plain, csv-header");
  EXPECT_EQ(configError("url: http://x/\ninterval: 1m\npagination: pages\n"),
            "test.yaml:3:13: src.pagination: \"pages\" is not a valid choice; valid choices: "
            "auto, none, link-next, rel-next");
  EXPECT_EQ(configError("url: http://x/\ninterval: 30s\n"),
            "test.yaml:2:11: src.interval: must be at least 1m");
  EXPECT_NE(configError("url: http://x/\n").find("src.interval: missing"), std::string::npos);
  EXPECT_EQ(configError("url: ftp://x/\ninterval: 1m\n"),
            "test.yaml:1:6: src.url: \"ftp://x/\" is not an http:// or https:// URL");
  EXPECT_EQ(configError("url: http://x/\ninterval: 1m\ntimeout: 10ms\n"),
            "test.yaml:3:10: src.timeout: must be at least 1s");
  EXPECT_EQ(configError("url: http://x/\ninterval: 1m\ntransform: \".[] | {a: .b\"\n"),
            "test.yaml:3:12: src.transform: jq syntax error at 1:13: expected ',' or '}' in an "
            "object but found end of input");
  EXPECT_NE(configError("url: http://x/\ninterval: 1m\nheaders: [a]\n").find("src.headers"),
            std::string::npos);
  EXPECT_NE(configError("url: http://x/\ninterval: 1m\ncolor: red\n").find("color"),
            std::string::npos);
  EXPECT_NE(
      configError("url: http://x/\ninterval: 1m\ntls: {skip-verify: true, ca-file: /nonexistent}\n")
          .find("ca-file"),
      std::string::npos);
}

uint16_t freePort() { return testing::freeLoopbackPort(SOCK_STREAM); }

// HTTPS against a real TLS server (Python's http.server wrapped in ssl) with a certificate
// made by openssl for the test: verified with the test CA, refused with the system CAs,
// accepted with skip-verify.
TEST(RemoteSource, HttpsWithATestCertificate) {
  std::string dir = ::testing::TempDir() + "/akvo-remote-tls-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  auto run = [&](const std::string& cmd) {
    return std::system(("cd " + dir + " && " + cmd + " >/dev/null 2>&1").c_str()) == 0;
  };
  bool ok =
      run("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "
          "'/CN=akvo test CA'") &&
      run("openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "
          "'/CN=127.0.0.1'") &&
      run("printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext") &&
      run("openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out "
          "server.crt -days 2 -extfile san.ext") &&
      run("python3 -c 'import ssl, http.server'");
  if (!ok) {
    std::filesystem::remove_all(dir);
    GTEST_SKIP() << "openssl or python3 missing";
  }
  std::ofstream(dir + "/ranges.json") << R"({"prefixes": [{"ip_prefix": "192.0.2.0/24"}]})";
  std::ofstream(dir + "/serve.py") << R"(import http.server, ssl, sys, os
os.chdir(sys.argv[1])
httpd = http.server.HTTPServer(("127.0.0.1", int(sys.argv[2])), http.server.SimpleHTTPRequestHandler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("server.crt", "server.key")
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
httpd.serve_forever()
)";
  uint16_t port = freePort();
  std::string script = dir + "/serve.py", port_s = std::to_string(port);
  char* argv[] = {const_cast<char*>("python3"), script.data(), dir.data(), port_s.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, (dir + "/server.log").c_str(), O_WRONLY | O_CREAT, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawnp(&pid, "python3", &fa, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  struct Stop {
    pid_t pid;
    std::string dir;
    ~Stop() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      std::filesystem::remove_all(dir);
    }
  } stop{pid, dir};
  RemoteSource src =
      source("https://127.0.0.1:" + port_s + "/ranges.json", ".prefixes[] | {prefix: .ip_prefix}");
  src.tls.enable = true;
  src.tls.ca_file = dir + "/ca.crt";
  std::string got;
  for (int i = 0; i < 100; i++) {  // until the server listens
    try {
      got = dumpAll(fetchRemoteSource(src));
      break;
    } catch (const RemoteSourceError& e) {
      got = e.what();
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_EQ(got, "{\"prefix\":\"192.0.2.0/24\"}\n");
  RemoteSource system_cas = src;
  system_cas.tls = TlsConfig{};  // https with the system's CAs: the test CA is not one
  std::string e = errorKind(system_cas);
  EXPECT_EQ(e.substr(0, 7), "fetch: ") << e;
  EXPECT_NE(e.find("certificate"), std::string::npos) << e;
  RemoteSource skip = src;
  skip.tls.ca_file.clear();
  skip.tls.skip_verify = true;
  EXPECT_EQ(dumpAll(fetchRemoteSource(skip)), "{\"prefix\":\"192.0.2.0/24\"}\n");
}

}  // namespace
}  // namespace akvo
