#include "outlet/decoder/packet/packet.h"

#include <gtest/gtest.h>

#include "common/pcap_reader.h"

namespace akvo::decoder {
namespace {

// Expected values read from each capture with `tshark -V` (and matching Akvorado's own tests
// on the same files).
struct Parsed {
  FlowRecord f;
  uint64_t l3 = 0;
};

Parsed parseFile(const char* name, Decapsulation decap = Decapsulation::kNone, size_t index = 0) {
  auto frames = readPcapFrames(std::string("../shared/testdata/packets/") + name);
  EXPECT_GT(frames.size(), index);
  Parsed p;
  if (frames.size() <= index) return p;
  PacketOptions o;
  o.decap = decap;
  p.l3 = parseEthernet(frames[index].data, p.f, o);
  return p;
}

}  // namespace

TEST(PacketParser, MplsIPv4) {
  auto p = parseFile("mpls-ipv4.pcap");
  EXPECT_EQ(p.l3, 40u);
  EXPECT_EQ(p.f.src_addr.toString(), "10.31.0.1");
  EXPECT_EQ(p.f.dst_addr.toString(), "10.34.0.1");
  EXPECT_EQ(p.f.etype, 0x800u);
  EXPECT_EQ(p.f.proto, 6u);
  EXPECT_EQ(p.f.src_port, 11001);
  EXPECT_EQ(p.f.dst_port, 23);
  EXPECT_EQ(p.f.tcp_flags, 16);
  ASSERT_EQ(p.f.mpls_labels.size(), 2u);
  EXPECT_EQ(p.f.mpls_labels[0], 18u);
  EXPECT_EQ(p.f.mpls_labels[1], 16u);
  EXPECT_EQ(p.f.ip_ttl, 255);
  EXPECT_EQ(p.f.ip_tos, 0xb0);
  EXPECT_EQ(p.f.ip_fragment_id, 8u);
  EXPECT_EQ(p.f.src_mac, 0x003096052838u);
  EXPECT_EQ(p.f.dst_mac, 0x003096e6fc39u);
}

TEST(PacketParser, MplsExplicitNullIPv4) {
  auto p = parseFile("mpls-explicit-null-ipv4.pcap");
  EXPECT_EQ(p.l3, 40u);
  EXPECT_EQ(p.f.src_addr.toString(), "10.31.0.1");
  EXPECT_EQ(p.f.dst_addr.toString(), "10.34.0.1");
  ASSERT_EQ(p.f.mpls_labels.size(), 1u);
  EXPECT_EQ(p.f.mpls_labels[0], 0u);
  EXPECT_EQ(p.f.src_port, 11001);
  EXPECT_EQ(p.f.dst_port, 23);
}

TEST(PacketParser, MplsIPv6) {
  auto p = parseFile("mpls-ipv6.pcap");
  EXPECT_EQ(p.l3, 60u);  // payload length 20 + 40
  EXPECT_EQ(p.f.etype, 0x86ddu);
  EXPECT_EQ(p.f.src_addr.toString(), "2001:db8::1");
  EXPECT_EQ(p.f.dst_addr.toString(), "2001:db8::2");
  EXPECT_EQ(p.f.src_port, 11001);
  EXPECT_EQ(p.f.dst_port, 80);
  ASSERT_EQ(p.f.mpls_labels.size(), 1u);
  EXPECT_EQ(p.f.mpls_labels[0], 100u);
}

TEST(PacketParser, MplsInvalidNibbleStops) {
  auto p = parseFile("mpls-invalid-nibble.pcap");
  EXPECT_EQ(p.l3, 0u);
  EXPECT_EQ(p.f.etype, 0u);
  EXPECT_TRUE(p.f.src_addr.isZero());
  ASSERT_EQ(p.f.mpls_labels.size(), 1u);
  EXPECT_EQ(p.f.mpls_labels[0], 100u);
}

TEST(PacketParser, VlanIPv6) {
  auto p = parseFile("vlan-ipv6.pcap");
  EXPECT_EQ(p.l3, 179u);
  EXPECT_EQ(p.f.src_vlan, 100);
  EXPECT_EQ(p.f.src_addr.toString(), "2402:f000:1:8e01::5555");
  EXPECT_EQ(p.f.dst_addr.toString(), "2607:fcd0:100:2300::b108:2a6b");
  EXPECT_EQ(p.f.etype, 0x86ddu);
  EXPECT_EQ(p.f.proto, 4u);  // IPv4 in IPv6, not opened without decapsulation
  EXPECT_EQ(p.f.ip_ttl, 246);
  EXPECT_EQ(p.f.src_mac, 0x00121ef2613du);
  EXPECT_EQ(p.f.dst_mac, 0xc500000082c4u);
}

TEST(PacketParser, IpIpOuterByDefaultInnerWhenDecapsulating) {
  auto outer = parseFile("ipv4-ipv4.pcap");
  EXPECT_EQ(outer.l3, 120u);
  EXPECT_EQ(outer.f.src_addr.toString(), "10.1.2.1");
  EXPECT_EQ(outer.f.proto, 4u);
  auto p = parseFile("ipv4-ipv4.pcap", Decapsulation::kIpIp);
  EXPECT_EQ(p.l3, 100u);
  EXPECT_EQ(p.f.src_addr.toString(), "192.168.0.1");
  EXPECT_EQ(p.f.dst_addr.toString(), "192.168.0.2");
  EXPECT_EQ(p.f.proto, 1u);
  EXPECT_EQ(p.f.ip_ttl, 255);
  EXPECT_EQ(p.f.ip_fragment_id, 18u);
  EXPECT_EQ(p.f.icmpv4_type, 8);
  EXPECT_EQ(p.f.src_mac, 0u);  // outer metadata ignored when decapsulating
  auto v6 = parseFile("ipv4-ipv6.pcap", Decapsulation::kIpIp);
  EXPECT_EQ(v6.l3, 60u);
  EXPECT_EQ(v6.f.src_addr.toString(), "2001:610:1908:a000::149:20");
  EXPECT_EQ(v6.f.dst_addr.toString(), "2002:2470:9ffa:fa9:0:dd:ed00:2");
  EXPECT_EQ(v6.f.etype, 0x86ddu);
  EXPECT_EQ(v6.f.proto, 6u);
  EXPECT_EQ(v6.f.ip_ttl, 58);
  EXPECT_EQ(v6.f.src_port, 80);
  EXPECT_EQ(v6.f.dst_port, 35673);
  EXPECT_EQ(v6.f.tcp_flags, 16);
  // GRE is not IP-in-IP: dropped in ipip mode.
  EXPECT_EQ(parseFile("gre-v4-plain.pcap", Decapsulation::kIpIp).l3, 0u);
}

TEST(PacketParser, Gre) {
  auto p = parseFile("gre-v4-plain.pcap", Decapsulation::kGre);
  EXPECT_EQ(p.l3, 76u);
  EXPECT_EQ(p.f.src_addr.toString(), "66.59.111.190");
  EXPECT_EQ(p.f.dst_addr.toString(), "66.59.111.182");
  EXPECT_EQ(p.f.proto, 17u);
  EXPECT_EQ(p.f.ip_ttl, 64);
  EXPECT_EQ(p.f.src_port, 123);
  EXPECT_EQ(p.f.dst_port, 123);
  EXPECT_EQ(p.f.ip_tos, 16);
  auto k = parseFile("gre-v4-key.pcap", Decapsulation::kGre);
  EXPECT_EQ(k.l3, 100u);
  EXPECT_EQ(k.f.src_addr.toString(), "192.168.1.101");
  EXPECT_EQ(k.f.dst_addr.toString(), "192.168.2.102");
  EXPECT_EQ(k.f.proto, 1u);
  EXPECT_EQ(k.f.ip_ttl, 254);
  EXPECT_EQ(k.f.ip_fragment_id, 1119u);
  EXPECT_EQ(k.f.icmpv4_type, 8);
  auto v6 = parseFile("gre-v6-plain.pcap", Decapsulation::kGre);
  EXPECT_EQ(v6.l3, 62u);
  EXPECT_EQ(v6.f.src_addr.toString(), "2001:db8::2");
  EXPECT_EQ(v6.f.dst_addr.toString(), "2001:db8::1");
  EXPECT_EQ(v6.f.proto, 6u);
  EXPECT_EQ(v6.f.ip_ttl, 255);
  EXPECT_EQ(v6.f.src_port, 18716);
  EXPECT_EQ(v6.f.dst_port, 23);
  EXPECT_EQ(v6.f.ip_tos, 192);
  EXPECT_EQ(v6.f.tcp_flags, 24);
  // Without decapsulation, the outer GRE packet is the flow.
  auto outer = parseFile("gre-v4-key.pcap");
  EXPECT_EQ(outer.f.src_addr.toString(), "192.168.12.1");
  EXPECT_EQ(outer.f.proto, 47u);
  EXPECT_EQ(outer.l3, 128u);
}

TEST(PacketParser, EveryTruncationIsSafe) {
  for (const char* name : {"mpls-ipv4.pcap", "vlan-ipv6.pcap", "gre-v4-key.pcap",
                           "ipv4-ipv6.pcap", "gre-v6-plain.pcap"}) {
    auto frames = readPcapFrames(std::string("../shared/testdata/packets/") + name);
    ASSERT_FALSE(frames.empty());
    const auto& d = frames[0].data;
    for (size_t n = 0; n <= d.size(); n++) {
      std::vector<uint8_t> part(d.begin(), d.begin() + long(n));  // exact size for ASan
      for (auto decap : {Decapsulation::kNone, Decapsulation::kIpIp, Decapsulation::kGre}) {
        FlowRecord f;
        PacketOptions o;
        o.decap = decap;
        parseEthernet(part, f, o);
      }
    }
  }
}

}  // namespace akvo::decoder
