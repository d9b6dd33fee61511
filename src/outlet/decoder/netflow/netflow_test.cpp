#include "outlet/decoder/netflow/netflow.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "common/pcap_reader.h"
#include "demo/encoder.h"

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
