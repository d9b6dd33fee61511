#include "outlet/decoder/sflow/sflow.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/pcap_reader.h"
#include "testing/packets.h"

namespace akvo::decoder {
namespace {

struct Collect : FlowSink {
  std::vector<FlowRecord> flows;
  void flow(FlowRecord& f) override { flows.push_back(f); }
};

struct Result {
  std::vector<FlowRecord> flows;
  Status status = Status::kOk;
};

Result decodeFile(const char* name, bool use_src_addr = false) {
  auto dgrams = readPcapUdp(std::string("../shared/testdata/sflow/") + name);
  EXPECT_FALSE(dgrams.empty());
  SflowDecoder d;
  Collect c;
  Result r;
  for (auto& dg : dgrams) {
    Input in{std::span<const uint8_t>(dg.payload), *IPv6Addr::parse("192.0.2.100"), 1700000000,
             TimestampSource::kInput, use_src_addr};
    r.status = d.decode(in, c);
  }
  r.flows = c.flows;
  return r;
}

}  // namespace

// Expected values from `tshark -V` on each capture (sampled headers decoded by tshark too).
TEST(Sflow, FlowSamplesWithHeadersAndGateway) {
  auto r = decodeFile("data-1140.pcap");
  EXPECT_EQ(r.status, Status::kOk);
  ASSERT_EQ(r.flows.size(), 5u);
  const auto& a = r.flows[0];
  EXPECT_EQ(a.exporter_address.toString(), "172.16.0.3");  // the agent address
  EXPECT_EQ(a.sampling_rate, 1024u);
  EXPECT_EQ(a.in_if, 27u);
  EXPECT_EQ(a.out_if, 28u);
  EXPECT_EQ(a.src_addr.toString(), "2a0c:8880:2:0:185:21:130:38");
  EXPECT_EQ(a.dst_addr.toString(), "2a0c:8880:2:0:185:21:130:39");
  EXPECT_EQ(a.etype, 0x86ddu);
  EXPECT_EQ(a.proto, 6u);
  EXPECT_EQ(a.src_port, 46026);
  EXPECT_EQ(a.dst_port, 22);
  EXPECT_EQ(a.bytes, 1500u);
  EXPECT_EQ(a.packets, 1u);
  EXPECT_EQ(a.src_vlan, 100);
  EXPECT_EQ(a.dst_vlan, 100);
  EXPECT_EQ(a.src_mac, 0x246e96907a50u);
  EXPECT_EQ(a.dst_mac, 0x246e96043c08u);
  EXPECT_EQ(a.ip_ttl, 64);
  EXPECT_EQ(a.ip_tos, 8);
  EXPECT_EQ(a.ipv6_flow_label, 426132u);
  EXPECT_EQ(a.tcp_flags, 16);
  const auto& b = r.flows[1];
  EXPECT_EQ(b.src_addr.toString(), "104.26.8.24");
  EXPECT_EQ(b.dst_addr.toString(), "45.90.161.46");
  EXPECT_EQ(b.in_if, 49001u);
  EXPECT_EQ(b.out_if, 25u);
  EXPECT_EQ(b.src_net_mask, 20);
  EXPECT_EQ(b.dst_net_mask, 27);
  EXPECT_EQ(b.next_hop.toString(), "45.90.161.46");
  EXPECT_EQ(b.src_as, 13335u);
  EXPECT_EQ(b.dst_as, 39421u);
  EXPECT_EQ(b.bytes, 421u);
  const auto& c = r.flows[3];
  EXPECT_EQ(c.src_addr.toString(), "45.90.161.148");
  EXPECT_EQ(c.dst_addr.toString(), "191.87.91.27");
  EXPECT_EQ(c.next_hop.toString(), "31.14.69.110");
  EXPECT_EQ(c.src_as, 39421u);
  EXPECT_EQ(c.dst_as, 26615u);  // the last AS of the path
  ASSERT_EQ(c.dst_as_path.size(), 3u);
  EXPECT_EQ(c.dst_as_path[0], 203698u);
  EXPECT_EQ(c.dst_as_path[1], 6762u);
  EXPECT_EQ(c.dst_as_path[2], 26615u);
  ASSERT_EQ(c.dst_communities.size(), 5u);
  EXPECT_EQ(c.dst_communities[0], 2583495656u);
  EXPECT_EQ(c.dst_communities[4], 4259900001u);
  EXPECT_EQ(c.in_if, 28u);
  EXPECT_EQ(c.out_if, 49001u);
}

TEST(Sflow, InterfaceFormats) {
  auto discard = decodeFile("data-discard-interface.pcap");
  ASSERT_EQ(discard.flows.size(), 1u);
  EXPECT_EQ(discard.flows[0].out_if, 0u);
  EXPECT_EQ(discard.flows[0].forwarding_status, 131u);  // host unreachable: unroutable
  EXPECT_EQ(discard.flows[0].in_if, 27u);
  auto local = decodeFile("data-local-interface.pcap");
  ASSERT_EQ(local.flows.size(), 1u);
  EXPECT_EQ(local.flows[0].out_if, 0u);  // 0x3FFFFFFF: the router itself
  EXPECT_EQ(local.flows[0].forwarding_status, 0u);
  auto multiple = decodeFile("data-multiple-interfaces.pcap");
  ASSERT_EQ(multiple.flows.size(), 1u);
  EXPECT_EQ(multiple.flows[0].out_if, 0u);
  EXPECT_EQ(multiple.flows[0].in_if, 27u);
}

TEST(Sflow, Icmp) {
  auto v4 = decodeFile("data-icmpv4.pcap");
  ASSERT_EQ(v4.flows.size(), 1u);
  EXPECT_EQ(v4.flows[0].src_addr.toString(), "203.0.113.4");
  EXPECT_EQ(v4.flows[0].dst_addr.toString(), "203.0.113.5");
  EXPECT_EQ(v4.flows[0].proto, 1u);
  EXPECT_EQ(v4.flows[0].icmpv4_type, 8);
  EXPECT_EQ(v4.flows[0].bytes, 84u);
  EXPECT_EQ(v4.flows[0].exporter_address.toString(), "127.0.0.1");
  auto v6 = decodeFile("data-icmpv6.pcap");
  ASSERT_EQ(v6.flows.size(), 1u);
  EXPECT_EQ(v6.flows[0].src_addr.toString(), "fe80::d05b:45ff:feee:5ecf");
  EXPECT_EQ(v6.flows[0].dst_addr.toString(), "2001:db8::");
  EXPECT_EQ(v6.flows[0].proto, 58u);
  EXPECT_EQ(v6.flows[0].icmpv6_type, 135);  // neighbor solicitation
  EXPECT_EQ(v6.flows[0].bytes, 72u);
}

TEST(Sflow, SampledIPv4AndRawIPv4) {
  auto r = decodeFile("data-sflow-ipv4-data.pcap");
  ASSERT_EQ(r.flows.size(), 1u);
  const auto& f = r.flows[0];
  EXPECT_EQ(f.exporter_address.toString(), "49.49.49.49");
  EXPECT_EQ(f.src_addr.toString(), "50.50.50.50");
  EXPECT_EQ(f.dst_addr.toString(), "51.51.51.51");
  EXPECT_EQ(f.sampling_rate, 256u);
  EXPECT_EQ(f.out_if, 182u);
  EXPECT_EQ(f.proto, 17u);
  EXPECT_EQ(f.src_port, 46622);
  EXPECT_EQ(f.dst_port, 58631);
  EXPECT_EQ(f.bytes, 1344u);
  EXPECT_EQ(f.dst_vlan, 3001);
  auto raw = decodeFile("data-sflow-raw-ipv4.pcap");
  ASSERT_EQ(raw.flows.size(), 2u);
  EXPECT_EQ(raw.flows[0].src_addr.toString(), "69.58.92.107");
  EXPECT_EQ(raw.flows[0].dst_addr.toString(), "92.222.186.1");
  EXPECT_EQ(raw.flows[0].bytes, 32u);
  EXPECT_EQ(raw.flows[0].out_if, 2u);
  EXPECT_EQ(raw.flows[1].dst_addr.toString(), "92.222.184.1");
  // use-src-addr: the UDP source replaces the agent address.
  auto src = decodeFile("data-sflow-ipv4-data.pcap", true);
  ASSERT_EQ(src.flows.size(), 1u);
  EXPECT_EQ(src.flows[0].exporter_address.toString(), "192.0.2.100");
}

// decapsulation-protocol: the sampled header's inner packet is the flow; the records that
// describe the outer packet (sampled IPv4/IPv6/Ethernet, extended switch/router/gateway) are
// not used; a sample whose header is not so encapsulated (or that has none) is dropped and
// counted.
TEST(Sflow, Decapsulation) {
  using namespace akvo::testing;
  auto inner = ethernet(0x020000000002, 0x020000000001, 0x0800,
                        ipv4("192.0.2.1", "198.51.100.1", 6, tcp(443, 51000, 0x10)), 42);
  auto tunnel = ethernet(0x00000000aaaa, 0x00000000bbbb, 0x0800,
                         ipv4("10.0.0.1", "10.0.0.2", 17, udp(49152, 4789, vxlan(100, inner))));
  auto plain = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("10.0.0.3", "10.0.0.4", 6, tcp(1, 2, 0)));
  auto dgram = sflowDatagram(
      "192.0.2.100", 1,
      {{sampledHeader(tunnel),
        sampledIPv4(uint32_t(tunnel.size() - 14), 17, "10.0.0.1", "10.0.0.2", 49152, 4789),
        sampledEthernet(uint32_t(tunnel.size() + 4), 0xbbbb, 0xaaaa), extendedSwitch(100, 200),
        extendedRouter("10.0.0.254", 24, 16)},
       {sampledHeader(plain), extendedSwitch(100, 200)},
       {sampledIPv4(40, 6, "10.0.0.5", "10.0.0.6", 1, 2)}});
  SflowDecoder d;
  Collect c;
  auto decode = [&](Decapsulation decap) {
    c.flows.clear();
    Input in{std::span<const uint8_t>(dgram), IPv6Addr{}, 1700000000, TimestampSource::kInput,
             false, decap};
    return d.decode(in, c);
  };
  ASSERT_EQ(decode(Decapsulation::kVxlan), Status::kOk);
  EXPECT_EQ(d.stats().not_encapsulated, 2u);
  EXPECT_EQ(d.stats().flows, 1u);
  ASSERT_EQ(c.flows.size(), 1u);
  const auto& f = c.flows[0];
  EXPECT_EQ(f.src_addr.toString(), "192.0.2.1");
  EXPECT_EQ(f.dst_addr.toString(), "198.51.100.1");
  EXPECT_EQ(f.proto, 6u);
  EXPECT_EQ(f.src_port, 443);
  EXPECT_EQ(f.dst_port, 51000);
  EXPECT_EQ(f.bytes, 40u);  // the inner L3 length
  EXPECT_EQ(f.packets, 1u);
  EXPECT_EQ(f.src_mac, 0x020000000001u);
  EXPECT_EQ(f.dst_mac, 0x020000000002u);
  EXPECT_EQ(f.src_vlan, 42);  // the inner frame's tag, not the switch record's
  EXPECT_EQ(f.dst_vlan, 0);
  EXPECT_TRUE(f.next_hop.isZero());
  EXPECT_EQ(f.src_net_mask, 0);
  EXPECT_EQ(f.sampling_rate, 1000u);
  EXPECT_EQ(f.in_if, 10u);
  EXPECT_EQ(f.out_if, 20u);
  // Another protocol: nothing is so encapsulated.
  ASSERT_EQ(decode(Decapsulation::kGre), Status::kOk);
  EXPECT_EQ(d.stats().not_encapsulated, 3u);
  EXPECT_TRUE(c.flows.empty());
  // Without decapsulation, every sample is a flow, the tunnel reported by its outer header.
  ASSERT_EQ(decode(Decapsulation::kNone), Status::kOk);
  EXPECT_EQ(d.stats().not_encapsulated, 0u);
  ASSERT_EQ(c.flows.size(), 3u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "10.0.0.1");
  EXPECT_EQ(c.flows[0].dst_port, 4789);
  EXPECT_EQ(c.flows[0].src_vlan, 100);
  EXPECT_EQ(c.flows[0].next_hop.toString(), "10.0.0.254");
  EXPECT_EQ(c.flows[2].src_addr.toString(), "10.0.0.5");
}

// Several records describing the sample's packet: as Akvorado (each column written once per
// flow), the first gives protocol, ports, TCP flags, ToS and MACs; addresses and the L3 length
// come from the last. Later records used to overwrite them all.
TEST(Sflow, FirstRecordGivesTransportFieldsLastGivesAddresses) {
  using namespace akvo::testing;
  auto header = ethernet(0x0000000000d1, 0x0000000000c1, 0x0800,
                         ipv4("192.0.2.1", "192.0.2.2", 6, tcp(443, 51000, 0x18), 0, false, 0x20));
  auto v4 = sampledIPv4(1500, 17, "198.51.100.1", "198.51.100.2", 1000, 2000, 0, 8);
  auto mac = sampledEthernet(1518, 0xa1, 0xb1);
  auto dgram = sflowDatagram("192.0.2.100", 1,
                             {{v4, sampledHeader(header), mac}, {sampledHeader(header), v4, mac}});
  SflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(Input{std::span<const uint8_t>(dgram), IPv6Addr{}, 1}, c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 2u);
  const auto& a = c.flows[0];  // sampled IPv4, then the header
  EXPECT_EQ(a.proto, 17u);
  EXPECT_EQ(a.src_port, 1000);
  EXPECT_EQ(a.dst_port, 2000);
  EXPECT_EQ(a.ip_tos, 8);
  EXPECT_EQ(a.tcp_flags, 0x18);  // the IPv4 record said 0: nothing
  EXPECT_EQ(a.src_addr.toString(), "192.0.2.1");
  EXPECT_EQ(a.bytes, 40u);
  EXPECT_EQ(a.src_mac, 0xc1u);  // the header's, before the sampled Ethernet record
  const auto& b = c.flows[1];  // the header, then sampled IPv4
  EXPECT_EQ(b.proto, 6u);
  EXPECT_EQ(b.src_port, 443);
  EXPECT_EQ(b.dst_port, 51000);
  EXPECT_EQ(b.ip_tos, 0x20);
  EXPECT_EQ(b.tcp_flags, 0x18);
  EXPECT_EQ(b.src_addr.toString(), "198.51.100.1");
  EXPECT_EQ(b.bytes, 1500u);
  EXPECT_EQ(b.dst_mac, 0xd1u);
}

TEST(Sflow, SequenceLossAndMalformedInput) {
  auto dgrams = readPcapUdp("../shared/testdata/sflow/data-1140.pcap");
  ASSERT_EQ(dgrams.size(), 1u);
  auto p = dgrams[0].payload;
  SflowDecoder d;
  Collect c;
  auto run = [&](std::vector<uint8_t>& b) {
    Input in{std::span<const uint8_t>(b), IPv6Addr{}, 1, TimestampSource::kInput, false};
    return d.decode(in, c);
  };
  ASSERT_EQ(run(p), Status::kOk);
  EXPECT_EQ(d.stats().lost, 0u);
  // The sequence number follows the agent address (v4: offset 12): jump by 4.
  uint32_t seq = be32(p.data() + 16) + 4;
  p[16] = uint8_t(seq >> 24), p[17] = uint8_t(seq >> 16), p[18] = uint8_t(seq >> 8),
  p[19] = uint8_t(seq);
  ASSERT_EQ(run(p), Status::kOk);
  EXPECT_EQ(d.stats().lost, 3u);
  EXPECT_EQ(d.stats().flows, 5u);
  std::vector<uint8_t> v4 = {0, 0, 0, 4};
  EXPECT_EQ(run(v4), Status::kBadVersion);
  for (size_t n = 0; n < p.size(); n++) {
    std::vector<uint8_t> part(p.begin(), p.begin() + long(n));
    run(part);  // no crash, no sanitizer report
  }
  auto lying = p;
  lying[27] = 0xff;  // sample count 255: more samples than bytes
  EXPECT_EQ(run(lying), Status::kTruncated);
}

}  // namespace akvo::decoder

namespace akvo::decoder {

// Samples and their records by format, and the agent, as tshark -V reads the captures
// (data-1140.pcap: 5 flow samples of 2, 2, 2, 4 and 4 records from agent 172.16.0.3;
// data-sflow-ipv4-data.pcap: 1 expanded flow sample of 4 records from 49.49.49.49;
// data-sflow-raw-ipv4.pcap: 2 flow samples of 1 record from 172.19.64.116).
TEST(Sflow, SamplesAndRecordsAreCounted) {
  SflowDecoder d;
  auto counts = [&] {
    std::string out;
    for (size_t k = 0; k < kSflowSampleKinds; k++) {
      const SflowSample s = SflowSample(k);
      if (d.samples(s) || d.sampleRecords(s))
        out += std::string(out.empty() ? "" : " ") + std::string(sflowSampleName(s)) + "=" +
               std::to_string(d.samples(s)) + "/" + std::to_string(d.sampleRecords(s));
    }
    return out;
  };
  Collect c;
  auto decode = [&](const std::vector<uint8_t>& p) {
    return d.decode(Input{std::span<const uint8_t>(p), *IPv6Addr::parse("192.0.2.100"), 1}, c);
  };
  for (auto [file, agent, want] :
       {std::tuple{"data-1140.pcap", "172.16.0.3", "flow_sample=5/14"},
        std::tuple{"data-sflow-ipv4-data.pcap", "49.49.49.49", "expanded_flow_sample=1/4"},
        std::tuple{"data-sflow-raw-ipv4.pcap", "172.19.64.116", "flow_sample=2/2"}}) {
    auto dgrams = readPcapUdp(std::string("../shared/testdata/sflow/") + file);
    ASSERT_EQ(dgrams.size(), 1u) << file;
    EXPECT_EQ(decode(dgrams[0].payload), Status::kOk) << file;
    EXPECT_EQ(counts(), want) << file;
    EXPECT_EQ(d.agent().toString(), agent) << file;
  }

  // Counter samples (none in the captures): a counters sample (format 2) of 2 records and an
  // expanded one (format 4) of 1, beside a flow sample of 2 records.
  using testing::put32;
  auto counterSample = [](bool expanded, uint32_t records) {
    testing::Bytes s;
    put32(s, 1);  // sequence
    put32(s, 3);  // source id (expanded: its type, then its index)
    if (expanded) put32(s, 7);
    put32(s, records);
    for (uint32_t i = 0; i < records; i++) {
      put32(s, 1);  // generic interface counters: 88 bytes, not read
      put32(s, 88);
      s.resize(s.size() + 88);
    }
    return s;
  };
  testing::Bytes p = testing::sflowDatagram(
      "198.51.100.1", 1,
      {{testing::extendedSwitch(10, 20), testing::sampledIPv4(100, 6, "10.0.0.1", "10.0.0.2",
                                                              1, 2)}});
  for (auto [format, sample] : {std::pair{2u, counterSample(false, 2)},
                                std::pair{4u, counterSample(true, 1)}}) {
    put32(p, format);
    put32(p, uint32_t(sample.size()));
    testing::append(p, sample);
  }
  p[27] = 3;  // sample count (v4 agent: offset 24)
  EXPECT_EQ(decode(p), Status::kOk);
  EXPECT_EQ(counts(),
            "flow_sample=1/2 counter_sample=1/2 expanded_counter_sample=1/1");
  EXPECT_EQ(d.counterSamples(), 2u);
  EXPECT_EQ(d.agent().toString(), "198.51.100.1");
  EXPECT_EQ(c.flows.size(), 5u + 1 + 2 + 1);
  // A counters sample that says 3 records and holds 2: the whole ones count. A flow sample
  // that says 1000 records in its 24 bytes of records: those that could be there.
  auto lying = counterSample(false, 2);
  lying[11] = 3;
  testing::Bytes q = testing::sflowDatagram("198.51.100.1", 2, {});
  put32(q, 2);
  put32(q, uint32_t(lying.size()));
  testing::append(q, lying);
  q[27] = 1;
  EXPECT_EQ(decode(q), Status::kUnsupported);  // counters only
  EXPECT_EQ(counts(), "counter_sample=1/2");
  testing::Bytes big = testing::sflowDatagram("198.51.100.1", 3, {{testing::extendedSwitch(1, 2)}});
  ASSERT_EQ(big.size(), 28u + 8 + 32 + 8 + 16);
  big[28 + 8 + 28 + 2] = 0x03, big[28 + 8 + 28 + 3] = 0xe8;  // record count: 1000
  EXPECT_EQ(decode(big), Status::kTruncated);
  EXPECT_EQ(counts(), "flow_sample=1/3");  // 24 bytes of records: 3 at most
}

}  // namespace akvo::decoder
