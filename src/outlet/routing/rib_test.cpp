#include "outlet/routing/rib.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <atomic>
#include <thread>
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

// Withdrawing every route, or removing the peers, gives the memory back (after the grace
// period): trie nodes, route sets, attribute sets and slab chunks.
TEST(Rib, MemoryReturnsAfterWithdrawalsAndPeerRemoval) {
  Rib rib;
  const size_t baseline = rib.memoryBytes();
  auto exporter = ip("203.0.113.1");
  auto p1 = rib.peer(exporter, bmpPeer("192.0.2.1", 65001));
  auto p2 = rib.peer(exporter, bmpPeer("192.0.2.2", 65002));
  std::mt19937 rng(5);
  std::vector<Nlri> all;
  for (int i = 0; i < 60000; i++) {
    Nlri n;
    if (i % 5) {
      uint8_t len = uint8_t(16 + rng() % 9);
      n.prefix = {IPv6Addr::fromV4(uint32_t(rng()) & (~0u << (32 - len))), uint8_t(96 + len)};
    } else {
      std::array<uint8_t, 16> b{0x20, 0x01, uint8_t(rng()), uint8_t(rng()), uint8_t(rng()),
                                uint8_t(rng() & 0xf0)};
      n.prefix = {IPv6Addr::fromV6Bytes(b.data()), 44};
    }
    n.next_hop = ip("192.0.2.9");
    all.push_back(n);
  }
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < all.size(); i += 10) {
      PathAttributes a;
      a.as_path = {65001, uint32_t(i % 3000)};
      a.communities = {uint32_t(i)};
      std::span<const Nlri> batch(all.data() + i, std::min<size_t>(10, all.size() - i));
      rib.update(p1, a, batch, {});
      rib.update(p2, a, batch, {});
    }
    const size_t full = rib.memoryBytes();
    ASSERT_GT(rib.routes(), 100000u);
    EXPECT_GT(full, baseline + 4'000'000) << "full " << full << " baseline " << baseline;
    if (round == 0) {
      for (size_t i = 0; i < all.size(); i += 10) {
        std::span<const Nlri> batch(all.data() + i, std::min<size_t>(10, all.size() - i));
        rib.update(p1, {}, {}, batch);
        rib.update(p2, {}, {}, batch);
      }
    } else {
      rib.removePeer(p1);
      rib.removePeer(p2);
    }
    rib.reclaim();
    EXPECT_EQ(rib.routes(), 0u);
    EXPECT_EQ(rib.prefixes(), 0u);
    EXPECT_EQ(rib.attributeSets(), 0u);
    // The hash indexes keep their bucket arrays: a few hundred KB.
    EXPECT_LT(rib.memoryBytes(), baseline + 1'500'000)
        << "round " << round << ": full " << full << " baseline " << baseline;
    RouteInfo r;
    EXPECT_FALSE(rib.lookup(exporter, all[3].prefix.addr, {}, r));
    if (round == 0) continue;
  }
}

// Route distinguishers: one table each; a lookup with an RD only sees that table, a lookup
// without sees them all (longest match, RD 0 first on a tie).
TEST(Rib, RouteDistinguishers) {
  Rib rib;
  auto exporter = ip("203.0.113.1");
  auto p = rib.peer(exporter, bmpPeer("192.0.2.1", 65001));
  const uint64_t rd1 = *parseRd("65017:101"), rd2 = *parseRd("192.0.2.1:7");
  auto announce = [&](const char* prefix, uint64_t rd, uint32_t origin) {
    Nlri n = nlri(prefix);
    n.rd = rd;
    PathAttributes a;
    a.as_path = {65001, origin};
    Nlri ann[] = {n};
    rib.update(p, a, ann, {});
  };
  announce("10.0.0.0/8", 0, 100);
  announce("10.0.0.0/8", rd1, 101);
  announce("10.1.0.0/16", rd1, 111);
  announce("10.0.0.0/8", rd2, 102);
  announce("2001:db8::/32", rd2, 602);
  EXPECT_EQ(rib.routes(), 5u);
  RouteInfo r;
  ASSERT_TRUE(rib.lookup(exporter, ip("10.1.2.3"), {}, r, 0));
  EXPECT_EQ(r.asn, 100u);
  EXPECT_EQ(r.rd, 0u);
  ASSERT_TRUE(rib.lookup(exporter, ip("10.1.2.3"), {}, r, rd1));
  EXPECT_EQ(r.asn, 111u);
  EXPECT_EQ(r.prefix_len, 96 + 16);
  EXPECT_EQ(r.rd, rd1);
  ASSERT_TRUE(rib.lookup(exporter, ip("10.2.2.3"), {}, r, rd1));
  EXPECT_EQ(r.asn, 101u);
  ASSERT_TRUE(rib.lookup(exporter, ip("10.2.2.3"), {}, r, rd2));
  EXPECT_EQ(r.asn, 102u);
  EXPECT_FALSE(rib.lookup(exporter, ip("2001:db8::1"), {}, r, rd1));
  ASSERT_TRUE(rib.lookup(exporter, ip("2001:db8::1"), {}, r, rd2));
  EXPECT_EQ(r.asn, 602u);
  EXPECT_FALSE(rib.lookup(exporter, ip("10.2.2.3"), {}, r, *parseRd("65017:999")));
  // Any RD: the longest match (RD 65017:101's /16), else RD 0 on a tie.
  ASSERT_TRUE(rib.lookup(exporter, ip("10.1.2.3"), {}, r));
  EXPECT_EQ(r.asn, 111u);
  ASSERT_TRUE(rib.lookup(exporter, ip("10.2.2.3"), {}, r));
  EXPECT_EQ(r.asn, 100u);
  // A withdrawal names its RD.
  Nlri w = nlri("10.0.0.0/8");
  w.rd = rd1;
  Nlri wd[] = {w};
  rib.update(p, {}, {}, wd);
  ASSERT_TRUE(rib.lookup(exporter, ip("10.2.2.3"), {}, r, 0));
  EXPECT_EQ(r.asn, 100u);
  EXPECT_FALSE(rib.lookup(exporter, ip("10.2.2.3"), {}, r, rd1));
  EXPECT_EQ(rib.routes(), 4u);
}

// Lookups while the writer announces, withdraws and removes peers: every lookup of the stable
// prefix finds it with its attributes (a reader never sees a half-built node or a freed one:
// the ASan build would report it).
TEST(Rib, LookupsDuringChanges) {
  Rib rib;
  auto exporter = ip("203.0.113.1");
  auto stable = rib.peer(exporter, bmpPeer("192.0.2.1", 65001));
  PathAttributes sa;
  sa.as_path = {65001, 64999};
  Nlri s[] = {nlri("198.51.100.0/24"), nlri("2001:db8:ffff::/48", "2001:db8::1")};
  rib.update(stable, sa, s, {});
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, done{0};
  auto reader = [&](unsigned seed) {
    std::mt19937 rng(seed);
    RouteInfo r;
    while (!stop.load(std::memory_order_relaxed)) {
      bool v6 = rng() % 2;
      IPv6Addr q = v6 ? ip("2001:db8:ffff::5") : ip("198.51.100.77");
      if (!rib.lookup(exporter, q, {}, r) || r.asn != 64999 || r.as_path.size() != 2 ||
          r.prefix_len != (v6 ? 48 : 120))
        bad++;
      // And somewhere in the churning space (any answer is fine, it must not crash).
      IPv6Addr c = IPv6Addr::fromV4(0x0a000000 | (uint32_t(rng()) & 0xffffff));
      rib.lookup(exporter, c, {}, r);
      done++;
    }
  };
  std::thread t1(reader, 1), t2(reader, 2);
  std::mt19937 rng(9);
  while (done.load() == 0) std::this_thread::yield();
  // At least 6 rounds, and until the readers have done many lookups meanwhile (a loaded
  // machine may schedule them late).
  for (int round = 0; round < 6 || (done.load() < 20000 && round < 500); round++) {
    auto p = rib.peer(exporter, bmpPeer("192.0.2.2", 65002));
    std::vector<Nlri> ann;
    for (int i = 0; i < 3000; i++) {
      uint8_t len = uint8_t(8 + rng() % 25);
      Nlri n;
      n.prefix = {IPv6Addr::fromV4((0x0a000000 | (uint32_t(rng()) & 0xffffff)) & (~0u << (32 - len))),
                  uint8_t(96 + len)};
      n.next_hop = ip("192.0.2.2");
      ann.push_back(n);
    }
    for (size_t i = 0; i < ann.size(); i += 4) {
      PathAttributes a;
      a.as_path = {65002, uint32_t(i)};
      rib.update(p, a, std::span<const Nlri>(ann.data() + i, std::min<size_t>(4, ann.size() - i)), {});
    }
    for (size_t i = 0; i < ann.size() / 2; i += 4)
      rib.update(p, {}, {}, std::span<const Nlri>(ann.data() + i, 4));
    rib.removePeer(p);
  }
  stop = true;
  t1.join();
  t2.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(done.load(), 0u);
  EXPECT_EQ(rib.routes(), 2u);
}

}  // namespace akvo::routing
