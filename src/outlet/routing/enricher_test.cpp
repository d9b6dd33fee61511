#include "outlet/routing/enricher.h"

#include <gtest/gtest.h>

#include "outlet/core/core.h"

namespace akvo::routing {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

/// A provider over a RIB filled by the test.
struct RibProvider : RoutingProvider {
  Rib rib;
  bool lookup(const IPv6Addr& e, const IPv6Addr& a, const IPv6Addr& nh, RouteInfo& out,
              std::optional<uint64_t> rd = std::nullopt) const override {
    return rib.lookup(e, a, nh, out, rd);
  }
};

/// Announces `prefixes` (next hop 192.0.2.1) with `a`, from peer 192.0.2.1 (AS 64500) of the
/// BMP router 203.0.113.1.
void announce(RibProvider& p, const PathAttributes& a, std::initializer_list<const char*> prefixes) {
  BmpPeer peer;
  peer.address = ip("192.0.2.1");
  peer.asn = 64500;
  auto id = p.rib.peer(ip("203.0.113.1"), peer);
  std::vector<Nlri> ann;
  for (const char* prefix : prefixes) {
    Nlri n;
    n.prefix = *IPv6Prefix::parse(prefix);
    n.next_hop = ip("192.0.2.1");
    ann.push_back(n);
  }
  p.rib.update(id, a, ann, {});
}

}  // namespace

TEST(RoutingEnricher, FillsWhatTheFlowLacks) {
  RibProvider p;
  PathAttributes a;
  a.as_path = {64500, 174, 64476};
  a.communities = {64500u << 16 | 1};
  a.large_communities = {{64500, 1, 2}};
  announce(p, a, {"198.51.100.0/24", "203.0.113.0/25"});

  RoutingEnricher e(p);
  FlowRecord f;
  f.exporter_address = ip("203.0.113.1");
  f.src_addr = ip("203.0.113.7");
  f.dst_addr = ip("198.51.100.9");
  ASSERT_TRUE(e.enrich(f));
  EXPECT_EQ(f.dst_as, 64476u);
  EXPECT_EQ(f.dst_net_mask, 24);
  EXPECT_EQ(f.next_hop, ip("192.0.2.1"));
  ASSERT_EQ(f.dst_as_path.size(), 3u);
  EXPECT_EQ(f.dst_as_path[0], 64500u);
  ASSERT_EQ(f.dst_communities.size(), 1u);
  ASSERT_EQ(f.dst_large_communities.size(), 1u);
  EXPECT_EQ(f.src_as, 64476u);
  EXPECT_EQ(f.src_net_mask, 25);

  // What the flow says first (OUT-9 default order: flow, routing).
  FlowRecord g;
  g.exporter_address = ip("203.0.113.1");
  g.dst_addr = ip("198.51.100.9");
  g.dst_as = 65999;
  g.dst_net_mask = 22;
  g.next_hop = ip("192.0.2.99");
  ASSERT_TRUE(e.enrich(g));
  EXPECT_EQ(g.dst_as, 65999u);
  EXPECT_EQ(g.dst_net_mask, 22);
  EXPECT_EQ(g.next_hop, ip("192.0.2.99"));
  EXPECT_EQ(g.dst_as_path.size(), 3u);

  // No route: nothing changes.
  FlowRecord h;
  h.dst_addr = ip("2001:db8::1");
  ASSERT_TRUE(e.enrich(h));
  EXPECT_EQ(h.dst_as, 0u);
  EXPECT_TRUE(h.dst_as_path.empty());
}

TEST(RoutingConfig, ReadsAndRejects) {
  auto read = [](const char* yaml) {
    RoutingConfig c;
    YAML::Node n = YAML::Load(yaml);
    ConfigReader r(n, "akvo.yaml", "outlet.routing");
    c.read(r);
    r.finish();
    return c;
  };
  auto c = read("provider: {type: bmp, listen: '127.0.0.1:11019', rds: ['0', '65017:101'], keep: 1m}");
  EXPECT_EQ(c.type, "bmp");
  EXPECT_EQ(c.bmp.listen, "127.0.0.1:11019");
  EXPECT_EQ(c.bmp.rds.size(), 2u);
  EXPECT_EQ(c.bmp.keep, std::chrono::minutes(1));
  EXPECT_EQ(read("{}").type, "none");
  EXPECT_EQ(read("{}").bmp.listen, ":10179");
  try {
    read("provider:\n  type: bmp\n  rds: ['nope']\n");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("rds"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("akvo.yaml"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read("provider: {type: bioris}"), ConfigError);
  EXPECT_THROW(read("provider: {type: bmp, listne: ':1'}"), ConfigError);
}

}  // namespace akvo::routing

namespace akvo::routing {

// The next hop follows net-providers as Akvorado's getNextHop: the first non-zero in order.
TEST(CoreRouting, NextHopFollowsNetProviders) {
  RibProvider p;
  PathAttributes a;
  a.as_path = {64500};
  announce(p, a, {"198.51.100.0/24"});
  CoreRouting routing(p);
  auto next_hop = [&](const char* providers, const char* flow_nh, const char* dst) {
    Metrics m;
    YAML::Node node = YAML::Load(fmt::format("net-providers: {}", providers));
    ConfigReader r(node, "test.yaml", "core");
    Core::Config c;
    c.read(r);
    Core core(c, m, nullptr, nullptr, nullptr, &routing);
    auto e = core.makeEnricher();
    FlowRecord f;
    f.exporter_address = ip("203.0.113.1");
    f.in_if = 1;
    f.sampling_rate = 1;
    f.dst_addr = ip(dst);
    if (*flow_nh) f.next_hop = ip(flow_nh);
    EXPECT_TRUE(e->enrich(f));
    return f.next_hop.isZero() ? std::string() : f.next_hop.toString();
  };
  EXPECT_EQ(next_hop("[flow, routing]", "10.0.0.1", "198.51.100.7"), "10.0.0.1");
  EXPECT_EQ(next_hop("[flow, routing]", "", "198.51.100.7"), "192.0.2.1");
  EXPECT_EQ(next_hop("[routing, flow]", "10.0.0.1", "198.51.100.7"), "192.0.2.1");
  EXPECT_EQ(next_hop("[routing, flow]", "10.0.0.1", "192.0.2.99"), "10.0.0.1");  // no route
  EXPECT_EQ(next_hop("[routing]", "10.0.0.1", "192.0.2.99"), "");
  EXPECT_EQ(next_hop("[flow]", "", "198.51.100.7"), "");
}

// The core's hook: origin AS, mask in the flow's form, next hop; not found without a route.
TEST(CoreRouting, ConvertsForTheCore) {
  RibProvider p;
  PathAttributes a;
  a.as_path = {64500, 64476};
  announce(p, a, {"198.51.100.0/24", "2001:db8::/32"});
  CoreRouting core(p);
  auto r = core.lookup(ip("198.51.100.7"), nullptr, ip("203.0.113.1"));
  EXPECT_TRUE(r.found);
  EXPECT_EQ(r.asn, 64476u);
  EXPECT_EQ(r.net_mask, 24);
  EXPECT_EQ(r.next_hop, ip("192.0.2.1"));
  EXPECT_EQ(core.lookup(ip("2001:db8::9"), nullptr, {}).net_mask, 32);
  EXPECT_FALSE(core.lookup(ip("192.0.2.99"), nullptr, {}).found);

  // With an inner enricher: it runs first (and may drop); only the path is added after.
  struct Inner : FlowEnricher {
    bool drop = false;
    bool enrich(FlowRecord& f) override {
      f.dst_as = 1;  // what the core chose
      return !drop;
    }
  };
  auto inner = std::make_unique<Inner>();
  Inner* in = inner.get();
  RoutingEnricher e(p, std::move(inner));
  FlowRecord f;
  f.dst_addr = ip("198.51.100.7");
  ASSERT_TRUE(e.enrich(f));
  EXPECT_EQ(f.dst_as, 1u);
  EXPECT_EQ(f.dst_net_mask, 0);  // the core's job
  ASSERT_EQ(f.dst_as_path.size(), 2u);
  in->drop = true;
  FlowRecord g;
  g.dst_addr = ip("198.51.100.7");
  EXPECT_FALSE(e.enrich(g));
  EXPECT_TRUE(g.dst_as_path.empty());
}

}  // namespace akvo::routing
