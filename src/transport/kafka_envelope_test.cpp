#include "transport/kafka_envelope.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>

namespace akvo {
namespace {

Datagram sample() {
  Datagram d;
  d.buffer.resize(Datagram::kMaxSize);
  const char payload[] = "\x00\x05\x00\x01hello";
  std::memcpy(d.buffer.data(), payload, 9);
  d.size = 9;
  uint8_t v4[4] = {192, 0, 2, 142};
  d.exporter = IPv6Addr::fromV4Bytes(v4);
  d.time_received = 1700000000;
  d.decoder = DecoderKind::kSflow;
  d.timestamp_source = TimestampSource::kNetflowFirstSwitched;
  d.input = 3;
  d.use_src_addr = true;
  d.spread = true;
  d.rate_limit = 2500;
  d.decapsulation = Decapsulation::kVxlan;
  return d;
}

TEST(KafkaEnvelope, RoundTrip) {
  Datagram d = sample(), back;
  std::string wire;
  encodeEnvelope(d, wire);
  ASSERT_TRUE(decodeEnvelope({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, back));
  EXPECT_EQ(back.size, 9u);
  EXPECT_EQ(std::memcmp(back.buffer.data(), d.buffer.data(), 9), 0);
  EXPECT_EQ(back.exporter, d.exporter);
  EXPECT_EQ(back.time_received, d.time_received);
  EXPECT_EQ(back.decoder, DecoderKind::kSflow);
  EXPECT_EQ(back.timestamp_source, TimestampSource::kNetflowFirstSwitched);
  EXPECT_EQ(back.input, 3);
  EXPECT_TRUE(back.use_src_addr);
  EXPECT_TRUE(back.spread);
  EXPECT_EQ(back.rate_limit, 2500u);
  EXPECT_EQ(back.decapsulation, Decapsulation::kVxlan);
  // Defaults are not written and decode as defaults (a reused datagram forgets its old flags).
  Datagram plain;
  plain.buffer.resize(16);
  plain.size = 1;
  encodeEnvelope(plain, wire);
  ASSERT_TRUE(decodeEnvelope({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, back));
  EXPECT_FALSE(back.spread);
  EXPECT_FALSE(back.use_src_addr);
  EXPECT_EQ(back.rate_limit, 0u);
  EXPECT_EQ(back.decapsulation, Decapsulation::kNone);
}

// Field 10 is new: a message without it (an older inlet's) means no decapsulation, and a
// protocol this outlet does not know is refused rather than decoded from the outer header.
TEST(KafkaEnvelope, DecapsulationField) {
  Datagram d = sample(), back;
  d.decapsulation = Decapsulation::kNone;
  std::string none;
  encodeEnvelope(d, none);
  for (auto decap : {Decapsulation::kNone, Decapsulation::kIpIp, Decapsulation::kGre,
                     Decapsulation::kVxlan, Decapsulation::kSrv6}) {
    d.decapsulation = decap;
    std::string wire;
    encodeEnvelope(d, wire);
    // The default is not written: an inlet without decapsulation sends what it sent before.
    EXPECT_EQ(wire.size(), none.size() + (decap == Decapsulation::kNone ? 0 : 2));
    back.decapsulation = Decapsulation::kGre;  // a reused datagram forgets it
    ASSERT_TRUE(decodeEnvelope({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, back));
    EXPECT_EQ(back.decapsulation, decap);
  }
  std::string unknown = none + std::string("\x50\x05", 2);  // field 10 = 5: not a protocol
  EXPECT_FALSE(
      decodeEnvelope({reinterpret_cast<const uint8_t*>(unknown.data()), unknown.size()}, back));
}

TEST(KafkaEnvelope, RejectsMalformedAndTruncated) {
  Datagram d = sample(), back;
  std::string wire;
  encodeEnvelope(d, wire);
  // Every strict prefix that cuts a field is refused, never read past the end.
  size_t refused = 0;
  for (size_t n = 0; n < wire.size(); n++)
    if (!decodeEnvelope({reinterpret_cast<const uint8_t*>(wire.data()), n}, back)) refused++;
  EXPECT_GE(refused, wire.size() - 5);  // a prefix may end exactly between optional fields
  std::string bad = "\x0a\xff\xff\xff\xff\x0f";  // payload length 4 GB
  EXPECT_FALSE(decodeEnvelope({reinterpret_cast<const uint8_t*>(bad.data()), bad.size()}, back));
  std::string group = "\x0b";  // wire type 3 (start group)
  EXPECT_FALSE(decodeEnvelope({reinterpret_cast<const uint8_t*>(group.data()), group.size()}, back));
}

TEST(KafkaEnvelope, SkipsUnknownFields) {
  Datagram d = sample(), back;
  std::string wire;
  encodeEnvelope(d, wire);
  wire += std::string("\x60\x07", 2);                      // field 12, varint
  wire += std::string("\x52\x02xy", 4);                    // field 10, bytes
  wire += std::string("\x59" "12345678", 9);               // field 11, fixed64
  ASSERT_TRUE(decodeEnvelope({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, back));
  EXPECT_EQ(back.size, 9u);
  EXPECT_EQ(back.input, 3);
}

// protoc, an independent protobuf implementation, reads what we write with kafka.proto.
TEST(KafkaEnvelope, ProtocDecodesOurEncoding) {
  if (std::system("command -v protoc >/dev/null 2>&1") != 0) GTEST_SKIP() << "no protoc";
  Datagram d = sample();
  std::string wire;
  encodeEnvelope(d, wire);
  std::string path = testing::TempDir() + "/envelope.bin";
  std::ofstream(path, std::ios::binary).write(wire.data(), std::streamsize(wire.size()));
  // Tests run from the repository root.
  std::string cmd =
      "protoc --proto_path=src/transport --decode=akvo.transport.v1.Datagram kafka.proto < " + path;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  ASSERT_TRUE(p);
  std::string text;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p.get())) text.append(buf, n);
  EXPECT_NE(text.find("time_received: 1700000000"), std::string::npos) << text;
  EXPECT_NE(text.find("decoder: SFLOW"), std::string::npos) << text;
  EXPECT_NE(text.find("timestamp_source: NETFLOW_FIRST_SWITCHED"), std::string::npos) << text;
  EXPECT_NE(text.find("input: 3"), std::string::npos) << text;
  EXPECT_NE(text.find("use_source_address: true"), std::string::npos) << text;
  EXPECT_NE(text.find("spread: true"), std::string::npos) << text;
  EXPECT_NE(text.find("rate_limit: 2500"), std::string::npos) << text;
  EXPECT_NE(text.find("decapsulation_protocol: DECAP_VXLAN"), std::string::npos) << text;
  EXPECT_NE(text.find(R"(exporter_address: "\000\000\000\000\000\000\000\000\000\000\377\377\300\000\002\216")"),
            std::string::npos) << text;
}

}  // namespace
}  // namespace akvo
