#include "outlet/networks/networks.h"

#include <gtest/gtest.h>

#include "outlet/networks/subnet_map.h"
#include "testing/config.h"

#include <thread>

namespace akvo {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

Networks::Config readConfig(const std::string& yaml) {
  return testing::readSection<Networks::Config>(yaml, "networks");
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

// 0.0.0.0/0 is ::ffff:0:0/96: more specific than ::/0 or ::/64 for IPv4, whatever the
// order of insertion.
TEST(PrefixTree, IPv4DefaultBeatsShorterIPv6Prefixes) {
  for (bool v4_first : {true, false}) {
    PrefixTree<int> t;
    if (v4_first) t.insert(*IPv6Prefix::parse("0.0.0.0/0"), 4);
    t.insert(*IPv6Prefix::parse("::/0"), 6);
    t.insert(*IPv6Prefix::parse("::/64"), 64);
    if (!v4_first) t.insert(*IPv6Prefix::parse("0.0.0.0/0"), 4);
    EXPECT_EQ(*t.lookup(ip("198.51.100.1")), 4) << v4_first;
    EXPECT_EQ(*t.lookup(ip("2001:db8::1")), 6) << v4_first;
    EXPECT_EQ(*t.lookup(ip("::1")), 64) << v4_first;
  }
}

// The uniform length a lookup reports is safe for caching: every address inside that prefix
// gets the same answer (random addresses around nested prefixes of odd lengths).
TEST(PrefixTree, UniformLengthHoldsForTheWholePrefix) {
  PrefixTree<int> t;
  int v = 0;
  for (const char* p : {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/23", "10.1.2.128/25", "10.1.2.200/32",
                        "192.0.2.0/27", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/63"})
    t.insert(*IPv6Prefix::parse(p), ++v);
  uint64_t rng = 12345;
  auto next = [&rng] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  const IPv6Addr bases[] = {ip("10.1.2.200"), ip("10.1.2.130"), ip("10.1.3.1"), ip("10.9.0.1"),
                            ip("11.0.0.1"), ip("192.0.2.33"), ip("192.0.2.3"), ip("2001:db8:1:2::1"),
                            ip("2001:db8:1:4::1"), ip("2001:db8:9::1"), ip("2001:db9::1")};
  for (const IPv6Addr& a : bases) {
    uint8_t len = 0;
    const int* want = t.lookup(a, &len);
    EXPECT_EQ(want, t.lookup(a)) << a.toString();
    ASSERT_LE(len, 128);
    for (int k = 0; k < 2000; k++) {
      IPv6Addr b = a;  // keep the first `len` bits, randomize the rest
      for (unsigned bit = len; bit < 128; bit++)
        if (next() & 1) b.bytes[bit / 8] ^= uint8_t(0x80 >> (bit % 8));
      ASSERT_EQ(t.lookup(b), want) << a.toString() << " /" << int(len) << " vs " << b.toString();
    }
  }
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
  // A bad attribute names its whole key and its own line.
  try {
    readConfig("networks:\n  192.0.2.0/24:\n    name: x\n    asn: AS12x\n");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.yaml:4:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("networks.192.0.2.0/24.asn: \"AS12x\" is not an AS number"),
              std::string::npos) << e.what();
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

// {} is an empty map (Akvorado's default), not one value; a dotted key that is no address is
// reported as a bad subnet, with the file and line.
TEST(SubnetMap, EmptyMapAndBadDottedKey) {
  YAML::Node n = YAML::Load("e: {}\nbad:\n  192.0.2.300: 5\n");
  ConfigReader r(n, "t.yaml", "core");
  auto toInt = [](const YAML::Node& v) { return v.as<int>(); };
  auto e = readSubnetMap<int>(r, "e", n["e"], toInt);
  EXPECT_TRUE(e.empty());
  try {
    readSubnetMap<int>(r, "bad", n["bad"], toInt);
    FAIL() << "accepted 192.0.2.300";
  } catch (const ConfigError& err) {
    std::string msg = err.what();
    EXPECT_NE(msg.find("\"192.0.2.300\" is not a subnet"), std::string::npos) << msg;
    EXPECT_NE(msg.find("t.yaml:"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace akvo

#include "common/http_server.h"
#include "common/metrics.h"

namespace akvo {
namespace {

TEST(Networks, FromRemoteObjects) {
  auto list = Networks::fromRemote(
      {jq::Value::parse(R"({"prefix": "192.0.2.0/24", "name": "remote", "tenant": "t9",
                             "asn": 64510, "region": null, "comment": "ignored"})"),
       jq::Value::parse(R"({"Prefix": "2001:db8::1", "ASN": "AS64511"})")});
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].second.name, "remote");
  EXPECT_EQ(list[0].second.tenant, "t9");
  EXPECT_EQ(list[0].second.asn, 64510u);
  EXPECT_EQ(list[1].first.len, 128);  // a bare address
  EXPECT_EQ(list[1].second.asn, 64511u);
  auto error = [](const char* json) -> std::string {
    try {
      Networks::fromRemote({jq::Value::parse(json)});
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error(R"({"name": "x"})"), R"(object 1 ({"name":"x"}): no prefix)");
  EXPECT_EQ(error(R"({"prefix": "nope"})"), R"(object 1 ({"prefix":"nope"}): "nope" is not a subnet)");
  EXPECT_EQ(error(R"("192.0.2.0/24")"),
            R"(object 1 ("192.0.2.0/24"): expected an object with a prefix and attributes)");
  EXPECT_NE(error(R"({"prefix": "192.0.2.0/24", "asn": "x"})").find("is not an AS number"),
            std::string::npos);
}

TEST(Networks, RemoteSourceOverHttpStaticWins) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  HttpServer http(hc, metrics);
  std::atomic<int> version{1};
  http.route("GET", "/networks.json", [&](const HttpRequest&) {
    return HttpResponse::json(
        version == 1 ? R"([{"prefix": "192.0.2.0/24", "name": "remote", "site": "ams"},
                          {"prefix": "198.51.100.0/24", "name": "remote2"}])"
                     : R"([{"prefix": "203.0.113.0/24", "name": "remote3"}])");
  });
  http.start();
  auto c = readConfig(fmt::format(R"(
networks:
  192.0.2.0/24: {{name: static}}
network-sources:
  test: {{url: "http://127.0.0.1:{}/networks.json", interval: 1m}}
)",
                                  http.port()));
  c.network_sources["test"].interval = std::chrono::milliseconds(300);  // below 1m for the test
  Networks n(c, &metrics);
  n.start();
  auto* a = n.lookup(ip("192.0.2.1"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "static");  // static wins for the same prefix
  EXPECT_EQ(a->site, "ams");     // but inherits what it does not set
  auto snap = n.snapshot();
  EXPECT_EQ(snap->lookup(ip("198.51.100.1"))->name, "remote2");
  version = 2;
  for (int i = 0; i < 50 && !n.lookup(ip("203.0.113.1")); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_NE(n.lookup(ip("203.0.113.1")), nullptr);
  EXPECT_EQ(n.lookup(ip("198.51.100.1")), nullptr);
  EXPECT_EQ(snap->lookup(ip("198.51.100.1"))->name, "remote2");  // old snapshot still valid
  n.stop();
  EXPECT_GE(metrics.sum("akvo_outlet_networks_remote_updates_total"), 2u);
  http.stop();
}

// Akvorado's documented AWS example, verbatim, on a document shaped as ip-ranges.json.
TEST(Networks, AwsIpRangesWithAkvoradoTransform) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  HttpServer http(hc, metrics);
  http.route("GET", "/ip-ranges.json", [&](const HttpRequest&) {
    return HttpResponse::json(R"({
      "syncToken": "1717000000", "createDate": "2024-05-29-16-13-44",
      "prefixes": [
        {"ip_prefix": "3.2.34.0/26", "region": "af-south-1", "service": "AMAZON",
         "network_border_group": "af-south-1"},
        {"ip_prefix": "52.94.76.0/22", "region": "us-west-2", "service": "EC2",
         "network_border_group": "us-west-2"}],
      "ipv6_prefixes": [
        {"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "S3",
         "network_border_group": "us-west-2"}]})");
  });
  http.start();
  auto c = readConfig(fmt::format(R"(
network-sources-timeout: 10s
network-sources:
  amazon:
    url: http://127.0.0.1:{}/ip-ranges.json
    interval: 10m
    transform: |
      (.prefixes + .ipv6_prefixes)[] |
      {{ prefix: (.ip_prefix // .ipv6_prefix), tenant: "amazon", region: .region, role: .service|ascii_downcase }}
)",
                                  http.port()));
  Networks n(c, &metrics);
  n.start();
  auto* a = n.lookup(ip("52.94.77.1"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->tenant, "amazon");
  EXPECT_EQ(a->region, "us-west-2");
  EXPECT_EQ(a->role, "ec2");
  auto* b = n.lookup(ip("2600:1f14::1"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->role, "s3");
  EXPECT_EQ(n.lookup(ip("3.2.34.1"))->role, "amazon");
  EXPECT_NE(metrics.render().find(R"(akvo_outlet_networks_remote_data_total{source="amazon"} 3)"),
            std::string::npos);
  n.stop();
  http.stop();
}

// akvo's earlier CSV layout (a header line naming the columns) is the csv-header parser.
TEST(Networks, CsvWithHeaderLine) {
  Metrics metrics;
  HttpServer::Config hc;
  hc.listen = "127.0.0.1:0";
  HttpServer http(hc, metrics);
  http.route("GET", "/n.csv", [&](const HttpRequest&) {
    return HttpResponse::text("prefix,name,role\n2001:db8::/32,v6,edge\n198.51.100.0/24,csv,\n");
  });
  http.start();
  auto c = readConfig(fmt::format(R"(
network-sources:
  csv: {{url: "http://127.0.0.1:{}/n.csv", interval: 1m, parser: csv-header}}
)",
                                  http.port()));
  Networks n(c);
  n.start();
  ASSERT_NE(n.lookup(ip("2001:db8::1")), nullptr);
  EXPECT_EQ(n.lookup(ip("2001:db8::1"))->role, "edge");
  EXPECT_EQ(n.lookup(ip("198.51.100.1"))->name, "csv");
  n.stop();
}

TEST(Networks, RemoteSourceConfigErrors) {
  try {
    readConfig("network-sources:\n  x:\n    url: http://192.0.2.1/\n    interval: 10s\n");
    FAIL() << "accepted a 10s interval";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "test.yaml:4:15: networks.network-sources.x.interval: must be at least 1m");
  }
}

}  // namespace
}  // namespace akvo
