#include "common/http_server.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include "common/log.h"
#include "inlet/udp.h"

namespace akvo {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
// One socket type for TCP and Unix (abstract) stream sockets: the server and the client take
// either, and everything after the connection (HTTP/1.1 with Beast) is the same.
using stream = net::generic::stream_protocol;

void HttpServer::Config::read(ConfigReader& r) {
  r.field("listen", listen);
  try {
    parseListen(listen);
  } catch (const std::exception& e) {
    r.fail("listen", e.what());
  }
  r.field("max-connections", max_connections, 1, 10000);
  r.field("max-body-size", max_body_size, 1024, int64_t(1) << 30);
  r.field("idle-timeout", idle_timeout);
  r.field("request-timeout", request_timeout);
  if (idle_timeout.count() <= 0) r.fail("idle-timeout", "must be more than 0");
  if (request_timeout.count() <= 0) r.fail("request-timeout", "must be more than 0");
  r.field("health-socket", health_socket);
  r.section("cache", [&](ConfigReader& c) {
    c.choice("type", cache.type, {"memory", "redis"});
    c.choice("protocol", cache.protocol, {"tcp", "unix"});
    c.field("server", cache.server);
    c.field("username", cache.username);
    c.field("password", cache.password);
    c.field("db", cache.db, 0, 65535);
    if (cache.protocol == "tcp") {
      size_t colon = cache.server.rfind(':');
      std::string port = colon == std::string::npos ? "" : cache.server.substr(colon + 1);
      bool ok = colon != std::string::npos && colon > 0 && !port.empty() && port.size() <= 5 &&
                port.find_first_not_of("0123456789") == std::string::npos &&
                std::stoul(port) >= 1 && std::stoul(port) <= 65535;
      if (!ok) c.fail("server", fmt::format("expected host:port, got \"{}\"", cache.server));
    } else if (cache.server.empty() || cache.server[0] != '/') {
      c.fail("server", fmt::format("expected the socket's absolute path with protocol unix, got \"{}\"",
                                   cache.server));
    }
    if (!cache.username.empty() && cache.password.empty())
      c.fail("password", "required with a username (Redis ACL users log in with both)");
  });
  // Room for the longest "/<service>" (docs/03-console-api.md) in the 107 bytes of a name.
  constexpr size_t kMaxName = 106 - std::string_view("/demo-exporter").size();
  if (!health_socket.empty() && (!health_socket.starts_with('@') || health_socket.size() < 2 ||
                                 health_socket.size() - 1 > kMaxName))
    r.fail("health-socket",
           fmt::format("expected \"@name\" (an abstract Unix socket, name of 1 to {} bytes) or "
                       "\"\" (none), got \"{}\"", kMaxName, health_socket));
}

bool HttpRequest::fromLoopback() const {
  // A reverse proxy on the same host connects from loopback for every client: a request it
  // forwarded (it says so in these headers) is not a local one.
  for (const char* h : {"x-forwarded-for", "forwarded", "x-real-ip"})
    if (headers.count(h)) return false;
  return remote == "127.0.0.1" || remote == "::1" || remote.starts_with("127.") ||
         remote == "::ffff:127.0.0.1";
}

std::string dumpJson(const nlohmann::json& doc) {
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string validUtf8(std::string s) {
  // Fast path: most answers are ASCII or valid UTF-8 already.
  auto valid_at = [&](size_t i) -> size_t {  // length of the valid sequence at i, 0 if none
    const auto* u = reinterpret_cast<const unsigned char*>(s.data());
    unsigned char c = u[i];
    if (c < 0x80) return 1;
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; k++)
      if ((u[i + k] & 0xc0) != 0x80) return 0;
    if (c == 0xe0 && u[i + 1] < 0xa0) return 0;   // overlong
    if (c == 0xed && u[i + 1] >= 0xa0) return 0;  // surrogates
    if (c == 0xf0 && u[i + 1] < 0x90) return 0;   // overlong
    if (c == 0xf4 && u[i + 1] >= 0x90) return 0;  // above U+10FFFF
    return n;
  };
  size_t i = 0;
  while (i < s.size()) {
    size_t n = valid_at(i);
    if (!n) break;
    i += n;
  }
  if (i == s.size()) return s;
  std::string out = s.substr(0, i);
  while (i < s.size()) {
    size_t n = valid_at(i);
    if (n) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      i++;
    }
  }
  return out;
}

HttpResponse HttpResponse::fromJson(const nlohmann::json& doc, int status) {
  return json(dumpJson(doc), status);
}

HttpResponse HttpResponse::error(int status, const std::string& message) {
  return fromJson(nlohmann::json{{"message", message}}, status);
}

struct HttpServer::Impl {
  net::io_context ioc;
  std::unique_ptr<net::basic_socket_acceptor<stream>> acceptor;
  stream protocol{AF_INET6, IPPROTO_TCP};  // of the listener, for the accepted sockets
  std::jthread thread;
  struct Conn {
    int fd;
    std::shared_ptr<std::atomic<bool>> done;
    std::shared_ptr<std::atomic<int64_t>> idle_since;
    std::jthread thread;
  };
  std::mutex conns_mutex;  // guards conns
  std::vector<Conn> conns;
};

HttpServer::HttpServer(Config config, Metrics& metrics)
    : config_(std::move(config)),
      metrics_(metrics),
      impl_(std::make_unique<Impl>()),
      inflight_(metrics.gauge(
          "akvo_http_inflight_requests",
          "HTTP requests being answered (handler running or answer being sent).")) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::route(const std::string& method, const std::string& path, Handler h) {
  std::lock_guard lock(routes_mutex_);
  routes_[{method, path}] = std::move(h);
}

void HttpServer::prefix(const std::string& method, const std::string& p, Handler h) {
  std::lock_guard lock(routes_mutex_);
  prefixes_.emplace_back(method, p, std::move(h));
  std::sort(prefixes_.begin(), prefixes_.end(), [](const auto& a, const auto& b) {
    return std::get<1>(a).size() > std::get<1>(b).size();
  });
}

namespace {
/// "@name": the Linux abstract Unix socket `name` (no file; per network namespace); else a TCP
/// "host:port".
stream::endpoint endpointOf(const std::string& address) {
  if (address.starts_with('@')) {
    std::string name = address.substr(1);
    if (name.empty() || name.size() > 106)
      throw std::runtime_error(
          fmt::format("{}: an abstract socket name has 1 to 106 bytes", address));
    // A leading NUL byte makes the name abstract; its length is the address's (no NUL after).
    return net::local::stream_protocol::endpoint(std::string(1, '\0') + name);
  }
  SockAddr a = parseListen(address);
  if (a.ss.ss_family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
    return tcp::endpoint(net::ip::address_v4(ntohl(s->sin_addr.s_addr)), ntohs(s->sin_port));
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
  net::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), &s->sin6_addr, 16);
  return tcp::endpoint(net::ip::address_v6(b), ntohs(s->sin6_port));
}

/// The peer's IP address as text ("127.0.0.1", "::1"), "unix" for a Unix socket.
std::string peerName(const stream::endpoint& ep) {
  const sockaddr* sa = ep.data();
  if (sa->sa_family == AF_INET) {
    auto* s = reinterpret_cast<const sockaddr_in*>(sa);
    return net::ip::address_v4(ntohl(s->sin_addr.s_addr)).to_string();
  }
  if (sa->sa_family == AF_INET6) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(sa);
    net::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &s->sin6_addr, 16);
    return net::ip::address_v6(b).to_string();
  }
  return sa->sa_family == AF_UNIX ? "unix" : "";
}

uint16_t portOf(const stream::endpoint& ep) {
  const sockaddr* sa = ep.data();
  if (sa->sa_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
  if (sa->sa_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
  return 0;
}
}  // namespace

void HttpServer::start() {
  const bool unix_socket = config_.listen.starts_with('@');
  stream::endpoint ep = endpointOf(config_.listen);
  boost::system::error_code ec;
  impl_->protocol = ep.protocol();
  impl_->acceptor = std::make_unique<net::basic_socket_acceptor<stream>>(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec && !unix_socket) impl_->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->acceptor.reset();
    throw std::runtime_error(
        fmt::format("http: cannot listen on {}: {}", config_.listen, ec.message()));
  }
  port_ = portOf(impl_->acceptor->local_endpoint());
  if (unix_socket) spdlog::info("http: listening on the abstract Unix socket {}", config_.listen);
  else spdlog::info("http: listening on {} (port {})", config_.listen, port_);
  impl_->thread = std::jthread([this](std::stop_token st) {
    while (!st.stop_requested()) {
      boost::system::error_code ec2;
      stream::socket sock(impl_->ioc);
      impl_->acceptor->accept(sock, ec2);
      if (ec2) {
        if (st.stop_requested() || !impl_->acceptor->is_open()) break;
        // Out of file descriptors (EMFILE) and the like: wait instead of spinning.
        static RateLimitedLog log;
        log.warn("http: cannot accept a connection: {}", ec2.message());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      std::lock_guard lock(impl_->conns_mutex);
      // Reap finished connection threads.
      std::erase_if(impl_->conns, [](Impl::Conn& c) { return c.done->load(); });
      if (active_.load() >= config_.max_connections) {
        // Full: the connection idle the longest (kept alive, waiting for a request) makes room,
        // so that idle clients cannot lock the API out; with none idle, the new one is refused.
        Impl::Conn* oldest = nullptr;
        for (auto& c : impl_->conns) {
          int64_t t = c.idle_since->load();
          if (t && !c.done->load() && (!oldest || t < oldest->idle_since->load())) oldest = &c;
        }
        if (!oldest) {
          metrics_.counter("akvo_http_connections_refused_total",
                           "Connections refused: max-connections busy with requests.").inc();
          sock.close();
          continue;
        }
        oldest->idle_since->store(0);
        ::shutdown(oldest->fd, SHUT_RDWR);
        metrics_.counter("akvo_http_connections_evicted_total",
                         "Idle kept-alive connections closed to make room for a new one.").inc();
      }
      std::string remote = peerName(sock.remote_endpoint(ec2));
      int fd = sock.release(ec2);
      active_++;
      auto done = std::make_shared<std::atomic<bool>>(false);
      auto idle = std::make_shared<std::atomic<int64_t>>(0);
      impl_->conns.push_back(Impl::Conn{fd, done, idle, std::jthread([this, fd, remote, done, idle] {
                                          try {
                                            serve(fd, remote, *idle);
                                          } catch (const std::exception& e) {
                                            // A connection's failure must not end the process.
                                            spdlog::warn("http: connection from {} dropped: {}",
                                                         remote, e.what());
                                          }
                                          active_--;
                                          done->store(true);
                                        })});
    }
  });
}

void HttpServer::stop() {
  if (!impl_->acceptor) return;
  boost::system::error_code ec;
  impl_->thread.request_stop();
  ::shutdown(impl_->acceptor->native_handle(), SHUT_RDWR);
  impl_->acceptor->close(ec);
  if (impl_->thread.joinable()) impl_->thread.join();
  std::vector<Impl::Conn> conns;
  {
    std::lock_guard lock(impl_->conns_mutex);
    conns.swap(impl_->conns);
  }
  for (auto& c : conns)
    if (!c.done->load()) ::shutdown(c.fd, SHUT_RDWR);
  conns.clear();  // joins
  impl_->acceptor.reset();
}

HttpServer::Routed HttpServer::dispatch(const HttpRequest& req) {
  Handler h;
  std::string pattern;
  {
    std::lock_guard lock(routes_mutex_);
    auto it = routes_.find({req.method, req.path});
    if (it == routes_.end()) it = routes_.find({"*", req.path});
    if (it != routes_.end()) {
      h = it->second;
      pattern = it->first.second;
    } else {
      for (const auto& [m, p, ph] : prefixes_)
        if ((m == req.method || m == "*") && req.path.starts_with(p)) {
          h = ph;
          pattern = p;
          break;
        }
    }
  }
  if (!h)
    return {HttpResponse::error(404, fmt::format("no route for {} {}", req.method, req.path)),
            kOtherHandler};
  try {
    return {h(req), pattern};
  } catch (const HttpError& e) {
    return {HttpResponse::error(e.status, e.what()), pattern};
  } catch (const std::exception& e) {
    // Not a refusal of the request but a failure behind it (the store, the saved filters'
    // database): the client gets the reason, the operator's log gets it too.
    failures_.warn("http: {} {}: {}", req.method, req.path, e.what());
    return {HttpResponse::error(500, e.what()), pattern};
  } catch (...) {
    failures_.warn("http: {} {}: internal error", req.method, req.path);
    return {HttpResponse::error(500, "internal error"), pattern};
  }
}

namespace {
/// The method as a metric label: a client can send any token, the labels stay few.
std::string methodLabel(std::string_view m) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
    if (m == known) return known;
  return "other";
}
}  // namespace

void HttpServer::count(const std::string& handler, const std::string& method, int status,
                       double seconds, size_t bytes) {
  const std::string m = methodLabel(method);
  metrics_.counter("akvo_http_requests_total", "HTTP requests served, by route.",
                   {{"handler", handler}, {"method", m}, {"code", std::to_string(status)}}).inc();
  metrics_.observe("akvo_http_request_seconds", "Time to answer an HTTP request, by route.",
                   seconds, {0.005, 0.05, 0.25, 1, 5, 30}, {{"handler", handler}, {"method", m}});
  metrics_.observe("akvo_http_response_size_bytes", "Size of HTTP response bodies, by route.",
                   double(bytes), {200, 1000, 10000, 100000, 1000000, 10000000},
                   {{"handler", handler}, {"method", m}});
}

namespace {
std::string urlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%') {
      auto hex = [&](size_t k) -> int {
        if (k >= s.size()) return -1;
        char c = s[k];
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
               : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      };
      int hi = hex(i + 1), lo = hex(i + 2);
      if (hi < 0 || lo < 0)
        throw HttpError(400, fmt::format("bad percent escape at byte {} of the URL", i));
      out += char(hi * 16 + lo);
      i += 2;
    } else out += s[i];
  }
  return out;
}
}  // namespace

namespace {
using Clock = std::chrono::steady_clock;
// Every wait of a connection has a deadline (Config::idle_timeout, request_timeout): a blocking
// read or write has none, and a client that sends nothing, a byte a second, or never reads
// would hold its thread and its slot forever.

// Waits until `fd` is ready for `events`, or false at the deadline (or on an error).
bool waitFd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, int(left));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

int64_t steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}
}  // namespace

void HttpServer::serve(int fd, std::string remote, std::atomic<int64_t>& idle_since) {
  net::io_context ioc;
  stream::socket sock(ioc);
  boost::system::error_code ec;
  sock.assign(impl_->protocol, fd, ec);
  sock.non_blocking(true, ec);  // reads and writes wait in waitFd(), with deadlines
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(uint64_t(config_.max_body_size));
    if (buffer.size() == 0) {  // (a pipelined request may be buffered already)
      idle_since.store(std::max<int64_t>(steadyMs(), 1));
      bool ready = waitFd(fd, POLLIN, Clock::now() + config_.idle_timeout);
      // The accept loop may have chosen this connection to make room (idle_since reset and
      // the socket shut down): then the read below sees the end of the stream.
      idle_since.store(0);
      if (!ready) break;
    }
    const auto deadline = Clock::now() + config_.request_timeout;
    while (!parser.is_done()) {
      http::read_some(sock, buffer, parser, ec);
      if (ec == net::error::would_block) {
        ec = {};
        if (!waitFd(fd, POLLIN, deadline)) break;
        continue;
      }
      if (ec) break;
    }
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      // Too large to read: say so (413, 431) before closing, rather than just closing.
      const bool body = ec == http::error::body_limit;
      std::string text = dumpJson(nlohmann::json{
          {"message", body ? fmt::format("request body over http.max-body-size ({} bytes)",
                                         config_.max_body_size)
                           : std::string("request headers too large")}});
      std::string out = fmt::format(
          "HTTP/1.1 {}\r\nServer: akvo\r\nContent-Type: application/json\r\n"
          "Content-Length: {}\r\nConnection: close\r\n\r\n{}",
          body ? "413 Payload Too Large" : "431 Request Header Fields Too Large", text.size(), text);
      const auto write_deadline = Clock::now() + config_.request_timeout;
      for (size_t sent = 0; sent < out.size();) {
        ssize_t n = ::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n > 0) sent += size_t(n);
        else if (n < 0 && (errno == EAGAIN || errno == EINTR) && waitFd(fd, POLLOUT, write_deadline)) continue;
        else break;
      }
      count(kOtherHandler, parser.is_header_done() ? std::string(parser.get().method_string()) : "",
            body ? 413 : 431, 0, text.size());
      // Lingering close: the client may still be sending the body; read and drop it for a
      // while (bounded), so that it gets to read the answer instead of a reset.
      ::shutdown(fd, SHUT_WR);
      const auto linger = Clock::now() + std::chrono::seconds(2);
      char drop[65536];
      for (int64_t left = 2 * config_.max_body_size + (1 << 20);
           left > 0 && waitFd(fd, POLLIN, linger);) {
        ssize_t n = ::recv(fd, drop, sizeof drop, 0);
        if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) break;
        if (n > 0) left -= n;
      }
      break;
    }
    if (ec || !parser.is_done()) break;
    auto& r = parser.get();
    HttpRequest req;
    req.method = std::string(r.method_string());
    std::string target(r.target());
    auto q = target.find('?');
    std::optional<HttpResponse> bad_url;
    try {
      req.path = urlDecode(target.substr(0, q));
      if (q != std::string::npos) {
        std::string_view qs(target);
        qs.remove_prefix(q + 1);
        while (!qs.empty()) {
          auto amp = qs.find('&');
          auto kv = qs.substr(0, amp);
          auto eq = kv.find('=');
          req.query[urlDecode(kv.substr(0, eq))] =
              eq == std::string_view::npos ? "" : urlDecode(kv.substr(eq + 1));
          if (amp == std::string_view::npos) break;
          qs.remove_prefix(amp + 1);
        }
      }
    } catch (const HttpError& e) {
      bad_url = HttpResponse::error(e.status, e.what());
    }
    for (const auto& f : r) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      req.headers[name] = std::string(f.value());
    }
    req.body = std::move(r.body());
    req.remote = remote;
    auto start = std::chrono::steady_clock::now();
    // In flight from the handler's start to the answer's last byte (or the write's failure).
    inflight_.add(1);
    struct Landed {
      Gauge& g;
      ~Landed() { g.add(-1); }
    } landed{inflight_};
    Routed routed = bad_url ? Routed{std::move(*bad_url), kOtherHandler} : dispatch(req);
    HttpResponse& resp = routed.response;
    // Counted before the answer is sent: a client that reads the metrics next sees its request.
    count(routed.handler, req.method, resp.status,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
          resp.body.size());
    http::response<http::string_body> res{static_cast<http::status>(resp.status), r.version()};
    res.set(http::field::server, "akvo");
    res.set(http::field::content_type, resp.content_type);
    // A header longer than that (X-SQL-Query of a large filter) is informative only: cut, it
    // no longer makes the serializer throw and the client get no answer.
    static constexpr size_t kMaxHeaderValue = 8192;
    for (const auto& [k, v] : resp.headers)
      res.set(k, v.size() > kMaxHeaderValue ? v.substr(0, kMaxHeaderValue) + "..." : v);
    res.keep_alive(r.keep_alive());
    res.body() = std::move(resp.body);
    res.prepare_payload();
    http::response_serializer<http::string_body> sr{res};
    const auto write_deadline = Clock::now() + config_.request_timeout;
    while (!sr.is_done()) {
      http::write_some(sock, sr, ec);
      if (ec == net::error::would_block) {
        ec = {};
        if (!waitFd(fd, POLLOUT, write_deadline)) break;
        continue;
      }
      if (ec) break;
    }
    if (ec || !sr.is_done() || !res.keep_alive()) break;
  }
  sock.shutdown(stream::socket::shutdown_send, ec);
}

HttpClientResponse httpRequest(const std::string& host_port, const std::string& method,
                               const std::string& target, const std::string& body, int timeout_ms) {
  // Non-blocking, every wait in waitFd() before one deadline: Asio's blocking calls have no
  // timeout, and a server that accepts and never answers must not hang `akvo healthcheck`.
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const bool unix_socket = host_port.starts_with('@');
  stream::endpoint ep = endpointOf(host_port);
  if (!unix_socket) {  // 0.0.0.0 or [::] (a listen address): talk to loopback
    const sockaddr* sa = ep.data();
    if (sa->sa_family == AF_INET) {
      auto* s = reinterpret_cast<const sockaddr_in*>(sa);
      if (s->sin_addr.s_addr == 0)
        ep = tcp::endpoint(net::ip::address_v4::loopback(), ntohs(s->sin_port));
    } else {
      auto* s = reinterpret_cast<const sockaddr_in6*>(sa);
      if (IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr))
        ep = tcp::endpoint(net::ip::address_v6::loopback(), ntohs(s->sin6_port));
    }
  }
  net::io_context ioc;
  stream::socket sock(ioc);
  boost::system::error_code ec;
  sock.open(ep.protocol(), ec);
  if (!ec) sock.non_blocking(true, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: {}", host_port, ec.message()));
  const int fd = sock.native_handle();
  if (::connect(fd, ep.data(), socklen_t(ep.size())) != 0) {
    // A Unix socket whose backlog is full says EAGAIN at once: busy, as good as no answer.
    if (errno != EINPROGRESS)
      throw std::runtime_error(fmt::format("{}: {}", host_port, std::strerror(errno)));
    if (!waitFd(fd, POLLOUT, deadline))
      throw std::runtime_error(
          fmt::format("{}: cannot connect within {} ms", host_port, timeout_ms));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) throw std::runtime_error(fmt::format("{}: {}", host_port, std::strerror(err)));
  }
  http::verb verb = http::string_to_verb(method);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, unix_socket ? "localhost" : host_port);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::request_serializer<http::string_body> sr{req};
  while (!sr.is_done()) {
    http::write_some(sock, sr, ec);
    if (ec == net::error::would_block) {
      ec = {};
      if (!waitFd(fd, POLLOUT, deadline))
        throw std::runtime_error(
            fmt::format("{}: cannot send the request within {} ms", host_port, timeout_ms));
      continue;
    }
    if (ec) throw std::runtime_error(fmt::format("{}: {}", host_port, ec.message()));
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(uint64_t(1) << 32);
  while (!parser.is_done()) {
    http::read_some(sock, buffer, parser, ec);
    if (ec == net::error::would_block) {
      ec = {};
      if (!waitFd(fd, POLLIN, deadline))
        throw std::runtime_error(fmt::format("{}: no answer within {} ms", host_port, timeout_ms));
      continue;
    }
    if (ec) throw std::runtime_error(fmt::format("{}: {}", host_port, ec.message()));
  }
  HttpClientResponse out;
  out.status = int(parser.get().result_int());
  out.body = parser.get().body();
  sock.shutdown(stream::socket::shutdown_both, ec);
  return out;
}

}  // namespace akvo
