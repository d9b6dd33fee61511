#include "outlet/decoder/sflow/sflow.h"

#include <algorithm>

namespace akvo::decoder {
namespace {

constexpr uint32_t kInterfaceLocal = 0x3fffffff;

// sFlow discard reasons (sflow.org sflow_drops.txt) to IPFIX forwardingStatus (RFC 7270
// §4.12), as Akvorado maps them; unknown reasons are "dropped, unknown" (128).
uint32_t discardToForwardingStatus(uint32_t reason) {
  switch (reason) {
    case 0: case 1: case 2: case 3: case 5: case 6: case 7: return 131;  // unreachable
    case 4: return 133;    // fragmentation needed and DF set
    case 8: return 132;    // source host isolated: adjacency
    case 9: case 10: return 129;  // administratively prohibited: ACL deny
    case 257: return 137;  // TTL exceeded
    case 258: return 130;  // ACL
    case 259: return 143;  // no buffer space
    case 260: return 139;  // RED
    case 261: return 138;  // traffic shaping: policer
    case 262: return 135;  // packet too big
    case 263: return 131;  // source MAC is multicast
    case 269: return 130;  // blackhole route
    case 302: return 140;  // unicast reverse path forwarding
    default: return 128;
  }
}

// An address_type then 4 or 16 bytes (sFlow v5 "address"). Returns the bytes used, 0 if cut.
size_t readAddress(const uint8_t* p, size_t n, IPv6Addr& out) {
  if (n < 4) return 0;
  uint32_t type = be32(p);
  if (type == 1) {
    if (n < 8) return 0;
    out = IPv6Addr::fromV4Bytes(p + 4);
    return 8;
  }
  if (type == 2) {
    if (n < 20) return 0;
    out = IPv6Addr::fromV6Bytes(p + 4);
    return 20;
  }
  if (type == 0) {  // unknown address type: no address
    out = IPv6Addr{};
    return 4;
  }
  return 0;
}

// Several records of a sample may describe its packet (sampled header, sampled IPv4/IPv6,
// sampled Ethernet): as in Akvorado, which writes each column once per flow, the first record
// gives the protocol, ports, TCP flags, ToS and MACs (a value of 0 gives nothing); the
// addresses, EType and L3 length come from the last one.
template <class T, class V>
inline void firstValue(T& field, V value) {
  if (!field) field = T(value);
}

// The transport fields of a sampled IPv4/IPv6 record: protocol at `proto`, then at `ports`
// the source and destination ports, TCP flags and ToS (or IPv6 priority), 4 bytes each.
inline void transport(FlowRecord& f, const uint8_t* proto, const uint8_t* ports) {
  firstValue(f.proto, be32(proto));
  firstValue(f.src_port, uint16_t(be32(ports)));
  firstValue(f.dst_port, uint16_t(be32(ports + 4)));
  firstValue(f.tcp_flags, uint16_t(be32(ports + 8)));
  firstValue(f.ip_tos, uint8_t(be32(ports + 12)));
}

// The records of a counter sample (format 2: sequence, source id, record count; expanded,
// format 4: sequence, source id type, source id index, record count), each a format and a
// length: how many are whole within the sample. They are not decoded.
uint32_t counterRecords(const uint8_t* p, size_t n, bool expanded) {
  size_t off = expanded ? 12 : 8;
  if (n < off + 4) return 0;
  uint32_t records = be32(p + off), read = 0;
  off += 4;
  for (; read < records && off + 8 <= n; read++) {
    size_t len = be32(p + off + 4);
    if (len > n - off - 8) break;
    off += 8 + len;
  }
  return read;
}

}  // namespace

// Datagram header: version, agent address, sub-agent id, sequence, uptime, sample count.
Status SflowDecoder::decode(const Input& input, FlowSink& sink) {
  stats_ = {};
  counter_samples_ = 0;
  tally_ = {};
  const uint8_t* p = input.payload.data();
  size_t n = input.payload.size();
  if (n < 4) return Status::kTruncated;
  if (be32(p) != 5) return Status::kBadVersion;
  size_t off = 4;
  size_t a = readAddress(p + off, n - off, agent_);
  if (a == 0) return n - off < 8 ? Status::kTruncated : Status::kBadLength;
  off += a;
  if (off + 16 > n) return Status::kTruncated;
  sub_agent_ = be32(p + off);
  uint32_t sequence = be32(p + off + 4);
  uint32_t samples = be32(p + off + 12);
  off += 16;
  input_ = &input;
  packet_ = config_.packet;
  packet_.decap = input.decapsulation;
  if (sequences_.size() >= 100000) sequences_.clear();  // bounded against spoofed agents
  SequenceState& seq = sequences_[SequenceKey{agent_, sub_agent_}];
  stats_.lost = sequenceGap(seq.seen, seq.next, sequence, 1);

  Status status = Status::kOk;
  for (uint32_t i = 0; i < samples; i++) {
    if (off + 8 > n) return Status::kTruncated;
    uint32_t format = be32(p + off);
    size_t len = be32(p + off + 4);
    off += 8;
    if (len > n - off) return Status::kTruncated;
    const uint8_t* s = p + off;
    off += len;
    // Enterprise 0: 1 flow sample, 2 counters sample, 3 expanded flow, 4 expanded counters.
    switch (format) {
      case 1:
      case 3: {
        Status st = decodeFlowSample(s, len, format == 3, sink);
        if (st != Status::kOk && status == Status::kOk) status = st;
        break;
      }
      case 2:
      case 4:
        tally_[format - 1] += uint64_t(1) << 32 | counterRecords(s, len, format == 4);
        counter_samples_++;
        break;
      default: break;
    }
  }
  if (stats_.flows == 0 && status == Status::kOk && counter_samples_ > 0)
    return Status::kUnsupported;  // counters only: counted as such, nothing lost
  return status;
}

Status SflowDecoder::decodeFlowSample(const uint8_t* p, size_t n, bool expanded,
                                      FlowSink& sink) {
  FlowRecord& f = record_;
  f.reset();
  const Input& in = *input_;
  f.time_received = in.time_received;
  f.exporter_address = in.use_src_addr ? in.exporter : agent_;
  f.observation_domain = sub_agent_;
  uint32_t rate, in_format, in_value, out_format, out_value, records;
  size_t off;
  if (expanded) {
    // sequence, source id type, source id index, rate, pool, drops, input format/value,
    // output format/value, record count.
    if (n < 44) return Status::kTruncated;
    rate = be32(p + 12);
    in_format = be32(p + 24);
    in_value = be32(p + 28);
    out_format = be32(p + 32);
    out_value = be32(p + 36);
    records = be32(p + 40);
    off = 44;
  } else {
    // sequence, source id, rate, pool, drops, input, output (2-bit format, 30-bit value).
    if (n < 32) return Status::kTruncated;
    rate = be32(p + 8);
    uint32_t input = be32(p + 20), output = be32(p + 24);
    in_format = input >> 30;
    in_value = input & 0x3fffffff;
    out_format = output >> 30;
    out_value = output & 0x3fffffff;
    records = be32(p + 28);
    off = 32;
  }
  // The sample and its records, whatever their format; at most one per 8 bytes (format and
  // length): a lying count cannot carry into the count of samples.
  tally_[expanded ? size_t(SflowSample::kExpandedFlow) : size_t(SflowSample::kFlow)] +=
      uint64_t(1) << 32 | std::min<uint32_t>(records, uint32_t((n - off) / 8));
  f.sampling_rate = rate;
  if (in_format == 0 && in_value != kInterfaceLocal) f.in_if = in_value;
  if (out_format == 0 && out_value != kInterfaceLocal) f.out_if = out_value;
  if (out_format == 1) f.forwarding_status = discardToForwardingStatus(out_value);

  // Decapsulating, only the sampled header describes the inner packet: the other records
  // describe the outer one (its addresses, MACs, VLANs, routing) and are skipped, as Akvorado.
  const bool decap = packet_.decap != Decapsulation::kNone;
  uint64_t l3 = 0;
  for (uint32_t i = 0; i < records; i++) {
    if (off + 8 > n) return Status::kTruncated;
    uint32_t format = be32(p + off);
    size_t len = be32(p + off + 4);
    off += 8;
    if (len > n - off) return Status::kTruncated;
    const uint8_t* r = p + off;
    off += len;
    if (decap && format != 1) continue;
    switch (format) {
      case 1: {  // sampled header: protocol, frame length, stripped, header length, header
        if (len < 16) return Status::kBadLength;
        uint32_t proto = be32(r);
        size_t hlen = be32(r + 12);
        if (hlen > len - 16) return Status::kBadLength;
        std::span<const uint8_t> h(r + 16, hlen);
        uint64_t got = 0;
        if (proto == 1) got = parseEthernet(h, f, packet_);
        else if (proto == 11) got = parseIPv4(h, f, packet_);
        else if (proto == 12) got = parseIPv6(h, f, packet_);
        if (got) l3 = got;
        break;
      }
      case 2:  // sampled Ethernet: length, src MAC (padded to 8), dst MAC, type
        if (len < 24) return Status::kBadLength;
        if (!l3 && be32(r) > 16) l3 = be32(r) - 16;
        firstValue(f.src_mac, uint64_t(be16(r + 4)) << 32 | be32(r + 6));
        firstValue(f.dst_mac, uint64_t(be16(r + 12)) << 32 | be32(r + 14));
        break;
      case 3:  // sampled IPv4: length, protocol, src, dst, src port, dst port, flags, tos
        if (len < 32) return Status::kBadLength;
        l3 = be32(r);
        f.src_addr = IPv6Addr::fromV4Bytes(r + 8);
        f.dst_addr = IPv6Addr::fromV4Bytes(r + 12);
        f.etype = 0x800;
        transport(f, r + 4, r + 16);
        break;
      case 4:  // sampled IPv6: length, protocol, src, dst, ports, flags, priority
        if (len < 56) return Status::kBadLength;
        l3 = be32(r);
        f.src_addr = IPv6Addr::fromV6Bytes(r + 8);
        f.dst_addr = IPv6Addr::fromV6Bytes(r + 24);
        f.etype = 0x86dd;
        transport(f, r + 4, r + 40);
        break;
      case 1001:  // extended switch: src vlan, src priority, dst vlan, dst priority
        if (len < 16) return Status::kBadLength;
        if (be32(r) < 4096) f.src_vlan = uint16_t(be32(r));
        if (be32(r + 8) < 4096) f.dst_vlan = uint16_t(be32(r + 8));
        break;
      case 1002: {  // extended router: next hop, src mask, dst mask
        size_t a = readAddress(r, len, f.next_hop);
        if (a == 0 || a + 8 > len) return Status::kBadLength;
        f.src_net_mask = uint8_t(be32(r + a));
        f.dst_net_mask = uint8_t(be32(r + a + 4));
        break;
      }
      case 1003: {  // extended gateway: next hop, as, src as, src peer as, path, communities
        size_t a = readAddress(r, len, f.next_hop);
        if (a == 0 || a + 16 > len) return Status::kBadLength;
        uint32_t as = be32(r + a), src_as = be32(r + a + 4);
        f.src_as = src_as ? src_as : as;
        f.dst_as = as;
        uint32_t segments = be32(r + a + 12);
        size_t o = a + 16;
        f.dst_as_path.clear();
        for (uint32_t s = 0; s < segments; s++) {
          if (o + 8 > len) return Status::kBadLength;
          uint32_t count = be32(r + o + 4);
          o += 8;
          if (count > (len - o) / 4) return Status::kBadLength;
          for (uint32_t k = 0; k < count; k++) f.dst_as_path.push(be32(r + o + 4 * k));
          o += 4 * size_t(count);
        }
        if (!f.dst_as_path.empty()) f.dst_as = f.dst_as_path[f.dst_as_path.size() - 1];
        if (o + 4 <= len) {
          uint32_t count = be32(r + o);
          o += 4;
          if (count > (len - o) / 4) return Status::kBadLength;
          for (uint32_t k = 0; k < count; k++) f.dst_communities.push(be32(r + o + 4 * k));
        }
        break;
      }
      default: break;  // other records (enterprise or unknown): skipped by their length
    }
  }
  if (decap && l3 == 0) {
    stats_.not_encapsulated++;  // no sampled header, or not so encapsulated: dropped
    return Status::kOk;
  }
  f.bytes = l3;
  f.packets = 1;
  stats_.flows++;
  sink.flow(f);
  return Status::kOk;
}

}  // namespace akvo::decoder
