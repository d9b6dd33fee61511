#include "outlet/routing/bmp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "inlet/udp.h"  // parseListen

namespace akvo::routing {

void BmpProvider::Config::read(ConfigReader& r) {
  r.field("listen", listen);
  try {
    parseListen(listen);
  } catch (const std::exception& e) {
    r.fail("listen", e.what());
  }
  r.field("rds", rds);
  for (const auto& rd : rds)
    if (!parseRd(rd))
      r.fail("rds", "invalid route distinguisher \"" + rd +
                        "\" (expected 0, ASN:number or IPv4:number)");
  r.field("rts", rts);
  for (const auto& rt : rts)
    if (!parseRd(rt))
      r.fail("rts", "invalid route target \"" + rt +
                        "\" (expected 0, ASN:number or IPv4:number)");
  r.list("vrfs", [&](ConfigReader& v, size_t) {
    Vrf rule;
    std::string exporter, rd;
    int64_t vrf_id = -1, if_index = -1;
    v.field("exporter", exporter);
    v.field("vrf-id", vrf_id, -1, 0xffffffff);
    v.field("if-index", if_index, -1, 0xffffffff);
    v.field("rd", rd);
    if (!exporter.empty()) {
      rule.exporter = IPv6Prefix::parse(exporter);
      if (!rule.exporter) v.fail("exporter", "invalid address or subnet \"" + exporter + "\"");
    }
    if (vrf_id >= 0) rule.vrf_id = uint32_t(vrf_id);
    if (if_index >= 0) rule.if_index = uint32_t(if_index);
    auto parsed = parseRd(rd);
    if (rd.empty() || !parsed)
      v.fail("rd", "invalid route distinguisher \"" + rd +
                       "\" (expected 0, ASN:number or IPv4:number)");
    rule.rd = *parsed;
    vrfs.push_back(rule);
  });
  r.field("collect-asns", collect_asns);
  r.field("collect-aspaths", collect_aspaths);
  r.field("collect-communities", collect_communities);
  r.field("keep", keep);
  r.field("receive-buffer", receive_buffer, 0, INT32_MAX);  // an int for setsockopt
  r.field("message-buffer", message_buffer, 1, int64_t(1) << 24);
  // At least the largest message (1 MiB): a full queue then still takes any message.
  r.field("message-buffer-max-bytes", message_buffer_max_bytes, int64_t(1) << 20,
          int64_t(1) << 40);
  r.field("max-connections", max_connections, 1, 65536);
  r.field("message-timeout", message_timeout);
  if (message_timeout <= Duration(0)) r.fail("message-timeout", "must be positive");
  r.field("idle-timeout", idle_timeout);
}

namespace {
constexpr uint32_t kMaxMessage = 1 << 20;  // BGP messages are at most 64 KiB (RFC 8654)
// A reader's buffer starts here, grows (doubling) only as bytes arrive, never to the length a
// header announces, and shrinks back here once the large message is gone.
constexpr size_t kInitialBuffer = 1 << 16;
// After accept() fails for want of descriptors or memory, wait this long: the pending
// connection stays in the backlog and poll() would report it again at once.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
}

BmpProvider::BmpProvider(Config config, Metrics& metrics)
    : config_(std::move(config)),
      metrics_(metrics),
      queue_full_(metrics.counter("akvo_outlet_routing_bmp_queue_full_total",
                                  "Times a BMP reader found the message queue full (message-buffer "
                                  "messages or message-buffer-max-bytes bytes) and waited.")),
      queue_not_full_(metrics.counter("akvo_outlet_routing_bmp_queue_not_full_total",
                                      "Times a waiting BMP reader could queue again.")),
      lookups_(metrics.counter("akvo_outlet_routing_lookups_total", "Routing lookups.")),
      lookup_failures_(metrics.counter("akvo_outlet_routing_lookup_failures_total",
                                       "Routing lookups that found no route.")),
      ignored_nlri_(metrics.counter("akvo_outlet_routing_bmp_ignored_nlri_total",
                                    "NLRI of address families not handled (skipped).")),
      routes_added_(metrics.counter("akvo_outlet_routing_bmp_routes_added_total",
                                    "Routes announced (added or replaced) in the RIB.")),
      routes_withdrawn_(metrics.counter("akvo_outlet_routing_bmp_routes_withdrawn_total",
                                        "Routes withdrawn.")),
      routes_filtered_(metrics.counter("akvo_outlet_routing_bmp_routes_filtered_total",
                                       "Routes announced with a route distinguisher not in rds, or without a route "
                                       "target in rts.")),
      peers_removed_(metrics.counter("akvo_outlet_routing_bmp_peers_removed_total",
                                     "Peers removed (peer down, or exporter gone for `keep`).")),
      received_bytes_(metrics.counter("akvo_outlet_routing_bmp_received_bytes_total",
                                      "Bytes received from BMP exporters.")),
      connections_rejected_(
          metrics.counter("akvo_outlet_routing_bmp_connections_rejected_total",
                          "BMP connections closed at once because max-connections were open.")),
      accept_errors_(metrics.counter("akvo_outlet_routing_bmp_accept_errors_total",
                                     "Failed accept() calls on the BMP listener (e.g. EMFILE).")),
      message_timeouts_(metrics.counter(
          "akvo_outlet_routing_bmp_timeouts_total",
          "BMP sessions closed for a timeout, by kind (message: a partial message not completed "
          "within message-timeout; idle: nothing received within idle-timeout).",
          {{"kind", "message"}})),
      idle_timeouts_(metrics.counter(
          "akvo_outlet_routing_bmp_timeouts_total",
          "BMP sessions closed for a timeout, by kind (message: a partial message not completed "
          "within message-timeout; idle: nothing received within idle-timeout).",
          {{"kind", "idle"}})) {
  for (const auto& rd : config_.rds) rds_.push_back(*parseRd(rd));
  for (const auto& rt : config_.rts) rts_.push_back(*parseRd(rt));
  for (auto t : {"route-monitoring", "statistics-report", "peer-down", "peer-up", "initiation",
                 "termination", "route-mirroring"})
    messages_[t] = &metrics.counter("akvo_outlet_routing_bmp_messages_total",
                                    "BMP messages received, by type.", {{"type", t}});
  for (size_t s = 0; s < size_t(BmpStatus::kCount); s++)
    errors_.push_back(&metrics.counter("akvo_outlet_routing_bmp_errors_total",
                                       "BMP messages that failed to decode, by reason.",
                                       {{"reason", std::string(bmpStatusName(BmpStatus(s)))}}));
  metrics.gauge("akvo_outlet_routing_bmp_connections", "Open BMP connections.", {},
                [this] { return double(connections_.load()); });
  metrics.gauge("akvo_outlet_routing_rib_peers", "Peers in the RIB.", {},
                [this] { return double(rib_.peers()); });
  metrics.gauge("akvo_outlet_routing_rib_routes", "Routes in the RIB.", {},
                [this] { return double(rib_.routes()); });
  metrics.gauge("akvo_outlet_routing_rib_prefixes", "Prefixes in the RIB.", {},
                [this] { return double(rib_.prefixes()); });
  metrics.gauge("akvo_outlet_routing_rib_attribute_sets", "Interned attribute sets.", {},
                [this] { return double(rib_.attributeSets()); });
  metrics.gauge("akvo_outlet_routing_rib_memory_bytes", "Approximate memory held by the RIB.", {},
                [this] { return double(rib_.memoryBytes()); });
  metrics.gauge("akvo_outlet_routing_bmp_queue_depth", "BMP messages waiting to be processed.",
                {}, [this] {
                  std::lock_guard lock(queue_mutex_);
                  return double(queue_.size());
                });
  metrics.gauge("akvo_outlet_routing_bmp_queue_bytes",
                "Bytes of the BMP messages waiting to be processed.", {}, [this] {
                  std::lock_guard lock(queue_mutex_);
                  return double(queue_bytes_);
                });
}

BmpProvider::~BmpProvider() { stop(); }

void BmpProvider::start() {
  SockAddr a = parseListen(config_.listen);
  int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("bmp: socket: " + std::string(strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) < 0 || listen(fd, 64) < 0) {
    std::string err = strerror(errno);
    close(fd);
    throw std::runtime_error("bmp: cannot listen on " + config_.listen + ": " + err);
  }
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  started_ = true;
  processor_ = std::jthread([this](std::stop_token st) { process(st); });
  acceptor_ = std::jthread([this](std::stop_token st) { accept(st); });
  spdlog::info("bmp: listening on {} (port {})", config_.listen, port_);
}

void BmpProvider::stop() {
  if (!started_) return;
  started_ = false;
  acceptor_.request_stop();
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard lock(readers_mutex_);
    for (auto& [id, t] : readers_) t.request_stop();
  }
  not_full_.notify_all();
  std::map<uint64_t, std::jthread> readers;
  {
    std::lock_guard lock(readers_mutex_);
    readers.swap(readers_);
  }
  readers.clear();  // joins
  processor_.request_stop();
  not_empty_.notify_all();
  if (processor_.joinable()) processor_.join();
  close(listen_fd_);
  listen_fd_ = -1;
  spdlog::info("bmp: stopped");
}

void BmpProvider::accept(std::stop_token st) {
  while (!st.stop_requested()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      // The peer gave up before we accepted, or a signal: nothing to wait for.
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
        continue;
      // EMFILE, ENFILE, ENOBUFS, ENOMEM...: the connection stays pending and poll() returns at
      // once, so back off instead of spinning.
      const int err = errno;
      accept_errors_.inc();
      accept_log_.warn("bmp: accept failed: {} (retrying in {} ms)", strerror(err),
                       kAcceptBackoff.count());
      std::mutex m;
      std::unique_lock lock(m);
      std::condition_variable_any().wait_for(lock, st, kAcceptBackoff, [] { return false; });
      continue;
    }
    if (connections_.load() >= config_.max_connections) {
      connections_rejected_.inc();
      accept_log_.warn("bmp: {} connections open (max-connections), closing a new one",
                       connections_.load());
      close(fd);
      continue;
    }
    // BMP has no keepalive: TCP's finds a router gone without a FIN (rebooted, cable cut)
    // within about two minutes, so that its session (and descriptor, and thread) ends.
    int on = 1, idle = 60, interval = 10, count = 6;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count));
    if (config_.receive_buffer > 0) {
      int size = int(config_.receive_buffer);
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
    IPv6Addr exporter;
    if (peer.ss_family == AF_INET) {
      exporter = IPv6Addr::fromV4Bytes(
          reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(&peer)->sin_addr));
    } else {
      exporter = IPv6Addr::fromV6Bytes(
          reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr));
    }
    uint64_t id = next_id_++;
    spdlog::info("bmp: exporter {} connected", exporter.toString());
    connections_++;
    std::lock_guard lock(readers_mutex_);
    // Finished readers are joined here, so that the map does not grow with reconnections.
    for (uint64_t done : finished_) readers_.erase(done);
    finished_.clear();
    readers_.emplace(id, std::jthread([this, fd, id, exporter](std::stop_token rst) {
                       read(fd, id, exporter, rst);
                     }));
  }
}

bool BmpProvider::push(Event e, std::stop_token st) {
  const size_t bytes = e.message.size();
  // An empty queue takes any message, so that one larger than the byte bound still passes.
  auto room = [&] {
    return queue_.size() < size_t(config_.message_buffer) &&
           (queue_.empty() || queue_bytes_ + bytes <= size_t(config_.message_buffer_max_bytes));
  };
  std::unique_lock lock(queue_mutex_);
  if (!room()) {
    queue_full_.inc();
    not_full_.wait(lock, st, room);
    if (st.stop_requested()) return false;
    queue_not_full_.inc();
  }
  queue_bytes_ += bytes;
  queue_.push_back(std::move(e));
  not_empty_.notify_one();
  return true;
}

void BmpProvider::read(int fd, uint64_t id, IPv6Addr exporter, std::stop_token st) {
  using Clock = std::chrono::steady_clock;
  std::vector<uint8_t> buffer(kInitialBuffer);
  size_t have = 0;
  bool ok = true;
  auto last_received = Clock::now();
  // Set while a partial message is buffered: when it must be complete. It starts once the
  // complete messages before it are queued, so back-pressure does not count against the peer.
  std::optional<Clock::time_point> message_deadline;
  while (ok && !st.stop_requested()) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 200);
    // Checked even while bytes trickle in: a peer sending one byte at a time is not completing
    // its message.
    if (message_deadline && Clock::now() >= *message_deadline) {
      message_timeouts_.inc();
      log_.warn("bmp: exporter {}: message not completed within {} ({} bytes), closing",
                exporter.toString(), formatDuration(config_.message_timeout), have);
      break;
    }
    if (r <= 0) {
      auto now = Clock::now();
      if (config_.idle_timeout > Duration(0) && now - last_received >= config_.idle_timeout) {
        idle_timeouts_.inc();
        log_.warn("bmp: exporter {}: nothing received within {}, closing", exporter.toString(),
                  formatDuration(config_.idle_timeout));
        break;
      }
      continue;
    }
    if (buffer.size() - have < 4096) buffer.resize(buffer.size() * 2);
    ssize_t n = recv(fd, buffer.data() + have, buffer.size() - have, 0);
    if (n <= 0) break;
    received_bytes_.inc(uint64_t(n));
    have += size_t(n);
    last_received = Clock::now();
    // Frame: every complete message is queued; a partial one waits for more bytes.
    size_t off = 0;
    while (have - off >= BmpDecoder::kHeaderSize) {
      uint32_t len = BmpDecoder::messageLength({buffer.data() + off, have - off});
      if (buffer[off] != 3 || len < BmpDecoder::kHeaderSize || len > kMaxMessage) {
        errors_[size_t(buffer[off] != 3 ? BmpStatus::kBadVersion : BmpStatus::kTruncated)]->inc();
        spdlog::warn("bmp: exporter {}: bad framing (version {}, length {}), closing",
                     exporter.toString(), buffer[off], len);
        ok = false;
        break;
      }
      if (have - off < len) break;  // the buffer grows as the rest arrives, not before
      if (!push(Event{id, exporter, std::vector<uint8_t>(buffer.begin() + std::ptrdiff_t(off),
                                                         buffer.begin() + std::ptrdiff_t(off + len))},
                st)) {
        ok = false;
        break;
      }
      off += len;
    }
    if (off > 0) {
      std::memmove(buffer.data(), buffer.data() + off, have - off);
      have -= off;
      if (buffer.size() > kInitialBuffer && have < kInitialBuffer / 2) {
        buffer.resize(kInitialBuffer);
        buffer.shrink_to_fit();
      }
    }
    if (have == 0)
      message_deadline.reset();
    else if (off > 0 || !message_deadline)
      message_deadline = Clock::now() + config_.message_timeout;
  }
  close(fd);
  connections_--;
  spdlog::info("bmp: exporter {} disconnected", exporter.toString());
  // The processor must learn the session ended even when stopping.
  {
    std::lock_guard lock(queue_mutex_);
    queue_.push_back(Event{id, exporter, {}});
    not_empty_.notify_one();
  }
  std::lock_guard lock(readers_mutex_);
  finished_.push_back(id);
}

struct BmpProvider::Session {
  IPv6Addr exporter;
  BmpDecoder decoder;
  std::map<std::tuple<IPv6Addr, uint64_t, uint8_t>, Rib::PeerId> peers;
};

/// Applies decoded messages of one session to the RIB.
class BmpProvider::Sink : public BmpSink {
 public:
  Sink(BmpProvider& p, Session& s, std::map<Rib::PeerId, std::chrono::steady_clock::time_point>& stale)
      : p_(p), s_(s), stale_(stale) {}
  Rib::PeerId peerId(const BmpPeer& peer) {
    auto key = std::make_tuple(peer.address, peer.distinguisher, peer.type);
    auto it = s_.peers.find(key);
    if (it != s_.peers.end()) return it->second;
    Rib::PeerId id = p_.rib_.peer(s_.exporter, peer);
    stale_.erase(id);  // the exporter came back before `keep`: the peer lives on
    s_.peers.emplace(key, id);
    return id;
  }
  void initiation(std::string_view name, std::string_view) override {
    p_.messages_["initiation"]->inc();
    spdlog::info("bmp: exporter {} initiated the session (sysName {})", s_.exporter.toString(),
                 name);
  }
  void peerUp(const BmpPeer& peer) override {
    p_.messages_["peer-up"]->inc();
    peerId(peer);
  }
  void peerDown(const BmpPeer& peer) override {
    p_.messages_["peer-down"]->inc();
    auto key = std::make_tuple(peer.address, peer.distinguisher, peer.type);
    auto it = s_.peers.find(key);
    Rib::PeerId id = it != s_.peers.end() ? it->second : p_.rib_.peer(s_.exporter, peer);
    if (it != s_.peers.end()) s_.peers.erase(it);
    p_.rib_.removePeer(id);
    p_.peers_removed_.inc();
  }
  void statistics(const BmpPeer&) override { p_.messages_["statistics-report"]->inc(); }
  void termination() override { p_.messages_["termination"]->inc(); }
  void routes(const BmpPeer& peer, const PathAttributes& attrs, std::span<const Nlri> announced,
              std::span<const Nlri> withdrawn) override {
    p_.messages_["route-monitoring"]->inc();
    if (announced.empty() && withdrawn.empty()) return;  // End-of-RIB marker
    const auto& cfg = p_.config_;
    const PathAttributes* a = &attrs;
    if (!cfg.collect_aspaths || !cfg.collect_communities || !cfg.collect_asns) {
      filtered_ = attrs;
      if (!cfg.collect_aspaths && cfg.collect_asns && !attrs.as_path.empty())
        filtered_.as_path = {attrs.as_path.back()};  // keeps the origin AS only
      else if (!cfg.collect_aspaths || !cfg.collect_asns)
        filtered_.as_path.clear();
      if (!cfg.collect_communities) {
        filtered_.communities.clear();
        filtered_.large_communities.clear();
      }
      a = &filtered_;
    }
    // Routes of an RD instance peer (RFC 7854 §4.2, peer type 1) belong to the VRF of the
    // peer distinguisher (the RD) when their NLRI carries none (plain unicast).
    const uint64_t peer_rd = peer.type == 1 ? peer.distinguisher : 0;
    if (!p_.rds_.empty() || peer_rd != 0) {
      auto keep = [&](const Nlri& n) {
        return p_.rds_.empty() || std::find(p_.rds_.begin(), p_.rds_.end(), n.rd) != p_.rds_.end();
      };
      auto filter = [&](std::span<const Nlri> in, std::vector<Nlri>& out) {
        out.clear();
        for (Nlri n : in) {
          if (n.rd == 0) n.rd = peer_rd;
          if (keep(n)) out.push_back(n);
        }
      };
      filter(announced, ann_);
      filter(withdrawn, wd_);
      p_.routes_filtered_.inc(announced.size() - ann_.size());
      announced = ann_;
      withdrawn = wd_;
    }
    // Route targets: the UPDATE's announcements are kept when one of its RTs is wanted ("0":
    // when it has none). Withdrawals carry no attributes: they always apply (removing a route
    // never kept is a no-op).
    if (!p_.rts_.empty() && !announced.empty()) {
      const auto& rts = attrs.route_targets;
      auto wanted = [&](uint64_t rt) {
        return std::find(p_.rts_.begin(), p_.rts_.end(), rt) != p_.rts_.end();
      };
      const bool keep = rts.empty() ? wanted(0) : std::any_of(rts.begin(), rts.end(), wanted);
      if (!keep) {
        p_.routes_filtered_.inc(announced.size());
        announced = {};
      }
    }
    p_.rib_.update(peerId(peer), *a, announced, withdrawn);
    p_.routes_added_.inc(announced.size());
    p_.routes_withdrawn_.inc(withdrawn.size());
  }

 private:
  BmpProvider& p_;
  Session& s_;
  std::map<Rib::PeerId, std::chrono::steady_clock::time_point>& stale_;
  PathAttributes filtered_;
  std::vector<Nlri> ann_, wd_;
};

void BmpProvider::process(std::stop_token st) {
  std::map<uint64_t, Session> sessions;
  std::map<Rib::PeerId, std::chrono::steady_clock::time_point> stale;
  uint64_t ignored_before = 0;
  for (;;) {
    Event e;
    {
      std::unique_lock lock(queue_mutex_);
      not_empty_.wait_for(lock, st, std::chrono::milliseconds(500), [&] { return !queue_.empty(); });
      if (queue_.empty()) {
        if (st.stop_requested()) break;
      } else {
        e = std::move(queue_.front());
        queue_.pop_front();
        queue_bytes_ -= e.message.size();
        // Every waiting reader looks: the bytes freed may be enough for a small message but
        // not for the large one of the reader notify_one() would pick.
        not_full_.notify_all();
      }
    }
    auto now = std::chrono::steady_clock::now();
    for (auto it = stale.begin(); it != stale.end();) {
      if (it->second <= now) {
        rib_.removePeer(it->first);
        peers_removed_.inc();
        it = stale.erase(it);
      } else {
        ++it;
      }
    }
    if (e.connection == 0) {
      rib_.reclaim();  // idle: free what the last changes retired
      continue;
    }
    auto [it, fresh] = sessions.try_emplace(e.connection);
    Session& s = it->second;
    if (fresh) s.exporter = e.exporter;
    if (e.message.empty() ||
        (e.message.size() > 5 && e.message[5] == uint8_t(BmpType::kTermination))) {
      if (!e.message.empty()) {
        Sink sink(*this, s, stale);
        s.decoder.decode(e.message, sink);
      }
      // Session over: its peers stay for `keep`, then go (RT-2).
      for (const auto& [key, id] : s.peers) stale[id] = now + config_.keep;
      s.peers.clear();
      if (e.message.empty()) sessions.erase(it);
      continue;
    }
    Sink sink(*this, s, stale);
    ignored_before = s.decoder.ignoredNlri();
    BmpStatus status = s.decoder.decode(e.message, sink);
    ignored_nlri_.inc(s.decoder.ignoredNlri() - ignored_before);
    if (e.message[5] == uint8_t(BmpType::kRouteMirroring)) messages_["route-mirroring"]->inc();
    if (status != BmpStatus::kOk) {
      errors_[size_t(status)]->inc();
      log_.warn("bmp: exporter {}: cannot decode message type {}: {}", s.exporter.toString(),
                e.message[5], bmpStatusName(status));
    }
  }
}

std::optional<uint64_t> BmpProvider::rdFor(const FlowRecord& flow, bool destination) const {
  if (config_.vrfs.empty()) return std::nullopt;
  const uint32_t vrf = destination && flow.egress_vrf_id ? flow.egress_vrf_id : flow.ingress_vrf_id;
  const uint32_t ifindex = destination ? flow.out_if : flow.in_if;
  for (const auto& rule : config_.vrfs) {
    if (rule.exporter && !rule.exporter->contains(flow.exporter_address)) continue;
    if (rule.vrf_id && *rule.vrf_id != vrf) continue;
    if (rule.if_index && *rule.if_index != ifindex) continue;
    return rule.rd;
  }
  return std::nullopt;
}

bool BmpProvider::lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
                         RouteInfo& out, std::optional<uint64_t> rd) const {
  lookups_.inc();
  if (rib_.lookup(exporter, ip, next_hop, out, rd)) return true;
  lookup_failures_.inc();
  return false;
}

}  // namespace akvo::routing
