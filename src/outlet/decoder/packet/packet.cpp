#include "outlet/decoder/packet/packet.h"

#include "outlet/decoder/decoder.h"

namespace akvo::decoder {
namespace {

constexpr uint16_t kETypeIPv4 = 0x0800, kETypeIPv6 = 0x86dd, kETypeMpls = 0x8847,
                   kETypeVlan = 0x8100, kETypeQinQ = 0x88a8, kETypeQinQOld = 0x9100;
constexpr uint8_t kProtoIcmp = 1, kProtoIpIp = 4, kProtoTcp = 6, kProtoUdp = 17, kProtoIPv6 = 41,
                  kProtoRouting = 43, kProtoGre = 47, kProtoIcmpv6 = 58;
constexpr uint16_t kPortVxlan = 4789;  // RFC 7348 §5
constexpr uint8_t kRoutingSrh = 4;     // RFC 8754 §2: segment routing header

// `Earlier`: the flow may already have some of the fields the packet gives (see hasEarlier());
// without, the checks below are compiled out (the common case: a frame alone, or first).
template <bool Earlier>
struct Parser {
  FlowRecord& f;
  const PacketOptions& o;
  // MACs the flow had before this parse (IPFIX sourceMacAddress and destinationMacAddress
  // earlier in the record, an sFlow sampled Ethernet record): the first value wins, as in
  // Akvorado, where a column is written once per flow.
  const bool keep_src_mac = Earlier && f.src_mac != 0, keep_dst_mac = Earlier && f.dst_mac != 0;
  // Likewise the protocol, ports, ToS and TCP flags that an earlier sFlow record (sampled
  // IPv4/IPv6) or IPFIX element gave, unless decapsulating: the inner packet then gives them.
  const bool first_wins = Earlier && o.decap == Decapsulation::kNone;
  const bool keep_proto = first_wins && f.proto != 0,
             keep_src_port = first_wins && f.src_port != 0,
             keep_dst_port = first_wins && f.dst_port != 0,
             keep_tos = first_wins && f.ip_tos != 0,
             keep_tcp_flags = first_wins && f.tcp_flags != 0;
  int depth = 0;  // tunnels opened (0: the outer header)
  int hops = 0;   // Ethernet headers met (EoMPLS nests them), bounded against crafted loops

  static uint64_t mac(const uint8_t* p) {
    return uint64_t(p[0]) << 40 | uint64_t(p[1]) << 32 | uint64_t(p[2]) << 24 |
           uint64_t(p[3]) << 16 | uint64_t(p[4]) << 8 | p[5];
  }

  // Transport header: ports, TCP flags (RFC 9293 §3.1), ICMP type/code (RFC 792, RFC 4443).
  void l4(const uint8_t* p, size_t n, uint8_t proto) {
    switch (proto) {
      case kProtoTcp:
        if (n >= 14 && !keep_tcp_flags) f.tcp_flags = p[13];
        [[fallthrough]];
      case kProtoUdp:
        if (n >= 4) {
          if (!keep_src_port) f.src_port = be16(p);
          if (!keep_dst_port) f.dst_port = be16(p + 2);
        }
        break;
      case kProtoIcmp:
        if (n >= 2) {
          f.icmpv4_type = p[0];
          f.icmpv4_code = p[1];
        }
        break;
      case kProtoIcmpv6:
        if (n >= 2) {
          f.icmpv6_type = p[0];
          f.icmpv6_code = p[1];
        }
        break;
      default: break;
    }
  }

  // A tunnel payload: returns the inner L3 length, or 0.
  uint64_t inner(const uint8_t* p, size_t n, uint16_t etype) {
    if (++depth > 4) return 0;
    if (etype == kETypeIPv4) return ipv4(p, n);
    if (etype == kETypeIPv6) return ipv6(p, n);
    return 0;
  }

  // GRE (RFC 2784 §2.1, RFC 2890 §2): version 0; the checksum (C), key (K) and sequence
  // number (S) present bits each add 4 bytes; routing present, the RFC 1701 bits and other
  // versions are refused (as Akvorado).
  uint64_t gre(const uint8_t* p, size_t n) {
    if (n < 4) return 0;
    uint16_t flags = be16(p);
    if (flags & 0x4fff) return 0;
    size_t off = 4 + 4 * size_t(__builtin_popcount(flags));
    if (off > n) return 0;
    return inner(p + off, n - off, be16(p + 2));
  }

  // VXLAN (RFC 7348 §5): UDP to port 4789, 8 bytes of VXLAN header, then an Ethernet frame,
  // whose header fills the flow as any frame's does.
  uint64_t vxlan(const uint8_t* p, size_t n) {
    if (n < 16 || be16(p + 2) != kPortVxlan || ++depth > 4) return 0;
    return ethernet(p + 16, n - 16);
  }

  // The payload of the outer IP header when decapsulating: the tunnel of the input's
  // protocol, else nothing (the packet is not so encapsulated). A later fragment's payload is
  // not a header.
  uint64_t open(const uint8_t* p, size_t n, uint8_t proto, bool first_frag) {
    if (!first_frag) return 0;
    switch (o.decap) {
      case Decapsulation::kIpIp:
      case Decapsulation::kSrv6:  // IPv6 outer, SRHs walked by ipv6()
        if (proto == kProtoIpIp) return inner(p, n, kETypeIPv4);
        if (proto == kProtoIPv6) return inner(p, n, kETypeIPv6);
        return 0;
      case Decapsulation::kGre: return proto == kProtoGre ? gre(p, n) : 0;
      case Decapsulation::kVxlan: return proto == kProtoUdp ? vxlan(p, n) : 0;
      default: return 0;
    }
  }

  // What follows an IP header: a tunnel to open (when decapsulating) or a transport header.
  // `outer_len` is the L3 length of this header's packet.
  uint64_t next(const uint8_t* p, size_t n, uint8_t proto, uint64_t outer_len, bool first_frag) {
    if (o.decap != Decapsulation::kNone && depth == 0) return open(p, n, proto, first_frag);
    if (first_frag) l4(p, n, uint8_t(proto));
    return outer_len;
  }

  // IPv4 (RFC 791 §3.1).
  uint64_t ipv4(const uint8_t* p, size_t n) {
    if (n < 20 || p[0] >> 4 != 4) return 0;
    size_t ihl = size_t(p[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > n) return 0;
    bool outer = o.decap != Decapsulation::kNone && depth == 0;
    if (outer && o.decap == Decapsulation::kSrv6) return 0;  // SRv6 is carried by IPv6
    uint64_t len = be16(p + 2);
    uint16_t frag = be16(p + 6);
    uint8_t proto = p[9];
    if (!outer) {
      f.etype = kETypeIPv4;
      if (!keep_tos) f.ip_tos = p[1];
      f.ip_fragment_id = be16(p + 4);
      f.ip_fragment_offset = frag & 0x1fff;
      f.ip_ttl = p[8];
      if (!keep_proto) f.proto = proto;
      f.src_addr = IPv6Addr::fromV4Bytes(p + 12);
      f.dst_addr = IPv6Addr::fromV4Bytes(p + 16);
    }
    return next(p + ihl, n - ihl, proto, len, (frag & 0x1fff) == 0);
  }

  // IPv6 (RFC 8200 §3, extension headers §4: hop-by-hop, routing, destination options are
  // walked; a fragment header ends the walk unless it is the first fragment).
  uint64_t ipv6(const uint8_t* p, size_t n) {
    if (n < 40 || p[0] >> 4 != 6) return 0;
    bool outer = o.decap != Decapsulation::kNone && depth == 0;
    uint64_t len = uint64_t(be16(p + 4)) + 40;
    uint8_t nh = p[6];
    if (!outer) {
      f.etype = kETypeIPv6;
      if (!keep_tos) f.ip_tos = uint8_t(be16(p) >> 4);
      f.ipv6_flow_label = be32(p) & 0xfffff;
      f.ip_ttl = p[7];
      f.src_addr = IPv6Addr::fromV6Bytes(p + 8);
      f.dst_addr = IPv6Addr::fromV6Bytes(p + 24);
    }
    size_t off = 40;
    bool first_frag = true;
    for (int i = 0; i < 8; i++) {
      if (nh == 0 || nh == kProtoRouting || nh == 60) {
        if (off + 8 > n) break;
        // SRv6: the routing headers of the outer packet must be segment routing headers.
        if (outer && o.decap == Decapsulation::kSrv6 && nh == kProtoRouting &&
            p[off + 2] != kRoutingSrh)
          return 0;
        uint8_t next_nh = p[off];
        off += (size_t(p[off + 1]) + 1) * 8;
        nh = next_nh;
      } else if (nh == 44) {
        if (off + 8 > n) break;
        uint16_t fo = be16(p + off + 2);
        if (!outer) {
          f.ip_fragment_offset = fo >> 3;
          f.ip_fragment_id = be32(p + off + 4);
        }
        first_frag = (fo >> 3) == 0;
        nh = p[off];
        off += 8;
      } else {
        break;
      }
    }
    if (!outer && !keep_proto) f.proto = nh;
    if (off > n) return outer ? 0 : len;
    return next(p + off, n - off, nh, len, first_frag);
  }

  // MPLS (RFC 3032 §2.1): labels to the bottom of stack, then guess the payload: explicit
  // null labels say IPv4 (0) or IPv6 (2); otherwise the first nibble; nibble 0 is a pseudowire
  // control word (RFC 4385) followed by Ethernet (EoMPLS, RFC 4448), or Ethernet directly.
  uint64_t mpls(const uint8_t* p, size_t n) {
    bool outer = o.decap != Decapsulation::kNone && depth == 0;
    size_t off = 0;
    uint32_t last = 0;
    for (;;) {
      if (off + 4 > n) return 0;
      uint32_t e = be32(p + off);
      off += 4;
      last = e >> 12;
      if (!outer) f.mpls_labels.push(last);
      if (e & 0x100) break;
    }
    if (last == 0) return ipv4(p + off, n - off);
    if (last == 2) return ipv6(p + off, n - off);
    if (off >= n) return 0;
    switch (p[off] >> 4) {
      case 4: return ipv4(p + off, n - off);
      case 6: return ipv6(p + off, n - off);
      case 0:
        if (off + 4 <= n && be32(p + off) == 0) return ethernet(p + off + 4, n - off - 4);
        return 0;
      default: return 0;
    }
  }

  // Ethernet II (IEEE 802.3), 802.1Q and 802.1ad tags: the last tag's VLAN is kept.
  uint64_t ethernet(const uint8_t* p, size_t n) {
    if (n < 14 || ++hops > 4) return 0;
    bool outer = o.decap != Decapsulation::kNone && depth == 0;
    if (!outer) {
      if (!keep_dst_mac) f.dst_mac = mac(p);
      if (!keep_src_mac) f.src_mac = mac(p + 6);
    }
    uint16_t etype = be16(p + 12);
    size_t off = 14;
    uint16_t vlan = 0;
    while (etype == kETypeVlan || etype == kETypeQinQ || etype == kETypeQinQOld) {
      if (off + 4 > n) return 0;
      vlan = be16(p + off) & 0x0fff;
      etype = be16(p + off + 2);
      off += 4;
    }
    if (vlan && !outer && (!o.keep_existing_vlans || f.src_vlan == 0)) f.src_vlan = vlan;
    switch (etype) {
      case kETypeIPv4: return ipv4(p + off, n - off);
      case kETypeIPv6: return ipv6(p + off, n - off);
      case kETypeMpls: return mpls(p + off, n - off);
      default: return 0;
    }
  }
};

// Whether the flow has any of the fields an earlier element or record keeps (Parser).
inline bool hasEarlier(const FlowRecord& f) {
  return (f.src_mac | f.dst_mac | f.proto | f.src_port | f.dst_port | f.ip_tos | f.tcp_flags) != 0;
}

}  // namespace

uint64_t parseEthernet(std::span<const uint8_t> frame, FlowRecord& flow,
                       const PacketOptions& options) {
  if (hasEarlier(flow)) return Parser<true>{flow, options}.ethernet(frame.data(), frame.size());
  return Parser<false>{flow, options}.ethernet(frame.data(), frame.size());
}

uint64_t parseIPv4(std::span<const uint8_t> packet, FlowRecord& flow,
                   const PacketOptions& options) {
  if (hasEarlier(flow)) return Parser<true>{flow, options}.ipv4(packet.data(), packet.size());
  return Parser<false>{flow, options}.ipv4(packet.data(), packet.size());
}

uint64_t parseIPv6(std::span<const uint8_t> packet, FlowRecord& flow,
                   const PacketOptions& options) {
  if (hasEarlier(flow)) return Parser<true>{flow, options}.ipv6(packet.data(), packet.size());
  return Parser<false>{flow, options}.ipv6(packet.data(), packet.size());
}

}  // namespace akvo::decoder
