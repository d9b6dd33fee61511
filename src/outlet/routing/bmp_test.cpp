#include "outlet/routing/bmp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>
#include <thread>

#include "demo/bmp.h"
#include "outlet/routing/testing.h"

namespace akvo::routing {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

template <class Fn>
bool waitUntil(Fn fn, int ms = 3000) {
  for (int i = 0; i < ms / 10; i++) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fn();
}

int connectTo(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

void sendAll(int fd, std::span<const uint8_t> data, size_t chunk = 1 << 20) {
  for (size_t off = 0; off < data.size(); off += chunk) {
    size_t n = std::min(chunk, data.size() - off);
    ASSERT_EQ(send(fd, data.data() + off, n, MSG_NOSIGNAL), ssize_t(n));
  }
}

BmpProvider::Config localConfig() {
  BmpProvider::Config c;
  c.listen = "127.0.0.1:0";
  return c;
}

// The value of one series in the rendered metrics (-1: absent).
double metricValue(Metrics& m, const std::string& series) {
  std::string text = m.render();
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

double connections(Metrics& m) { return metricValue(m, "akvo_outlet_routing_bmp_connections"); }

// True when the collector closed fd within ms (EOF or reset), false if it is still open.
bool closedWithin(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, ms) <= 0) return false;
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// A BMP common header (RFC 7854 §4.1) announcing a message of `len` bytes.
std::vector<uint8_t> bmpHeader(uint32_t len, uint8_t type = 4) {
  return {3, uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8), uint8_t(len), type};
}

int64_t rssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  return -1;
}

}  // namespace

// Round trip: the demo's encoder, then the decoder.
TEST(BmpProvider, DemoEncoderRoundTrip) {
  demo::BmpSession s;
  s.peer_ip = ip("192.0.2.2");
  s.peer_asn = 4200000001;
  demo::BmpRoute r;
  r.prefixes = {*IPv6Prefix::parse("198.51.100.0/24"), *IPv6Prefix::parse("2001:db8:5::/48")};
  r.as_path = {4200000001, 174, 64476};
  r.communities = {65000u << 16 | 1};
  r.large_communities = {{64476, 1, 2}};
  struct Sink : BmpSink {
    std::vector<Nlri> ann, wd;
    PathAttributes attrs;
    int ups = 0;
    void peerUp(const BmpPeer& p) override {
      ups++;
      EXPECT_EQ(p.asn, 4200000001u);
      EXPECT_EQ(p.address, IPv6Addr::parse("192.0.2.2"));
    }
    void routes(const BmpPeer&, const PathAttributes& a, std::span<const Nlri> an,
                std::span<const Nlri> w) override {
      if (!an.empty()) attrs = a;
      ann.insert(ann.end(), an.begin(), an.end());
      wd.insert(wd.end(), w.begin(), w.end());
    }
  } sink;
  BmpDecoder d;
  ASSERT_EQ(d.decode(demo::bmpInitiation("r1", "demo"), sink), BmpStatus::kOk);
  ASSERT_EQ(d.decode(demo::bmpPeerUp(s), sink), BmpStatus::kOk);
  for (const auto& m : demo::bmpRouteMonitoring(s, r)) ASSERT_EQ(d.decode(m, sink), BmpStatus::kOk);
  for (const auto& m : demo::bmpWithdraw(s, r)) ASSERT_EQ(d.decode(m, sink), BmpStatus::kOk);
  ASSERT_EQ(d.decode(demo::bmpStatistics(s, 2), sink), BmpStatus::kOk);
  ASSERT_EQ(d.decode(demo::bmpPeerDown(s), sink), BmpStatus::kOk);
  EXPECT_EQ(sink.ups, 1);
  ASSERT_EQ(sink.ann.size(), 2u);
  EXPECT_EQ(sink.ann[0].prefix.toString(), "198.51.100.0/24");
  EXPECT_EQ(sink.ann[1].prefix.toString(), "2001:db8:5::/48");
  EXPECT_EQ(sink.attrs.as_path, r.as_path);
  EXPECT_EQ(sink.attrs.communities, r.communities);
  ASSERT_EQ(sink.attrs.large_communities.size(), 1u);
  EXPECT_EQ(sink.attrs.large_communities[0].local2, 2u);
  ASSERT_EQ(sink.wd.size(), 2u);
  EXPECT_EQ(sink.wd[1].prefix.toString(), "2001:db8:5::/48");
  ASSERT_EQ(d.decode(demo::bmpTermination(), sink), BmpStatus::kOk);
}

// The real captures sent over TCP in odd-sized pieces: the RIB holds their routes.
TEST(BmpProvider, CapturesOverTcp) {
  Metrics metrics;
  BmpProvider p(localConfig(), metrics);
  p.start();
  std::vector<uint8_t> stream;
  for (auto f : {"bmp-init.pcap", "bmp-peer-up.pcap", "bmp-reach.pcap"}) {
    auto s = testing::tcpStream(std::string("../shared/testdata/bmp/") + f);
    stream.insert(stream.end(), s.begin(), s.end());
  }
  int fd = connectTo(p.boundPort());
  sendAll(fd, stream, 7);
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 17; })) << p.rib().routes();
  EXPECT_EQ(p.rib().peers(), 3u);
  RouteInfo r;
  auto exporter = ip("127.0.0.1");
  ASSERT_TRUE(p.lookup(exporter, ip("198.51.100.200"), ip("192.0.2.1"), r));
  EXPECT_EQ(r.asn, 396919u);
  EXPECT_EQ(r.prefix_len, 96 + 25);
  EXPECT_EQ(r.next_hop, ip("192.0.2.1"));
  ASSERT_EQ(r.communities.size(), 1u);
  EXPECT_EQ(r.communities[0], 65011u << 16 | 12);
  ASSERT_TRUE(p.lookup(exporter, ip("2001:db8:2::1"), ip("2001:db8::7"), r));
  EXPECT_EQ(r.asn, 12322u);
  ASSERT_EQ(r.large_communities.size(), 1u);
  EXPECT_EQ(r.large_communities[0].local1, 400u);
  EXPECT_FALSE(p.lookup(exporter, ip("203.0.113.9"), {}, r));
  std::string text = metrics.render();
  EXPECT_NE(text.find("akvo_outlet_routing_bmp_messages_total{type=\"route-monitoring\"} 17"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("akvo_outlet_routing_lookup_failures_total 1"), std::string::npos);
  // Peer down (from the capture) removes 192.0.2.1's routes at once.
  auto down = testing::tcpStream("../shared/testdata/bmp/bmp-peer-down.pcap");
  sendAll(fd, down);
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 14; })) << p.rib().routes();
  close(fd);
  p.stop();
}

TEST(BmpProvider, DisconnectKeepsPeersForKeep) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.keep = std::chrono::milliseconds(300);
  BmpProvider p(cfg, metrics);
  p.start();
  demo::BmpSpeaker::Config sc;
  sc.target = "127.0.0.1:" + std::to_string(p.boundPort());
  demo::BmpRoute r;
  r.prefixes = {*IPv6Prefix::parse("10.0.0.0/8")};
  r.as_path = {64497, 64999};
  sc.routes = {r};
  {
    demo::BmpSpeaker speaker(sc, metrics);
    speaker.start();
    ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 1; }));
    RouteInfo info;
    ASSERT_TRUE(p.lookup(ip("127.0.0.1"), ip("10.2.3.4"), {}, info));
    EXPECT_EQ(info.asn, 64999u);
  }  // the speaker stops: Termination, then close
  EXPECT_EQ(p.rib().routes(), 1u);  // kept for a while
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 0; }));
  EXPECT_EQ(p.rib().peers(), 0u);
  p.stop();
}

// A full queue makes the reader wait (counted), and nothing is lost.
TEST(BmpProvider, BackPressure) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.message_buffer = 2;
  BmpProvider p(cfg, metrics);
  p.start();
  demo::BmpSession s;
  demo::BmpRoute r;
  for (uint32_t i = 0; i < 20000; i++)
    r.prefixes.push_back({IPv6Addr::fromV4(0x0a000000 | i << 8), 120});
  r.as_path = {64497, 65001};
  std::vector<uint8_t> stream = demo::bmpInitiation("r", "d");
  auto up = demo::bmpPeerUp(s);
  stream.insert(stream.end(), up.begin(), up.end());
  for (const auto& m : demo::bmpRouteMonitoring(s, r)) stream.insert(stream.end(), m.begin(), m.end());
  int fd = connectTo(p.boundPort());
  sendAll(fd, stream);
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 20000; }, 10000)) << p.rib().routes();
  std::string text = metrics.render();
  EXPECT_EQ(text.find("akvo_outlet_routing_bmp_queue_full_total 0"), std::string::npos) << text;
  close(fd);
  p.stop();
}

// The queue is bounded in bytes as well as in messages (BMP messages are up to 1 MiB: 10,000
// of them are 10 GB): past the byte bound the reader waits as for a full count, nothing lost.
TEST(BmpProvider, BackPressureOnBytes) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.message_buffer = 100000;               // never reached
  cfg.message_buffer_max_bytes = 16 * 1024;  // a few route monitoring messages
  BmpProvider p(cfg, metrics);
  p.start();
  demo::BmpSession s;
  demo::BmpRoute r;
  for (uint32_t i = 0; i < 100000; i++)
    r.prefixes.push_back({IPv6Addr::fromV4(0x0a000000 | i << 8), 120});
  r.as_path = {64497, 65001};
  std::vector<uint8_t> stream = demo::bmpInitiation("r", "d");
  auto up = demo::bmpPeerUp(s);
  stream.insert(stream.end(), up.begin(), up.end());
  size_t largest = 0;
  for (const auto& m : demo::bmpRouteMonitoring(s, r)) {
    stream.insert(stream.end(), m.begin(), m.end());
    largest = std::max(largest, m.size());
  }
  ASSERT_LT(largest, size_t(cfg.message_buffer_max_bytes));
  // The queue's bytes, sampled while the stream goes through.
  std::atomic<bool> done{false};
  double peak = 0;
  std::thread sampler([&] {
    while (!done) {
      peak = std::max(peak, metricValue(metrics, "akvo_outlet_routing_bmp_queue_bytes"));
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int fd = connectTo(p.boundPort());
  sendAll(fd, stream);
  bool all = waitUntil([&] { return p.rib().routes() == 100000; }, 30000);
  done = true;
  sampler.join();
  ASSERT_TRUE(all) << p.rib().routes();
  EXPECT_GT(metricValue(metrics, "akvo_outlet_routing_bmp_queue_full_total"), 0)
      << metrics.render();
  EXPECT_LE(peak, double(cfg.message_buffer_max_bytes));
  EXPECT_EQ(metricValue(metrics, "akvo_outlet_routing_bmp_queue_bytes"), 0);
  close(fd);
  p.stop();
}

// Garbage on a connection: the framing error closes it, other sessions go on.
TEST(BmpProvider, BadFramingClosesOnlyThatSession) {
  Metrics metrics;
  BmpProvider p(localConfig(), metrics);
  p.start();
  int bad = connectTo(p.boundPort());
  uint8_t junk[64];
  std::mt19937 rng(1);
  for (auto& b : junk) b = uint8_t(rng());
  junk[0] = 7;
  sendAll(bad, junk);
  char c;
  EXPECT_EQ(recv(bad, &c, 1, 0), 0);  // closed by the collector
  close(bad);
  int good = connectTo(p.boundPort());
  auto init = testing::tcpStream("../shared/testdata/bmp/bmp-init.pcap");
  auto up = testing::tcpStream("../shared/testdata/bmp/bmp-peer-up.pcap");
  auto reach = testing::tcpStream("../shared/testdata/bmp/bmp-reach.pcap");
  sendAll(good, init);
  sendAll(good, up);
  sendAll(good, reach);
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 17; }));
  EXPECT_NE(metrics.render().find("akvo_outlet_routing_bmp_errors_total{reason=\"bad_version\"} 1"),
            std::string::npos);
  close(good);
  p.stop();
}

namespace {

void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
void put64(std::vector<uint8_t>& b, uint64_t v) {
  put32(b, uint32_t(v >> 32));
  put32(b, uint32_t(v));
}

/// A Route Monitoring message (RFC 7854 §4.6) from a global peer 192.0.2.1 (AS 65001)
/// announcing `prefixes` (IPv4 or IPv6, all of one family) as VPNv4/VPNv6 routes (MP_REACH,
/// SAFI 128, RFC 4364 §4.3.4 / RFC 4659) of route distinguisher `rd`, with AS path
/// [65001, origin]; or, with `rd` unset, as plain IPv4 unicast NLRI from an RD instance peer
/// (peer type 1) whose distinguisher is `peer_rd`.
/// `ext` are extended communities (8 bytes each, RFC 4360) added to the UPDATE.
std::vector<uint8_t> vpnRoutes(std::optional<uint64_t> rd, const std::vector<IPv6Prefix>& prefixes,
                               uint32_t origin, uint64_t peer_rd = 0,
                               const std::vector<uint64_t>& ext = {}) {
  const bool v6 = !prefixes.front().addr.isV4Mapped();
  std::vector<uint8_t> attrs;
  attrs.insert(attrs.end(), {0x40, 1, 1, 0});  // ORIGIN IGP
  if (!ext.empty()) {
    attrs.insert(attrs.end(), {0xc0, 16, uint8_t(8 * ext.size())});  // optional transitive
    for (uint64_t e : ext) put64(attrs, e);
  }
  attrs.insert(attrs.end(), {0x40, 2, 10, 2, 2});  // AS_PATH: one AS_SEQUENCE of 2 ASNs
  put32(attrs, 65001);
  put32(attrs, origin);
  std::vector<uint8_t> nlri;
  auto prefixBytes = [&](const IPv6Prefix& p) {
    unsigned bits = v6 ? p.len : p.len - 96u;
    const uint8_t* a = p.addr.bytes.data() + (v6 ? 0 : 12);
    return std::make_pair(bits, std::vector<uint8_t>(a, a + (bits + 7) / 8));
  };
  if (rd) {
    std::vector<uint8_t> mp;
    put16(mp, v6 ? 2 : 1);
    mp.push_back(128);                 // SAFI MPLS-labeled VPN
    mp.push_back(v6 ? 24 : 12);        // next hop: RD 0 then the address
    put64(mp, 0);
    if (v6) {
      auto nh = ip("2001:db8::1");
      mp.insert(mp.end(), nh.bytes.begin(), nh.bytes.end());
    } else {
      put32(mp, 0xc0000201);
    }
    mp.push_back(0);  // reserved
    for (const auto& p : prefixes) {
      auto [bits, bytes] = prefixBytes(p);
      mp.push_back(uint8_t(24 + 64 + bits));
      mp.insert(mp.end(), {0x00, 0x01, 0x01});  // label 16, bottom of stack
      put64(mp, *rd);
      mp.insert(mp.end(), bytes.begin(), bytes.end());
    }
    attrs.insert(attrs.end(), {0x90, 14});  // optional, extended length: MP_REACH_NLRI
    put16(attrs, uint16_t(mp.size()));
    attrs.insert(attrs.end(), mp.begin(), mp.end());
  } else {
    attrs.insert(attrs.end(), {0x40, 3, 4});  // NEXT_HOP
    put32(attrs, 0xc0000201);
    for (const auto& p : prefixes) {
      auto [bits, bytes] = prefixBytes(p);
      nlri.push_back(uint8_t(bits));
      nlri.insert(nlri.end(), bytes.begin(), bytes.end());
    }
  }
  std::vector<uint8_t> bgp(16, 0xff);
  put16(bgp, uint16_t(19 + 2 + 2 + attrs.size() + nlri.size()));
  bgp.push_back(2);  // UPDATE
  put16(bgp, 0);     // no withdrawn routes
  put16(bgp, uint16_t(attrs.size()));
  bgp.insert(bgp.end(), attrs.begin(), attrs.end());
  bgp.insert(bgp.end(), nlri.begin(), nlri.end());
  std::vector<uint8_t> m = {3, 0, 0, 0, 0, 0};  // version, length (below), Route Monitoring
  m.push_back(rd ? 0 : 1);                      // peer type: global, or RD instance
  m.push_back(0);                               // flags: IPv4 peer, 4-byte ASNs
  put64(m, rd ? 0 : peer_rd);
  auto peer = ip("192.0.2.1");
  m.insert(m.end(), peer.bytes.begin(), peer.bytes.end());
  put32(m, 65001);
  put32(m, 0xc0000201);  // BGP id
  put32(m, 0);
  put32(m, 0);
  m.insert(m.end(), bgp.begin(), bgp.end());
  uint32_t len = uint32_t(m.size());
  m[1] = uint8_t(len >> 24);
  m[2] = uint8_t(len >> 16);
  m[3] = uint8_t(len >> 8);
  m[4] = uint8_t(len);
  return m;
}

}  // namespace

// Route targets (`rts`): announcements are kept when they carry one of the listed RTs, in any
// of the three RT encodings (2-octet AS, IPv4, 4-octet AS), "0" keeping those with none; other
// extended communities (a route origin) are not RTs; withdrawals always apply.
TEST(BmpProvider, RouteTargetsFilterAnnouncements) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.rts = {"65017:104", "192.0.2.9:7", "100000:200"};
  BmpProvider p(cfg, metrics);
  p.start();
  auto px = [](const char* s) { return *IPv6Prefix::parse(s); };
  // Extended communities: type, subtype 2 (route target) or 3 (route origin), value.
  const uint64_t rt_as2 = 0x0002ull << 48 | uint64_t(65017) << 32 | 104;      // 65017:104
  const uint64_t rt_ip = 0x0102ull << 48 | uint64_t(0xc0000209) << 16 | 7;    // 192.0.2.9:7
  const uint64_t rt_as4 = 0x0202ull << 48 | uint64_t(100000) << 16 | 200;     // 100000:200
  const uint64_t other_rt = 0x0002ull << 48 | uint64_t(65017) << 32 | 105;    // 65017:105
  const uint64_t origin = 0x0003ull << 48 | uint64_t(65017) << 32 | 104;      // SoO, not an RT
  std::vector<uint8_t> stream = demo::bmpInitiation("pe1", "test");
  for (const auto& m : {vpnRoutes(std::nullopt, {px("10.1.0.0/16")}, 101, 0, {rt_as2}),
                        vpnRoutes(std::nullopt, {px("10.2.0.0/16")}, 102, 0, {other_rt, rt_ip}),
                        vpnRoutes(std::nullopt, {px("10.3.0.0/16")}, 103, 0, {rt_as4}),
                        vpnRoutes(std::nullopt, {px("10.4.0.0/16")}, 104, 0, {other_rt}),
                        vpnRoutes(std::nullopt, {px("10.5.0.0/16")}, 105, 0, {origin}),
                        vpnRoutes(std::nullopt, {px("10.6.0.0/16")}, 106)})
    stream.insert(stream.end(), m.begin(), m.end());
  int fd = connectTo(p.boundPort());
  sendAll(fd, stream);
  ASSERT_TRUE(waitUntil([&] {
    return metrics.sum("akvo_outlet_routing_bmp_messages_total") >= 7;
  }));
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 3; })) << p.rib().routes();
  EXPECT_EQ(metrics.sum("akvo_outlet_routing_bmp_routes_filtered_total"), 3u);
  FlowRecord f;
  f.exporter_address = ip("127.0.0.1");
  RouteInfo r;
  auto asn = [&](const char* addr) -> uint32_t {
    return p.lookup(f.exporter_address, ip(addr), {}, r) ? r.asn : 0;
  };
  EXPECT_EQ(asn("10.1.1.1"), 101u);
  EXPECT_EQ(asn("10.2.1.1"), 102u);  // one of its RTs is wanted
  EXPECT_EQ(asn("10.3.1.1"), 103u);
  EXPECT_EQ(asn("10.4.1.1"), 0u);
  EXPECT_EQ(asn("10.5.1.1"), 0u);  // a route origin is not a route target
  EXPECT_EQ(asn("10.6.1.1"), 0u);  // no RT, and "0" not listed
  close(fd);
}

// "0" keeps the routes without route target.
TEST(BmpProvider, RouteTargetZeroKeepsRoutesWithoutOne) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.rts = {"0"};
  BmpProvider p(cfg, metrics);
  p.start();
  auto px = [](const char* s) { return *IPv6Prefix::parse(s); };
  const uint64_t rt = 0x0002ull << 48 | uint64_t(65017) << 32 | 104;
  std::vector<uint8_t> stream = demo::bmpInitiation("pe1", "test");
  for (const auto& m : {vpnRoutes(std::nullopt, {px("10.1.0.0/16")}, 101, 0, {rt}),
                        vpnRoutes(std::nullopt, {px("10.6.0.0/16")}, 106)})
    stream.insert(stream.end(), m.begin(), m.end());
  int fd = connectTo(p.boundPort());
  sendAll(fd, stream);
  ASSERT_TRUE(waitUntil([&] { return metrics.sum("akvo_outlet_routing_bmp_routes_filtered_total") == 1; }));
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 1; })) << p.rib().routes();
  RouteInfo r;
  EXPECT_TRUE(p.lookup(ip("127.0.0.1"), ip("10.6.1.1"), {}, r));
  EXPECT_EQ(r.asn, 106u);
  close(fd);
}

// L3VPN: VPNv4/VPNv6 routes land in the table of their RD (routes of RDs not in `rds` are
// dropped and counted), and a flow is looked up in the RD its exporter, VRF id or interface
// maps to (`vrfs`); a flow that no rule maps sees every kept RD.
TEST(BmpProvider, L3vpnRoutesPerRd) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.rds = {"0", "65017:101", "65017:102", "192.0.2.9:7"};
  const uint64_t red = *parseRd("65017:101"), blue = *parseRd("65017:102"),
                 green = *parseRd("192.0.2.9:7");
  using Vrf = BmpProvider::Config::Vrf;
  cfg.vrfs = {Vrf{std::nullopt, 10, std::nullopt, red},
              Vrf{IPv6Prefix::parse("127.0.0.0/8"), 20, std::nullopt, blue},
              Vrf{std::nullopt, std::nullopt, 7, green}};
  BmpProvider p(cfg, metrics);
  p.start();
  auto px = [](const char* s) { return *IPv6Prefix::parse(s); };
  std::vector<uint8_t> stream = demo::bmpInitiation("pe1", "test");
  for (const auto& m : {vpnRoutes(red, {px("10.0.0.0/8"), px("10.1.0.0/16")}, 101),
                        vpnRoutes(blue, {px("10.0.0.0/8")}, 102),
                        vpnRoutes(red, {px("2001:db8:a::/48")}, 601),
                        vpnRoutes(blue, {px("2001:db8::/32")}, 602),
                        vpnRoutes(*parseRd("65017:999"), {px("10.0.0.0/8")}, 999),  // not kept
                        vpnRoutes(std::nullopt, {px("10.0.0.0/9")}, 107, green)})
    stream.insert(stream.end(), m.begin(), m.end());
  int fd = connectTo(p.boundPort());
  sendAll(fd, stream);
  ASSERT_TRUE(waitUntil([&] { return p.rib().routes() == 6; })) << p.rib().routes();
  EXPECT_EQ(metrics.sum("akvo_outlet_routing_bmp_routes_filtered_total"), 1u);
  EXPECT_EQ(metrics.sum("akvo_outlet_routing_bmp_errors_total"), 0u);

  FlowRecord f;
  f.exporter_address = ip("127.0.0.1");
  RouteInfo r;
  auto lookup = [&](const char* addr, bool destination) {
    (destination ? f.dst_addr : f.src_addr) = ip(addr);
    return p.lookup(f.exporter_address, ip(addr), {}, r, p.rdFor(f, destination));
  };
  // VRF id 10: red, for both directions (the destination falls back to the ingress VRF).
  f.ingress_vrf_id = 10;
  ASSERT_TRUE(lookup("10.1.2.3", true));
  EXPECT_EQ(r.asn, 101u);
  EXPECT_EQ(r.prefix_len, 96 + 16);
  EXPECT_EQ(r.rd, red);
  ASSERT_TRUE(lookup("2001:db8:a::1", false));
  EXPECT_EQ(r.asn, 601u);
  EXPECT_FALSE(lookup("2001:db8:b::1", true));  // blue's /32 is not red's
  // Egress VRF 20 on this exporter: blue for the destination, red still for the source.
  f.egress_vrf_id = 20;
  ASSERT_TRUE(lookup("10.1.2.3", true));
  EXPECT_EQ(r.asn, 102u);
  EXPECT_EQ(r.prefix_len, 96 + 8);
  ASSERT_TRUE(lookup("2001:db8:b::1", true));
  EXPECT_EQ(r.asn, 602u);
  ASSERT_TRUE(lookup("10.1.2.3", false));
  EXPECT_EQ(r.asn, 101u);
  // The blue rule is for exporters in 127/8 only.
  f.exporter_address = ip("192.0.2.200");
  ASSERT_TRUE(lookup("10.1.2.3", true));
  EXPECT_EQ(r.asn, 101u);  // no rule for VRF 20 there: every RD, the longest (red's /16)
  // Interface 7 (no VRF ids): green, learned from an RD instance peer as plain unicast.
  f.exporter_address = ip("127.0.0.1");
  f.ingress_vrf_id = f.egress_vrf_id = 0;
  f.out_if = 7;
  ASSERT_TRUE(lookup("10.1.2.3", true));
  EXPECT_EQ(r.asn, 107u);
  EXPECT_EQ(r.rd, green);
  EXPECT_EQ(r.prefix_len, 96 + 9);
  EXPECT_FALSE(lookup("10.200.0.1", true));  // outside green's /9
  EXPECT_FALSE(lookup("2001:db8::1", true));
  // The 65017:999 route was not kept: nothing answers with AS 999 in any RD.
  f.out_if = 0;
  ASSERT_TRUE(lookup("10.200.0.1", true));
  EXPECT_NE(r.asn, 999u);
  EXPECT_EQ(r.prefix_len, 96 + 8);
  close(fd);
  p.stop();
}

// Past max-connections a connection is accepted and closed at once, and counted; a slot that
// frees up takes a new session again.
TEST(BmpProvider, MaxConnections) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.max_connections = 2;
  BmpProvider p(cfg, metrics);
  p.start();
  int a = connectTo(p.boundPort()), b = connectTo(p.boundPort());
  ASSERT_TRUE(waitUntil([&] { return connections(metrics) == 2; }));
  int c = connectTo(p.boundPort());
  EXPECT_TRUE(closedWithin(c, 2000));
  EXPECT_EQ(metricValue(metrics, "akvo_outlet_routing_bmp_connections_rejected_total"), 1);
  EXPECT_FALSE(closedWithin(a, 0));
  EXPECT_FALSE(closedWithin(b, 0));
  close(c);
  close(a);
  ASSERT_TRUE(waitUntil([&] { return connections(metrics) == 1; }));
  int d = connectTo(p.boundPort());
  EXPECT_FALSE(closedWithin(d, 500));
  EXPECT_EQ(connections(metrics), 2);
  close(b);
  close(d);
  p.stop();
}

// A message started and not completed within message-timeout closes the session, even when
// its bytes trickle in; a quiet session between messages stays open.
TEST(BmpProvider, PartialMessageTimeout) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.message_timeout = std::chrono::milliseconds(400);
  BmpProvider p(cfg, metrics);
  p.start();
  int quiet = connectTo(p.boundPort());
  sendAll(quiet, demo::bmpInitiation("r", "d"));
  int stalled = connectTo(p.boundPort());
  sendAll(stalled, bmpHeader(1000));
  int trickle = connectTo(p.boundPort());
  sendAll(trickle, bmpHeader(1000));
  auto start = std::chrono::steady_clock::now();
  bool trickle_closed = false;
  for (int i = 0; i < 30 && !trickle_closed; i++) {  // a byte every 100 ms, 3 s at most
    uint8_t zero = 0;
    if (send(trickle, &zero, 1, MSG_NOSIGNAL) != 1) break;
    trickle_closed = closedWithin(trickle, 100);
  }
  EXPECT_TRUE(trickle_closed || closedWithin(trickle, 0));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(closedWithin(stalled, 2000));
  EXPECT_EQ(metricValue(metrics, "akvo_outlet_routing_bmp_timeouts_total{kind=\"message\"}"), 2);
  EXPECT_FALSE(closedWithin(quiet, 600));  // idle-timeout is off by default
  close(stalled);
  close(trickle);
  close(quiet);
  p.stop();
}

// idle-timeout (off by default) closes a session that sends nothing at all.
TEST(BmpProvider, IdleTimeout) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.idle_timeout = std::chrono::milliseconds(300);
  BmpProvider p(cfg, metrics);
  p.start();
  int fd = connectTo(p.boundPort());
  sendAll(fd, demo::bmpInitiation("r", "d"));
  EXPECT_TRUE(closedWithin(fd, 2000));
  EXPECT_EQ(metricValue(metrics, "akvo_outlet_routing_bmp_timeouts_total{kind=\"idle\"}"), 1);
  close(fd);
  p.stop();
}

// A header announcing a large message reserves nothing: 200 sessions announcing 1 MiB each
// and sending a few bytes more do not grow the memory by 200 MiB.
TEST(BmpProvider, AnnouncedLengthAllocatesNothing) {
  Metrics metrics;
  auto cfg = localConfig();
  cfg.max_connections = 256;
  BmpProvider p(cfg, metrics);
  p.start();
  const int64_t before = rssKiB();
  std::vector<int> fds;
  auto header = bmpHeader(1 << 20, 0);
  header.resize(header.size() + 100);
  for (int i = 0; i < 200; i++) {
    fds.push_back(connectTo(p.boundPort()));
    sendAll(fds.back(), header);
  }
  ASSERT_TRUE(waitUntil([&] {
    return metricValue(metrics, "akvo_outlet_routing_bmp_received_bytes_total") ==
           200.0 * double(header.size());
  }, 10000)) << metrics.render();
  const int64_t growth = rssKiB() - before;
  EXPECT_LT(growth, 50 * 1024) << growth << " KiB";
  for (int fd : fds) close(fd);
  p.stop();
}

// accept() failing with EMFILE (a connection pending, no descriptor left) backs off instead of
// spinning on a listener that poll() keeps reporting ready.
TEST(BmpProvider, AcceptFailureBacksOff) {
#ifdef AKVO_SANITIZE
  // Out of descriptors, the sanitizers' own runtime fails (UBSan's type checks then report
  // fmt's buffers as invalid objects): this test runs in the Release build.
  GTEST_SKIP() << "exhausts file descriptors, which the sanitizer runtime needs";
#endif
  Metrics metrics;
  BmpProvider p(localConfig(), metrics);
  p.start();
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  // Fill every descriptor below a lowered limit, keeping one for the client socket.
  int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  int probe = dup(null);
  rlimit low = saved;
  low.rlim_cur = rlim_t(probe) + 64;
  close(probe);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::vector<int> filler;
  for (int fd; (fd = dup(null)) >= 0;) filler.push_back(fd);
  close(filler.back());
  filler.pop_back();
  int client = connectTo(p.boundPort());  // takes the last descriptor; accept() has none
  timespec t0{}, t1{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  const double cpu = double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) * 1e-9;
  const double errors = metricValue(metrics, "akvo_outlet_routing_bmp_accept_errors_total");
  for (int fd : filler) close(fd);
  close(null);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_LT(cpu, 0.1) << "CPU seconds in 500 ms";
  EXPECT_GE(errors, 1);
  EXPECT_LE(errors, 10);
  // Descriptors back: the pending connection is accepted.
  ASSERT_TRUE(waitUntil([&] { return connections(metrics) == 1; }));
  close(client);
  p.stop();
}

TEST(BmpProvider, ConnectionLimitsConfig) {
  auto read = [](const char* yaml) {
    BmpProvider::Config c;
    YAML::Node n = YAML::Load(yaml);
    ConfigReader r(n, "akvo.yaml", "outlet.routing.provider");
    c.read(r);
    r.finish();
    return c;
  };
  auto d = read("{}");
  EXPECT_EQ(d.max_connections, 64);
  EXPECT_EQ(d.message_timeout, std::chrono::seconds(30));
  EXPECT_EQ(d.idle_timeout, Duration(0));
  EXPECT_EQ(d.message_buffer_max_bytes, 64 << 20);
  auto c = read("{max-connections: 8, message-timeout: 5s, idle-timeout: 2h, "
                "message-buffer-max-bytes: 8388608}");
  EXPECT_EQ(c.max_connections, 8);
  EXPECT_EQ(c.message_buffer_max_bytes, 8 << 20);
  EXPECT_EQ(c.message_timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.idle_timeout, std::chrono::hours(2));
  EXPECT_THROW(read("max-connections: 0"), ConfigError);
  EXPECT_THROW(read("message-timeout: 0"), ConfigError);
  EXPECT_THROW(read("message-buffer-max-bytes: 65536"), ConfigError);  // below one message
}

TEST(BmpProvider, VrfsConfig) {
  auto read = [](const char* yaml) {
    BmpProvider::Config c;
    YAML::Node n = YAML::Load(yaml);
    ConfigReader r(n, "akvo.yaml", "outlet.routing.provider");
    c.read(r);
    r.finish();
    return c;
  };
  auto c = read("vrfs: [{exporter: 192.0.2.0/24, vrf-id: 3, rd: '65017:101'}, {if-index: 5, rd: '0'}]");
  ASSERT_EQ(c.vrfs.size(), 2u);
  EXPECT_EQ(c.vrfs[0].exporter->toString(), "192.0.2.0/24");
  EXPECT_EQ(c.vrfs[0].vrf_id, 3u);
  EXPECT_FALSE(c.vrfs[0].if_index);
  EXPECT_EQ(c.vrfs[0].rd, *parseRd("65017:101"));
  EXPECT_EQ(c.vrfs[1].if_index, 5u);
  EXPECT_EQ(c.vrfs[1].rd, 0u);
  EXPECT_THROW(read("vrfs: [{vrf-id: 3}]"), ConfigError);            // no rd
  EXPECT_THROW(read("vrfs: [{rd: 'x:y'}]"), ConfigError);            // bad rd
  EXPECT_THROW(read("vrfs: [{exporter: nope, rd: '0'}]"), ConfigError);
  EXPECT_THROW(read("vrfs: [{vrf: 3, rd: '0'}]"), ConfigError);      // unknown key
}

}  // namespace akvo::routing
