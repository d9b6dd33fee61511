#pragma once
/// Packets and sFlow datagrams crafted byte by byte, for the tests of the packet parser and of
/// the decoders that carry packet headers (sFlow sampled headers, IPFIX dataLinkFrameSection)
/// in the cases no capture holds (tunnels). Lengths and every field the parser reads are set
/// as on the wire; checksums are left 0. Tests only.
#include <arpa/inet.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace akvo::testing {

using Bytes = std::vector<uint8_t>;

inline void put8(Bytes& b, uint8_t v) { b.push_back(v); }
inline void put16(Bytes& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
inline void put48(Bytes& b, uint64_t v) {
  put16(b, uint16_t(v >> 32));
  put32(b, uint32_t(v));
}
inline void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }

/// The 4 or 16 bytes of an address in text.
inline Bytes addressBytes(const std::string& text) {
  Bytes b(16);
  if (inet_pton(AF_INET, text.c_str(), b.data()) == 1) return Bytes(b.begin(), b.begin() + 4);
  if (inet_pton(AF_INET6, text.c_str(), b.data()) == 1) return b;
  throw std::invalid_argument("not an address: " + text);
}

/// Ethernet II (IEEE 802.3), with one 802.1Q tag when `vlan` is not 0.
inline Bytes ethernet(uint64_t dst, uint64_t src, uint16_t etype, const Bytes& payload,
                      uint16_t vlan = 0) {
  Bytes b;
  put48(b, dst);
  put48(b, src);
  if (vlan) {
    put16(b, 0x8100);
    put16(b, vlan);
  }
  put16(b, etype);
  append(b, payload);
  return b;
}

/// IPv4 (RFC 791 §3.1): TTL 64, identification 0x1234, ToS `tos`; `fragment` is the 13-bit
/// offset (in 8-byte units), `more` the MF flag.
inline Bytes ipv4(const std::string& src, const std::string& dst, uint8_t proto,
                  const Bytes& payload, uint16_t fragment = 0, bool more = false,
                  uint8_t tos = 0) {
  Bytes b;
  put8(b, 0x45);
  put8(b, tos);
  put16(b, uint16_t(20 + payload.size()));
  put16(b, 0x1234);
  put16(b, uint16_t((more ? 0x2000 : 0) | (fragment & 0x1fff)));
  put8(b, 64);
  put8(b, proto);
  put16(b, 0);
  append(b, addressBytes(src));
  append(b, addressBytes(dst));
  append(b, payload);
  return b;
}

/// IPv6 (RFC 8200 §3): hop limit 64, traffic class 0, flow label 0x12345.
inline Bytes ipv6(const std::string& src, const std::string& dst, uint8_t next,
                  const Bytes& payload) {
  Bytes b;
  put32(b, 0x60012345);
  put16(b, uint16_t(payload.size()));
  put8(b, next);
  put8(b, 64);
  append(b, addressBytes(src));
  append(b, addressBytes(dst));
  append(b, payload);
  return b;
}

/// UDP (RFC 768).
inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload = {}) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put16(b, uint16_t(8 + payload.size()));
  put16(b, 0);
  append(b, payload);
  return b;
}

/// A TCP header without options (RFC 9293 §3.1).
inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags) {
  Bytes b;
  put16(b, sport);
  put16(b, dport);
  put32(b, 1000);  // sequence
  put32(b, 0);     // acknowledgment
  put8(b, 0x50);   // data offset 5
  put8(b, flags);
  put16(b, 65535);  // window
  put32(b, 0);      // checksum, urgent pointer
  return b;
}

/// VXLAN (RFC 7348 §5): the 8-byte header (I flag, VNI) before the inner Ethernet frame. Goes
/// in a UDP datagram to port 4789.
inline Bytes vxlan(uint32_t vni, const Bytes& frame) {
  Bytes b;
  put32(b, 0x08000000);
  put32(b, vni << 8);
  append(b, frame);
  return b;
}

/// A segment routing header (RFC 8754 §2: routing header type 4) listing `segments`, then
/// `payload`, whose protocol is `next`. `routing_type` other than 4 makes another routing
/// header of the same shape.
inline Bytes srh(uint8_t next, const std::vector<std::string>& segments, const Bytes& payload,
                 uint8_t routing_type = 4) {
  Bytes b;
  put8(b, next);
  put8(b, uint8_t(2 * segments.size()));  // length in 8-octet units, not counting the first 8
  put8(b, routing_type);
  put8(b, uint8_t(segments.size() - 1));  // segments left
  put8(b, uint8_t(segments.size() - 1));  // last entry
  put8(b, 0);                             // flags
  put16(b, 0);                            // tag
  for (const auto& s : segments) append(b, addressBytes(s));
  append(b, payload);
  return b;
}

/// GRE (RFC 2784 §2.1, RFC 2890 §2): `flags` with its C (0x8000), K (0x2000) and S (0x1000)
/// bits, each followed by its 4-byte word (checksum and reserved, key, sequence number).
inline Bytes gre(uint16_t flags, uint16_t protocol, const Bytes& payload) {
  Bytes b;
  put16(b, flags);
  put16(b, protocol);
  if (flags & 0x8000) put32(b, 0);
  if (flags & 0x2000) put32(b, 0x01020304);
  if (flags & 0x1000) put32(b, 7);
  append(b, payload);
  return b;
}

/// One MPLS label stack entry (RFC 3032 §2.1), TTL 64.
inline Bytes mpls(uint32_t label, bool bottom, const Bytes& payload) {
  Bytes b;
  put32(b, label << 12 | (bottom ? 0x100 : 0) | 64);
  append(b, payload);
  return b;
}

/// sFlow v5 flow records (sflow.org sflow_version_5.txt, "Flow Data").
struct SflowRecord {
  uint32_t format;
  Bytes data;
};

/// Sampled header (format 1): `protocol` 1 Ethernet, 11 IPv4, 12 IPv6; the frame length says
/// 4 more bytes (the FCS, stripped).
inline SflowRecord sampledHeader(const Bytes& header, uint32_t protocol = 1) {
  Bytes b;
  put32(b, protocol);
  put32(b, uint32_t(header.size() + 4));
  put32(b, 4);
  put32(b, uint32_t(header.size()));
  append(b, header);
  while (b.size() % 4) b.push_back(0);
  return {1, b};
}

/// Sampled Ethernet (format 2).
inline SflowRecord sampledEthernet(uint32_t length, uint64_t src, uint64_t dst,
                                   uint32_t type = 0x0800) {
  Bytes b;
  put32(b, length);
  put48(b, src);
  put16(b, 0);
  put48(b, dst);
  put16(b, 0);
  put32(b, type);
  return {2, b};
}

/// Sampled IPv4 (format 3).
inline SflowRecord sampledIPv4(uint32_t length, uint32_t proto, const std::string& src,
                               const std::string& dst, uint32_t sport, uint32_t dport,
                               uint32_t tcp_flags = 0, uint32_t tos = 0) {
  Bytes b;
  put32(b, length);
  put32(b, proto);
  append(b, addressBytes(src));
  append(b, addressBytes(dst));
  put32(b, sport);
  put32(b, dport);
  put32(b, tcp_flags);
  put32(b, tos);
  return {3, b};
}

/// Extended switch (format 1001).
inline SflowRecord extendedSwitch(uint32_t src_vlan, uint32_t dst_vlan) {
  Bytes b;
  put32(b, src_vlan);
  put32(b, 0);
  put32(b, dst_vlan);
  put32(b, 0);
  return {1001, b};
}

/// Extended router (format 1002): an IPv4 next hop and the masks.
inline SflowRecord extendedRouter(const std::string& next_hop, uint32_t src_mask,
                                  uint32_t dst_mask) {
  Bytes b;
  put32(b, 1);
  append(b, addressBytes(next_hop));
  put32(b, src_mask);
  put32(b, dst_mask);
  return {1002, b};
}

/// An sFlow v5 datagram from an IPv4 agent, with one flow sample (format 1: sampling rate
/// `rate`, input ifIndex 10, output 20) per element of `samples`.
inline Bytes sflowDatagram(const std::string& agent, uint32_t sequence,
                           const std::vector<std::vector<SflowRecord>>& samples,
                           uint32_t rate = 1000) {
  Bytes b;
  put32(b, 5);
  put32(b, 1);
  append(b, addressBytes(agent));
  put32(b, 0);  // sub-agent
  put32(b, sequence);
  put32(b, 123456);  // uptime
  put32(b, uint32_t(samples.size()));
  uint32_t n = 0;
  for (const auto& records : samples) {
    Bytes s;
    put32(s, ++n);     // sequence
    put32(s, 10);      // source id: ifIndex 10
    put32(s, rate);
    put32(s, 1000 * n);  // sample pool
    put32(s, 0);         // drops
    put32(s, 10);        // input
    put32(s, 20);        // output
    put32(s, uint32_t(records.size()));
    for (const auto& r : records) {
      put32(s, r.format);
      put32(s, uint32_t(r.data.size()));
      append(s, r.data);
    }
    put32(b, 1);  // flow sample
    put32(b, uint32_t(s.size()));
    append(b, s);
  }
  return b;
}

}  // namespace akvo::testing
