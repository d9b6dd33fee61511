#include "outlet/networks/networks.h"

#include <gtest/gtest.h>

#include "outlet/networks/subnet_map.h"

namespace akvo {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

Networks::Config readConfig(const std::string& yaml) {
  YAML::Node n = YAML::Load(yaml);
  ConfigReader r(n, "test.yaml", "networks");
  Networks::Config c;
  c.read(r);
  r.finish();
  return c;
}

TEST(PrefixTree, LongestMatchV4AndV6) {
  PrefixTree<int> t;
  t.insert(*IPv6Prefix::parse("::/0"), 1);
  t.insert(*IPv6Prefix::parse("192.0.2.0/24"), 2);
  t.insert(*IPv6Prefix::parse("192.0.2.128/25"), 3);
  t.insert(*IPv6Prefix::parse("2001:db8::/32"), 4);
  t.insert(*IPv6Prefix::parse("2001:db8:1::/48"), 5);
  EXPECT_EQ(*t.lookup(ip("192.0.2.1")), 2);
  EXPECT_EQ(*t.lookup(ip("192.0.2.200")), 3);
  EXPECT_EQ(*t.lookup(ip("198.51.100.1")), 1);  // ::/0 covers IPv4 too
  EXPECT_EQ(*t.lookup(ip("2001:db8:1::1")), 5);
  EXPECT_EQ(*t.lookup(ip("2001:db8:2::1")), 4);
  EXPECT_EQ(*t.lookup(ip("2001:db9::1")), 1);
  PrefixTree<int> empty;
  EXPECT_EQ(empty.lookup(ip("192.0.2.1")), nullptr);
  PrefixTree<int> v4only;
  v4only.insert(*IPv6Prefix::parse("10.0.0.0/8"), 7);
  EXPECT_EQ(v4only.lookup(ip("11.0.0.1")), nullptr);
  EXPECT_EQ(v4only.lookup(ip("2001:db8::1")), nullptr);
  EXPECT_EQ(*v4only.lookup(ip("10.255.0.1")), 7);
}

TEST(Networks, MostSpecificWinsAndInherits) {
  Networks n(readConfig(R"(
networks:
  192.0.2.0/24: {name: customer-a, site: par, region: europe, tenant: a, asn: 64501}
  192.0.2.128/25: {name: customer-b, role: servers}
  198.51.100.0/24: quarantine
  2001:db8::/32: {name: v6-net, asn: AS64502, country: FR}
)"));
  auto* a = n.lookup(ip("192.0.2.1"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "customer-a");
  EXPECT_EQ(a->site, "par");
  EXPECT_EQ(a->asn, 64501u);
  auto* b = n.lookup(ip("192.0.2.200"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name, "customer-b");
  EXPECT_EQ(b->role, "servers");
  EXPECT_EQ(b->site, "par");  // inherited
  EXPECT_EQ(b->region, "europe");
  EXPECT_EQ(b->asn, 64501u);
  EXPECT_EQ(n.lookup(ip("198.51.100.7"))->name, "quarantine");
  auto* c = n.lookup(ip("2001:db8:5::1"));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->asn, 64502u);
  EXPECT_EQ(c->country, "FR");
  EXPECT_EQ(n.lookup(ip("203.0.113.1")), nullptr);
}

TEST(Networks, ConfigErrorsNameTheKey) {
  try {
    readConfig("networks:\n  192.0.2.0/33: x\n");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.yaml:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("192.0.2.0/33"), std::string::npos) << e.what();
  }
  try {
    readConfig("networks:\n  192.0.2.0/24: {color: red}\n");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("valid attributes"), std::string::npos) << e.what();
  }
}

TEST(SubnetMap, ScalarOrMap) {
  YAML::Node n = YAML::Load("a: 100\nb: {192.0.2.0/24: 10, ::/0: 20}\nc: {192.0.2.0/40: 1}\n");
  ConfigReader r(n, "t.yaml", "core");
  auto toInt = [](const YAML::Node& v) { return v.as<int>(); };
  auto a = readSubnetMap<int>(r, "a", n["a"], toInt);
  EXPECT_EQ(*a.lookup(ip("2001:db8::1")), 100);
  EXPECT_EQ(*a.lookup(ip("10.0.0.1")), 100);
  auto b = readSubnetMap<int>(r, "b", n["b"], toInt);
  EXPECT_EQ(*b.lookup(ip("192.0.2.9")), 10);
  EXPECT_EQ(*b.lookup(ip("192.0.3.9")), 20);
  EXPECT_THROW(readSubnetMap<int>(r, "c", n["c"], toInt), ConfigError);
}

}  // namespace
}  // namespace akvo
