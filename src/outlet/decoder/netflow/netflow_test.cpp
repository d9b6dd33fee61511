#include "outlet/decoder/netflow/netflow.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "common/metrics.h"
#include "common/pcap_reader.h"
#include "demo/encoder.h"
#include "testing/packets.h"

namespace akvo::decoder {
namespace {

struct Collect : FlowSink {
  std::vector<FlowRecord> flows;
  void flow(FlowRecord& f) override { flows.push_back(f); }
};

Input inputOf(const std::vector<uint8_t>& p, const char* exporter = "192.0.2.1") {
  return Input{std::span<const uint8_t>(p), *IPv6Addr::parse(exporter), 1700000000};
}

}  // namespace

// Golden test on a real capture; expected values read from the capture with tshark -V.
TEST(NetflowV5, RealCapture) {
  auto dgrams = readPcapUdp("../shared/testdata/netflow/nfv5.pcap");
  ASSERT_EQ(dgrams.size(), 1u);
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(dgrams[0].payload), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 29u);
  const FlowRecord& f = c.flows[0];
  EXPECT_EQ(f.src_addr.toString(), "161.202.212.212");
  EXPECT_EQ(f.bytes, 133u);
  EXPECT_EQ(f.packets, 1u);
  EXPECT_EQ(f.etype, 0x800u);
  EXPECT_EQ(f.sampling_rate, 1u);  // the header says 0: unsampled
  EXPECT_EQ(f.exporter_address.toString(), "192.0.2.1");
  EXPECT_EQ(f.time_received, 1700000000u);
  uint64_t bytes = 0, packets = 0;
  for (const auto& x : c.flows) {
    bytes += x.bytes;
    packets += x.packets;
  }
  EXPECT_EQ(bytes, 88345u);
  EXPECT_EQ(packets, 78u);
}

TEST(NetflowV5, RoundTripWithTheDemoEncoder) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::vector<FlowRecord> in(30);
  for (auto& f : in) {
    f.src_addr = IPv6Addr::fromV4(uint32_t(rng()));
    f.dst_addr = IPv6Addr::fromV4(uint32_t(rng()));
    f.next_hop = IPv6Addr::fromV4(uint32_t(rng()));
    f.in_if = uint16_t(rng());
    f.out_if = uint16_t(rng());
    f.packets = uint32_t(rng());
    f.bytes = uint32_t(rng());
    f.proto = rng() % 2 ? 6 : 17;
    f.src_port = uint16_t(rng());
    f.dst_port = uint16_t(rng());
    f.src_as = uint16_t(rng());
    f.dst_as = uint16_t(rng());
    f.src_net_mask = uint8_t(rng() % 33);
    f.dst_net_mask = uint8_t(rng() % 33);
    f.ip_tos = uint8_t(rng());
    f.tcp_flags = uint8_t(rng());
  }
  auto dgram = demo::encodeNetflowV5({3600000, 1700000000, 7, 100}, in);
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(dgram), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), in.size());
  for (size_t i = 0; i < in.size(); i++) {
    const auto &a = in[i], &b = c.flows[i];
    EXPECT_EQ(a.src_addr, b.src_addr);
    EXPECT_EQ(a.dst_addr, b.dst_addr);
    EXPECT_EQ(a.next_hop, b.next_hop);
    EXPECT_EQ(a.in_if, b.in_if);
    EXPECT_EQ(a.out_if, b.out_if);
    EXPECT_EQ(a.packets, b.packets);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.proto, b.proto);
    EXPECT_EQ(a.src_port, b.src_port);
    EXPECT_EQ(a.dst_port, b.dst_port);
    EXPECT_EQ(a.src_as, b.src_as);
    EXPECT_EQ(a.dst_as, b.dst_as);
    EXPECT_EQ(a.src_net_mask, b.src_net_mask);
    EXPECT_EQ(a.dst_net_mask, b.dst_net_mask);
    EXPECT_EQ(a.ip_tos, b.ip_tos);
    EXPECT_EQ(a.tcp_flags, b.tcp_flags);
    EXPECT_EQ(b.sampling_rate, 100u);
  }
}

TEST(NetflowV5, MalformedInputIsCountedNotCrashed) {
  NetflowDecoder d;
  Collect c;
  std::vector<uint8_t> empty;
  EXPECT_EQ(d.decode(inputOf(empty), c), Status::kTruncated);
  std::vector<uint8_t> v7 = {0, 7, 0, 1};
  EXPECT_EQ(d.decode(inputOf(v7), c), Status::kBadVersion);
  std::vector<FlowRecord> one(3);
  for (auto& f : one) f.src_addr = IPv6Addr::fromV4(1);
  auto dgram = demo::encodeNetflowV5({}, one);
  auto cut = dgram;
  cut.resize(cut.size() - 10);  // count says 3, only 2.8 records present
  EXPECT_EQ(d.decode(inputOf(cut), c), Status::kTruncated);
  auto zero = dgram;
  zero[3] = 0;  // count 0
  EXPECT_EQ(d.decode(inputOf(zero), c), Status::kBadLength);
  EXPECT_TRUE(c.flows.empty());
  // Every truncation of a valid datagram is handled.
  for (size_t n = 0; n < dgram.size(); n++) {
    std::vector<uint8_t> part(dgram.begin(), dgram.begin() + long(n));
    EXPECT_NE(d.decode(inputOf(part), c), Status::kOk) << n;
  }
}

}  // namespace akvo::decoder

namespace akvo::decoder {
namespace {

const std::string kNf = "../shared/testdata/netflow/";

// Decodes files in order with one decoder (templates carry over); returns flows and statuses.
struct Replay {
  NetflowDecoder d;
  Collect c;
  std::vector<Status> statuses;
  uint32_t missing = 0, lost = 0;
  void file(const std::string& name, const char* exporter = "192.0.2.1",
            TimestampSource ts = TimestampSource::kInput) {
    for (auto& dg : readPcapUdp(kNf + name)) {
      Input in{std::span<const uint8_t>(dg.payload), *IPv6Addr::parse(exporter), 1700000000, ts};
      statuses.push_back(d.decode(in, c));
      missing += d.stats().missing_templates;
      lost += d.stats().lost;
    }
  }
};

// A hand-built IPFIX message (RFC 7011) for the cases no capture holds.
struct Ipfix {
  std::vector<uint8_t> b;
  size_t set_at = 0;
  explicit Ipfix(uint32_t seq = 0, uint32_t domain = 1, uint32_t time = 1700000000) {
    u16(10), u16(0), u32(time), u32(seq), u32(domain);
  }
  /// A NetFlow v9 datagram (RFC 3954 §5.1) instead: the same sets, flowset ids 0 and 1 for
  /// templates and options templates.
  static Ipfix v9(uint32_t source_id, uint32_t sys_uptime = 100000, uint32_t secs = 1700000000,
                  uint32_t seq = 0) {
    Ipfix m;
    m.b.clear();
    m.u16(9).u16(0).u32(sys_uptime).u32(secs).u32(seq).u32(source_id);
    return m;
  }
  Ipfix& u8(uint8_t v) { b.push_back(v); return *this; }
  Ipfix& u16(uint16_t v) { u8(uint8_t(v >> 8)); return u8(uint8_t(v)); }
  Ipfix& u32(uint32_t v) { u16(uint16_t(v >> 16)); return u16(uint16_t(v)); }
  Ipfix& u64(uint64_t v) { u32(uint32_t(v >> 32)); return u32(uint32_t(v)); }
  Ipfix& set(uint16_t id) { set_at = b.size(); return u16(id).u16(0); }
  Ipfix& end() {
    size_t len = b.size() - set_at;
    b[set_at + 2] = uint8_t(len >> 8);
    b[set_at + 3] = uint8_t(len);
    return *this;
  }
  std::vector<uint8_t> done() {
    if (b[1] == 10) {  // IPFIX message length (v9's count, of records, is not read)
      b[2] = uint8_t(b.size() >> 8);
      b[3] = uint8_t(b.size());
    }
    return b;
  }
};

}  // namespace

// Expected values from `tshark -V` on the captures (tests/integration/decode_vs_tshark.sh
// compares every flow's addresses, ports, protocol, bytes and packets with tshark too).
TEST(NetflowV9, TemplateThenData) {
  Replay r;
  r.file("template.pcap");
  r.file("data.pcap");
  ASSERT_EQ(r.c.flows.size(), 4u);
  const FlowRecord& f = r.c.flows[0];
  EXPECT_EQ(f.src_addr.toString(), "198.38.121.178");
  EXPECT_EQ(f.dst_addr.toString(), "91.170.143.87");
  EXPECT_EQ(f.next_hop.toString(), "194.149.174.63");
  EXPECT_EQ(f.in_if, 335u);
  EXPECT_EQ(f.out_if, 450u);
  EXPECT_EQ(f.src_port, 443);
  EXPECT_EQ(f.dst_port, 19624);
  EXPECT_EQ(f.src_net_mask, 24);
  EXPECT_EQ(f.dst_net_mask, 14);
  EXPECT_EQ(f.proto, 6u);
  EXPECT_EQ(f.etype, 0x800u);
  EXPECT_EQ(f.tcp_flags, 0x10);
  EXPECT_EQ(f.bytes, 1500u);
  EXPECT_EQ(f.packets, 1u);
  EXPECT_EQ(f.forwarding_status, 64u);  // 01.. .... forwarded
  EXPECT_EQ(f.flow_direction, FlowDirection::kIngress);
  EXPECT_EQ(f.sampler_id, 1u);
  EXPECT_EQ(f.ingress_vrf_id, 1610612738u);
  EXPECT_EQ(f.egress_vrf_id, 1610612738u);
  EXPECT_EQ(f.sampling_rate, 0u);  // no options seen: unknown, the outlet's default applies
  EXPECT_EQ(f.export_time, 1647285928u);  // Mar 14, 2022 19:25:28 UTC
  EXPECT_EQ(f.time_received, 1700000000u);
  EXPECT_EQ(r.c.flows[2].src_addr.toString(), "173.194.190.106");
  EXPECT_EQ(r.c.flows[2].out_if, 306u);
  EXPECT_EQ(r.c.flows[2].egress_vrf_id, 1610612736u);
  EXPECT_EQ(r.c.flows[3].bytes, 1448u);
}

// A template resent with the same bytes is only refreshed (no parse); one redefined under the
// same id, even with the same length, replaces it for the data that follows.
TEST(NetflowIpfix, ResentAndRedefinedTemplates) {
  // One template (id 300: two 4-byte fields) and one record of (address, counter).
  auto message = [](uint16_t type1, uint16_t type2, uint32_t addr, uint32_t counter) {
    return Ipfix().set(2).u16(300).u16(2).u16(type1).u16(4).u16(type2).u16(4).end()
        .set(300).u32(addr).u32(counter).end().done();
  };
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(message(8, 1, 0x0a000001, 100)), c), Status::kOk);
  ASSERT_EQ(d.decode(inputOf(message(8, 1, 0x0a000002, 200)), c), Status::kOk);  // same bytes
  ASSERT_EQ(d.decode(inputOf(message(12, 2, 0x0a000003, 7)), c), Status::kOk);   // redefined
  ASSERT_EQ(c.flows.size(), 3u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "10.0.0.1");
  EXPECT_EQ(c.flows[0].bytes, 100u);
  EXPECT_EQ(c.flows[1].src_addr.toString(), "10.0.0.2");
  EXPECT_EQ(c.flows[1].bytes, 200u);
  EXPECT_TRUE(c.flows[2].src_addr.isZero());
  EXPECT_EQ(c.flows[2].dst_addr.toString(), "10.0.0.3");
  EXPECT_EQ(c.flows[2].packets, 7u);
  EXPECT_EQ(c.flows[2].bytes, 0u);
}

TEST(NetflowV9, OptionsGiveTheSamplingRate) {
  Replay r;
  r.file("options-template.pcap");
  r.file("options-data.pcap");
  EXPECT_TRUE(r.c.flows.empty());
  r.file("template.pcap");
  r.file("data.pcap");
  ASSERT_EQ(r.c.flows.size(), 4u);
  for (const auto& f : r.c.flows) EXPECT_EQ(f.sampling_rate, 30000u);
  // Another exporter with the same ids shares nothing.
  r.c.flows.clear();
  r.file("template.pcap", "192.0.2.2");
  r.file("data.pcap", "192.0.2.2");
  ASSERT_EQ(r.c.flows.size(), 4u);
  EXPECT_EQ(r.c.flows[0].sampling_rate, 0u);
}

TEST(NetflowV9, DataBeforeTemplateIsCountedAndDropped) {
  Replay r;
  r.file("data.pcap");
  EXPECT_TRUE(r.c.flows.empty());
  ASSERT_EQ(r.statuses.size(), 1u);
  EXPECT_EQ(r.statuses[0], Status::kMissingTemplate);
  EXPECT_EQ(r.missing, 1u);
  r.file("template.pcap");
  r.file("data.pcap");
  EXPECT_EQ(r.c.flows.size(), 4u);
}

TEST(NetflowV9, TimestampSources) {
  Replay pkt;
  pkt.file("template.pcap", "192.0.2.1", TimestampSource::kNetflowPacket);
  pkt.file("data.pcap", "192.0.2.1", TimestampSource::kNetflowPacket);
  ASSERT_FALSE(pkt.c.flows.empty());
  EXPECT_EQ(pkt.c.flows[0].time_received, 1647285928u);
  Replay first;
  first.file("template.pcap", "192.0.2.1", TimestampSource::kNetflowFirstSwitched);
  first.file("data.pcap", "192.0.2.1", TimestampSource::kNetflowFirstSwitched);
  ASSERT_FALSE(first.c.flows.empty());
  // sysUptime 944951.608 s, FIRST_SWITCHED 944948.659 s: 2.949 s before the export time,
  // rounded down to the second as Akvorado's uptimeToUnix.
  EXPECT_EQ(first.c.flows[0].time_received, 1647285928u - 3u);
}

TEST(NetflowV9, Icmp) {
  Replay r;
  r.file("icmp-template.pcap");
  r.file("icmp-data.pcap");
  ASSERT_EQ(r.c.flows.size(), 4u);
  const auto& a = r.c.flows[0];
  EXPECT_EQ(a.src_addr.toString(), "2001:db8::");
  EXPECT_EQ(a.dst_addr.toString(), "2001:db8::1");
  EXPECT_EQ(a.etype, 0x86ddu);
  EXPECT_EQ(a.proto, 58u);
  EXPECT_EQ(a.icmpv6_type, 128);  // echo request, from the destination port 32768
  EXPECT_EQ(a.icmpv6_code, 0);
  EXPECT_EQ(r.c.flows[1].icmpv6_type, 129);
  const auto& c = r.c.flows[2];
  EXPECT_EQ(c.src_addr.toString(), "203.0.113.4");
  EXPECT_EQ(c.proto, 1u);
  EXPECT_EQ(c.icmpv4_type, 8);
  EXPECT_EQ(c.bytes, 84u);
  EXPECT_EQ(r.c.flows[3].icmpv4_type, 0);
}

TEST(NetflowV9, SamplingRateFromOptionsWithVlan) {
  Replay r;
  r.file("samplingrate-template.pcap");
  r.file("samplingrate-data.pcap");
  ASSERT_EQ(r.c.flows.size(), 6u);
  uint64_t bytes = 0;
  for (const auto& f : r.c.flows) {
    EXPECT_EQ(f.sampling_rate, 2048u);
    EXPECT_EQ(f.src_vlan, 701);
    EXPECT_EQ(f.in_if, 13u);
    bytes += f.bytes;
  }
  EXPECT_EQ(bytes, 3740u);
  EXPECT_EQ(r.c.flows[0].src_addr.toString(), "232.131.215.65");
  EXPECT_EQ(r.c.flows[0].src_port, 13245);
}

TEST(NetflowV9, Mpls) {
  Replay r;
  r.file("mpls.pcap");
  ASSERT_EQ(r.c.flows.size(), 2u);
  const auto& f = r.c.flows[0];
  EXPECT_EQ(f.src_addr.toString(), "fd00::1:0:1:7:1");
  EXPECT_EQ(f.dst_addr.toString(), "fd00::1:0:1:5:1");
  ASSERT_EQ(f.mpls_labels.size(), 2u);
  EXPECT_EQ(f.mpls_labels[0], 20005u);
  EXPECT_EQ(f.mpls_labels[1], 524250u);
  EXPECT_EQ(f.forwarding_status, 66u);
  EXPECT_EQ(f.flow_direction, FlowDirection::kEgress);
  EXPECT_EQ(f.out_if, 16u);
  EXPECT_EQ(f.egress_vrf_id, 1u);
  EXPECT_EQ(f.ip_ttl, 255);
  EXPECT_EQ(f.sampling_rate, 10u);
  EXPECT_EQ(r.c.flows[1].bytes, 890u);
  EXPECT_EQ(r.c.flows[1].packets, 10u);
}

TEST(NetflowIpfix, DataAndTemplatesInOneCapture) {
  Replay r;
  r.file("data+templates.pcap");
  ASSERT_EQ(r.c.flows.size(), 10u);
  uint64_t bytes = 0, packets = 0;
  for (const auto& f : r.c.flows) {
    bytes += f.bytes;
    packets += f.packets;
    EXPECT_EQ(f.sampling_rate, 100u);
  }
  EXPECT_EQ(bytes, 54592u);
  EXPECT_EQ(packets, 48u);
  EXPECT_EQ(r.c.flows[0].src_addr.toString(), "120.120.180.202");
  EXPECT_EQ(r.c.flows[0].src_as, 15169u);
  EXPECT_EQ(r.c.flows[0].in_if, 1055u);
  EXPECT_EQ(r.missing, 1u);  // one data set in that capture has no template anywhere
}

// 20 flows, IPv4 and IPv6, every field the demo's templates carry random.
std::vector<FlowRecord> randomTemplateFlows(std::mt19937_64& rng) {
  std::vector<FlowRecord> in(20);
  for (auto& f : in) {
    bool v6 = rng() % 2;
    auto a = [&] {
      if (!v6) return IPv6Addr::fromV4(uint32_t(rng()) | 1);
      IPv6Addr x;
      for (auto& b : x.bytes) b = uint8_t(rng());
      x.bytes[0] = 0x20;
      return x;
    };
    f.src_addr = a();
    f.dst_addr = a();
    f.next_hop = a();
    f.bytes = rng();
    f.packets = rng();
    f.src_net_mask = uint8_t(rng() % 33);
    f.dst_net_mask = uint8_t(rng() % 33);
    f.src_port = uint16_t(rng());
    f.dst_port = uint16_t(rng());
    f.proto = rng() % 2 ? 6 : 17;
    f.ip_tos = uint8_t(rng());
    f.tcp_flags = uint8_t(rng());
    f.in_if = uint32_t(rng());
    f.out_if = uint32_t(rng());
    f.src_as = uint32_t(rng());
    f.dst_as = uint32_t(rng());
    f.first_switched = 1699999000 + uint32_t(rng() % 1000);
  }
  return in;
}

// Each field as encoded; the records come one data set per family, IPv4 first.
void expectSameFlows(const std::vector<FlowRecord>& in, const std::vector<FlowRecord>& out,
                     uint64_t sampling_rate, uint32_t domain) {
  ASSERT_EQ(out.size(), in.size());
  std::vector<const FlowRecord*> order;
  for (bool v6 : {false, true})
    for (const auto& f : in)
      if (f.src_addr.isV4Mapped() != v6) order.push_back(&f);
  for (size_t i = 0; i < in.size(); i++) {
    const auto &a = *order[i], &b = out[i];
    EXPECT_EQ(a.src_addr, b.src_addr);
    EXPECT_EQ(a.dst_addr, b.dst_addr);
    EXPECT_EQ(a.next_hop, b.next_hop);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.packets, b.packets);
    EXPECT_EQ(a.src_net_mask, b.src_net_mask);
    EXPECT_EQ(a.dst_net_mask, b.dst_net_mask);
    EXPECT_EQ(a.src_port, b.src_port);
    EXPECT_EQ(a.dst_port, b.dst_port);
    EXPECT_EQ(a.proto, b.proto);
    EXPECT_EQ(a.ip_tos, b.ip_tos);
    EXPECT_EQ(a.tcp_flags, b.tcp_flags);
    EXPECT_EQ(a.in_if, b.in_if);
    EXPECT_EQ(a.out_if, b.out_if);
    EXPECT_EQ(a.src_as, b.src_as);
    EXPECT_EQ(a.dst_as, b.dst_as);
    EXPECT_EQ(a.first_switched, b.first_switched);
    EXPECT_EQ(b.etype, a.src_addr.isV4Mapped() ? 0x800u : 0x86ddu);
    EXPECT_EQ(b.sampling_rate, sampling_rate);
    EXPECT_EQ(b.observation_domain, domain);
  }
}

TEST(NetflowV9, RoundTripWithTheDemoEncoder) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::vector<FlowRecord> in = randomTemplateFlows(rng);
  // Uptime of an hour: every start time (up to 1000 s before the export) is within it.
  auto dgram = demo::encodeNetflowV9({3600000, 1700000000, 0, 9, 256, true}, in);
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(dgram), c), Status::kOk);
  expectSameFlows(in, c.flows, 256, 9);
  // Next packet without templates: remembered; v9 sequences count packets.
  auto next = demo::encodeNetflowV9({3601000, 1700000001, 1, 9, 0, false}, std::span(in).first(3));
  c.flows.clear();
  ASSERT_EQ(d.decode(inputOf(next), c), Status::kOk);
  EXPECT_EQ(c.flows.size(), 3u);
  EXPECT_EQ(c.flows[0].sampling_rate, 256u);
  EXPECT_EQ(d.stats().lost, 0u);
}

TEST(NetflowIpfix, RoundTripWithTheDemoEncoder) {
  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  std::vector<FlowRecord> in = randomTemplateFlows(rng);
  auto dgram = demo::encodeIpfix({1700000000, 0, 7, 512, true}, in);
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(dgram), c), Status::kOk);
  expectSameFlows(in, c.flows, 512, 7);  // sampling: (packet interval 1 + space 511) / 1
  // Next message without templates: they are remembered. The sequence says 5 records went
  // missing (this one should have been 21: 20 flows + 1 options record).
  auto next = demo::encodeIpfix({1700000001, 26, 7, 0, false}, std::span(in).first(3));
  c.flows.clear();
  ASSERT_EQ(d.decode(inputOf(next), c), Status::kOk);
  EXPECT_EQ(c.flows.size(), 3u);
  EXPECT_EQ(d.stats().lost, 5u);
  EXPECT_EQ(d.stats().flows, 3u);
  // In sequence: no loss.
  auto after = demo::encodeIpfix({1700000002, 29, 7, 0, false}, std::span(in).first(1));
  ASSERT_EQ(d.decode(inputOf(after), c), Status::kOk);
  EXPECT_EQ(d.stats().lost, 0u);
}

TEST(NetflowIpfix, WithdrawalAndExpiry) {
  std::vector<FlowRecord> in(1);
  in[0].src_addr = IPv6Addr::fromV4(0x0a000001);
  in[0].bytes = 100;
  NetflowDecoder::Config cfg;
  cfg.template_expiry = 60;
  NetflowDecoder d(cfg);
  Collect c;
  ASSERT_EQ(d.decode(inputOf(demo::encodeIpfix({}, in)), c), Status::kOk);
  auto data = demo::encodeIpfix({0, 0, 0, 0, false}, in);
  Input later = inputOf(data);
  later.time_received += 59;
  EXPECT_EQ(d.decode(later, c), Status::kOk);
  later.time_received += 2;  // 61 s after the template: forgotten
  EXPECT_EQ(d.decode(later, c), Status::kMissingTemplate);
  EXPECT_EQ(c.flows.size(), 2u);
  // Withdrawal of template 256 (RFC 7011 §8.1): field count 0.
  ASSERT_EQ(d.decode(inputOf(demo::encodeIpfix({}, in)), c), Status::kOk);
  auto w = Ipfix(0, 0).set(2).u16(256).u16(0).end().done();
  EXPECT_EQ(d.decode(inputOf(w), c), Status::kOk);
  EXPECT_EQ(d.decode(inputOf(data), c), Status::kMissingTemplate);
  // Withdraw all (template id = set id 2).
  ASSERT_EQ(d.decode(inputOf(demo::encodeIpfix({}, in)), c), Status::kOk);
  auto all = Ipfix(0, 0).set(2).u16(2).u16(0).end().done();
  EXPECT_EQ(d.decode(inputOf(all), c), Status::kOk);
  EXPECT_EQ(d.decode(inputOf(data), c), Status::kMissingTemplate);
}

TEST(NetflowIpfix, VariableLengthEnterpriseFieldsAndPadding) {
  // Template: enterprise field (PEN 9, 4 bytes), a variable-length string (IE 82
  // interfaceName), sourceIPv4Address, octetDeltaCount (4 bytes, reduced size).
  auto m = Ipfix()
               .set(2).u16(300).u16(4)
               .u16(0x8000 | 100).u16(4).u32(9)
               .u16(82).u16(0xffff)
               .u16(8).u16(4)
               .u16(1).u16(4)
               .end()
               .set(300)
               .u32(0xdeadbeef).u8(3).u8('e').u8('t').u8('h').u32(0x0a000001).u32(1000)
               .u32(0).u8(255).u16(2).u8('a').u8('b').u32(0x0a000002).u32(2000)
               .u8(0).u8(0).u8(0)  // padding
               .end()
               .done();
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(m), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 2u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "10.0.0.1");
  EXPECT_EQ(c.flows[0].bytes, 1000u);
  EXPECT_EQ(c.flows[1].src_addr.toString(), "10.0.0.2");
  EXPECT_EQ(c.flows[1].bytes, 2000u);
}

TEST(NetflowIpfix, VendorQuirks) {
  NetflowDecoder d;
  Collect c;
  // Juniper: octetTotalCount/packetTotalCount only, and commonPropertiesId (PEN 2636, IE 137)
  // whose forwarding exception code says dropped.
  auto j = Ipfix()
               .set(2).u16(256).u16(4)
               .u16(8).u16(4).u16(85).u16(8).u16(86).u16(8)
               .u16(0x8000 | 137).u16(2).u32(2636)
               .end()
               .set(256).u32(0x0a000001).u64(123456).u64(99).u16(0x0800 | 5).end()
               .set(256).u32(0x0a000002).u64(10).u64(1).u16(0x0800).end()
               .done();
  ASSERT_EQ(d.decode(inputOf(j), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 2u);
  EXPECT_EQ(c.flows[0].bytes, 123456u);
  EXPECT_EQ(c.flows[0].packets, 99u);
  EXPECT_EQ(c.flows[0].forwarding_status, 128u);  // exception code 5: dropped
  EXPECT_EQ(c.flows[1].forwarding_status, 64u);   // code 0: forwarded
  // Cisco ASA NSEL: initiatorOctets (231) and responderOctets (232), no delta counts.
  c.flows.clear();
  auto asa = Ipfix(0, 2)
                 .set(2).u16(260).u16(4)
                 .u16(8).u16(4).u16(12).u16(4).u16(231).u16(4).u16(232).u16(4)
                 .end()
                 .set(260).u32(0x0a000001).u32(0x0a000002).u32(700).u32(300).end()
                 .done();
  ASSERT_EQ(d.decode(inputOf(asa), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 1u);
  EXPECT_EQ(c.flows[0].bytes, 1000u);  // both directions of the connection
  // ipfixprobe / RFC 5103 biflow: reverse octets and packets (PEN 29305) give a second flow
  // with directions swapped; a reverse direction with no packet gives none.
  c.flows.clear();
  auto bi = Ipfix(0, 3)
                .set(2).u16(270).u16(9)
                .u16(8).u16(4).u16(12).u16(4).u16(7).u16(2).u16(11).u16(2).u16(4).u16(1)
                .u16(1).u16(8).u16(2).u16(8)
                .u16(0x8000 | 1).u16(8).u32(29305).u16(0x8000 | 2).u16(8).u32(29305)
                .end()
                .set(270)
                .u32(0x0a000001).u32(0x0a000002).u16(40000).u16(443).u8(6)
                .u64(1000).u64(10).u64(50000).u64(40)
                .u32(0x0a000003).u32(0x0a000004).u16(53).u16(53).u8(17)
                .u64(80).u64(1).u64(0).u64(0)
                .end()
                .done();
  ASSERT_EQ(d.decode(inputOf(bi), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 3u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "10.0.0.1");
  EXPECT_EQ(c.flows[0].bytes, 1000u);
  EXPECT_EQ(c.flows[1].src_addr.toString(), "10.0.0.2");
  EXPECT_EQ(c.flows[1].dst_addr.toString(), "10.0.0.1");
  EXPECT_EQ(c.flows[1].src_port, 443);
  EXPECT_EQ(c.flows[1].dst_port, 40000);
  EXPECT_EQ(c.flows[1].bytes, 50000u);
  EXPECT_EQ(c.flows[1].packets, 40u);
  EXPECT_EQ(c.flows[2].src_addr.toString(), "10.0.0.3");
  // A per-flow sampler id picks its rate from the options data; unknown ids fall back to the
  // domain's sampler 0.
  c.flows.clear();
  auto s = Ipfix(0, 4)
               .set(3).u16(280).u16(2).u16(1).u16(302).u16(4).u16(34).u16(4).end()
               .set(280).u32(1).u32(100).u32(0).u32(1000).end()
               .set(2).u16(281).u16(2).u16(8).u16(4).u16(302).u16(4).end()
               .set(281).u32(0x0a000001).u32(1).u32(0x0a000002).u32(0).u32(0x0a000003).u32(7).end()
               .done();
  ASSERT_EQ(d.decode(inputOf(s), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 3u);
  EXPECT_EQ(c.flows[0].sampling_rate, 100u);
  EXPECT_EQ(c.flows[1].sampling_rate, 1000u);
  EXPECT_EQ(c.flows[2].sampling_rate, 1000u);
}

// decapsulation-protocol: an IPFIX record's dataLinkFrameSection (IE 315) gives the inner
// packet; a record whose frame is not so encapsulated, or that has no frame, is dropped and
// counted; NetFlow v5, which has no frame, is dropped whole (as Akvorado).
TEST(NetflowIpfix, Decapsulation) {
  using namespace akvo::testing;
  auto inner = ipv6("2001:db8:a::1", "2001:db8:b::2", 17, udp(5353, 53, Bytes(12, 0)));
  auto srv6 = ethernet(0xaaaa, 0xbbbb, 0x86dd,
                       ipv6("fc00::1", "fc00::100", 43, srh(41, {"fc00::100"}, inner)));
  auto plain = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("10.0.0.3", "10.0.0.4", 6, tcp(1, 2, 0)));
  // Template 256: ingressInterface, dataLinkFrameSection (variable length); 257: addresses
  // and counters, no frame.
  Ipfix m;
  m.set(2).u16(256).u16(2).u16(10).u16(4).u16(315).u16(0xffff)
      .u16(257).u16(4).u16(8).u16(4).u16(12).u16(4).u16(1).u16(4).u16(2).u16(4).end();
  m.set(256).u32(7).u8(uint8_t(srv6.size()));
  for (uint8_t b : srv6) m.u8(b);
  m.u32(8).u8(uint8_t(plain.size()));
  for (uint8_t b : plain) m.u8(b);
  m.end();
  m.set(257).u32(0x0a000001).u32(0x0a000002).u32(1500).u32(1).end();
  auto msg = m.done();
  auto decode = [&](NetflowDecoder& d, Collect& c, const std::vector<uint8_t>& p,
                    Decapsulation decap) {
    Input in{std::span<const uint8_t>(p), *IPv6Addr::parse("192.0.2.1"), 1700000000,
             TimestampSource::kInput, false, decap};
    return d.decode(in, c);
  };
  {
    NetflowDecoder d;
    Collect c;
    ASSERT_EQ(decode(d, c, msg, Decapsulation::kSrv6), Status::kOk);
    EXPECT_EQ(d.stats().flows, 1u);
    EXPECT_EQ(d.stats().not_encapsulated, 2u);
    ASSERT_EQ(c.flows.size(), 1u);
    const auto& f = c.flows[0];
    EXPECT_EQ(f.src_addr.toString(), "2001:db8:a::1");
    EXPECT_EQ(f.dst_addr.toString(), "2001:db8:b::2");
    EXPECT_EQ(f.etype, 0x86ddu);
    EXPECT_EQ(f.proto, 17u);
    EXPECT_EQ(f.src_port, 5353);
    EXPECT_EQ(f.dst_port, 53);
    EXPECT_EQ(f.bytes, 60u);  // the inner L3 length
    EXPECT_EQ(f.packets, 1u);
    EXPECT_EQ(f.in_if, 7u);
    EXPECT_EQ(f.src_mac, 0u);  // the outer frame's
  }
  {
    NetflowDecoder d;
    Collect c;
    ASSERT_EQ(decode(d, c, msg, Decapsulation::kNone), Status::kOk);
    EXPECT_EQ(d.stats().not_encapsulated, 0u);
    ASSERT_EQ(c.flows.size(), 3u);
    EXPECT_EQ(c.flows[0].src_addr.toString(), "fc00::1");  // the outer header
    EXPECT_EQ(c.flows[0].proto, 41u);  // after the SRH, walked (IPv6 in IPv6)
    EXPECT_EQ(c.flows[1].src_addr.toString(), "10.0.0.3");
    EXPECT_EQ(c.flows[2].bytes, 1500u);
  }
  {
    auto v5 = readPcapUdp("../shared/testdata/netflow/nfv5.pcap");
    ASSERT_EQ(v5.size(), 1u);
    NetflowDecoder d;
    Collect c;
    ASSERT_EQ(decode(d, c, v5[0].payload, Decapsulation::kGre), Status::kOk);
    EXPECT_TRUE(c.flows.empty());
    EXPECT_EQ(d.stats().not_encapsulated, 29u);
  }
}

// MACs from elements (sourceMacAddress 56, destinationMacAddress 80) and from the record's
// frame (dataLinkFrameSection 315): the first in the record wins, as Akvorado writes each
// column once per flow; the frame used to overwrite the elements before it.
TEST(NetflowIpfix, FrameKeepsTheMacsOfEarlierElements) {
  using namespace akvo::testing;
  auto frame = ethernet(0x0000000000d1, 0x0000000000c1, 0x0800,
                        ipv4("192.0.2.1", "192.0.2.2", 6, tcp(443, 1234, 0x10)));
  Ipfix m;
  // Template 256: MACs then the frame; 257: the frame then the MACs.
  m.set(2).u16(256).u16(3).u16(56).u16(6).u16(80).u16(6).u16(315).u16(0xffff)
      .u16(257).u16(3).u16(315).u16(0xffff).u16(56).u16(6).u16(80).u16(6).end();
  m.set(256).u16(0x0000).u32(0x000000a1).u16(0x0000).u32(0x000000b1).u8(uint8_t(frame.size()));
  for (uint8_t b : frame) m.u8(b);
  m.end().set(257).u8(uint8_t(frame.size()));
  for (uint8_t b : frame) m.u8(b);
  m.u16(0x0000).u32(0x000000a2).u16(0x0000).u32(0x000000b2).end();
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(m.done()), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 2u);
  EXPECT_EQ(c.flows[0].src_mac, 0xa1u);  // the elements, before the frame
  EXPECT_EQ(c.flows[0].dst_mac, 0xb1u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "192.0.2.1");  // the rest from the frame
  EXPECT_EQ(c.flows[0].bytes, 40u);
  EXPECT_EQ(c.flows[1].src_mac, 0xc1u);  // the frame, before the elements
  EXPECT_EQ(c.flows[1].dst_mac, 0xd1u);
}

// An ICMP echo request in a record's frame (IE 315) with no ICMP element: type and code come
// from the frame (they used to be zeroed by the destination-port fallback, since the frame
// leaves the ports at 0); an ICMP element in the record still wins over the frame.
TEST(NetflowIpfix, FrameGivesIcmpTypeAndCode) {
  using namespace akvo::testing;
  Bytes echo = {8, 0, 0, 0, 0, 1, 0, 1};  // type 8 (echo request), code 0, id, sequence
  auto frame = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("192.0.2.1", "192.0.2.2", 1, echo));
  Ipfix m;
  // Template 256: the frame alone; 257: the frame, then icmpTypeCodeIPv4 (32) = 0x0b00.
  m.set(2).u16(256).u16(1).u16(315).u16(0xffff)
      .u16(257).u16(2).u16(315).u16(0xffff).u16(32).u16(2).end();
  m.set(256).u8(uint8_t(frame.size()));
  for (uint8_t b : frame) m.u8(b);
  m.end().set(257).u8(uint8_t(frame.size()));
  for (uint8_t b : frame) m.u8(b);
  m.u16(0x0b00).end();
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(m.done()), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 2u);
  EXPECT_EQ(c.flows[0].proto, 1u);
  EXPECT_EQ(c.flows[0].icmpv4_type, 8);
  EXPECT_EQ(c.flows[0].icmpv4_code, 0);
  EXPECT_EQ(c.flows[1].icmpv4_type, 11);  // the element
}

// RFC 5103 biflow with NAT elements (postNATSource/DestinationIPv4Address 225/226,
// postNAPTSource/DestinationTransportPort 227/228): the reverse flow swaps the NAT columns with
// the addresses and ports (they used to stay as in the forward flow).
TEST(NetflowIpfix, ReverseFlowSwapsNatColumns) {
  auto m = Ipfix(0, 5)
               .set(2).u16(271).u16(11)
               .u16(8).u16(4).u16(12).u16(4).u16(7).u16(2).u16(11).u16(2)
               .u16(225).u16(4).u16(226).u16(4).u16(227).u16(2).u16(228).u16(2)
               .u16(1).u16(8).u16(2).u16(8).u16(0x8000 | 2).u16(8).u32(29305)
               .end()
               .set(271)
               .u32(0x0a000001).u32(0xc6336401).u16(40000).u16(443)
               .u32(0xcb007101).u32(0xc6336401).u16(61000).u16(443)
               .u64(1000).u64(10).u64(8)
               .end()
               .done();
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(m), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 2u);
  const auto& fwd = c.flows[0];
  EXPECT_EQ(fwd.src_addr_nat.toString(), "203.0.113.1");
  EXPECT_EQ(fwd.dst_addr_nat.toString(), "198.51.100.1");
  EXPECT_EQ(fwd.src_port_nat, 61000);
  EXPECT_EQ(fwd.dst_port_nat, 443);
  const auto& rev = c.flows[1];
  EXPECT_EQ(rev.src_addr.toString(), "198.51.100.1");
  EXPECT_EQ(rev.dst_addr.toString(), "10.0.0.1");
  EXPECT_EQ(rev.src_port, 443);
  EXPECT_EQ(rev.dst_port, 40000);
  EXPECT_EQ(rev.src_addr_nat.toString(), "198.51.100.1");
  EXPECT_EQ(rev.dst_addr_nat.toString(), "203.0.113.1");
  EXPECT_EQ(rev.src_port_nat, 443);
  EXPECT_EQ(rev.dst_port_nat, 61000);
  EXPECT_EQ(rev.packets, 8u);
}

TEST(NetflowIpfix, LyingLengthsAreCountedNotCrashed) {
  NetflowDecoder d;
  Collect c;
  std::vector<FlowRecord> in(3);
  for (auto& f : in) f.src_addr = IPv6Addr::fromV4(0x0a000001);
  auto m = demo::encodeIpfix({}, in);
  auto longer = m;
  longer[3] += 10;  // message length past the datagram
  EXPECT_EQ(d.decode(inputOf(longer), c), Status::kTruncated);
  auto zero_set = Ipfix().set(256).done();  // set length 0
  EXPECT_EQ(d.decode(inputOf(zero_set), c), Status::kBadLength);
  auto empty_template = Ipfix().set(2).u16(300).u16(1).u16(8).u16(0).end().done();
  EXPECT_EQ(d.decode(inputOf(empty_template), c), Status::kBadTemplate);
  // Every truncation of valid messages, v9 and IPFIX, with and without templates known.
  std::vector<std::vector<uint8_t>> all = {m};
  for (const char* name : {"template.pcap", "data.pcap", "options-template.pcap",
                           "options-data.pcap", "mpls.pcap", "data+templates.pcap"})
    for (auto& dg : readPcapUdp(kNf + name)) all.push_back(dg.payload);
  for (int pass = 0; pass < 2; pass++) {
    NetflowDecoder fresh;
    for (const auto& full : all) {
      for (size_t n = 0; n < full.size(); n++) {
        std::vector<uint8_t> part(full.begin(), full.begin() + long(n));
        (pass ? d : fresh).decode(inputOf(part), c);
      }
    }
  }
}

}  // namespace akvo::decoder

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/metrics.h"
#include "demo/demo.h"

namespace akvo::decoder {

// The demo exporter speaking IPFIX (v4 and v6 flows, sampling in options) decodes fully.
TEST(NetflowIpfix, DemoExporterSpeaksIpfix) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  Metrics metrics;
  demo::DemoExporter::Config cfg;
  cfg.target = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  cfg.protocol = "ipfix";
  cfg.flows_per_second = 20000;
  cfg.sampling_rate = 100;
  demo::DemoExporter demo(cfg, metrics);
  demo.start();
  NetflowDecoder d;
  Collect c;
  std::vector<uint8_t> buf(65536);
  for (int i = 0; i < 20; i++) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    EXPECT_LE(n, 1500);
    std::vector<uint8_t> p(buf.begin(), buf.begin() + n);
    EXPECT_EQ(d.decode(inputOf(p), c), Status::kOk);
  }
  demo.stop();
  close(fd);
  ASSERT_GT(c.flows.size(), 50u);
  size_t v6 = 0;
  for (const auto& f : c.flows) {
    EXPECT_EQ(f.sampling_rate, 100u);
    EXPECT_GT(f.bytes, 0u);
    EXPECT_NE(f.in_if, 0u);
    if (!f.src_addr.isV4Mapped()) {
      v6++;
      EXPECT_EQ(f.etype, 0x86ddu);
    }
  }
  EXPECT_GT(v6, 0u);
  EXPECT_LT(v6, c.flows.size());
}

}  // namespace akvo::decoder

namespace akvo::decoder {

// Datagrams with ever new source ids (spoofed or broken exporters) do not grow the state
// past its bound, and known domains keep working.
TEST(NetflowV9, StateIsBoundedAgainstSpoofedDomains) {
  auto tmpl = readPcapUdp("../shared/testdata/netflow/template.pcap")[0].payload;
  auto data = readPcapUdp("../shared/testdata/netflow/data.pcap")[0].payload;
  NetflowDecoder d;
  Collect c;
  ASSERT_EQ(d.decode(inputOf(tmpl), c), Status::kOk);
  auto spoofed = data;
  for (uint32_t i = 1; i <= NetflowDecoder::kMaxDomains + 100; i++) {
    spoofed[16] = uint8_t(i >> 24), spoofed[17] = uint8_t(i >> 16), spoofed[18] = uint8_t(i >> 8),
    spoofed[19] = uint8_t(i);
    d.decode(inputOf(spoofed), c);
  }
  EXPECT_LE(d.domains().size(), NetflowDecoder::kMaxDomains);
  EXPECT_TRUE(c.flows.empty());
  ASSERT_EQ(d.decode(inputOf(data), c), Status::kOk);  // source id 0: learned first
  EXPECT_EQ(c.flows.size(), 4u);
}

}  // namespace akvo::decoder

namespace akvo::decoder {
namespace {

// Each flow as the decoder left it: the record's bytes up to its arrays (reset() zeroes them
// all, padding included), then the MPLS labels.
struct RawCollect : FlowSink {
  std::vector<std::string> flows;
  void flow(FlowRecord& f) override {
    std::string s(reinterpret_cast<const char*>(&f), offsetof(FlowRecord, dst_as_path));
    s.append(reinterpret_cast<const char*>(f.mpls_labels.begin()), f.mpls_labels.size() * 4);
    flows.push_back(std::move(s));
  }
};

// Decodes datagrams in order, with the plain templates' fields compiled or field by field.
std::vector<std::string> decodeAll(const std::vector<std::vector<uint8_t>>& dgrams,
                                   bool compiled) {
  NetflowDecoder::Config config;
  config.compiled_fields = compiled;
  NetflowDecoder d(config);
  RawCollect c;
  for (const auto& p : dgrams) d.decode(inputOf(p), c);
  return c.flows;
}

}  // namespace

// The compiled fields of plain templates (compileFieldOps) decode every record exactly as the
// field-by-field path does: on every capture, and on 1000 random templates drawing from every
// element up to 330 with lengths no exporter sends (3-byte ports, 16-byte IPv4 addresses, 4-byte IPv6
// ones, 1-byte counters) and values that are zero or not.
TEST(NetflowIpfix, CompiledFieldsDecodeAsFieldByField) {
  for (std::vector<const char*> files :
       {std::vector<const char*>{"template.pcap", "data.pcap"}, {"data+templates.pcap"},
        {"mpls.pcap"}, {"icmp-template.pcap", "icmp-data.pcap"},
        {"samplingrate-template.pcap", "samplingrate-data.pcap"},
        {"options-template.pcap", "options-data.pcap", "template.pcap", "data.pcap"}}) {
    std::vector<std::vector<uint8_t>> dgrams;
    for (const char* name : files)
      for (auto& dg : readPcapUdp(kNf + name)) dgrams.push_back(dg.payload);
    auto compiled = decodeAll(dgrams, true), by_field = decodeAll(dgrams, false);
    EXPECT_FALSE(compiled.empty()) << files[0];
    EXPECT_TRUE(compiled == by_field) << files[0];
  }

  uint64_t seed = std::random_device{}();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  // Every element up to 330 (value() knows none above 315), and one unknown.
  std::vector<uint16_t> types;
  for (uint16_t t = 1; t <= 330; t++) types.push_back(t);
  types.push_back(999);
  const uint16_t lengths[] = {1, 2, 3, 4, 4, 4, 5, 8, 8, 16, 16};
  size_t flows = 0, differing_templates = 0;
  for (int round = 0; round < 1000; round++) {
    Ipfix m(uint32_t(round), 1);
    std::vector<uint16_t> ts, ls;
    size_t nfields = 1 + rng() % 24, record = 0;
    for (size_t i = 0; i < nfields; i++) {
      ts.push_back(types[rng() % types.size()]);
      // Mostly the usual length of the element, else any.
      ls.push_back(lengths[rng() % std::size(lengths)]);
      record += ls.back();
    }
    m.set(2).u16(256).u16(uint16_t(nfields));
    for (size_t i = 0; i < nfields; i++) m.u16(ts[i]).u16(ls[i]);
    m.end();
    m.set(256);
    for (int r = 0; r < 4; r++)
      for (size_t i = 0; i < nfields; i++) {
        bool zero = rng() % 5 == 0;
        for (uint16_t k = 0; k < ls[i]; k++) m.u8(zero ? 0 : uint8_t(rng()));
      }
    m.end();
    std::vector<std::vector<uint8_t>> dgrams{m.done()};
    auto compiled = decodeAll(dgrams, true), by_field = decodeAll(dgrams, false);
    EXPECT_EQ(compiled.size(), 4u) << "record of " << record << " bytes";
    flows += compiled.size();
    if (compiled != by_field) differing_templates++;
  }
  EXPECT_EQ(differing_templates, 0u);
  EXPECT_EQ(flows, 4000u);
}

}  // namespace akvo::decoder

namespace akvo::decoder {

// An IPFIX options template withdrawal is a 4-byte record (RFC 7011 §8.1); withdrawing all
// (template id = set id) removes the templates of the set's kind only.
TEST(NetflowIpfix, OptionsTemplateWithdrawal) {
  NetflowDecoder d;
  Collect c;
  auto define = Ipfix(0, 5)
                    .set(3).u16(311).u16(2).u16(1).u16(302).u16(4).u16(34).u16(4).end()
                    .set(2).u16(401).u16(2).u16(8).u16(4).u16(1).u16(4).end()
                    .done();
  auto templates = [&] {
    const auto& t = d.domains().at(DomainKey{*IPv6Addr::parse("192.0.2.1"), 5, 10}).templates;
    std::vector<uint16_t> ids;
    for (uint16_t id : {311, 401})
      if (t.contains(id)) ids.push_back(id);
    return ids;
  };
  ASSERT_EQ(d.decode(inputOf(define), c), Status::kOk);
  EXPECT_EQ(templates(), (std::vector<uint16_t>{311, 401}));
  // Withdraw options template 311 in its own set.
  EXPECT_EQ(d.decode(inputOf(Ipfix(0, 5).set(3).u16(311).u16(0).end().done()), c), Status::kOk);
  EXPECT_EQ(templates(), (std::vector<uint16_t>{401}));
  auto options_data = Ipfix(0, 5).set(311).u32(0).u32(50).end().done();
  EXPECT_EQ(d.decode(inputOf(options_data), c), Status::kMissingTemplate);
  // Withdraw all options templates: the data template stays.
  ASSERT_EQ(d.decode(inputOf(define), c), Status::kOk);
  EXPECT_EQ(d.decode(inputOf(Ipfix(0, 5).set(3).u16(3).u16(0).end().done()), c), Status::kOk);
  EXPECT_EQ(templates(), (std::vector<uint16_t>{401}));
  // Withdraw all data templates: the options template stays.
  ASSERT_EQ(d.decode(inputOf(define), c), Status::kOk);
  EXPECT_EQ(d.decode(inputOf(Ipfix(0, 5).set(2).u16(2).u16(0).end().done()), c), Status::kOk);
  EXPECT_EQ(templates(), (std::vector<uint16_t>{311}));
}

}  // namespace akvo::decoder

namespace akvo::decoder {
namespace {

// Bytes of one data record.
struct Rec {
  std::vector<uint8_t> b;
  Rec& u8(uint8_t v) { b.push_back(v); return *this; }
  Rec& u16(uint16_t v) { u8(uint8_t(v >> 8)); return u8(uint8_t(v)); }
  Rec& u32(uint32_t v) { u16(uint16_t(v >> 16)); return u16(uint16_t(v)); }
  Rec& mac(uint64_t v) {
    for (int i = 5; i >= 0; i--) u8(uint8_t(v >> (8 * i)));
    return *this;
  }
};

}  // namespace

// FIRST_SWITCHED against sysUptime as Akvorado's uptimeToUnix: milliseconds rounded down to
// the second, and the 32-bit uptime wrapping between the flow's start and the export.
TEST(NetflowV9, FirstSwitchedFromUptime) {
  auto first = [](uint32_t sys_uptime, uint32_t first_switched) {
    auto m = Ipfix::v9(0, sys_uptime)
                 .set(0).u16(256).u16(2).u16(8).u16(4).u16(22).u16(4).end()
                 .set(256).u32(0x0a000001).u32(first_switched).end()
                 .done();
    NetflowDecoder d;
    Collect c;
    EXPECT_EQ(d.decode(inputOf(m), c), Status::kOk);
    return c.flows.empty() ? 0u : c.flows[0].first_switched;
  };
  EXPECT_EQ(first(100000, 98500), 1699999998u);      // 1.5 s before the export: 998.5
  EXPECT_EQ(first(100000, 100000), 1700000000u);
  EXPECT_EQ(first(1000, 0xfffff830u), 1699999997u);  // 2 s before the wrap, 1 s after
}

TEST(NetflowV5, FirstSwitchedFromUptime) {
  auto first = [](uint32_t sys_uptime, uint32_t first_switched) {
    Rec m;
    m.u16(5).u16(1).u32(sys_uptime).u32(1700000000).u32(0).u32(0).u8(0).u8(0).u16(0);
    m.u32(0x0a000001).u32(0x0a000002).u32(0).u16(1).u16(2).u32(1).u32(100);
    m.u32(first_switched).u32(sys_uptime).u16(0).u16(0).u8(0).u8(0).u8(17).u8(0);
    m.u16(0).u16(0).u8(0).u8(0).u16(0);
    NetflowDecoder d;
    Collect c;
    EXPECT_EQ(d.decode(inputOf(m.b), c), Status::kOk);
    return c.flows.empty() ? 0u : c.flows[0].first_switched;
  };
  EXPECT_EQ(first(100000, 98500), 1699999998u);
  EXPECT_EQ(first(1000, 0xfffff830u), 1699999997u);
}

}  // namespace akvo::decoder

namespace akvo::decoder {
namespace {

using Fields = std::vector<std::pair<uint16_t, uint16_t>>;  // (type, length)

// One record of a template of `fields`, decoded three ways: NetFlow v9 with the template's
// fields compiled, v9 field by field, and IPFIX with an enterprise field appended (the
// general path, forEachField). One flow each.
std::vector<FlowRecord> decodeEachWay(const Fields& fields, const Rec& rec) {
  std::vector<FlowRecord> out;
  for (int way = 0; way < 3; way++) {
    Ipfix m = way < 2 ? Ipfix::v9(0) : Ipfix();
    m.set(way < 2 ? 0 : 2).u16(256).u16(uint16_t(fields.size() + (way == 2)));
    for (auto [type, len] : fields) m.u16(type).u16(len);
    if (way == 2) m.u16(0x8000 | 100).u16(4).u32(9999);
    m.end().set(256);
    for (uint8_t x : rec.b) m.u8(x);
    if (way == 2) m.u32(1);
    m.end();
    NetflowDecoder::Config config;
    config.compiled_fields = way == 0;
    NetflowDecoder d(config);
    Collect c;
    EXPECT_EQ(d.decode(inputOf(m.done()), c), Status::kOk) << "way " << way;
    EXPECT_EQ(c.flows.size(), 1u) << "way " << way;
    out.push_back(c.flows.empty() ? FlowRecord{} : c.flows[0]);
  }
  return out;
}

}  // namespace

// tcpControlBits: the top 4 bits are the TCP header length (RFC 9565), not flags.
TEST(NetflowV9, TcpFlagsKeepTheFlagBits) {
  auto f = decodeEachWay({{8, 4}, {4, 1}, {6, 2}}, Rec().u32(0x0a000001).u8(6).u16(0x5012));
  for (int way = 0; way < 3; way++) EXPECT_EQ(f[way].tcp_flags, 0x012) << way;
}

// An all-zero next hop is no next hop: not stored, and it does not replace the BGP one.
TEST(NetflowV9, ZeroNextHopIsNoNextHop) {
  auto after = decodeEachWay({{8, 4}, {18, 4}, {15, 4}},
                             Rec().u32(0x0a000001).u32(0xc000024d).u32(0));
  auto alone = decodeEachWay({{8, 4}, {15, 4}}, Rec().u32(0x0a000001).u32(0));
  auto v6 = decodeEachWay({{8, 4}, {62, 16}}, Rec().u32(0x0a000001).u32(0).u32(0).u32(0).u32(0));
  for (int way = 0; way < 3; way++) {
    EXPECT_EQ(after[way].next_hop.toString(), "192.0.2.77") << way;
    EXPECT_TRUE(alone[way].next_hop.isZero()) << way;
    EXPECT_TRUE(v6[way].next_hop.isZero()) << way;
  }
}

// Duplicated counters, MACs and TTLs (delta and post elements): the first non-zero value wins,
// a zero never replaces a value (Akvorado's AppendUint).
TEST(NetflowV9, FirstNonZeroCountersMacsAndTtl) {
  const Fields fields = {{8, 4},  {1, 4},  {23, 4}, {2, 4},  {24, 4}, {56, 6},
                         {81, 6}, {80, 6}, {57, 6}, {52, 1}, {192, 1}};
  // Each element's first value is set, its duplicate is 0.
  auto first_set = decodeEachWay(fields, Rec()
                                             .u32(0x0a000001)
                                             .u32(1000).u32(0)
                                             .u32(10).u32(0)
                                             .mac(0xaabbccddeeff).mac(0)
                                             .mac(0x020000000001).mac(0)
                                             .u8(64).u8(0));
  // Each element's first value is 0, its duplicate is set; then both set: the first wins.
  auto second_set = decodeEachWay(fields, Rec()
                                              .u32(0x0a000001)
                                              .u32(0).u32(900)
                                              .u32(0).u32(9)
                                              .mac(0).mac(0x0a0b0c0d0e0f)
                                              .mac(0).mac(0x020000000002)
                                              .u8(0).u8(32));
  auto both_set = decodeEachWay(fields, Rec()
                                            .u32(0x0a000001)
                                            .u32(1000).u32(900)
                                            .u32(10).u32(9)
                                            .mac(0xaabbccddeeff).mac(0x0a0b0c0d0e0f)
                                            .mac(0x020000000001).mac(0x020000000002)
                                            .u8(64).u8(32));
  for (int way = 0; way < 3; way++) {
    SCOPED_TRACE(::testing::Message() << "way " << way);
    for (const FlowRecord* f : {&first_set[way], &both_set[way]}) {
      EXPECT_EQ(f->bytes, 1000u);
      EXPECT_EQ(f->packets, 10u);
      EXPECT_EQ(f->src_mac, 0xaabbccddeeffu);
      EXPECT_EQ(f->dst_mac, 0x020000000001u);
      EXPECT_EQ(f->ip_ttl, 64);
    }
    EXPECT_EQ(second_set[way].bytes, 900u);
    EXPECT_EQ(second_set[way].packets, 9u);
    EXPECT_EQ(second_set[way].src_mac, 0x0a0b0c0d0e0fu);
    EXPECT_EQ(second_set[way].dst_mac, 0x020000000002u);
    EXPECT_EQ(second_set[way].ip_ttl, 32);
  }
  // A zero delta count does not hide the NSEL initiator/responder or total counts.
  auto nsel = decodeEachWay({{8, 4}, {1, 4}, {2, 4}, {231, 4}, {232, 4}, {85, 4}, {86, 4}},
                            Rec().u32(0x0a000001).u32(0).u32(0).u32(700).u32(300).u32(0).u32(5));
  for (int way = 0; way < 3; way++) {
    EXPECT_EQ(nsel[way].bytes, 1000u) << way;
    EXPECT_EQ(nsel[way].packets, 5u) << way;
  }
}

}  // namespace akvo::decoder

namespace akvo::decoder {

// Cisco IOS XE 17.18 exports its sampler options under one source id and its flows under
// another: a flow whose domain has no rate for its sampler takes the rate of the same sampler
// from the exporter's domains that export no data, when they agree (Akvorado's
// GetSamplingRate).
TEST(NetflowV9, SamplingRateFromAnotherDomain) {
  NetflowDecoder d;
  Collect c;
  // Options (scope: system; samplerId, samplerRandomInterval) with sampler 1 at `rate`.
  auto options = [](uint32_t source_id, uint32_t rate) {
    return Ipfix::v9(source_id)
        .set(1).u16(257).u16(4).u16(8).u16(1).u16(4).u16(48).u16(1).u16(50).u16(4).end()
        .set(257).u32(0).u8(1).u32(rate).end()
        .done();
  };
  // Flows with sampler `sampler` (template 258 defined each time).
  auto flows = [](uint32_t source_id, uint8_t sampler, const char* exporter = "192.0.2.1") {
    auto m = Ipfix::v9(source_id)
                 .set(0).u16(258).u16(3).u16(8).u16(4).u16(1).u16(4).u16(48).u16(1).end()
                 .set(258).u32(0x0a000001).u32(1500).u8(sampler).u8(0).u8(0).u8(0).end()
                 .done();
    return std::make_pair(m, exporter);
  };
  auto rate = [&](std::pair<std::vector<uint8_t>, const char*> m) {
    c.flows.clear();
    EXPECT_EQ(d.decode(inputOf(m.first, m.second), c), Status::kOk);
    return c.flows.empty() ? ~0ull : c.flows[0].sampling_rate;
  };
  ASSERT_EQ(d.decode(inputOf(options(6, 1000)), c), Status::kOk);
  EXPECT_EQ(rate(flows(256, 1)), 1000u);
  EXPECT_EQ(rate(flows(256, 2)), 0u);                // another sampler
  EXPECT_EQ(rate(flows(256, 1, "192.0.2.2")), 0u);   // another exporter
  // A domain that exports data lends nothing (its own sampler): still 1000.
  ASSERT_EQ(d.decode(inputOf(options(7, 5000)), c), Status::kOk);
  EXPECT_EQ(rate(flows(7, 1)), 5000u);
  EXPECT_EQ(rate(flows(256, 1)), 1000u);
  // The flow's own domain first.
  ASSERT_EQ(d.decode(inputOf(options(256, 64)), c), Status::kOk);
  EXPECT_EQ(rate(flows(256, 1)), 64u);
  // Two options-only domains that disagree: no rate.
  ASSERT_EQ(d.decode(inputOf(options(8, 2000)), c), Status::kOk);
  EXPECT_EQ(rate(flows(300, 1)), 0u);
  ASSERT_EQ(d.decode(inputOf(options(8, 1000)), c), Status::kOk);  // they agree again
  EXPECT_EQ(rate(flows(300, 1)), 1000u);
  // IPFIX: selectorId, in observation domains.
  auto ipfix_options = Ipfix(0, 6)
                           .set(3).u16(310).u16(2).u16(1).u16(302).u16(4).u16(34).u16(4).end()
                           .set(310).u32(1).u32(100).end()
                           .done();
  auto ipfix_flows = Ipfix(0, 256)
                         .set(2).u16(400).u16(2).u16(8).u16(4).u16(302).u16(4).end()
                         .set(400).u32(0x0a000001).u32(1).end()
                         .done();
  ASSERT_EQ(d.decode(inputOf(ipfix_options), c), Status::kOk);
  c.flows.clear();
  ASSERT_EQ(d.decode(inputOf(ipfix_flows), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 1u);
  EXPECT_EQ(c.flows[0].sampling_rate, 100u);
}

}  // namespace akvo::decoder

namespace akvo::decoder {

// A flood of options records each announcing a new sampler id (review: 600 datagrams of 1,790
// samplers kept the workers busy for minutes) stores at most kMaxSamplersPerDomain of them:
// the known samplers keep working, rates included, and the others are counted as refused.
TEST(NetflowV9, SamplersPerDomainAreBounded) {
  NetflowDecoder d;
  Collect c;
  // Options template 257 (scope: system; samplerId 2 bytes, samplingInterval 4 bytes) and
  // records (sampler, rate) for samplers first..first+n-1.
  auto options = [](uint16_t first, uint16_t n, uint32_t rate) {
    auto m = Ipfix::v9(6);
    m.set(1).u16(257).u16(4).u16(8).u16(1).u16(4).u16(48).u16(2).u16(34).u16(4).end();
    m.set(257);
    for (uint16_t i = 0; i < n; i++) m.u32(0).u16(uint16_t(first + i)).u32(rate + i);
    return m.end().done();
  };
  auto rate = [&](uint16_t sampler) {
    auto m = Ipfix::v9(6)
                 .set(0).u16(258).u16(3).u16(8).u16(4).u16(1).u16(4).u16(48).u16(2).end()
                 .set(258).u32(0x0a000001).u32(1500).u16(sampler).u16(0).end()
                 .done();
    c.flows.clear();
    EXPECT_EQ(d.decode(inputOf(m), c), Status::kOk);
    return c.flows.empty() ? ~0ull : c.flows[0].sampling_rate;
  };
  ASSERT_EQ(d.decode(inputOf(options(1, 1, 1000)), c), Status::kOk);  // the real sampler
  EXPECT_EQ(d.stats().refused_samplers, 0u);
  uint64_t refused = 0;
  for (int i = 0; i < 5; i++) {
    ASSERT_EQ(d.decode(inputOf(options(uint16_t(1000 + i * 1790), 1790, 5)), c), Status::kOk);
    refused += d.stats().refused_samplers;
  }
  const DomainState& dom =
      d.domains().at(DomainKey{*IPv6Addr::parse("192.0.2.1"), 6, 9});
  EXPECT_EQ(dom.sampling.size(), kMaxSamplersPerDomain);
  EXPECT_EQ(refused, 5 * 1790 - (kMaxSamplersPerDomain - 1));
  EXPECT_EQ(rate(1), 1000u);
  EXPECT_EQ(rate(1000), 5u);                                   // the first ones were kept
  EXPECT_EQ(rate(uint16_t(1000 + kMaxSamplersPerDomain - 2)), 5u + kMaxSamplersPerDomain - 2);
  EXPECT_EQ(rate(uint16_t(1000 + kMaxSamplersPerDomain)), 0u);  // refused: unknown
  // A known sampler's rate still changes.
  ASSERT_EQ(d.decode(inputOf(options(1, 1, 2000)), c), Status::kOk);
  EXPECT_EQ(d.stats().refused_samplers, 0u);
  EXPECT_EQ(rate(1), 2000u);
}

// A flood of template ids, of observation domains or of exporters (review: 3,000 datagrams of
// 1,140 single-field templates, each in a new domain, grew memory by 785 MB) stops at
// kMaxTemplatesPerDomain templates per domain, kMaxDomainsPerExporter domains per exporter and
// kMaxDomains in all; the refusals are counted and the known domains keep decoding.
TEST(NetflowIpfix, TemplatesAndDomainsAreBounded) {
  NetflowDecoder d;
  Collect c;
  const IPv6Addr exporter = *IPv6Addr::parse("192.0.2.1");
  // Templates first..first+n-1, each one field: sourceIPv4Address.
  auto templates = [](uint32_t domain, uint16_t first, uint16_t n) {
    Ipfix m(0, domain);
    m.set(2);
    for (uint16_t i = 0; i < n; i++) m.u16(uint16_t(first + i)).u16(1).u16(8).u16(4);
    return m.end().done();
  };
  auto data = [](uint32_t domain, uint16_t id) {
    return Ipfix(0, domain).set(id).u32(0x0a000001).end().done();
  };
  auto decodes = [&](const std::vector<uint8_t>& m, const IPv6Addr& from) {
    c.flows.clear();
    d.decode(Input{std::span<const uint8_t>(m), from, 1700000000}, c);
    return c.flows.size() == 1 && c.flows[0].src_addr.toString() == "10.0.0.1";
  };
  ASSERT_EQ(d.decode(inputOf(templates(1, 256, 1140)), c), Status::kOk);
  EXPECT_EQ(d.stats().refused_templates, 1140 - kMaxTemplatesPerDomain);
  EXPECT_EQ(d.domains().at(DomainKey{exporter, 1, 10}).templates.size(), kMaxTemplatesPerDomain);
  EXPECT_TRUE(decodes(data(1, 256), exporter));
  EXPECT_TRUE(decodes(data(1, uint16_t(256 + kMaxTemplatesPerDomain - 1)), exporter));
  EXPECT_FALSE(decodes(data(1, uint16_t(256 + kMaxTemplatesPerDomain)), exporter));  // refused
  EXPECT_EQ(d.stats().missing_templates, 1u);
  // A known id may still be redefined (and resent).
  auto redefined = Ipfix(0, 1).set(2).u16(300).u16(1).u16(12).u16(4).end().done();
  ASSERT_EQ(d.decode(inputOf(redefined), c), Status::kOk);
  EXPECT_EQ(d.stats().refused_templates, 0u);
  c.flows.clear();
  ASSERT_EQ(d.decode(inputOf(data(1, 300)), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 1u);
  EXPECT_EQ(c.flows[0].dst_addr.toString(), "10.0.0.1");

  // New domains of one exporter: kMaxDomainsPerExporter in all, the others refused.
  uint64_t refused = 0;
  for (uint32_t i = 2; i < 2 + 2 * kMaxDomainsPerExporter; i++) {
    d.decode(inputOf(templates(i, 256, 1)), c);
    refused += d.stats().refused_domains;
  }
  EXPECT_EQ(refused, kMaxDomainsPerExporter + 1);  // domain 1 was the first
  EXPECT_EQ(d.domains().size(), kMaxDomainsPerExporter);
  EXPECT_FALSE(d.domains().contains(DomainKey{exporter, 2 + kMaxDomainsPerExporter, 10}));
  EXPECT_TRUE(decodes(data(1, 256), exporter));  // the known ones still decode
  EXPECT_TRUE(decodes(data(2, 256), exporter));
  EXPECT_FALSE(decodes(data(2 + kMaxDomainsPerExporter, 256), exporter));
  EXPECT_EQ(d.stats().refused_domains, 1u);
  EXPECT_EQ(d.stats().missing_templates, 1u);

  // Many exporters: kMaxDomains in all.
  for (uint32_t i = 0; i < kMaxDomains; i++) {
    auto m = templates(1, 256, 1);
    d.decode(Input{std::span<const uint8_t>(m), IPv6Addr::fromV4(0x0b000000 + i), 1700000000}, c);
  }
  EXPECT_EQ(d.domains().size(), kMaxDomains);
  EXPECT_EQ(d.stats().refused_domains, 1u);
  EXPECT_TRUE(decodes(data(1, 256), exporter));
  EXPECT_TRUE(decodes(data(1, 256), IPv6Addr::fromV4(0x0b000000)));
  EXPECT_FALSE(decodes(data(1, 256), IPv6Addr::fromV4(0x0b000000 + kMaxDomains)));
}

// The bytes of templates are bounded across the whole decoder (review: within the counts, one
// source address could hold 256 domains of 1,024 templates of thousands of fields each).
// Past the bound, new templates are refused (counted), a redefinition that does not fit
// drops the old definition, and withdrawn templates give their room back.
TEST(NetflowIpfix, TemplateBytesAreBounded) {
  // A template of `n` fields (octetDeltaCount, 4 bytes), alone in a datagram.
  auto big = [](uint32_t domain, uint16_t id, uint16_t n) {
    Ipfix m(0, domain);
    m.set(2).u16(id).u16(n);
    for (uint16_t i = 0; i < n; i++) m.u16(1).u16(4);
    return m.end().done();
  };
  NetflowDecoder d;
  Collect c;
  uint64_t refused = 0;
  size_t stored = 0;
  for (uint16_t i = 0; i < 250; i++) {
    ASSERT_EQ(d.decode(inputOf(big(1 + i / 100, uint16_t(256 + i), 16000)), c), Status::kOk);
    refused += d.stats().refused_template_memory;
    EXPECT_EQ(d.stats().refused_templates, 0u);
    EXPECT_LE(d.templateBytesUsed(), kMaxTemplateBytes);
  }
  for (const auto& [key, dom] : d.domains()) stored += dom.templates.size();
  EXPECT_GT(refused, 0u);  // each is ~380 KB: 64 MiB holds about 170
  EXPECT_EQ(stored + refused, 250u);
  EXPECT_GT(d.templateBytesUsed(), kMaxTemplateBytes - kMaxTemplateBytes / stored);

  // The same, small: room for three one-field templates.
  auto templates = [](uint32_t domain, uint16_t first, uint16_t n, uint16_t fields = 1) {
    Ipfix m(0, domain);
    m.set(2);
    for (uint16_t i = 0; i < n; i++) {
      m.u16(uint16_t(first + i)).u16(fields);
      for (uint16_t f = 0; f < fields; f++) m.u16(uint16_t(8 + 4 * f)).u16(4);  // src, dst
    }
    return m.end().done();
  };
  auto data = [](uint32_t domain, uint16_t id) {
    return Ipfix(0, domain).set(id).u32(0x0a000001).end().done();
  };
  auto decodes = [&](NetflowDecoder& dec, const std::vector<uint8_t>& m) {
    c.flows.clear();
    dec.decode(inputOf(m), c);
    return c.flows.size() == 1 && c.flows[0].src_addr.toString() == "10.0.0.1";
  };
  NetflowDecoder probe;
  ASSERT_EQ(probe.decode(inputOf(templates(1, 256, 1)), c), Status::kOk);
  const size_t one = probe.templateBytesUsed();
  ASSERT_GT(one, 0u);
  NetflowDecoder::Config config;
  config.max_template_bytes = 3 * one;
  NetflowDecoder s(config);
  ASSERT_EQ(s.decode(inputOf(templates(1, 256, 4)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 1u);  // 259
  EXPECT_EQ(s.templateBytesUsed(), 3 * one);
  ASSERT_EQ(s.decode(inputOf(templates(2, 256, 1)), c), Status::kOk);  // another domain: the
  EXPECT_EQ(s.stats().refused_template_memory, 1u);                    // bound is the decoder's
  EXPECT_TRUE(decodes(s, data(1, 256)));
  EXPECT_FALSE(decodes(s, data(1, 259)));
  EXPECT_EQ(s.stats().missing_templates, 1u);
  // Resent unchanged: only refreshed, nothing refused.
  ASSERT_EQ(s.decode(inputOf(templates(1, 256, 3)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 0u);
  // 257 redefined with two fields does not fit: refused, and the old 257 is gone (its data
  // must not decode with the old fields).
  ASSERT_EQ(s.decode(inputOf(templates(1, 257, 1, 2)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 1u);
  EXPECT_EQ(s.templateBytesUsed(), 2 * one);
  EXPECT_FALSE(decodes(s, data(1, 257)));
  EXPECT_EQ(s.stats().missing_templates, 1u);
  // Its room is taken by another; a withdrawal (RFC 7011 §8.1) gives room back.
  ASSERT_EQ(s.decode(inputOf(templates(2, 256, 1)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 0u);
  EXPECT_TRUE(decodes(s, data(2, 256)));
  ASSERT_EQ(s.decode(inputOf(templates(2, 257, 1)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 1u);
  ASSERT_EQ(s.decode(inputOf(Ipfix(0, 1).set(2).u16(256).u16(0).end().done()), c), Status::kOk);
  EXPECT_EQ(s.templateBytesUsed(), 2 * one);
  ASSERT_EQ(s.decode(inputOf(templates(2, 257, 1)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 0u);
  EXPECT_TRUE(decodes(s, data(2, 257)));
  EXPECT_EQ(s.templateBytesUsed(), 3 * one);
  // clear() gives all of it back; so do expired templates.
  s.clear();
  EXPECT_EQ(s.templateBytesUsed(), 0u);
  ASSERT_EQ(s.decode(inputOf(templates(1, 256, 3)), c), Status::kOk);
  EXPECT_EQ(s.stats().refused_template_memory, 0u);
  NetflowDecoder::Config expiring;
  expiring.template_expiry = 10;
  NetflowDecoder e(expiring);
  auto t = templates(1, 256, 1), later = data(1, 256);
  e.decode(Input{std::span<const uint8_t>(t), *IPv6Addr::parse("192.0.2.1"), 1700000000}, c);
  EXPECT_EQ(e.templateBytesUsed(), one);
  e.decode(Input{std::span<const uint8_t>(later), *IPv6Addr::parse("192.0.2.1"), 1700000100}, c);
  EXPECT_EQ(e.stats().missing_templates, 1u);
  EXPECT_EQ(e.templateBytesUsed(), 0u);
}

}  // namespace akvo::decoder

namespace akvo::decoder {
namespace {

// Template counters as the outlet hands them out: one per key, and how often each was asked.
struct CountTemplates : TemplateCounters {
  std::map<std::string, Counter> counters;
  std::map<std::string, int> asked;
  Counter& templateCounter(const DomainKey& key, uint16_t id, bool options, bool other) override {
    std::string k = other ? fmt::format("other v{} {}", key.version, options ? "options" : "data")
                          : fmt::format("{} v{} domain {} id {} {}", key.exporter.toString(),
                                        key.version, key.domain, id, options ? "options" : "data");
    asked[k]++;
    return counters[k];
  }
  uint64_t value(const std::string& k) const {
    auto it = counters.find(k);
    return it == counters.end() ? 0 : it->second.value();
  }
};

// The sets and records of one datagram, by kind (pdu, template, options_template, data,
// options_data), as "kind=sets/records" for the kinds present.
std::string setsOf(const DatagramStats& st) {
  std::string out;
  for (size_t k = 0; k < kNetflowSetKinds; k++)
    if (st.sets[k] || st.set_records[k])
      out += fmt::format("{}{}={}/{}", out.empty() ? "" : " ", netflowSetName(NetflowSet(k)),
                         st.sets[k], st.set_records[k]);
  return out;
}

}  // namespace

// Sets, records and templates of each capture, as tshark -V decodes them (template.pcap: one
// template flowset holding template 260 of source id 0; data.pcap: a data flowset of 4 flows;
// options-template.pcap: options template 257; data+templates.pcap, source id 17170432: a data
// flowset of template 257 before its template (missing), options template 256 and 1 record of
// it, template 257 and 10 records; mpls.pcap, IPFIX domain 16777216: template 2510, options
// template 50310, 1 options record, 2 flow records; nfv5.pcap: one v5 PDU of 29 flows).
TEST(NetflowV9, SetsRecordsAndTemplatesAreCounted) {
  CountTemplates t;
  Replay r;
  r.d.countTemplates(&t);
  auto one = [&](const std::string& file) {
    r.file(file);
    return fmt::format("v{} {}", r.d.stats().version, setsOf(r.d.stats()));
  };
  EXPECT_EQ(one("template.pcap"), "v9 template=1/1");
  EXPECT_EQ(one("data.pcap"), "v9 data=1/4");
  EXPECT_EQ(one("template.pcap"), "v9 template=1/1");  // resent: counted again
  EXPECT_EQ(one("options-template.pcap"), "v9 options_template=1/1");
  EXPECT_EQ(one("options-data.pcap"), "v9 options_data=1/4");
  EXPECT_EQ(one("data+templates.pcap"),
            "v9 template=1/1 options_template=1/1 data=1/10 options_data=1/1");
  EXPECT_EQ(r.d.stats().missing_templates, 1u);  // not among the sets
  EXPECT_EQ(one("mpls.pcap"), "v10 template=1/1 options_template=1/1 data=1/2 options_data=1/1");
  EXPECT_EQ(one("mpls.pcap"), "v10 template=1/1 options_template=1/1 data=1/2 options_data=1/1");
  EXPECT_EQ(one("nfv5.pcap"), "v5 pdu=1/29");
  EXPECT_EQ(r.c.flows.size(), 4u + 10 + 2 + 2 + 29);

  EXPECT_EQ(t.value("192.0.2.1 v9 domain 0 id 260 data"), 2u);
  EXPECT_EQ(t.value("192.0.2.1 v9 domain 0 id 257 options"), 1u);
  EXPECT_EQ(t.value("192.0.2.1 v9 domain 17170432 id 257 data"), 1u);
  EXPECT_EQ(t.value("192.0.2.1 v9 domain 17170432 id 256 options"), 1u);
  EXPECT_EQ(t.value("192.0.2.1 v10 domain 16777216 id 2510 data"), 2u);
  EXPECT_EQ(t.value("192.0.2.1 v10 domain 16777216 id 50310 options"), 2u);
  EXPECT_EQ(t.counters.size(), 6u);
  for (const auto& [k, n] : t.asked) EXPECT_EQ(n, 1) << k;  // asked once, then kept

  // Another exporter's same template is another counter.
  r.file("template.pcap", "192.0.2.2");
  EXPECT_EQ(t.value("192.0.2.2 v9 domain 0 id 260 data"), 1u);
  EXPECT_EQ(t.value("192.0.2.1 v9 domain 0 id 260 data"), 2u);
}

// Withdrawals and refused templates are records of their set, not templates received; past
// kMaxTemplateCounters keys, templates share one counter per version and kind.
TEST(NetflowIpfix, TemplateCountersAreBounded) {
  CountTemplates t;
  NetflowDecoder d;
  d.countTemplates(&t);
  Collect c;
  // Templates first..first+n-1 of `domain`, each one field: sourceIPv4Address.
  auto templates = [](uint32_t domain, uint16_t first, uint16_t n) {
    Ipfix m(0, domain);
    m.set(2);
    for (uint16_t i = 0; i < n; i++) m.u16(uint16_t(first + i)).u16(1).u16(8).u16(4);
    return m.end().done();
  };
  ASSERT_EQ(d.decode(inputOf(templates(1, 256, 1030)), c), Status::kOk);
  EXPECT_EQ(setsOf(d.stats()), "template=1/1030");
  EXPECT_EQ(d.stats().refused_templates, 1030 - kMaxTemplatesPerDomain);
  EXPECT_EQ(t.counters.size(), kMaxTemplatesPerDomain);  // the refused ones are not counted
  auto withdrawal = Ipfix(0, 1).set(2).u16(256).u16(0).end().done();
  ASSERT_EQ(d.decode(inputOf(withdrawal), c), Status::kOk);
  EXPECT_EQ(setsOf(d.stats()), "template=1/1");
  EXPECT_EQ(t.value("192.0.2.1 v10 domain 1 id 256 data"), 1u);  // learned once, withdrawn

  // 8 more domains of 1,024: past kMaxTemplateCounters, the other ones.
  for (uint32_t domain = 2; domain < 10; domain++)
    ASSERT_EQ(d.decode(inputOf(templates(domain, 256, uint16_t(kMaxTemplatesPerDomain))), c),
              Status::kOk);
  const size_t all = 9 * kMaxTemplatesPerDomain;
  EXPECT_EQ(t.counters.size(), NetflowDecoder::kMaxTemplateCounters + 1);
  EXPECT_EQ(t.value("other v10 data"), all - NetflowDecoder::kMaxTemplateCounters);
  EXPECT_EQ(t.asked["other v10 data"], 1);
  // Keys known before the bound keep their own counter.
  ASSERT_EQ(d.decode(inputOf(templates(1, 300, 1)), c), Status::kOk);
  EXPECT_EQ(t.value("192.0.2.1 v10 domain 1 id 300 data"), 2u);
}

}  // namespace akvo::decoder
