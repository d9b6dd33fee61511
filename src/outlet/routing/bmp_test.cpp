#include "outlet/routing/bmp.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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

}  // namespace akvo::routing
