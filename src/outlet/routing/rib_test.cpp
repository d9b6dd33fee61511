#include "outlet/routing/rib.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace akvo::routing {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }
Nlri nlri(const char* prefix, const char* nh = "192.0.2.1", uint32_t path_id = 0) {
  Nlri n;
  n.prefix = *IPv6Prefix::parse(prefix);
  n.next_hop = ip(nh);
  n.path_id = path_id;
  return n;
}
BmpPeer bmpPeer(const char* addr, uint32_t asn) {
  BmpPeer p;
  p.address = ip(addr);
  p.asn = asn;
  return p;
}

}  // namespace

TEST(Rib, LongestPrefixAndAttributes) {
  Rib rib;
  auto exporter = ip("203.0.113.1");
  auto p1 = rib.peer(exporter, bmpPeer("192.0.2.1", 65001));
  PathAttributes a;
  a.as_path = {65001, 174, 64476};
  a.communities = {65001u << 16 | 10};
  a.large_communities = {{65001, 300, 4}};
  Nlri ann[] = {nlri("198.51.100.0/24"), nlri("198.51.100.128/25")};
  rib.update(p1, a, ann, {});
  PathAttributes b;
  Nlri ann2[] = {nlri("2001:db8::/32", "2001:db8::1")};
  rib.update(p1, b, ann2, {});
  EXPECT_EQ(rib.routes(), 3u);
  EXPECT_EQ(rib.prefixes(), 3u);
  EXPECT_EQ(rib.attributeSets(), 2u);

  RouteInfo r;
  ASSERT_TRUE(rib.lookup(exporter, ip("198.51.100.200"), {}, r));
  EXPECT_EQ(r.prefix_len, 96 + 25);
  EXPECT_EQ(r.asn, 64476u);
  ASSERT_EQ(r.as_path.size(), 3u);
  EXPECT_EQ(r.as_path[1], 174u);
  ASSERT_EQ(r.communities.size(), 1u);
  EXPECT_EQ(r.communities[0], 65001u << 16 | 10);
  ASSERT_EQ(r.large_communities.size(), 1u);
  EXPECT_EQ(r.large_communities[0].local1, 300u);
  EXPECT_EQ(r.next_hop, ip("192.0.2.1"));
  ASSERT_TRUE(rib.lookup(exporter, ip("198.51.100.1"), {}, r));
  EXPECT_EQ(r.prefix_len, 96 + 24);
  EXPECT_FALSE(rib.lookup(exporter, ip("198.51.101.1"), {}, r));
  ASSERT_TRUE(rib.lookup(exporter, ip("2001:db8:1::1"), {}, r));
  EXPECT_EQ(r.prefix_len, 32);
  EXPECT_EQ(r.asn, 65001u);  // empty path: the peer's AS
  EXPECT_TRUE(r.as_path.empty());

  // Withdraw the /25: the /24 answers.
  Nlri wd[] = {nlri("198.51.100.128/25")};
  rib.update(p1, {}, {}, wd);
  ASSERT_TRUE(rib.lookup(exporter, ip("198.51.100.200"), {}, r));
  EXPECT_EQ(r.prefix_len, 96 + 24);
  EXPECT_EQ(rib.routes(), 2u);
  EXPECT_EQ(rib.prefixes(), 2u);
}

TEST(Rib, RouteSelectionByExporterAndNextHop) {
  Rib rib;
  auto e1 = ip("203.0.113.1"), e2 = ip("203.0.113.2");
  auto pa = rib.peer(e1, bmpPeer("192.0.2.1", 65001));
  auto pb = rib.peer(e1, bmpPeer("192.0.2.2", 65002));
  auto pc = rib.peer(e2, bmpPeer("192.0.2.3", 65003));
  PathAttributes a, b, c;
  a.as_path = {65001};
  b.as_path = {65002};
  c.as_path = {65003};
  Nlri na[] = {nlri("10.0.0.0/8", "192.0.2.1")}, nb[] = {nlri("10.0.0.0/8", "192.0.2.2")},
       nc[] = {nlri("10.0.0.0/8", "192.0.2.3")};
  rib.update(pa, a, na, {});
  rib.update(pb, b, nb, {});
  rib.update(pc, c, nc, {});
  RouteInfo r;
  ASSERT_TRUE(rib.lookup(e1, ip("10.1.1.1"), {}, r));
  EXPECT_EQ(r.asn, 65001u);  // first route of the exporter
  ASSERT_TRUE(rib.lookup(e1, ip("10.1.1.1"), ip("192.0.2.2"), r));
  EXPECT_EQ(r.asn, 65002u);  // next hop match
  ASSERT_TRUE(rib.lookup(e2, ip("10.1.1.1"), ip("192.0.2.2"), r));
  EXPECT_EQ(r.asn, 65003u);  // the exporter's own peer wins over the next hop
  ASSERT_TRUE(rib.lookup(ip("203.0.113.9"), ip("10.1.1.1"), {}, r));
  EXPECT_EQ(r.asn, 65001u);  // unknown exporter: any peer, first route

  rib.removePeer(pa);
  EXPECT_EQ(rib.routes(), 2u);
  EXPECT_EQ(rib.peers(), 2u);
  ASSERT_TRUE(rib.lookup(e1, ip("10.1.1.1"), {}, r));
  EXPECT_EQ(r.asn, 65002u);
  rib.removePeer(pb);
  rib.removePeer(pc);
  EXPECT_EQ(rib.routes(), 0u);
  EXPECT_EQ(rib.prefixes(), 0u);
  EXPECT_EQ(rib.attributeSets(), 0u);
  EXPECT_FALSE(rib.lookup(e1, ip("10.1.1.1"), {}, r));
}

// Random prefixes and withdrawals against a brute-force longest-prefix match.
TEST(Rib, RandomAgainstReference) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  Rib rib;
  auto exporter = ip("203.0.113.1");
  auto p = rib.peer(exporter, bmpPeer("192.0.2.1", 65001));
  std::map<std::pair<IPv6Addr, uint8_t>, uint32_t> ref;  // prefix -> origin AS
  auto randomPrefix = [&]() {
    IPv6Prefix px;
    bool v4 = rng() % 2;
    uint8_t len = v4 ? uint8_t(96 + 8 + rng() % 25) : uint8_t(16 + rng() % 49);
    px.addr = v4 ? IPv6Addr::fromV4(uint32_t(10u << 24 | (rng() & 0x00ff00ff)))
                 : IPv6Addr::fromV6Bytes(std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8,
                                                                 uint8_t(rng() & 0x3), 0,
                                                                 uint8_t(rng() & 0xc0)}
                                             .data());
    // Zero the host bits.
    for (unsigned i = len; i < 128; i++) px.addr.bytes[i / 8] &= uint8_t(~(0x80 >> (i % 8)));
    px.len = len;
    return px;
  };
  for (int i = 0; i < 3000; i++) {
    Nlri n;
    n.prefix = randomPrefix();
    PathAttributes a;
    a.as_path = {65001, uint32_t(rng() % 1000)};
    if (rng() % 4 == 0) {
      Nlri w[] = {n};
      rib.update(p, {}, {}, w);
      ref.erase({n.prefix.addr, n.prefix.len});
    } else {
      Nlri ann[] = {n};
      rib.update(p, a, ann, {});
      ref[{n.prefix.addr, n.prefix.len}] = a.as_path.back();
    }
  }
  EXPECT_EQ(rib.routes(), ref.size());
  for (int i = 0; i < 3000; i++) {
    IPv6Addr q = randomPrefix().addr;
    q.bytes[15] ^= uint8_t(rng());
    int best_len = -1;
    uint32_t best_as = 0;
    for (const auto& [k, as] : ref) {
      IPv6Prefix px{k.first, k.second};
      if (px.contains(q) && int(k.second) > best_len) {
        best_len = k.second;
        best_as = as;
      }
    }
    RouteInfo r;
    bool found = rib.lookup(exporter, q, {}, r);
    ASSERT_EQ(found, best_len >= 0) << q.toString();
    if (found) {
      EXPECT_EQ(int(r.prefix_len), best_len) << q.toString();
      EXPECT_EQ(r.asn, best_as) << q.toString();
    }
  }
  // A second peer with default routes, then the first peer goes: only the defaults answer.
  BmpPeer other;
  other.address = ip("192.0.2.2");
  other.asn = 65002;
  auto p2 = rib.peer(exporter, other);
  Nlri defaults[] = {nlri("0.0.0.0/0"), nlri("::/0", "2001:db8::1")};
  rib.update(p2, {}, defaults, {});
  rib.removePeer(p);
  EXPECT_EQ(rib.routes(), 2u);
  for (int i = 0; i < 200; i++) {
    IPv6Addr q = randomPrefix().addr;
    RouteInfo r;
    ASSERT_TRUE(rib.lookup(exporter, q, {}, r)) << q.toString();
    EXPECT_EQ(r.asn, 65002u);
    EXPECT_EQ(r.prefix_len, q.isV4Mapped() ? 96 : 0) << q.toString();
  }
}

}  // namespace akvo::routing
