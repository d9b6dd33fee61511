#include "outlet/decoder/packet/packet.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/pcap_reader.h"
#include "testing/packets.h"

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

Parsed parseFrame(const std::vector<uint8_t>& frame, Decapsulation decap) {
  Parsed p;
  PacketOptions o;
  o.decap = decap;
  p.l3 = parseEthernet(frame, p.f, o);
  return p;
}

constexpr Decapsulation kAllDecaps[] = {Decapsulation::kNone, Decapsulation::kIpIp,
                                        Decapsulation::kGre, Decapsulation::kVxlan,
                                        Decapsulation::kSrv6};

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

// Crafted frames for the tunnels no capture holds: VXLAN (RFC 7348) over IPv4 and IPv6.
TEST(PacketParser, Vxlan) {
  using namespace akvo::testing;
  auto inner = ethernet(0x020000000002, 0x020000000001, 0x0800,
                        ipv4("192.0.2.1", "198.51.100.1", 6, tcp(443, 51000, 0x12)), 42);
  auto frame = ethernet(0x00000000aaaa, 0x00000000bbbb, 0x0800,
                        ipv4("10.0.0.1", "10.0.0.2", 17, udp(49152, 4789, vxlan(100, inner))));
  auto p = parseFrame(frame, Decapsulation::kVxlan);
  EXPECT_EQ(p.l3, 40u);  // the inner IPv4 total length
  EXPECT_EQ(p.f.src_addr.toString(), "192.0.2.1");
  EXPECT_EQ(p.f.dst_addr.toString(), "198.51.100.1");
  EXPECT_EQ(p.f.etype, 0x800u);
  EXPECT_EQ(p.f.proto, 6u);
  EXPECT_EQ(p.f.src_port, 443);
  EXPECT_EQ(p.f.dst_port, 51000);
  EXPECT_EQ(p.f.tcp_flags, 0x12);
  EXPECT_EQ(p.f.ip_ttl, 64);
  // The inner frame's MACs and VLAN, none of the outer's.
  EXPECT_EQ(p.f.src_mac, 0x020000000001u);
  EXPECT_EQ(p.f.dst_mac, 0x020000000002u);
  EXPECT_EQ(p.f.src_vlan, 42);
  // Without decapsulation, the outer UDP packet is the flow.
  auto outer = parseFrame(frame, Decapsulation::kNone);
  EXPECT_EQ(outer.l3, 20u + 8 + 8 + inner.size());
  EXPECT_EQ(outer.f.src_addr.toString(), "10.0.0.1");
  EXPECT_EQ(outer.f.proto, 17u);
  EXPECT_EQ(outer.f.dst_port, 4789);
  EXPECT_EQ(outer.f.src_mac, 0xbbbbu);
  // Over IPv6 too.
  auto v6 = parseFrame(
      ethernet(0xaaaa, 0xbbbb, 0x86dd,
               ipv6("2001:db8::1", "2001:db8::2", 17, udp(49152, 4789, vxlan(7, inner)))),
      Decapsulation::kVxlan);
  EXPECT_EQ(v6.l3, 40u);
  EXPECT_EQ(v6.f.src_addr.toString(), "192.0.2.1");
  EXPECT_EQ(v6.f.dst_port, 51000);
  // UDP to another port is not VXLAN; nor is a VXLAN header cut short.
  auto dns = ethernet(0xaaaa, 0xbbbb, 0x0800,
                      ipv4("10.0.0.1", "10.0.0.2", 17, udp(49152, 53, vxlan(100, inner))));
  EXPECT_EQ(parseFrame(dns, Decapsulation::kVxlan).l3, 0u);
  auto cut = ethernet(0xaaaa, 0xbbbb, 0x0800,
                      ipv4("10.0.0.1", "10.0.0.2", 17, udp(49152, 4789, {0x08, 0, 0})));
  EXPECT_EQ(parseFrame(cut, Decapsulation::kVxlan).l3, 0u);
}

// SRv6 (RFC 8754, RFC 8986): IPv6 with zero or more segment routing headers, then IPv4
// (End.DT4/DX4) or IPv6 (End.DT6/DX6).
TEST(PacketParser, Srv6) {
  using namespace akvo::testing;
  auto payload6 = ipv6("2001:db8:a::1", "2001:db8:b::2", 17, udp(5353, 53, Bytes(12, 0)));
  auto frame = ethernet(
      0xaaaa, 0xbbbb, 0x86dd,
      ipv6("fc00::1", "fc00::100", 43, srh(41, {"fc00::100", "fc00::200"}, payload6)));
  auto p = parseFrame(frame, Decapsulation::kSrv6);
  EXPECT_EQ(p.l3, 60u);  // inner payload length 20 + 40
  EXPECT_EQ(p.f.src_addr.toString(), "2001:db8:a::1");
  EXPECT_EQ(p.f.dst_addr.toString(), "2001:db8:b::2");
  EXPECT_EQ(p.f.etype, 0x86ddu);
  EXPECT_EQ(p.f.proto, 17u);
  EXPECT_EQ(p.f.src_port, 5353);
  EXPECT_EQ(p.f.dst_port, 53);
  EXPECT_EQ(p.f.ipv6_flow_label, 0x12345u);
  EXPECT_EQ(p.f.src_mac, 0u);  // outer metadata is not the flow's
  // Two SRHs, then IPv4.
  auto payload4 = ipv4("192.0.2.7", "192.0.2.8", 6, tcp(22, 40000, 0x10));
  auto two = ethernet(
      0xaaaa, 0xbbbb, 0x86dd,
      ipv6("fc00::1", "fc00::100", 43,
           srh(43, {"fc00::100"}, srh(4, {"fc00::300", "fc00::400"}, payload4))));
  auto q = parseFrame(two, Decapsulation::kSrv6);
  EXPECT_EQ(q.l3, 40u);
  EXPECT_EQ(q.f.src_addr.toString(), "192.0.2.7");
  EXPECT_EQ(q.f.etype, 0x800u);
  EXPECT_EQ(q.f.dst_port, 40000);
  // No SRH at all (reduced encapsulation): IPv6 carrying IPv6.
  auto bare = ethernet(0xaaaa, 0xbbbb, 0x86dd, ipv6("fc00::1", "fc00::100", 41, payload6));
  EXPECT_EQ(parseFrame(bare, Decapsulation::kSrv6).f.dst_addr.toString(), "2001:db8:b::2");
  // Not SRv6: another routing type, an Ethernet payload (End.DX2: no next header says so),
  // a plain UDP packet, an IPv4 outer header.
  auto rpl = ethernet(0xaaaa, 0xbbbb, 0x86dd,
                      ipv6("fc00::1", "fc00::100", 43, srh(41, {"fc00::100"}, payload6, 3)));
  EXPECT_EQ(parseFrame(rpl, Decapsulation::kSrv6).l3, 0u);
  auto l2 = ethernet(0xaaaa, 0xbbbb, 0x86dd,
                     ipv6("fc00::1", "fc00::100", 43,
                          srh(59, {"fc00::100"}, ethernet(1, 2, 0x0800, payload4))));
  EXPECT_EQ(parseFrame(l2, Decapsulation::kSrv6).l3, 0u);
  EXPECT_EQ(parseFrame(ethernet(0xaaaa, 0xbbbb, 0x86dd, payload6), Decapsulation::kSrv6).l3, 0u);
  auto v4in4 = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 4, payload4));
  EXPECT_EQ(parseFrame(v4in4, Decapsulation::kSrv6).l3, 0u);
  EXPECT_EQ(parseFrame(v4in4, Decapsulation::kIpIp).l3, 40u);
}

// GRE as Akvorado reads it: the checksum, key and sequence words are skipped; routing present
// is refused.
TEST(PacketParser, GreFlags) {
  using namespace akvo::testing;
  auto payload = ipv4("192.0.2.1", "192.0.2.2", 17, udp(123, 123, Bytes(48, 0)));
  for (uint16_t flags : {0x0000, 0x8000, 0x2000, 0x1000, 0xb000}) {
    SCOPED_TRACE(flags);
    auto frame = ethernet(0xaaaa, 0xbbbb, 0x0800,
                          ipv4("10.0.0.1", "10.0.0.2", 47, gre(flags, 0x0800, payload)));
    auto p = parseFrame(frame, Decapsulation::kGre);
    EXPECT_EQ(p.l3, 76u);
    EXPECT_EQ(p.f.src_addr.toString(), "192.0.2.1");
    EXPECT_EQ(p.f.dst_port, 123);
  }
  auto routing = ethernet(0xaaaa, 0xbbbb, 0x0800,
                          ipv4("10.0.0.1", "10.0.0.2", 47, gre(0x4000, 0x0800, payload)));
  EXPECT_EQ(parseFrame(routing, Decapsulation::kGre).l3, 0u);
  auto v1 = ethernet(0xaaaa, 0xbbbb, 0x0800,
                     ipv4("10.0.0.1", "10.0.0.2", 47, gre(0x0001, 0x0800, payload)));
  EXPECT_EQ(parseFrame(v1, Decapsulation::kGre).l3, 0u);
}

// Decapsulating, a packet that is not so encapsulated gives nothing (the decoders drop and
// count its flow), whatever the protocol; nothing of the outer headers reaches the flow.
TEST(PacketParser, NotEncapsulatedGivesNothing) {
  using namespace akvo::testing;
  auto plain = ethernet(0xaaaa, 0xbbbb, 0x0800,
                        ipv4("192.0.2.1", "192.0.2.2", 6, tcp(1234, 80, 0x02)), 30);
  for (auto decap : kAllDecaps) {
    auto p = parseFrame(plain, decap);
    if (decap == Decapsulation::kNone) {
      EXPECT_EQ(p.l3, 40u);
      continue;
    }
    SCOPED_TRACE(int(decap));
    EXPECT_EQ(p.l3, 0u);
    EXPECT_TRUE(p.f.src_addr.isZero());
    EXPECT_EQ(p.f.proto, 0u);
    EXPECT_EQ(p.f.src_port, 0);
    EXPECT_EQ(p.f.src_mac, 0u);
    EXPECT_EQ(p.f.src_vlan, 0);
  }
  // The outer MPLS labels are the tunnel's, not the flow's.
  auto inner = ipv4("192.0.2.1", "192.0.2.2", 6, tcp(1234, 80, 0x02));
  auto labelled = ethernet(0xaaaa, 0xbbbb, 0x8847,
                           mpls(100, true, ipv4("10.0.0.1", "10.0.0.2", 4, inner)));
  auto m = parseFrame(labelled, Decapsulation::kIpIp);
  EXPECT_EQ(m.l3, 40u);
  EXPECT_TRUE(m.f.mpls_labels.empty());
  EXPECT_EQ(parseFrame(labelled, Decapsulation::kNone).f.mpls_labels.size(), 1u);
  // A later fragment of the outer packet carries no inner header; the first one does.
  auto later = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 4, inner, 185));
  EXPECT_EQ(parseFrame(later, Decapsulation::kIpIp).l3, 0u);
  auto first = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 4, inner, 0, true));
  EXPECT_EQ(parseFrame(first, Decapsulation::kIpIp).l3, 40u);
}

// MACs the flow already has (from elements or records read before the frame) are kept; the
// ones it lacks come from the frame. Within one frame, EoMPLS's inner header still wins.
TEST(PacketParser, KeepsMacsTheFlowHas) {
  using namespace akvo::testing;
  auto frame = ethernet(0xd1, 0xc1, 0x0800, ipv4("192.0.2.1", "192.0.2.2", 6, tcp(1, 2, 0)));
  FlowRecord f;
  f.src_mac = 0xa1;
  EXPECT_EQ(parseEthernet(frame, f), 40u);
  EXPECT_EQ(f.src_mac, 0xa1u);
  EXPECT_EQ(f.dst_mac, 0xd1u);
  FlowRecord g;
  g.dst_mac = 0xb1;
  parseEthernet(frame, g);
  EXPECT_EQ(g.src_mac, 0xc1u);
  EXPECT_EQ(g.dst_mac, 0xb1u);
  auto eompls = ethernet(0xd2, 0xc2, 0x8847, mpls(100, true, Bytes(4, 0)));
  eompls.insert(eompls.end(), frame.begin(), frame.end());  // control word, then the frame
  FlowRecord h;
  EXPECT_EQ(parseEthernet(eompls, h), 40u);
  EXPECT_EQ(h.src_mac, 0xc1u);
}

// Protocol, ports, ToS and TCP flags the flow already has are kept too (an earlier sFlow
// record, IPFIX elements), unless decapsulating: the inner packet's then replace them.
TEST(PacketParser, KeepsTransportFieldsTheFlowHasUnlessDecapsulating) {
  using namespace akvo::testing;
  auto inner = ipv4("192.0.2.1", "192.0.2.2", 6, tcp(443, 51000, 0x18), 0, false, 0x20);
  auto frame = ethernet(0xd1, 0xc1, 0x0800, ipv4("10.0.0.1", "10.0.0.2", 4, inner));
  auto preset = [] {
    FlowRecord f;
    f.proto = 17;
    f.src_port = 1000;
    f.dst_port = 2000;
    f.ip_tos = 8;
    f.tcp_flags = 0x02;
    return f;
  };
  FlowRecord f = preset();
  EXPECT_EQ(parseEthernet(frame, f), 60u);
  EXPECT_EQ(f.proto, 17u);
  EXPECT_EQ(f.ip_tos, 8);
  EXPECT_EQ(f.src_addr.toString(), "10.0.0.1");  // addresses: the packet's
  FlowRecord g = preset();
  PacketOptions o;
  o.decap = Decapsulation::kIpIp;
  EXPECT_EQ(parseEthernet(frame, g, o), 40u);
  EXPECT_EQ(g.proto, 6u);
  EXPECT_EQ(g.src_port, 443);
  EXPECT_EQ(g.dst_port, 51000);
  EXPECT_EQ(g.ip_tos, 0x20);
  EXPECT_EQ(g.tcp_flags, 0x18);
}

// The crafted tunnels as an independent dissector reads them: tshark finds the same inner
// addresses and ports as the parser when decapsulating (skipped without tshark).
TEST(PacketParser, CraftedTunnelsAsTsharkReadsThem) {
  if (std::system("command -v tshark >/dev/null 2>&1") != 0) GTEST_SKIP() << "no tshark";
  using namespace akvo::testing;
  auto inner4 = ipv4("192.0.2.1", "198.51.100.1", 6, tcp(443, 51000, 0x12));
  auto inner6 = ipv6("2001:db8:a::1", "2001:db8:b::2", 17, udp(5353, 53, Bytes(12, 0)));
  struct Case {
    Decapsulation decap;
    Bytes frame;
  };
  std::vector<Case> cases = {
      {Decapsulation::kVxlan,
       ethernet(0xaaaa, 0xbbbb, 0x0800,
                ipv4("10.0.0.1", "10.0.0.2", 17,
                     udp(49152, 4789, vxlan(100, ethernet(2, 1, 0x0800, inner4, 42)))))},
      {Decapsulation::kSrv6,
       ethernet(0xaaaa, 0xbbbb, 0x86dd,
                ipv6("fc00::1", "fc00::100", 43, srh(41, {"fc00::100", "fc00::200"}, inner6)))},
      {Decapsulation::kSrv6,
       ethernet(0xaaaa, 0xbbbb, 0x86dd,
                ipv6("fc00::1", "fc00::100", 43,
                     srh(43, {"fc00::100"}, srh(4, {"fc00::300", "fc00::400"}, inner4))))},
      {Decapsulation::kGre,
       ethernet(0xaaaa, 0xbbbb, 0x0800,
                ipv4("10.0.0.1", "10.0.0.2", 47, gre(0xb000, 0x86dd, inner6)))},
      {Decapsulation::kIpIp,
       ethernet(0xaaaa, 0xbbbb, 0x86dd, ipv6("2001:db8::1", "2001:db8::2", 4, inner4))},
  };
  // A pcap file (link type 1, Ethernet) of the frames.
  std::string path = ::testing::TempDir() + "/akvo-tunnels-" + std::to_string(getpid()) + ".pcap";
  {
    std::ofstream out(path, std::ios::binary);
    auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
    u32(0xa1b2c3d4), u16(2), u16(4), u32(0), u32(0), u32(65535), u32(1);
    for (const auto& c : cases) {
      u32(1700000000), u32(0), u32(uint32_t(c.frame.size())), u32(uint32_t(c.frame.size()));
      out.write(reinterpret_cast<const char*>(c.frame.data()), std::streamsize(c.frame.size()));
    }
  }
  // The last (innermost) occurrence of each field.
  std::string cmd = "tshark -r " + path +
                    " -T fields -E occurrence=l -E separator=, -e ip.src -e ipv6.src -e ip.dst"
                    " -e ipv6.dst -e tcp.srcport -e tcp.dstport -e udp.srcport -e udp.dstport"
                    " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(pipe);
  std::string text;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, pipe.get())) text.append(buf, n);
  std::istringstream lines(text);
  std::string line;
  for (const auto& c : cases) {
    ASSERT_TRUE(std::getline(lines, line)) << text;
    SCOPED_TRACE(line);
    std::vector<std::string> v;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) v.push_back(x);
    v.resize(8);
    auto p = parseFrame(c.frame, c.decap);
    ASSERT_GT(p.l3, 0u);
    bool v4 = p.f.etype == 0x800;
    EXPECT_EQ(p.f.src_addr.toString(), v4 ? v[0] : v[1]);
    EXPECT_EQ(p.f.dst_addr.toString(), v4 ? v[2] : v[3]);
    bool is_tcp = p.f.proto == 6;
    EXPECT_EQ(std::to_string(p.f.src_port), is_tcp ? v[4] : v[6]);
    EXPECT_EQ(std::to_string(p.f.dst_port), is_tcp ? v[5] : v[7]);
  }
  std::remove(path.c_str());
}

TEST(PacketParser, EveryTruncationIsSafe) {
  using namespace akvo::testing;
  std::vector<std::vector<uint8_t>> frames;
  for (const char* name : {"mpls-ipv4.pcap", "vlan-ipv6.pcap", "gre-v4-key.pcap",
                           "ipv4-ipv6.pcap", "gre-v6-plain.pcap"}) {
    auto read = readPcapFrames(std::string("../shared/testdata/packets/") + name);
    ASSERT_FALSE(read.empty());
    frames.push_back(read[0].data);
  }
  auto inner = ethernet(2, 1, 0x0800, ipv4("192.0.2.1", "192.0.2.2", 6, tcp(443, 5000, 0x10)));
  frames.push_back(ethernet(0xaa, 0xbb, 0x0800,
                            ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 4789, vxlan(1, inner)))));
  frames.push_back(ethernet(0xaa, 0xbb, 0x86dd,
                            ipv6("fc00::1", "fc00::2", 43,
                                 srh(41, {"fc00::2", "fc00::3"},
                                     ipv6("2001:db8::1", "2001:db8::2", 6, tcp(1, 2, 0))))));
  for (const auto& d : frames) {
    for (size_t n = 0; n <= d.size(); n++) {
      std::vector<uint8_t> part(d.begin(), d.begin() + long(n));  // exact size for ASan
      for (auto decap : kAllDecaps) {
        FlowRecord f;
        PacketOptions o;
        o.decap = decap;
        parseEthernet(part, f, o);
      }
    }
  }
}

}  // namespace akvo::decoder
