#include "common/http_server.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

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
