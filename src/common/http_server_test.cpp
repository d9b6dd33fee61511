#include "common/http_server.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <thread>

namespace akvo {
namespace {

TEST(Utf8, InvalidSequencesAreReplaced) {
  EXPECT_EQ(validUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(validUtf8("caf\xc3\xa9"), "caf\xc3\xa9");                // valid é kept
  EXPECT_EQ(validUtf8("Caf\xe9!"), "Caf\xef\xbf\xbd!");               // Latin-1 é
  EXPECT_EQ(validUtf8("\xff\xfe"), "\xef\xbf\xbd\xef\xbf\xbd");       // one U+FFFD per bad byte
  EXPECT_EQ(validUtf8("a\xc3"), "a\xef\xbf\xbd");                     // truncated at the end
  EXPECT_EQ(validUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");       // overlong '/'
  EXPECT_EQ(validUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(validUtf8("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");       // 4-byte emoji kept
  // What nlohmann then parses and dumps without throwing.
  auto j = nlohmann::json::parse("[\"" + validUtf8("Caf\xe9") + "\"]");
  EXPECT_EQ(j[0], "Caf\xef\xbf\xbd");
  EXPECT_EQ(dumpJson(nlohmann::json{{"m", "Caf\xe9"}}), "{\"m\":\"Caf\xef\xbf\xbd\"}");
}

// Behind a reverse proxy on the same host, every request comes from loopback: one the proxy
// says it forwarded is not local (the SQL and ClickHouse endpoints answer local ones only).
TEST(HttpServer, ForwardedRequestsAreNotLocal) {
  HttpRequest r;
  r.remote = "127.0.0.1";
  EXPECT_TRUE(r.fromLoopback());
  for (const char* h : {"x-forwarded-for", "forwarded", "x-real-ip"}) {
    HttpRequest f = r;
    f.headers[h] = "198.51.100.7";
    EXPECT_FALSE(f.fromLoopback()) << h;
  }
  r.remote = "192.0.2.1";
  EXPECT_FALSE(r.fromLoopback());
}

// Requests that used to end the process: each gets an answer and the server keeps serving.
TEST(HttpServer, BadBytesAndEscapesGetAnErrorNotACrash) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  HttpServer http(hc, metrics);
  http.route("POST", "/echo", [](const HttpRequest& req) -> HttpResponse {
    throw HttpError(400, "cannot parse " + req.body);  // a message echoing the request
  });
  http.route("GET", "/throw-int", [](const HttpRequest&) -> HttpResponse { throw 42; });
  http.route("GET", "/fail", [](const HttpRequest&) -> HttpResponse {
    throw std::runtime_error("saved filters database: gone");
  });
  http.route("GET", "/ok", [](const HttpRequest& req) {
    return HttpResponse::fromJson(nlohmann::json{{"q", req.query.count("a") ? req.query.at("a") : ""}});
  });
  http.start();
  std::string hp = "127.0.0.1:" + std::to_string(http.port());

  auto echo = httpRequest(hp, "POST", "/echo", "\xff\"");
  EXPECT_EQ(echo.status, 400);
  EXPECT_EQ(nlohmann::json::parse(echo.body)["message"], "cannot parse \xef\xbf\xbd\"");

  auto not_found = httpRequest(hp, "GET", "/docs/%ff");  // the 404 repeats the path
  EXPECT_EQ(not_found.status, 404);
  EXPECT_NO_THROW(nlohmann::json::parse(not_found.body));

  for (const char* bad : {"/ok%zz", "/ok?a=%4", "/ok?a=%g1", "/ok%"}) {
    auto r = httpRequest(hp, "GET", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(nlohmann::json::parse(r.body)["message"].get<std::string>().find("percent escape"),
              std::string::npos);
  }
  EXPECT_EQ(httpRequest(hp, "GET", "/throw-int").status, 500);
  // A failure behind the request: the reason in the answer, and in the log (rate-limited).
  {
    std::ostringstream log;
    auto previous = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
    for (int i = 0; i < 20; i++) {
      auto r = httpRequest(hp, "GET", "/fail");
      EXPECT_EQ(r.status, 500);
      EXPECT_EQ(nlohmann::json::parse(r.body)["message"], "saved filters database: gone");
    }
    spdlog::set_default_logger(previous);
    std::string text = log.str();
    size_t lines = 0;
    for (size_t at = 0; (at = text.find("http: GET /fail: saved filters database: gone", at)) != std::string::npos; at++)
      lines++;
    EXPECT_GE(lines, 1u) << text;
    EXPECT_LE(lines, 5u) << "rate-limited: " << text;
  }

  // Over max-body-size: a 413 with a JSON message, not a closed connection.
  auto big = httpRequest(hp, "POST", "/echo", std::string(size_t(hc.max_body_size) + 1, 'x'));
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(nlohmann::json::parse(big.body)["message"].get<std::string>().find("max-body-size"),
            std::string::npos);
  auto ok = httpRequest(hp, "GET", "/ok?a=%41+b");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(nlohmann::json::parse(ok.body)["q"], "A b");
  http.stop();
}

// Clients that hold connections cannot lock the API out: idle kept-alive connections make room
// for new ones when max-connections are open, and a request that never completes (slowloris)
// or an answer never read ends at request-timeout.
TEST(HttpServer, IdleAndSlowClientsDoNotLockTheApiOut) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  hc.max_connections = 4;
  hc.request_timeout = std::chrono::milliseconds(500);
  HttpServer http(hc, metrics);
  http.route("GET", "/ok", [](const HttpRequest&) { return HttpResponse::json("{}"); });
  http.start();
  std::string hp = "127.0.0.1:" + std::to_string(http.port());
  auto connect = [&] {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(http.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  };
  // Four idle connections (each sent one request and kept the connection): the fifth client
  // is still served, and again and again.
  std::vector<int> idle;
  for (int i = 0; i < 4; i++) {
    int fd = connect();
    std::string req = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), 0), ssize_t(req.size()));
    char buf[512];
    ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);
    idle.push_back(fd);
  }
  for (int i = 0; i < 6; i++) EXPECT_EQ(httpRequest(hp, "GET", "/ok", "", 2000).status, 200) << i;
  EXPECT_GE(metrics.sum("akvo_http_connections_evicted_total"), 1u);
  // A request sent a byte at a time and never finished is closed after request-timeout.
  int slow = connect();
  ASSERT_EQ(::send(slow, "GET /ok HTTP/1.1\r\nHo", 20, 0), 20);
  auto t0 = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(::recv(slow, &c, 1, 0), 0);  // the server closed it
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  for (int fd : idle) ::close(fd);
  ::close(slow);
  http.stop();
}

}  // namespace
}  // namespace akvo

namespace akvo {
namespace {

/// A name no other process uses: abstract names are shared by the whole network namespace.
std::string uniqueSocketName(const char* what) {
  static std::atomic<int> n{0};
  return fmt::format("@akvo-test-{}-{}-{}", what, getpid(), n++);
}

bool contains(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

// GEN-10: the server listens on an abstract Unix socket ("@name") as on TCP, and the client
// reaches it; the name is one per namespace (a second server cannot have it); stop() returns.
TEST(HttpServer, AbstractUnixSocket) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = uniqueSocketName("unix");
  HttpServer http(hc, metrics);
  http.route("GET", "/api/v0/healthcheck", [](const HttpRequest& req) {
    return HttpResponse::fromJson(nlohmann::json{{"status", "ok"}, {"remote", req.remote}});
  });
  http.start();
  EXPECT_EQ(http.port(), 0);
  auto r = httpRequest(hc.listen, "GET", "/api/v0/healthcheck");
  EXPECT_EQ(r.status, 200);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["status"], "ok");
  EXPECT_EQ(body["remote"], "unix");  // never taken for loopback (SQL endpoint)
  EXPECT_EQ(httpRequest(hc.listen, "GET", "/nope").status, 404);

  HttpServer second(hc, metrics);
  EXPECT_THROW(second.start(), std::runtime_error);  // taken
  // Nobody there: an error at once, not a wait.
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(httpRequest(uniqueSocketName("none"), "GET", "/"), std::runtime_error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  http.stop();
  EXPECT_THROW(httpRequest(hc.listen, "GET", "/api/v0/healthcheck"), std::runtime_error);
  // Free again once stopped.
  HttpServer third(hc, metrics);
  EXPECT_NO_THROW(third.start());
  EXPECT_EQ(httpRequest(hc.listen, "GET", "/x").status, 404);
  third.stop();
}

// The client gives up at its timeout when a server takes the connection and never answers
// (`akvo healthcheck` against a wedged process must end).
TEST(HttpServer, ClientTimesOutOnASilentServer) {
  const std::string name = uniqueSocketName("silent");
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::memcpy(a.sun_path + 1, name.data() + 1, name.size() - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a),
                   socklen_t(offsetof(sockaddr_un, sun_path) + name.size())), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // connections wait in the backlog, never accepted
  auto t0 = std::chrono::steady_clock::now();
  try {
    httpRequest(name, "GET", "/api/v0/healthcheck", "", 300);
    ADD_FAILURE() << "an answer from a server that sends none";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no answer within 300 ms"), std::string::npos) << e.what();
  }
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(3));
  ::close(fd);
}

// OBS-3: requests counted by route pattern (not the raw path) and method; time and size per
// route; requests in flight.
TEST(HttpServer, MetricsPerRoute) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  HttpServer http(hc, metrics);
  std::mutex m;
  std::condition_variable cv;
  bool entered = false, release = false;
  http.route("GET", "/api/v0/healthcheck", [](const HttpRequest&) {
    return HttpResponse::json("{\"status\":\"ok\"}");
  });
  http.prefix("*", "/api/v0/console/", [](const HttpRequest&) { return HttpResponse::text("12345"); });
  http.route("GET", "/slow", [&](const HttpRequest&) {
    std::unique_lock l(m);
    entered = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
    return HttpResponse::json("{}");
  });
  http.start();
  std::string hp = "127.0.0.1:" + std::to_string(http.port());
  EXPECT_EQ(httpRequest(hp, "GET", "/api/v0/healthcheck").status, 200);
  EXPECT_EQ(httpRequest(hp, "GET", "/api/v0/console/graph/line?x=1").status, 200);
  EXPECT_EQ(httpRequest(hp, "POST", "/api/v0/console/filter/validate", "{}").status, 200);
  EXPECT_EQ(httpRequest(hp, "GET", "/api/v0/console/widget/top/src-as").status, 200);
  EXPECT_EQ(httpRequest(hp, "GET", "/no/such/path/1").status, 404);
  EXPECT_EQ(httpRequest(hp, "GET", "/no/such/path/2").status, 404);
  EXPECT_EQ(httpRequest(hp, "PROPFIND", "/api/v0/healthcheck").status, 404);  // the route is GET
  EXPECT_EQ(httpRequest(hp, "GET", "/bad%zz").status, 400);

  std::string out = metrics.render();
  EXPECT_TRUE(contains(out, "akvo_http_requests_total{handler=\"/api/v0/healthcheck\",method=\"GET\",code=\"200\"} 1")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_requests_total{handler=\"/api/v0/console/\",method=\"GET\",code=\"200\"} 2")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_requests_total{handler=\"/api/v0/console/\",method=\"POST\",code=\"200\"} 1")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_requests_total{handler=\"other\",method=\"GET\",code=\"404\"} 2")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_requests_total{handler=\"other\",method=\"other\",code=\"404\"} 1")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_requests_total{handler=\"other\",method=\"GET\",code=\"400\"} 1")) << out;
  EXPECT_EQ(out.find("/no/such/path"), std::string::npos);  // raw paths are no labels
  EXPECT_EQ(out.find("graph/line"), std::string::npos);
  EXPECT_TRUE(contains(out, "akvo_http_request_seconds_count{handler=\"/api/v0/console/\",method=\"GET\"} 2")) << out;
  // Response bodies: 15 bytes of health, 5 bytes twice from the console prefix.
  EXPECT_TRUE(contains(out, "akvo_http_response_size_bytes_sum{handler=\"/api/v0/healthcheck\",method=\"GET\"} 15")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_response_size_bytes_sum{handler=\"/api/v0/console/\",method=\"GET\"} 10")) << out;
  EXPECT_TRUE(contains(out, "akvo_http_response_size_bytes_bucket{handler=\"/api/v0/console/\",method=\"GET\",le=\"200\"} 2")) << out;

  // In flight: 1 while a handler runs, 0 once its answer is sent (the server's thread notes it
  // just after the client has the answer: waited for).
  const Gauge& inflight = metrics.gauge("akvo_http_inflight_requests", "");
  auto settled = [&] {
    for (int i = 0; i < 200 && inflight.value() != 0; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return inflight.value();
  };
  EXPECT_EQ(settled(), 0.0);
  std::thread slow([&] { EXPECT_EQ(httpRequest(hp, "GET", "/slow").status, 200); });
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(5), [&] { return entered; }));
  }
  EXPECT_EQ(inflight.value(), 1.0);
  {
    std::lock_guard l(m);
    release = true;
  }
  cv.notify_all();
  slow.join();
  EXPECT_EQ(settled(), 0.0);
  http.stop();
}

HttpServer::Config readHttp(const std::string& yaml) {
  HttpServer::Config c;
  ConfigReader r(YAML::Load(yaml), "t.yaml", "http");
  c.read(r);
  r.finish();
  return c;
}

TEST(HttpServer, HealthSocketKey) {
  EXPECT_EQ(readHttp("{}").health_socket, "@akvo");
  EXPECT_EQ(readHttp("{health-socket: '@akvo-2'}").health_socket, "@akvo-2");
  EXPECT_EQ(readHttp("{health-socket: ''}").health_socket, "");
  for (const char* bad : {"{health-socket: akvo}", "{health-socket: '@'}",
                          "{health-socket: /run/akvo.sock}"}) {
    try {
      readHttp(bad);
      ADD_FAILURE() << bad;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("health-socket"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(readHttp("{health-sockets: '@x'}"), ConfigError);  // unknown key
  EXPECT_THROW(readHttp(fmt::format("{{health-socket: '@{}'}}", std::string(94, 'x'))), ConfigError);
  EXPECT_NO_THROW(readHttp(fmt::format("{{health-socket: '@{}'}}", std::string(92, 'x'))));
}

}  // namespace
}  // namespace akvo
