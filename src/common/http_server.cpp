#include "common/http_server.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <poll.h>

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
  std::unique_ptr<tcp::acceptor> acceptor;
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
    : config_(std::move(config)), metrics_(metrics), impl_(std::make_unique<Impl>()) {}

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

void HttpServer::start() {
  SockAddr a = parseListen(config_.listen);
  tcp::endpoint ep;
  if (a.ss.ss_family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
    ep = tcp::endpoint(net::ip::address_v4(ntohl(s->sin_addr.s_addr)), ntohs(s->sin_port));
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
    net::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &s->sin6_addr, 16);
    ep = tcp::endpoint(net::ip::address_v6(b), ntohs(s->sin6_port));
  }
  boost::system::error_code ec;
  impl_->acceptor = std::make_unique<tcp::acceptor>(impl_->ioc);
  impl_->acceptor->open(ep.protocol(), ec);
  if (!ec) impl_->acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor->bind(ep, ec);
  if (!ec) impl_->acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(fmt::format("http: cannot listen on {}: {}", config_.listen, ec.message()));
  port_ = impl_->acceptor->local_endpoint().port();
  spdlog::info("http: listening on {} (port {})", config_.listen, port_);
  impl_->thread = std::jthread([this](std::stop_token st) {
    while (!st.stop_requested()) {
      boost::system::error_code ec2;
      tcp::socket sock(impl_->ioc);
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
      std::string remote = sock.remote_endpoint(ec2).address().to_string();
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

HttpResponse HttpServer::dispatch(const HttpRequest& req) {
  Handler h;
  {
    std::lock_guard lock(routes_mutex_);
    auto it = routes_.find({req.method, req.path});
    if (it == routes_.end()) it = routes_.find({"*", req.path});
    if (it != routes_.end()) {
      h = it->second;
    } else {
      for (const auto& [m, p, ph] : prefixes_)
        if ((m == req.method || m == "*") && req.path.starts_with(p)) {
          h = ph;
          break;
        }
    }
  }
  if (!h) return HttpResponse::error(404, fmt::format("no route for {} {}", req.method, req.path));
  try {
    return h(req);
  } catch (const HttpError& e) {
    return HttpResponse::error(e.status, e.what());
  } catch (const std::exception& e) {
    return HttpResponse::error(500, e.what());
  } catch (...) {
    return HttpResponse::error(500, "internal error");
  }
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
  tcp::socket sock(ioc);
  boost::system::error_code ec;
  sock.assign(tcp::v6(), fd, ec);
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
      metrics_.counter("akvo_http_requests_total", "HTTP requests served.",
                       {{"code", body ? "413" : "431"}}).inc();
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
    HttpResponse resp = bad_url ? std::move(*bad_url) : dispatch(req);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.counter("akvo_http_requests_total", "HTTP requests served.",
                     {{"code", std::to_string(resp.status)}}).inc();
    metrics_.observe("akvo_http_request_seconds", "Time to answer an HTTP request.", secs,
                     {0.005, 0.05, 0.25, 1, 5, 30});
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
  sock.shutdown(tcp::socket::shutdown_send, ec);
}

HttpClientResponse httpRequest(const std::string& host_port, const std::string& method,
                               const std::string& target, const std::string& body, int timeout_ms) {
  SockAddr a = parseListen(host_port);
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::milliseconds(timeout_ms));
  tcp::endpoint ep;
  if (a.ss.ss_family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&a.ss);
    uint32_t ip = ntohl(s->sin_addr.s_addr);
    if (ip == 0) ip = 0x7f000001;  // 0.0.0.0: talk to loopback
    ep = tcp::endpoint(net::ip::address_v4(ip), ntohs(s->sin_port));
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&a.ss);
    net::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), &s->sin6_addr, 16);
    auto addr = net::ip::address_v6(b);
    if (addr.is_unspecified()) addr = net::ip::address_v6::loopback();
    ep = tcp::endpoint(addr, ntohs(s->sin6_port));
  }
  stream.connect(ep);
  http::verb verb = http::string_to_verb(method);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, host_port);
  req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(uint64_t(1) << 32);
  http::read(stream, buffer, parser);
  HttpClientResponse out;
  out.status = int(parser.get().result_int());
  out.body = parser.get().body();
  boost::system::error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  return out;
}

}  // namespace akvo
