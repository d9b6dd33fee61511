#pragma once
/// The HTTP server every role embeds (Boost.Beast): API, metrics, web UI. One thread per
/// connection with bounded concurrency; handlers are plain functions from request to response.
/// A handler that throws gets a JSON error `{"message": ...}` with status 500 (or the status of
/// an HttpError). It listens on TCP, or on a Linux abstract Unix socket (`@name`: the health
/// sockets, docs/03-console-api.md).
///
/// Metrics, labelled by route pattern (`handler`: the exact path or the prefix registered,
/// `other` when no route matched) and method: akvo_http_requests_total{handler,method,code},
/// akvo_http_request_seconds{handler,method}, akvo_http_response_size_bytes{handler,method},
/// akvo_http_inflight_requests.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"

namespace akvo {

struct HttpRequest {
  std::string method;  ///< "GET", "POST"...
  std::string path;    ///< without the query string
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  ///< lower-cased names
  std::string body;
  std::string remote;  ///< peer address
  /// From this host, and not forwarded by a proxy (X-Forwarded-For, Forwarded, X-Real-IP).
  bool fromLoopback() const;
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  static HttpResponse json(const std::string& body, int status = 200) {
    return HttpResponse{status, "application/json", body, {}};
  }
  static HttpResponse text(const std::string& body, int status = 200) {
    return HttpResponse{status, "text/plain; charset=utf-8", body, {}};
  }
  /// A JSON document as the body. Strings that are not valid UTF-8 (an SNMP description in
  /// Latin-1, bytes echoed from a request) are written with U+FFFD in place of the bad bytes:
  /// nlohmann's dump() would throw on them.
  static HttpResponse fromJson(const nlohmann::json& doc, int status = 200);
  static HttpResponse error(int status, const std::string& message);
};

/// `doc` as JSON text, invalid UTF-8 replaced (never throws on bad bytes).
std::string dumpJson(const nlohmann::json& doc);
/// `s` with every invalid UTF-8 sequence replaced by U+FFFD (for store output parsed as JSON).
std::string validUtf8(std::string s);

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status(status) {}
  int status;
};

class HttpServer {
 public:
  struct Config {
    /// "host:port" (TCP), or "@name" for the abstract Unix socket `name` (set by the
    /// application for its health sockets: the configuration key takes TCP only).
    std::string listen = "127.0.0.1:8081";
    /// Abstract Unix socket answering the health check, "" for none (`http.health-socket`).
    /// Read here, used by the application (app.cpp), which runs a server of its own on it.
    std::string health_socket = "@akvo";
    int64_t max_connections = 64;
    int64_t max_body_size = 1 << 20;
    /// A kept-alive connection waits this long for its next request; a request (headers and
    /// body) must arrive, and its answer be taken, within request_timeout. Full
    /// (max-connections), the connection idle the longest is closed for a new one.
    Duration idle_timeout = std::chrono::seconds(30);
    Duration request_timeout = std::chrono::seconds(30);
    /// The console's response cache (`http.cache`, Akvorado's keys): "memory", in the process
    /// (console.cache-size, cache-max-bytes), or "redis", shared by the consoles using it.
    struct Cache {
      std::string type = "memory";
      std::string protocol = "tcp";           ///< tcp, or unix for a socket
      std::string server = "127.0.0.1:6379";  ///< host:port, or the socket's path
      std::string username, password;         ///< an ACL user, or the password alone
      int64_t db = 0;
    } cache;
    void read(ConfigReader& r);
  };
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  HttpServer(Config config, Metrics& metrics);
  ~HttpServer();
  /// Exact path match for `method` ("*" for any method).
  void route(const std::string& method, const std::string& path, Handler h);
  /// Prefix match, tried after exact routes, longest prefix first.
  void prefix(const std::string& method, const std::string& prefix, Handler h);
  /// Binds (throws std::runtime_error on failure) and serves in the background.
  void start();
  void stop();
  /// The TCP port listened on (0 on a Unix socket).
  uint16_t port() const { return port_; }
  /// The `handler` label of requests no route matched.
  static constexpr const char* kOtherHandler = "other";

 private:
  struct Impl;
  struct Routed {
    HttpResponse response;
    std::string handler;  ///< the route's pattern (metric label), kOtherHandler for none
  };
  /// `idle_since`: steady-clock milliseconds since the connection waits for its next request,
  /// 0 while it reads or answers one (the accept loop closes the oldest idle one when full).
  void serve(int fd, std::string remote, std::atomic<int64_t>& idle_since);
  Routed dispatch(const HttpRequest& req);
  void count(const std::string& handler, const std::string& method, int status, double seconds,
             size_t bytes);
  Config config_;
  Metrics& metrics_;
  std::unique_ptr<Impl> impl_;
  Gauge& inflight_;
  std::mutex routes_mutex_;  // guards routes_ and prefixes_ (set before start, read after)
  std::map<std::pair<std::string, std::string>, Handler> routes_;
  std::vector<std::tuple<std::string, std::string, Handler>> prefixes_;
  uint16_t port_ = 0;
  std::atomic<int> active_{0};
  RateLimitedLog failures_;  ///< handlers' unexpected errors (500), also counted by code
};

/// Minimal blocking HTTP client for loopback use (akvo sql, akvo healthcheck, tests):
/// `host_port` is "host:port", or "@name" for an abstract Unix socket. The whole exchange
/// (connect, send, answer) ends within `timeout_ms`. Throws std::runtime_error when the server
/// cannot be reached or does not answer in time.
struct HttpClientResponse {
  int status = 0;
  std::string body;
};
HttpClientResponse httpRequest(const std::string& host_port, const std::string& method,
                               const std::string& target, const std::string& body = "",
                               int timeout_ms = 5000);

}  // namespace akvo
