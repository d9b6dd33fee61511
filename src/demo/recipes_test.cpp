#include "demo/recipes.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "demo/demo.h"
#include "demo/encoder.h"
#include "outlet/decoder/netflow/netflow.h"
#include "testing/config.h"

namespace akvo::demo {
namespace {

using Config = DemoExporter::Config;

Config readDemo(const std::string& yaml) {
  return testing::readSection<Config>(yaml, "demo-exporter", "demo.yaml");
}

/// The error reading `yaml` gives ("" when none).
std::string errorOf(const std::string& yaml) {
  try {
    readDemo(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

const char* kRouters = R"(
enabled: true
protocol: netflow-v9
routers:
  - name: th2-edge1.example.com
    interfaces:
      10: "Transit: Telia"
      11: "IX: AMSIX"
      20: core
    sampling-rate: 50000
    flows:
      - per-second: 2.5
        in-if-index: [10, 11]
        out-if-index: 20
        peak-hour: 16h
        multiplier: 3
        src-net: 216.58.206.0/24
        dst-net: 192.0.2.0/24
        src-as: 15169
        dst-as: "64501,64502"
        src-port: [80, 443]
        dst-port: 0
        protocol: tcp
        size: 1300
        reverse-direction-ratio: 0.1
  - name: th2-edge2.example.com
    interfaces: {10: "Transit: Cogent"}
    seed: 100
    flows:
      - {per-second: 1, in-if-index: 10, out-if-index: 10, peak-hour: 0h, multiplier: 1,
         src-net: "2a01:cb00::/32", dst-net: "2a01:db8:cafe:1::/64", src-as: [3215],
         dst-as: 64501, protocol: [tcp, udp, icmp], srcport: [22]}
)";

TEST(DemoRecipes, RouterListParses) {
  Config c = readDemo(kRouters);
  EXPECT_EQ(c.routers, 2);
  ASSERT_EQ(c.router_list.size(), 2u);
  const auto& r = c.router_list[0];
  EXPECT_EQ(r.name, "th2-edge1.example.com");
  EXPECT_EQ(r.interfaces.size(), 3u);
  EXPECT_EQ(r.interfaces.at(11), "IX: AMSIX");
  EXPECT_EQ(r.sampling_rate, 50000);
  EXPECT_EQ(r.seed, -1);
  ASSERT_EQ(r.flows.size(), 1u);
  const auto& f = r.flows[0];
  EXPECT_DOUBLE_EQ(f.per_second, 2.5);
  EXPECT_EQ(f.in_if_index, (std::vector<uint32_t>{10, 11}));
  EXPECT_EQ(f.out_if_index, (std::vector<uint32_t>{20}));
  EXPECT_EQ(f.peak_hour, std::chrono::hours(16));
  EXPECT_DOUBLE_EQ(f.multiplier, 3);
  EXPECT_EQ(f.src_net.toString(), "216.58.206.0/24");
  EXPECT_EQ(f.dst_as, (std::vector<uint32_t>{64501, 64502}));
  EXPECT_EQ(f.src_port, (std::vector<uint16_t>{80, 443}));
  EXPECT_EQ(f.dst_port, (std::vector<uint16_t>{0}));
  EXPECT_EQ(f.protocol, (std::vector<uint8_t>{6}));
  EXPECT_EQ(f.size, 1300u);
  EXPECT_DOUBLE_EQ(f.reverse_direction_ratio, 0.1);
  const auto& g = c.router_list[1].flows[0];
  EXPECT_EQ(c.router_list[1].seed, 100);
  EXPECT_EQ(g.protocol, (std::vector<uint8_t>{6, 17, 1}));
  EXPECT_EQ(g.src_port, (std::vector<uint16_t>{22}));  // srcport: Akvorado's spelling
  EXPECT_TRUE(g.dst_port.empty());
  EXPECT_EQ(g.size, 0u);

  // The routers as SNMP sees them: Akvorado's demo agent's names and speeds.
  auto routers = DemoExporter::routers(c);
  ASSERT_EQ(routers.size(), 2u);
  EXPECT_EQ(routers[1].name, "th2-edge2.example.com");
  EXPECT_EQ(routers[1].address, "127.0.0.11");
  ASSERT_EQ(routers[0].interfaces.size(), 3u);
  EXPECT_EQ(routers[0].interfaces[2].index, 20u);
  EXPECT_EQ(routers[0].interfaces[2].name, "Gi0/0/0/20");
  EXPECT_EQ(routers[0].interfaces[2].description, "core");
  EXPECT_EQ(routers[0].interfaces[2].speed_mbps, 10000u);

  // A number still means the built-in routers.
  Config builtin = readDemo("routers: 3\n");
  EXPECT_EQ(builtin.routers, 3);
  EXPECT_TRUE(builtin.router_list.empty());
  EXPECT_EQ(DemoExporter::routers(builtin)[0].name, "par-edge1.example.net");
}

TEST(DemoRecipes, ErrorsNameTheFileLineAndWhatIsExpected) {
  std::string recipe =
      "routers:\n"                                         // 1
      "  - name: r1\n"                                     // 2
      "    interfaces: {10: \"Transit: X\"}\n"             // 3
      "    flows:\n"                                       // 4
      "      - per-second: 1\n"                            // 5
      "        in-if-index: 10\n"                          // 6
      "        out-if-index: 10\n"                         // 7
      "        peak-hour: 16h\n"                           // 8
      "        multiplier: 2\n"                            // 9
      "        src-net: 192.0.2.0/24\n"                    // 10
      "        dst-net: 198.51.100.0/24\n"                 // 11
      "        src-as: 1\n"                                // 12
      "        dst-as: 2\n"                                // 13
      "        protocol: tcp\n";                           // 14
  ASSERT_EQ(errorOf(recipe), "");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = recipe;
    s.replace(s.find(from), from.size(), to);
    return errorOf(s);
  };
  auto expectError = [](const std::string& e, const std::vector<std::string>& parts) {
    EXPECT_FALSE(e.empty());
    for (const auto& p : parts) EXPECT_NE(e.find(p), std::string::npos) << e << "\nlacks: " << p;
  };
  expectError(with("        protocol: tcp\n", "        protocol: tcp\n        colour: red\n"),
              {"demo.yaml:15", "routers[0].flows[0].colour", "unknown key", "per-second"});
  expectError(with("192.0.2.0/24", "192.0.2.0/33"),
              {"demo.yaml:10", "routers[0].flows[0].src-net", "192.0.2.0/33", "a network such as"});
  expectError(with("198.51.100.0/24", "2001:db8::/32"),
              {"demo.yaml:11", "dst-net", "both IPv4 or both IPv6"});
  expectError(with("peak-hour: 16h", "peak-hour: 4pm"),
              {"demo.yaml:8", "peak-hour", "duration"});
  expectError(with("peak-hour: 16h", "peak-hour: 25h"),
              {"demo.yaml:8", "peak-hour", "from 0h to 24h"});
  expectError(with("        peak-hour: 16h\n", ""), {"peak-hour", "required"});
  expectError(with("in-if-index: 10", "in-if-index: []"),
              {"demo.yaml:6", "in-if-index", "at least one interface index"});
  expectError(with("src-as: 1", "src-as: [one]"), {"demo.yaml:12", "src-as", "\"one\"", "AS number"});
  expectError(with("protocol: tcp", "protocol: sctp"),
              {"demo.yaml:14", "protocol", "\"sctp\"", "tcp, udp, icmp"});
  expectError(with("multiplier: 2", "multiplier: 0"), {"demo.yaml:9", "multiplier", "> 0"});
  expectError(with("per-second: 1", "per-second: lots"), {"demo.yaml:5", "per-second", "number"});
  expectError(with("        in-if-index: 10\n", "        in-if-index: 10\n        size: 10\n"),
              {"size", "64 to 9000"});
  expectError(with("    flows:\n      - per-second: 1\n", "    flows: []\n    x:\n      - per-second: 1\n"),
              {"flows", "at least one flow recipe"});
  expectError(with("{10: \"Transit: X\"}", "{ten: \"Transit: X\"}"),
              {"demo.yaml:3", "routers[0].interfaces.ten", "interface index"});
  expectError(with("{10: \"Transit: X\"}", "{}"), {"interfaces", "required"});
  expectError(with("  - name: r1\n", "  - name: \"\"\n"), {"demo.yaml:2", "name", "required"});
  expectError(errorOf("routers: []\n"), {"routers", "a list of 1 to 200 routers"});
  // NetFlow v5 has 14 bits of sampling interval.
  expectError(with("    flows:\n", "    sampling-rate: 50000\n    flows:\n"),
              {"sampling-rate 50000", "netflow-v9"});
  std::string v9 = "protocol: ipfix\n" + recipe;
  v9.replace(v9.find("    flows:\n"), 11, "    sampling-rate: 50000\n    flows:\n");
  EXPECT_EQ(errorOf(v9), "");
}

FlowRecipe recipeOf(const std::string& yaml) {
  return testing::readSection<FlowRecipe>(yaml, "recipe");
}

const char* kRecipe = R"(
per-second: 20
in-if-index: [10, 11]
out-if-index: [20, 21]
peak-hour: 16h
multiplier: 4
src-net: 216.58.206.0/24
dst-net: 192.0.2.128/25
src-as: [15169, 36040]
dst-as: 64501
src-port: [443, 0]
dst-port: 0
protocol: [tcp, udp, icmp]
size: 1300
reverse-direction-ratio: 0.25
)";

// 2023-11-14 16:00:00 UTC, and 12 hours later.
constexpr uint32_t kPeak = 1699977600;
constexpr uint32_t kTrough = kPeak + 12 * 3600;

TEST(DemoRecipes, FlowsFollowTheRecipe) {
  FlowRecipe r = recipeOf(kRecipe);
  std::vector<FlowRecord> flows;
  for (uint32_t t = kPeak; t < kPeak + 60; t++) generateFlows({&r, 1}, 42, t, flows);
  ASSERT_GT(flows.size(), 1000u);
  auto net = [](const char* p) { return *IPv6Prefix::parse(p); };
  std::set<uint16_t> ephemeral;
  std::set<uint32_t> protos, src_as, in_if;
  size_t icmp = 0;
  ASSERT_EQ(flows.size() % 2, 0u);
  for (size_t i = 0; i < flows.size(); i += 2) {
    const auto &f = flows[i], &b = flows[i + 1];
    SCOPED_TRACE(i);
    EXPECT_TRUE(net("216.58.206.0/24").contains(f.src_addr)) << f.src_addr.toString();
    EXPECT_TRUE(net("192.0.2.128/25").contains(f.dst_addr)) << f.dst_addr.toString();
    EXPECT_EQ(f.src_net_mask, 24);
    EXPECT_EQ(f.dst_net_mask, 25);
    EXPECT_TRUE(f.in_if == 10 || f.in_if == 11);
    EXPECT_TRUE(f.out_if == 20 || f.out_if == 21);
    EXPECT_TRUE(f.src_as == 15169 || f.src_as == 36040);
    EXPECT_EQ(f.dst_as, 64501u);
    EXPECT_EQ(f.packets, 1u);
    EXPECT_EQ(f.etype, 0x800u);
    EXPECT_GE(f.bytes, 64u);
    EXPECT_LE(f.bytes, 1500u);  // a size that fits a packet stays in one
    protos.insert(f.proto);
    src_as.insert(f.src_as);
    in_if.insert(f.in_if);
    if (f.proto == 1) {
      icmp++;
      EXPECT_EQ(f.src_port, 0);
      EXPECT_EQ(f.dst_port, 0);
    } else {
      EXPECT_TRUE(f.src_port == 443 || (f.src_port >= 33000 && f.src_port <= 34999)) << f.src_port;
      EXPECT_GE(f.dst_port, 33000);
      EXPECT_LE(f.dst_port, 34999);
      if (f.src_port != 443) ephemeral.insert(f.src_port);
      ephemeral.insert(f.dst_port);
    }
    // The mirrored flow: addresses, AS, ports, interfaces swapped, size scaled.
    EXPECT_EQ(b.src_addr, f.dst_addr);
    EXPECT_EQ(b.dst_addr, f.src_addr);
    EXPECT_EQ(b.src_as, f.dst_as);
    EXPECT_EQ(b.dst_as, f.src_as);
    EXPECT_EQ(b.src_port, f.dst_port);
    EXPECT_EQ(b.dst_port, f.src_port);
    EXPECT_EQ(b.in_if, f.out_if);
    EXPECT_EQ(b.out_if, f.in_if);
    EXPECT_EQ(b.src_net_mask, 25);
    EXPECT_EQ(b.proto, f.proto);
    EXPECT_EQ(b.bytes, uint64_t(double(f.bytes) * 0.25));
  }
  EXPECT_EQ(protos, (std::set<uint32_t>{1, 6, 17}));
  EXPECT_EQ(src_as.size(), 2u);
  EXPECT_EQ(in_if.size(), 2u);
  EXPECT_GT(icmp, 0u);
  EXPECT_GT(ephemeral.size(), 100u);  // random, not one port
  // Sizes: normal around 1300 (sd 30 %, clamped at 1500).
  double sum = 0;
  for (size_t i = 0; i < flows.size(); i += 2) sum += double(flows[i].bytes);
  double mean = sum / double(flows.size() / 2);
  EXPECT_GT(mean, 1050);
  EXPECT_LT(mean, 1300);

  // The same second and seed: the same flows; another seed: others.
  std::vector<FlowRecord> again, other;
  generateFlows({&r, 1}, 42, kPeak, again);
  generateFlows({&r, 1}, 43, kPeak, other);
  std::vector<FlowRecord> first;
  generateFlows({&r, 1}, 42, kPeak, first);
  ASSERT_EQ(again.size(), first.size());
  for (size_t i = 0; i < again.size(); i++) EXPECT_EQ(again[i].src_addr, first[i].src_addr);
  bool differ = other.size() != again.size();
  for (size_t i = 0; !differ && i < again.size(); i++) differ = again[i].src_addr != other[i].src_addr;
  EXPECT_TRUE(differ);
}

TEST(DemoRecipes, IPv6AndRandomSizes) {
  FlowRecipe r = recipeOf(R"(
per-second: 50
in-if-index: 10
out-if-index: 20
peak-hour: 21h
multiplier: 1
src-net: 2a00:1450:4007:807::2000/124
dst-net: 2a01:db8:cafe:1::/64
src-as: 15169
dst-as: 64501
protocol: icmp
)");
  std::vector<FlowRecord> flows;
  generateFlows({&r, 1}, 0, kPeak, flows);
  ASSERT_GE(flows.size(), 40u);
  for (const auto& f : flows) {
    EXPECT_TRUE(IPv6Prefix::parse("2a00:1450:4007:807::2000/124")->contains(f.src_addr));
    EXPECT_TRUE(IPv6Prefix::parse("2a01:db8:cafe:1::/64")->contains(f.dst_addr));
    EXPECT_EQ(f.proto, 58u);  // ICMPv6
    EXPECT_EQ(f.etype, 0x86ddu);
    EXPECT_EQ(f.src_net_mask, 124);
    EXPECT_GE(f.bytes, 300u);  // no size: 300 to 1499
    EXPECT_LT(f.bytes, 1500u);
  }
}

TEST(DemoRecipes, RateFollowsThePeakHour) {
  FlowRecipe r = recipeOf(kRecipe);
  r.reverse_direction_ratio = 0;
  EXPECT_DOUBLE_EQ(recipeRate(r, kPeak), 80);
  EXPECT_DOUBLE_EQ(recipeRate(r, kTrough), 20);
  EXPECT_DOUBLE_EQ(recipeRate(r, kPeak - 86400), 80);
  double mid = recipeRate(r, kPeak + 6 * 3600);
  EXPECT_GT(mid, 20);
  EXPECT_LT(mid, 80);
  EXPECT_NEAR(recipeRate(r, kPeak + 3 * 3600), recipeRate(r, kPeak - 3 * 3600), 1e-9);
  // Flows generated over 10 minutes at the peak and 12 hours later: the multiplier's ratio,
  // within the ±10 % noise.
  auto count = [&](uint32_t from) {
    std::vector<FlowRecord> flows;
    for (uint32_t t = from; t < from + 600; t++) generateFlows({&r, 1}, 7, t, flows);
    return double(flows.size());
  };
  double peak = count(kPeak), trough = count(kTrough);
  EXPECT_NEAR(trough / 600, 20, 2);
  EXPECT_NEAR(peak / trough, 4, 0.4);
  // Fractional rates: 0.2 a second is about one flow every 5 seconds.
  r.per_second = 0.2;
  EXPECT_NEAR(count(kTrough), 120, 15);
}

// The flows of a recipe through the demo's encoders and akvo's decoder.
TEST(DemoRecipes, ThroughTheEncodersAndTheDecoder) {
  FlowRecipe r = recipeOf(kRecipe);
  std::vector<FlowRecord> flows;
  generateFlows({&r, 1}, 1, kPeak, flows);
  ASSERT_GE(flows.size(), 24u);
  std::span<const FlowRecord> some(flows.data(), 12);
  struct Collect : decoder::FlowSink {
    std::vector<FlowRecord> flows;
    void flow(FlowRecord& f) override { flows.push_back(f); }
  };
  for (const char* protocol : {"netflow-v5", "netflow-v9", "ipfix"}) {
    SCOPED_TRACE(protocol);
    std::vector<uint8_t> dgram;
    if (std::string(protocol) == "netflow-v5")
      dgram = encodeNetflowV5({3600000, kPeak, 0, 1000}, some);
    else if (std::string(protocol) == "netflow-v9")
      dgram = encodeNetflowV9({3600000, kPeak, 0, 1, 50000, true}, some);
    else
      dgram = encodeIpfix({kPeak, 0, 1, 50000, true}, some);
    decoder::NetflowDecoder d;
    Collect c;
    ASSERT_EQ(d.decode({std::span<const uint8_t>(dgram), *IPv6Addr::parse("127.0.0.10"), kPeak}, c),
              decoder::Status::kOk);
    ASSERT_EQ(c.flows.size(), some.size());
    for (size_t i = 0; i < some.size(); i++) {
      EXPECT_EQ(c.flows[i].src_addr, some[i].src_addr);
      EXPECT_EQ(c.flows[i].dst_addr, some[i].dst_addr);
      EXPECT_EQ(c.flows[i].bytes, some[i].bytes);
      EXPECT_EQ(c.flows[i].packets, 1u);
      EXPECT_EQ(c.flows[i].proto, some[i].proto);
      EXPECT_EQ(c.flows[i].src_port, some[i].src_port);
      EXPECT_EQ(c.flows[i].dst_port, some[i].dst_port);
      EXPECT_EQ(c.flows[i].in_if, some[i].in_if);
      EXPECT_EQ(c.flows[i].out_if, some[i].out_if);
      EXPECT_EQ(c.flows[i].src_as, some[i].src_as);
      EXPECT_EQ(c.flows[i].dst_as, some[i].dst_as);
      EXPECT_EQ(c.flows[i].sampling_rate, std::string(protocol) == "netflow-v5" ? 1000u : 50000u);
    }
  }
}

}  // namespace
}  // namespace akvo::demo
