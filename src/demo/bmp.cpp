#include "demo/bmp.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "inlet/udp.h"  // parseListen

namespace akvo::demo {

namespace {

struct Writer {
  std::vector<uint8_t> b;
  void u8(uint32_t v) { b.push_back(uint8_t(v)); }
  void u16(uint32_t v) {
    u8(v >> 8);
    u8(v);
  }
  void u32(uint32_t v) {
    u16(v >> 16);
    u16(v);
  }
  void bytes(const uint8_t* p, size_t n) { b.insert(b.end(), p, p + n); }
  void put32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; i++) b[at + size_t(i)] = uint8_t(v >> (24 - 8 * i));
  }
  void put16(size_t at, uint32_t v) {
    b[at] = uint8_t(v >> 8);
    b[at + 1] = uint8_t(v);
  }
};

/// RFC 7854 §4.1 common header; the length is patched by finish().
Writer header(uint8_t type) {
  Writer w;
  w.u8(3);
  w.u32(0);
  w.u8(type);
  return w;
}
std::vector<uint8_t> finish(Writer& w) {
  w.put32(1, uint32_t(w.b.size()));
  return std::move(w.b);
}

/// RFC 7854 §4.2 per-peer header: a global instance peer.
void peerHeader(Writer& w, const BmpSession& s) {
  bool v6 = !s.peer_ip.isV4Mapped();
  w.u8(0);
  w.u8(v6 ? 0x80 : 0);
  for (int i = 0; i < 8; i++) w.u8(0);
  if (v6) {
    w.bytes(s.peer_ip.bytes.data(), 16);
  } else {
    for (int i = 0; i < 12; i++) w.u8(0);
    w.bytes(s.peer_ip.bytes.data() + 12, 4);
  }
  w.u32(s.peer_asn);
  w.u32(0xc0000202);  // BGP identifier
  w.u32(uint32_t(time(nullptr)));
  w.u32(0);
}

/// RFC 4271 §4.2 OPEN with 4-byte ASN (RFC 6793) and IPv4/IPv6 unicast (RFC 4760).
void open(Writer& w, uint32_t asn, uint32_t id) {
  size_t start = w.b.size();
  for (int i = 0; i < 16; i++) w.u8(0xff);
  w.u16(0);
  w.u8(1);
  w.u8(4);
  w.u16(asn > 0xffff ? 23456 : asn);
  w.u16(90);
  w.u32(id);
  w.u8(2 + 6 + 2 + 6 + 2 + 6);
  w.u8(2), w.u8(6), w.u8(65), w.u8(4), w.u32(asn);
  w.u8(2), w.u8(6), w.u8(1), w.u8(4), w.u16(1), w.u8(0), w.u8(1);
  w.u8(2), w.u8(6), w.u8(1), w.u8(4), w.u16(2), w.u8(0), w.u8(1);
  w.put16(start + 16, uint32_t(w.b.size() - start));
}

void prefixBytes(Writer& w, const IPv6Prefix& p) {
  bool v4 = p.addr.isV4Mapped() && p.len >= 96;
  unsigned bits = v4 ? p.len - 96u : p.len;
  w.u8(bits);
  w.bytes(p.addr.bytes.data() + (v4 ? 12 : 0), (bits + 7) / 8);
}

/// Route Monitoring with one UPDATE (RFC 4271 §4.3).
std::vector<uint8_t> update(const BmpSession& s, const BmpRoute& r,
                            const std::vector<IPv6Prefix>& prefixes, bool v6, bool withdraw) {
  Writer w = header(0);
  peerHeader(w, s);
  size_t bgp = w.b.size();
  for (int i = 0; i < 16; i++) w.u8(0xff);
  w.u16(0);
  w.u8(2);
  size_t wd_len = w.b.size();
  w.u16(0);
  if (withdraw && !v6) {
    for (const auto& p : prefixes) prefixBytes(w, p);
    w.put16(wd_len, uint32_t(w.b.size() - wd_len - 2));
  }
  size_t attr_len = w.b.size();
  w.u16(0);
  if (!withdraw) {
    w.u8(0x40), w.u8(1), w.u8(1), w.u8(0);  // ORIGIN IGP
    w.u8(0x50), w.u8(2), w.u16(r.as_path.empty() ? 0 : 2 + 4 * r.as_path.size());  // AS_PATH
    if (!r.as_path.empty()) {
      w.u8(2), w.u8(uint32_t(r.as_path.size()));
      for (auto a : r.as_path) w.u32(a);
    }
    if (!v6) {
      w.u8(0x40), w.u8(3), w.u8(4);
      IPv6Addr nh = s.peer_ip.isV4Mapped() ? s.peer_ip : *IPv6Addr::parse("192.0.2.2");
      w.bytes(nh.bytes.data() + 12, 4);
    }
    if (!r.communities.empty()) {
      w.u8(0xd0), w.u8(8), w.u16(4 * r.communities.size());
      for (auto c : r.communities) w.u32(c);
    }
    if (!r.large_communities.empty()) {
      w.u8(0xd0), w.u8(32), w.u16(12 * r.large_communities.size());
      for (auto c : r.large_communities) w.u32(c.asn), w.u32(c.local1), w.u32(c.local2);
    }
  }
  if (v6) {
    // RFC 4760 §3 and §4: MP_REACH_NLRI / MP_UNREACH_NLRI for IPv6 unicast.
    w.u8(0x90), w.u8(withdraw ? 15 : 14);
    size_t mp_len = w.b.size();
    w.u16(0);
    w.u16(2), w.u8(1);
    if (!withdraw) {
      w.u8(16);
      IPv6Addr nh = s.peer_ip.isV4Mapped() ? *IPv6Addr::parse("2001:db8::2") : s.peer_ip;
      w.bytes(nh.bytes.data(), 16);
      w.u8(0);
    }
    for (const auto& p : prefixes) prefixBytes(w, p);
    w.put16(mp_len, uint32_t(w.b.size() - mp_len - 2));
  }
  w.put16(attr_len, uint32_t(w.b.size() - attr_len - 2));
  if (!withdraw && !v6)
    for (const auto& p : prefixes) prefixBytes(w, p);
  w.put16(bgp + 16, uint32_t(w.b.size() - bgp));
  return finish(w);
}

std::vector<std::vector<uint8_t>> updates(const BmpSession& s, const BmpRoute& r, bool withdraw) {
  std::vector<std::vector<uint8_t>> out;
  for (bool v6 : {false, true}) {
    std::vector<IPv6Prefix> chunk;
    for (const auto& p : r.prefixes) {
      if ((p.addr.isV4Mapped() && p.len >= 96) == v6) continue;
      chunk.push_back(p);
      if (chunk.size() == 200) {
        out.push_back(update(s, r, chunk, v6, withdraw));
        chunk.clear();
      }
    }
    if (!chunk.empty()) out.push_back(update(s, r, chunk, v6, withdraw));
  }
  return out;
}

}  // namespace

std::vector<uint8_t> bmpInitiation(std::string_view sys_name, std::string_view sys_descr) {
  Writer w = header(4);
  w.u16(1), w.u16(uint32_t(sys_descr.size()));
  w.bytes(reinterpret_cast<const uint8_t*>(sys_descr.data()), sys_descr.size());
  w.u16(2), w.u16(uint32_t(sys_name.size()));
  w.bytes(reinterpret_cast<const uint8_t*>(sys_name.data()), sys_name.size());
  return finish(w);
}

std::vector<uint8_t> bmpPeerUp(const BmpSession& s) {
  Writer w = header(3);
  peerHeader(w, s);
  w.bytes(s.local_ip.bytes.data(), 16);  // RFC 7854 §4.10: IPv4 in the last 4 bytes
  if (s.local_ip.isV4Mapped()) std::memset(w.b.data() + w.b.size() - 16, 0, 12);
  w.u16(179), w.u16(40000);
  open(w, s.local_asn, 0xc0000201);
  open(w, s.peer_asn, 0xc0000202);
  return finish(w);
}

std::vector<uint8_t> bmpPeerDown(const BmpSession& s) {
  Writer w = header(2);
  peerHeader(w, s);
  w.u8(4);  // remote system closed, no data
  return finish(w);
}

std::vector<uint8_t> bmpStatistics(const BmpSession& s, uint64_t routes) {
  Writer w = header(1);
  peerHeader(w, s);
  w.u32(1);
  w.u16(7), w.u16(8);  // routes in Adj-RIB-In (RFC 7854 §4.8, 64-bit gauge)
  w.u32(uint32_t(routes >> 32)), w.u32(uint32_t(routes));
  return finish(w);
}

std::vector<uint8_t> bmpTermination() {
  Writer w = header(5);
  w.u16(1), w.u16(2), w.u16(0);  // reason: administratively closed
  return finish(w);
}

std::vector<std::vector<uint8_t>> bmpRouteMonitoring(const BmpSession& s, const BmpRoute& r) {
  return updates(s, r, false);
}
std::vector<std::vector<uint8_t>> bmpWithdraw(const BmpSession& s, const BmpRoute& r) {
  return updates(s, r, true);
}

void BmpSpeaker::Config::read(ConfigReader& r) {
  r.field("target", target);
  if (!target.empty()) try {
      parseListen(target);
    } catch (const std::exception& e) {
      r.fail("target", e.what());
    }
  r.list("routes", [&](ConfigReader& s, size_t) {
    BmpRoute route;
    std::vector<std::string> prefixes, path, comms, large;
    s.field("prefixes", prefixes);
    s.field("aspath", path);
    s.field("communities", comms);
    s.field("large-communities", large);
    for (const auto& p : prefixes) {
      auto px = IPv6Prefix::parse(p);
      if (!px) s.fail("prefixes", "invalid prefix \"" + p + "\"");
      route.prefixes.push_back(*px);
    }
    try {
      for (const auto& a : path) route.as_path.push_back(uint32_t(std::stoul(a)));
      for (const auto& c : comms) {
        auto colon = c.find(':');
        if (colon == std::string::npos) throw std::invalid_argument(c);
        route.communities.push_back(uint32_t(std::stoul(c.substr(0, colon)) << 16 |
                                             std::stoul(c.substr(colon + 1))));
      }
      for (const auto& c : large) {
        auto a = c.find(':'), b = c.rfind(':');
        if (a == b) throw std::invalid_argument(c);
        route.large_communities.push_back({uint32_t(std::stoul(c.substr(0, a))),
                                           uint32_t(std::stoul(c.substr(a + 1, b - a - 1))),
                                           uint32_t(std::stoul(c.substr(b + 1)))});
      }
    } catch (const std::exception& e) {
      s.fail("", std::string("invalid AS path or community: ") + e.what());
    }
    routes.push_back(std::move(route));
  });
  r.intField("local-asn", session.local_asn, 1, 0xffffffff);
  r.intField("peer-asn", session.peer_asn, 1, 0xffffffff);
  std::string local = session.local_ip.toString(), peer = session.peer_ip.toString();
  r.field("local-ip", local);
  r.field("peer-ip", peer);
  if (!IPv6Addr::parse(local)) r.fail("local-ip", "invalid address");
  if (!IPv6Addr::parse(peer)) r.fail("peer-ip", "invalid address");
  session.local_ip = *IPv6Addr::parse(local);
  session.peer_ip = *IPv6Addr::parse(peer);
  r.field("retry-after", retry_after);
  r.field("stats-delay", stats_delay);
}

BmpSpeaker::BmpSpeaker(Config config, Metrics& metrics)
    : config_(std::move(config)),
      sessions_(metrics.counter("akvo_demo_bmp_sessions_total", "BMP sessions opened.")),
      messages_(metrics.counter("akvo_demo_bmp_messages_total", "BMP messages sent.")) {}

BmpSpeaker::~BmpSpeaker() { stop(); }

void BmpSpeaker::start() {
  if (config_.target.empty()) return;
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
}

void BmpSpeaker::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

void BmpSpeaker::run(std::stop_token st) {
  std::mutex m;
  std::condition_variable_any cv;
  auto sleep = [&](Duration d) {
    std::unique_lock lock(m);
    cv.wait_for(lock, st, d, [] { return false; });
  };
  while (!st.stop_requested()) {
    SockAddr a = parseListen(config_.target);
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a.ss), a.len) < 0) {
      if (fd >= 0) close(fd);
      sleep(config_.retry_after);
      continue;
    }
    sessions_.inc();
    auto send_all = [&](const std::vector<uint8_t>& msg) {
      size_t off = 0;
      while (off < msg.size()) {
        ssize_t n = send(fd, msg.data() + off, msg.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return false;
        off += size_t(n);
      }
      messages_.inc();
      return true;
    };
    bool ok = send_all(bmpInitiation(config_.sys_name, "akvo demo exporter")) &&
              send_all(bmpPeerUp(config_.session));
    uint64_t count = 0;
    for (const auto& r : config_.routes) {
      for (const auto& m : bmpRouteMonitoring(config_.session, r)) ok = ok && send_all(m);
      count += r.prefixes.size();
    }
    while (ok && !st.stop_requested()) {
      sleep(config_.stats_delay);
      if (!st.stop_requested()) ok = send_all(bmpStatistics(config_.session, count));
    }
    if (ok) send_all(bmpTermination());
    close(fd);
    if (!st.stop_requested()) sleep(config_.retry_after);
  }
}

}  // namespace akvo::demo
