#include "outlet/decoder/netflow/netflow.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "common/metrics.h"

namespace akvo::decoder {
namespace {

// Unsigned number in network order with reduced-size encoding (RFC 7011 §6.2): 1 to 8 bytes;
// longer values keep their last 8 bytes.
inline uint64_t un(const uint8_t* p, size_t n) {
  if (n > 8) {
    p += n - 8;
    n = 8;
  }
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

// allZero() and addr() run for every address of every record: always inlined, whatever is
// left of the unit's inlining budget (GCC's inline-unit-growth), which any change elsewhere
// in this file moves (a change in learnTemplates made them calls, 10% slower per record).
[[gnu::always_inline]] inline bool allZero(const uint8_t* p, size_t n) {
  // Addresses: one or two loads instead of a loop.
  if (n == 4) {
    uint32_t x;
    std::memcpy(&x, p, 4);
    return x == 0;
  }
  if (n == 16) {
    uint64_t a, b;
    std::memcpy(&a, p, 8);
    std::memcpy(&b, p + 8, 8);
    return (a | b) == 0;
  }
  for (size_t i = 0; i < n; i++)
    if (p[i]) return false;
  return true;
}

[[gnu::always_inline]] inline IPv6Addr addr(const uint8_t* p, size_t n) {
  if (n == 4) return IPv6Addr::fromV4Bytes(p);
  if (n == 16) return IPv6Addr::fromV6Bytes(p);
  return IPv6Addr{};
}

// Next hop (IEs 15, 18, 62, 63): an all-zero address says "none" and is not stored, so it
// never replaces a real one given by another element of the record (as Akvorado).
inline void setNextHop(IPv6Addr& next_hop, const uint8_t* v, size_t n) {
  if ((n == 4 || n == 16) && !allZero(v, n)) next_hop = addr(v, n);
}

// tcpControlBits (IE 6): RFC 9565 gives its top 4 bits to the TCP header length; only the 12
// flag bits are kept.
inline uint16_t tcpFlags(uint64_t v) { return uint16_t(v & 0x0fff); }

// First switched time from sysUptime (NetFlow v5, v9 FIRST_SWITCHED): both are milliseconds of
// a 32-bit uptime, so their difference wraps with it (every 49.7 days); rounded down to the
// second, as Akvorado's uptimeToUnix.
inline uint32_t uptimeToUnix(uint32_t export_secs, uint32_t sys_uptime, uint32_t uptime) {
  return uint32_t((uint64_t(export_secs) * 1000 - uint32_t(sys_uptime - uptime)) / 1000);
}

// Seconds between the NTP epoch (1900) and the Unix epoch, for dateTimeMicroseconds and
// dateTimeNanoseconds (RFC 7011 §6.1.9, §6.1.10: NTP timestamp format).
constexpr uint64_t kNtpOffset = 2208988800ull;

// What a compiled field does (FieldOp::kind). kStore + 4 * width index + length index stores
// a big-endian number of 1, 2, 4 or 8 bytes (or, for kStoreAny + width index, any length, as
// un() reads it) into an unsigned FlowRecord member of 1, 2, 4 or 8 bytes, truncated the way
// value() casts it.
enum FieldOpKind : uint8_t {
  kGeneric,  // value(type): elements with more to do than a store
  kSkip,     // elements value() ignores
  kSrcAddr, kDstAddr,  // a non-zero address sets it and EType (dest)
  kAddrAt,   // addr(v, len) at dest (NAT addresses)
  kNextHop,  // a non-zero IPv4/IPv6 address sets the next hop
  kTcpFlags,  // masked to the 12 flag bits
  kBytes, kPackets,  // the first non-zero counter of the record
  kMplsLabel,  // a non-zero label (top 20 bits of the value) pushed on the stack
  kStoreAny,                       // + width index (4)
  kStore = kStoreAny + 4,          // + 4 * width index + length index (16)
};
constexpr int sizeIndex(size_t n) { return n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : n == 8 ? 3 : -1; }

template <size_t L>
inline uint64_t loadBE(const uint8_t* v) {
  if constexpr (L == 1) return v[0];
  uint64_t x = 0;
  std::memcpy(&x, v, L);
  if constexpr (L == 2) return __builtin_bswap16(uint16_t(x));
  if constexpr (L == 4) return __builtin_bswap32(uint32_t(x));
  if constexpr (L == 8) return __builtin_bswap64(x);
}

// A counter: 4 or 8 bytes from nearly every exporter, any length from the others.
inline uint64_t loadCounter(const uint8_t* v, size_t len) {
  return len == 4 ? loadBE<4>(v) : len == 8 ? loadBE<8>(v) : un(v, len);
}

}  // namespace

// The elements value() handles with a plain store, each with the member and the type of
// value()'s cast, which must be the member's (checked at compile time: a narrower cast would
// truncate differently).
std::vector<FieldOp> compileFieldOps(const std::vector<TemplateField>& fields) {
  std::vector<FieldOp> ops;
  uint32_t offset = 0;
  for (const TemplateField& tf : fields) {
    FieldOp op;
    op.offset = uint16_t(offset);
    op.len = tf.length;
    op.kind = kGeneric;
    op.dest = tf.type;
    offset += tf.length;
    auto store = [&](size_t dest, size_t width) {
      int w = sizeIndex(width), l = sizeIndex(tf.length);
      op.dest = uint16_t(dest);
      op.kind = uint8_t(l < 0 ? kStoreAny + w : kStore + 4 * w + l);
    };
#define AKVO_STORE(member, cast)                                                       \
  static_assert(sizeof(FlowRecord::member) == sizeof(cast), "cast narrower than member"); \
  store(offsetof(FlowRecord, member), sizeof(cast));                                   \
  break
    switch (tf.type) {
      case 1: case 23: op.kind = kBytes; break;
      case 2: case 24: op.kind = kPackets; break;
      // Addresses: dest is the EType they set, by element (as value(), whatever the length).
      case 8: case 27:
        op.kind = kSrcAddr;
        op.dest = tf.type == 8 ? 0x800 : 0x86dd;
        break;
      case 12: case 28:
        op.kind = kDstAddr;
        op.dest = tf.type == 12 ? 0x800 : 0x86dd;
        break;
      case 15: case 18: case 62: case 63: op.kind = kNextHop; break;
      case 225: case 281:
        op.kind = kAddrAt;
        op.dest = uint16_t(offsetof(FlowRecord, src_addr_nat));
        break;
      case 226: case 282:
        op.kind = kAddrAt;
        op.dest = uint16_t(offsetof(FlowRecord, dst_addr_nat));
        break;
      case 9: case 29: AKVO_STORE(src_net_mask, uint8_t);
      case 13: case 30: AKVO_STORE(dst_net_mask, uint8_t);
      case 16: AKVO_STORE(src_as, uint32_t);
      case 17: AKVO_STORE(dst_as, uint32_t);
      case 4: AKVO_STORE(proto, uint32_t);
      case 7: AKVO_STORE(src_port, uint16_t);
      case 11: AKVO_STORE(dst_port, uint16_t);
      case 6: op.kind = kTcpFlags; break;
      case 5: AKVO_STORE(ip_tos, uint8_t);
      // 52/192 (TTL: the first non-zero) and the MACs are value()'s.
      case 31: AKVO_STORE(ipv6_flow_label, uint32_t);
      case 54: AKVO_STORE(ip_fragment_id, uint32_t);
      case 88: AKVO_STORE(ip_fragment_offset, uint16_t);
      case 10: AKVO_STORE(in_if, uint32_t);
      case 14: AKVO_STORE(out_if, uint32_t);
      case 234: AKVO_STORE(ingress_vrf_id, uint32_t);
      case 235: AKVO_STORE(egress_vrf_id, uint32_t);
      case 89: AKVO_STORE(forwarding_status, uint32_t);
      case 227: AKVO_STORE(src_port_nat, uint16_t);
      case 228: AKVO_STORE(dst_port_nat, uint16_t);
      case 70: case 71: case 72: case 73: case 74: case 75: case 76: case 77: case 78: case 79:
        op.kind = kMplsLabel;
        break;
      // Not in value(), common in templates: flow end times, duration and end reason, IP
      // version, packet lengths, TTL maximum, IPv6 extension headers and next header, ICMP
      // (IPv4-only/IPv6-only) type and code, adjacent ASes, template and domain ids, sampling
      // (read from options records, not here). (The random templates of the test draw every
      // element up to 330: a skipped element that value() uses fails it.)
      case 21: case 25: case 26: case 46: case 47: case 53: case 60: case 64: case 99:
      case 128: case 129: case 136: case 145: case 149: case 151: case 153: case 155:
      case 157: case 158: case 159: case 161: case 162: case 193: case 206: case 304:
      case 305: case 306:
        op.kind = kSkip;
        break;
      default: break;  // generic
    }
#undef AKVO_STORE
    ops.push_back(op);
  }
  return ops;
}

namespace {

// Walks the fields of one record: fn(field, value pointer, value length). Variable-length
// fields (RFC 7011 §7) take their length from one byte, or three when it is 255. Returns the
// bytes used, or 0 when the record is cut short.
template <class Fn>
inline size_t forEachField(const Template& t, const uint8_t* p, size_t n, Fn&& fn) {
  size_t off = 0;
  for (const TemplateField& field : t.fields) {
    size_t len = field.length;
    if (len == 0xffff) {
      if (off + 1 > n) return 0;
      len = p[off++];
      if (len == 255) {
        if (off + 2 > n) return 0;
        len = be16(p + off);
        off += 2;
      }
    }
    if (off + len > n) return 0;
    fn(field, p + off, len);
    off += len;
  }
  return off;
}

}  // namespace

DomainState& NetflowDecoder::domain(const DomainKey& key) {
  auto it = domains_.find(key);
  if (it != domains_.end()) return it->second;
  // Spoofed sources or domain ids must not grow memory forever: past the bounds, a new domain
  // gets a throwaway state (nothing is learned into it; its data is dropped as missing its
  // template).
  reindex();
  const size_t of_exporter = domainsOfExporter(exporter_domains_, key.exporter);
  if (domains_.size() >= kMaxDomains || of_exporter >= kMaxDomainsPerExporter) {
    overflow_ = DomainState{};
    return overflow_;
  }
  exporter_domains_[DomainKey{key.exporter, 0, key.version}].push_back(key.domain);
  indexed_++;
  return domains_[key];
}

void NetflowDecoder::reindex() {
  if (indexed_ == domains_.size()) return;
  exporter_domains_.clear();
  for (const auto& [k, s] : domains_)
    exporter_domains_[DomainKey{k.exporter, 0, k.version}].push_back(k.domain);
  indexed_ = domains_.size();
}

uint64_t NetflowDecoder::borrowedSamplingRate(DomainState& d, uint64_t sampler) {
  if (&d == &overflow_) return 0;
  const uint64_t stamp = samplingStamp();
  if (d.borrowed_stamp != stamp) {
    d.borrowed.clear();
    d.borrowed_stamp = stamp;
  }
  for (const auto& [id, rate] : d.borrowed)
    if (id == sampler) return rate;
  // First miss of this sampler since the last change: the exporter's other domains are
  // looked at, the shared ones merged first (another outlet may have seen their options).
  const DomainKey exporter{key_.exporter, 0, key_.version};
  if (shared_) {
    shared_->domainsOf(exporter, shared_domains_);
    for (uint32_t id : shared_domains_) {
      if (id == key_.domain) continue;
      DomainKey k{key_.exporter, id, key_.version};
      DomainState& o = domain(k);
      if (!refused(o)) syncShared(k, o);
    }
  }
  reindex();  // a state file was loaded, or the map cleared
  uint64_t rate = 0;
  if (auto ids = exporter_domains_.find(exporter); ids != exporter_domains_.end()) {
    for (uint32_t id : ids->second) {
      if (id == key_.domain) continue;
      auto o = domains_.find(DomainKey{key_.exporter, id, key_.version});
      if (o == domains_.end()) continue;
      uint64_t r = o->second.samplingRate(sampler);
      // A domain exporting flows has its own sampler, whose options may not be here yet.
      if (!r || o->second.exportsData()) continue;
      if (rate && r != rate) {  // domains disagree: no rate
        rate = 0;
        break;
      }
      rate = r;
    }
  }
  if (d.borrowed.size() >= 16) d.borrowed.clear();  // sampler ids come from the records
  d.borrowed.emplace_back(sampler, rate);
  return rate;
}

Status NetflowDecoder::decode(const Input& input, FlowSink& sink) {
  stats_ = {};
  if (input.payload.size() < 2) return Status::kTruncated;
  uint16_t version = be16(input.payload.data());
  switch (version) {
    case 5: stats_.version = 5; return decodeV5(input, sink);
    case 9:
    case 10: stats_.version = version; return decodeV9Ipfix(input, sink, version);
    default: return Status::kBadVersion;
  }
}

void NetflowDecoder::countTemplateIn(uint16_t id, bool options) {
  TemplateCounterKey k{key_, id, options};
  auto it = template_counts_.find(k);
  if (it != template_counts_.end()) [[likely]] {
    it->second->inc();
    return;
  }
  if (template_counts_.size() < kMaxTemplateCounters) {
    Counter& c = template_counters_->templateCounter(key_, id, options, false);
    template_counts_.emplace(k, &c);
    c.inc();
    return;
  }
  Counter*& other = template_other_[key_.version == 10][options];
  if (!other) other = &template_counters_->templateCounter(key_, id, options, true);
  other->inc();
}

bool NetflowDecoder::waitsForTemplates(const Input& input) {
  const uint8_t* p = input.payload.data();
  size_t end = input.payload.size();
  if (end < 16) return false;
  uint16_t version = be16(p);
  size_t off;
  uint32_t domain_id;
  if (version == 9) {
    if (end < 20) return false;
    domain_id = be32(p + 16);
    off = 20;
  } else if (version == 10) {
    size_t length = be16(p + 2);
    if (length < 16 || length > end) return false;
    end = length;
    domain_id = be32(p + 12);
    off = 16;
  } else {
    return false;
  }
  const bool ipfix = version == 10;
  DomainKey key{input.exporter, domain_id, version};
  auto it = domains_.find(key);
  DomainState* dom = it == domains_.end() ? nullptr : &it->second;
  if (dom) syncShared(key, *dom);
  bool flow_data = false, options_data = false;
  while (off + 4 <= end) {
    uint16_t set_id = be16(p + off);
    size_t set_len = be16(p + off + 2);
    if (set_len < 4 || off + set_len > end) return false;  // malformed: decode() counts it
    off += set_len;
    bool is_template = ipfix ? (set_id == 2 || set_id == 3) : (set_id == 0 || set_id == 1);
    // Templates usually come before the data of the same datagram: decode it as it is.
    if (is_template) return false;
    if (set_id < 256) continue;
    if (!dom) {
      // Not even a domain: maybe the shared templates know it.
      if (!shared_ || shared_->generation() == 0) return true;
      dom = &domain(key);
      if (refused(*dom)) return false;  // nothing to wait for: it will not be learned
      syncShared(key, *dom);
    }
    auto t = dom->templates.find(set_id);
    if (t == dom->templates.end()) return true;
    (t->second.options ? options_data : flow_data) = true;
  }
  if (!flow_data || options_data || !dom->sampling.empty()) return false;
  for (const auto& [id, t] : dom->templates)
    if (t.carries_sampling) return true;
  return false;
}

// NetFlow v5: 24-byte header, then `count` records of 48 bytes (Cisco's NetFlow v5 format).
Status NetflowDecoder::decodeV5(const Input& input, FlowSink& sink) {
  const uint8_t* p = input.payload.data();
  size_t len = input.payload.size();
  if (len < 24) return Status::kTruncated;
  uint16_t count = be16(p + 2);
  uint32_t sys_uptime = be32(p + 4);
  uint32_t unix_secs = be32(p + 8);
  uint32_t flow_sequence = be32(p + 16);
  // Sampling interval: the low 14 bits; the top 2 bits are the sampling mode.
  uint16_t sampling = be16(p + 22) & 0x3fff;
  if (count == 0 || count > 30) return Status::kBadLength;
  if (len < 24 + size_t(count) * 48) return Status::kTruncated;
  DomainState& dom = domain(DomainKey{input.exporter, be16(p + 20), 5});
  stats_.lost = sequenceGap(dom.sequence_seen, dom.next_sequence, flow_sequence, count);
  stats_.sets[size_t(NetflowSet::kPdu)] = 1;
  stats_.set_records[size_t(NetflowSet::kPdu)] = count;
  if (input.decapsulation != Decapsulation::kNone) {
    // v5 records carry no packet header to open: an input that decapsulates drops them all,
    // as Akvorado (which counts the datagram as a "non-encapsulated packet").
    stats_.not_encapsulated = count;
    return Status::kOk;
  }
  for (uint16_t i = 0; i < count; i++) {
    const uint8_t* r = p + 24 + size_t(i) * 48;
    FlowRecord& f = record_;
    f.reset();
    f.exporter_address = input.exporter;
    f.time_received = input.time_received;
    f.export_time = unix_secs;
    f.sampling_rate = sampling ? sampling : 1;
    f.src_addr = IPv6Addr::fromV4Bytes(r);
    f.dst_addr = IPv6Addr::fromV4Bytes(r + 4);
    f.next_hop = IPv6Addr::fromV4Bytes(r + 8);
    f.in_if = be16(r + 12);
    f.out_if = be16(r + 14);
    f.packets = be32(r + 16);
    f.bytes = be32(r + 20);
    uint32_t first = be32(r + 24);  // sysUptime (ms) at the first packet
    f.first_switched = uptimeToUnix(unix_secs, sys_uptime, first);
    f.src_port = be16(r + 32);
    f.dst_port = be16(r + 34);
    f.tcp_flags = r[37];
    f.proto = r[38];
    f.ip_tos = r[39];
    f.src_as = be16(r + 40);
    f.dst_as = be16(r + 42);
    f.src_net_mask = r[44];
    f.dst_net_mask = r[45];
    f.etype = 0x800;
    if (f.proto == 1) {
      // Exporters put ICMP type/code in the destination port.
      f.icmpv4_type = uint8_t(f.dst_port >> 8);
      f.icmpv4_code = uint8_t(f.dst_port);
    }
    switch (input.timestamp_source) {
      case TimestampSource::kNetflowPacket: f.time_received = unix_secs; break;
      case TimestampSource::kNetflowFirstSwitched: f.time_received = f.first_switched; break;
      default: break;
    }
    stats_.flows++;
    sink.flow(f);
  }
  return Status::kOk;
}

// NetFlow v9 (RFC 3954 §5) and IPFIX (RFC 7011 §3): a header, then sets (flowsets), each with
// an id and a length: templates (v9 0, IPFIX 2), options templates (v9 1, IPFIX 3), data sets
// (id >= 256, the id of their template).
Status NetflowDecoder::decodeV9Ipfix(const Input& input, FlowSink& sink, uint16_t version) {
  const uint8_t* p = input.payload.data();
  size_t end = input.payload.size();
  size_t off;
  uint32_t sequence;
  if (version == 9) {
    // RFC 3954 §5.1: version, count, sysUptime, UNIX secs, sequence, source id.
    if (end < 20) return Status::kTruncated;
    sys_uptime_ = be32(p + 4);
    export_time_ = be32(p + 8);
    sequence = be32(p + 12);
    domain_id_ = be32(p + 16);
    off = 20;
  } else {
    // RFC 7011 §3.1: version, length, export time, sequence, observation domain id.
    if (end < 16) return Status::kTruncated;
    size_t length = be16(p + 2);
    if (length < 16) return Status::kBadLength;
    if (length > end) return Status::kTruncated;
    end = length;
    sys_uptime_ = 0;
    export_time_ = be32(p + 4);
    sequence = be32(p + 8);
    domain_id_ = be32(p + 12);
    off = 16;
  }
  input_ = &input;
  packet_ = config_.packet;
  packet_.decap = input.decapsulation;
  version_ = version;
  key_ = DomainKey{input.exporter, domain_id_, version};
  DomainState& dom = domain(key_);
  if (refused(dom)) [[unlikely]] {
    // Past the domain bounds: neither templates nor sampling are learned (they would grow
    // the shared templates too); data sets count as missing their template.
    stats_.refused_domains = 1;
    for (; off + 4 <= end; off += std::max<size_t>(4, be16(p + off + 2)))
      if (be16(p + off) >= 256) stats_.missing_templates++;
    return stats_.missing_templates ? Status::kMissingTemplate : Status::kOk;
  }
  syncShared(key_, dom);
  // v9 counts export packets, IPFIX counts data records (advanced below).
  stats_.lost =
      sequenceGap(dom.sequence_seen, dom.next_sequence, sequence, version == 9 ? 1 : 0);

  Status status = Status::kOk;
  uint32_t records = 0;
  const bool ipfix = version == 10;
  // Sets by kind, and the records of data sets, 16 bits per NetflowSet (kPdu excepted: a
  // datagram holds less than 65,536 of either) in one word: kept in registers through the
  // loop, stored in stats_ once (counted in stats_ per set, mpls.pcap decoded 2 % slower).
  // Template records are counted by learnTemplates().
  uint64_t set_tally = 0, record_tally = 0;
  auto tally = [&] {
    for (size_t k = 1; k < kNetflowSetKinds; k++) {
      stats_.sets[k] = uint16_t(set_tally >> (16 * (k - 1)));
      stats_.set_records[k] += uint16_t(record_tally >> (16 * (k - 1)));
    }
  };
  while (off + 4 <= end) {
    uint16_t set_id = be16(p + off);
    size_t set_len = be16(p + off + 2);
    if (set_len < 4) return tally(), Status::kBadLength;
    if (off + set_len > end) {
      status = Status::kTruncated;
      break;
    }
    const uint8_t* body = p + off + 4;
    size_t body_len = set_len - 4;
    off += set_len;
    bool is_template = ipfix ? (set_id == 2 || set_id == 3) : (set_id == 0 || set_id == 1);
    if (is_template) {
      const bool options = ipfix ? set_id == 3 : set_id == 1;
      set_tally += uint64_t(1) << (options ? 16 * (size_t(NetflowSet::kOptionsTemplate) - 1)
                                           : 16 * (size_t(NetflowSet::kTemplate) - 1));
      Status s = learnTemplates(dom, body, body_len, set_id, ipfix, input.time_received);
      if (s != Status::kOk && status == Status::kOk) status = s;
      continue;
    }
    if (set_id < 256) continue;  // reserved set ids: skipped (RFC 7011 §3.3.2)
    auto it = dom.templates.find(set_id);
    if (it != dom.templates.end() && config_.template_expiry &&
        input.time_received - it->second.refreshed > config_.template_expiry) {
      dom.eraseTemplate(it, template_budget_);
      it = dom.templates.end();
      samplingChanged();
    }
    if (it == dom.templates.end()) {
      stats_.missing_templates++;
      if (status == Status::kOk) status = Status::kMissingTemplate;
      continue;
    }
    const size_t shift =
        16 * (size_t(it->second.options ? NetflowSet::kOptionsData : NetflowSet::kData) - 1);
    uint32_t n = decodeDataSet(dom, it->second, body, body_len, sink);
    set_tally += uint64_t(1) << shift;
    record_tally += uint64_t(n) << shift;
    records += n;
  }
  tally();
  if (ipfix) dom.next_sequence += records;
  return status;
}

// Template sets (RFC 3954 §5.2, §6.1; RFC 7011 §3.4.1, §3.4.2). Learning allocates: this is
// the control path (templates are resent every few seconds at most, and equal redefinitions
// only refresh their time).
Status NetflowDecoder::learnTemplates(DomainState& d, const uint8_t* p, size_t n, uint16_t set_id,
                                      bool ipfix, uint32_t now) {
  const bool options = ipfix ? set_id == 3 : set_id == 1;
  // Every template record read (learned, resent, refused or withdrawn) is a record of the set.
  uint16_t& records =
      stats_.set_records[size_t(options ? NetflowSet::kOptionsTemplate : NetflowSet::kTemplate)];
  size_t off = 0;
  Template& t = scratch_;  // reused: an unchanged template costs no allocation
  // An unchanged template (most exporters resend theirs every few seconds; some, like the
  // IPFIX capture mpls.pcap, in every datagram) is recognised by its wire bytes and only
  // refreshed, without parsing its fields again.
  auto refresh = [&](uint16_t id, Template& known) {
    countTemplate(id, options);
    known.refreshed = now;
    // With expiry, the other outlets must see the template live: refresh it now and then.
    if (shared_ && config_.template_expiry &&
        now - known.published >= std::max<uint32_t>(1, config_.template_expiry / 3)) {
      known.published = now;
      shared_->templateLearned(key_, id, known);
    }
  };
  // IPFIX withdrawal (RFC 7011 §8.1): one template, or with the set's own id all the templates
  // of the set's kind (set 2: data templates, set 3: options templates).
  auto withdraw = [&](uint16_t id) {
    if (id == set_id)
      d.eraseTemplates(options, template_budget_);
    else
      d.eraseTemplate(id, template_budget_);
    samplingChanged();
  };
  while (off + 4 <= n) {
    uint16_t id = be16(p + off);
    if (id >= 256) {
      auto known = d.templates.find(id);
      if (known != d.templates.end() && known->second.options == options) {
        const auto& raw = known->second.raw;
        if (!raw.empty() && raw.size() <= n - off && std::memcmp(p + off, raw.data(), raw.size()) == 0) {
          off += raw.size();
          records++;
          refresh(id, known->second);
          continue;
        }
      }
    }
    const size_t record_start = off;
    t.fields.clear();
    t.options = options;
    t.reverse = false;
    size_t scope_fields = 0, fields = 0;
    if (!ipfix && options) {
      // v9 options template: id, scope length (bytes), option length (bytes); the flowset
      // ends with padding to 4 bytes (RFC 3954 §6.1), which reads as id 0.
      if (id == 0 || off + 6 > n) break;
      size_t scope_len = be16(p + off + 2), option_len = be16(p + off + 4);
      off += 6;
      if (scope_len % 4 || option_len % 4) return Status::kBadTemplate;
      scope_fields = scope_len / 4;
      fields = scope_fields + option_len / 4;
    } else if (options) {
      // IPFIX options template: id, field count, scope field count; a withdrawal (field
      // count 0, RFC 7011 §8.1) is a 4-byte record without the scope count.
      fields = be16(p + off + 2);
      if (fields == 0) {
        off += 4;
        records++;
        withdraw(id);
        continue;
      }
      if (off + 6 > n) return Status::kTruncated;
      scope_fields = be16(p + off + 4);
      off += 6;
    } else {
      fields = be16(p + off + 2);
      off += 4;
      if (fields == 0) {
        if (!ipfix) return Status::kBadTemplate;
        records++;
        withdraw(id);
        continue;
      }
    }
    if (id < 256) return Status::kBadTemplate;
    uint32_t min_length = 0;
    for (size_t i = 0; i < fields; i++) {
      if (off + 4 > n) return Status::kTruncated;
      TemplateField field;
      field.type = be16(p + off);
      field.length = be16(p + off + 2);
      off += 4;
      if (ipfix && (field.type & 0x8000)) {
        if (off + 4 > n) return Status::kTruncated;
        field.type &= 0x7fff;
        field.pen = be32(p + off);
        off += 4;
      }
      field.scope = !ipfix && i < scope_fields;
      if (field.pen == kReversePen) t.reverse = true;
      min_length += field.length == 0xffff ? 1 : field.length;
      t.fields.push_back(field);
    }
    if (min_length == 0 || min_length > 65535) return Status::kBadTemplate;
    records++;
    t.raw.assign(p + record_start, p + off);
    t.min_length = min_length;
    t.setPlain();
    t.refreshed = now;
    t.carries_sampling = false;
    if (options)
      for (const auto& f : t.fields)
        if (!f.pen && !f.scope && (f.type == 34 || f.type == 50 || f.type == 305))
          t.carries_sampling = true;
    auto known = d.templates.find(id);
    const bool redefined = known != d.templates.end();
    if (redefined && known->second.fields == t.fields &&
        known->second.options == t.options) {
      // The same fields written differently (v9 options padding), or a template from the
      // shared store or a state file (no wire bytes): it takes these bytes, and is refreshed.
      // Without room for the new bytes, the known one stays as it is.
      t.published = known->second.published;
      if (template_budget_.fits(templateBytes(known->second), templateBytes(t)))
        d.storeTemplate(id, t, template_budget_);  // `known` stays valid: no insertion
      refresh(id, known->second);
      continue;
    }
    t.published = now;
    switch (d.storeTemplate(id, t, template_budget_)) {
      case DomainState::Stored::kStored: break;
      case DomainState::Stored::kTooManyIds:
        stats_.refused_templates++;  // a new id in a full domain: kMaxTemplatesPerDomain
        continue;
      case DomainState::Stored::kNoRoom:
        // Past the decoder's template bytes (a redefinition lost its old definition too).
        stats_.refused_template_memory++;
        if (redefined) samplingChanged();
        continue;
    }
    spdlog::debug("template {} learned ({} fields{})", id, t.fields.size(),
                  options ? ", options" : "");
    countTemplate(id, options);
    samplingChanged();  // maybe the domain's first data template: it lends no rate
    if (shared_) shared_->templateLearned(key_, id, t);
  }
  return Status::kOk;
}

uint32_t NetflowDecoder::decodeDataSet(DomainState& d, const Template& t, const uint8_t* p,
                                       size_t n, FlowSink& sink) {
  uint32_t count = 0;
  size_t off = 0;
  // What remains after the last record smaller than a record is padding (RFC 7011 §3.3.1).
  while (off + t.min_length <= n) {
    size_t used;
    if (t.options) {
      used = forEachField(t, p + off, n - off, [](const TemplateField&, const uint8_t*, size_t) {});
      if (used) decodeOptionsRecord(d, t, p + off, used);
    } else {
      used = decodeFlowRecord(d, t, p + off, n - off, false, sink);
      if (used && t.reverse) decodeFlowRecord(d, t, p + off, n - off, true, sink);
    }
    if (used == 0) break;
    off += used;
    count++;
  }
  return count;
}

// Options data records carrying sampling (RFC 3954 §6.1 fields 34, 48, 49, 50; RFC 7012
// samplingInterval 34, samplerId 48, samplerRandomInterval 50, selectorId 302; RFC 5477
// samplingPacketInterval 305 and samplingPacketSpace 306: rate = (interval + space) / interval).
void NetflowDecoder::decodeOptionsRecord(DomainState& d, const Template& t, const uint8_t* p,
                                         size_t n) {
  uint64_t rate = 0, sampler = 0, interval = 0, space = 0;
  forEachField(t, p, n, [&](const TemplateField& f, const uint8_t* v, size_t len) {
    if (f.pen || f.scope) return;
    switch (f.type) {
      case 34:
      case 50: rate = un(v, len); break;
      case 48:
      case 302: sampler = un(v, len); break;
      case 305: interval = un(v, len); break;
      case 306: space = un(v, len); break;
      default: break;
    }
  });
  if (interval > 0) rate = (interval + space) / interval;
  if (rate > 0 && d.samplingRate(sampler) != rate) {
    if (!d.setSamplingRate(sampler, rate)) {
      stats_.refused_samplers++;  // a new sampler id in a full domain: kMaxSamplersPerDomain
      return;
    }
    samplingChanged();
    if (shared_) shared_->samplingLearned(key_, sampler, rate);
  }
}

// One data record into a flow (information elements from the IANA IPFIX registry; v9 field
// types 1-127 are the same numbers, RFC 3954 §8). With `reverse`, the RFC 5103 reverse
// elements (enterprise 29305) replace their forward ones and the directions are swapped.
// Returns the bytes used by the record, 0 if it is cut short.
size_t NetflowDecoder::decodeFlowRecord(DomainState& d, const Template& t, const uint8_t* p,
                                      size_t n, bool reverse, FlowSink& sink) {
  FlowRecord& f = record_;
  f.reset();
  const Input& in = *input_;
  f.exporter_address = in.exporter;
  f.time_received = in.time_received;
  f.export_time = export_time_;
  f.observation_domain = domain_id_;

  // Counters keep their first non-zero value (a record may carry a delta and a post count,
  // one of them 0): a zero never replaces a count.
  uint64_t bytes = 0, packets = 0, total_bytes = 0, total_packets = 0, init_bytes = 0,
           resp_bytes = 0, init_packets = 0, resp_packets = 0, frame_l3 = 0;
  bool have_icmp = false, have_sampler = false;
  uint64_t inline_rate = 0, sampler = 0;
  uint32_t in_phys = 0, out_phys = 0;
  uint64_t start_uptime = 0, init_ms = 0;
  bool have_start_uptime = false;
  uint32_t first = 0;
  uint16_t icmp = 0;

  auto value = [&](uint16_t type, const uint8_t* v, size_t len) {
    switch (type) {

      // Counters (RFC 7012 §5.10; NSEL initiator/responder, RFC 5103).
      case 1:
      case 23: if (!bytes) bytes = un(v, len); break;
      case 2:
      case 24: if (!packets) packets = un(v, len); break;
      case 85: if (!total_bytes) total_bytes = un(v, len); break;
      case 86: if (!total_packets) total_packets = un(v, len); break;
      case 231: if (!init_bytes) init_bytes = un(v, len); break;
      case 232: if (!resp_bytes) resp_bytes = un(v, len); break;
      case 298: if (!init_packets) init_packets = un(v, len); break;
      case 299: if (!resp_packets) resp_packets = un(v, len); break;
      // Sampling.
      case 34:
      case 50: inline_rate = un(v, len); break;
      case 48:
      case 302: sampler = un(v, len); have_sampler = true; break;
      // Addresses: an all-zero address is no address (EType stays as found).
      case 8:
        if (!allZero(v, len)) { f.src_addr = addr(v, len); f.etype = 0x800; }
        break;
      case 12:
        if (!allZero(v, len)) { f.dst_addr = addr(v, len); f.etype = 0x800; }
        break;
      case 27:
        if (!allZero(v, len)) { f.src_addr = addr(v, len); f.etype = 0x86dd; }
        break;
      case 28:
        if (!allZero(v, len)) { f.dst_addr = addr(v, len); f.etype = 0x86dd; }
        break;
      case 9:
      case 29: f.src_net_mask = uint8_t(un(v, len)); break;
      case 13:
      case 30: f.dst_net_mask = uint8_t(un(v, len)); break;
      case 15:
      case 18:
      case 62:
      case 63: setNextHop(f.next_hop, v, len); break;
      case 16: f.src_as = uint32_t(un(v, len)); break;
      case 17: f.dst_as = uint32_t(un(v, len)); break;
      // L4.
      case 4: f.proto = uint32_t(un(v, len)); break;
      case 7: f.src_port = uint16_t(un(v, len)); break;
      case 11: f.dst_port = uint16_t(un(v, len)); break;
      case 6: f.tcp_flags = tcpFlags(un(v, len)); break;
      case 5: f.ip_tos = uint8_t(un(v, len)); break;
      case 52:
      case 192: if (!f.ip_ttl) f.ip_ttl = uint8_t(un(v, len)); break;
      case 31: f.ipv6_flow_label = uint32_t(un(v, len)); break;
      case 54: f.ip_fragment_id = uint32_t(un(v, len)); break;
      case 88: f.ip_fragment_offset = uint16_t(un(v, len)); break;
      case 32:
      case 139: icmp = uint16_t(un(v, len)); have_icmp = true; break;
      case 176:
      case 178: icmp = uint16_t((icmp & 0x00ff) | un(v, len) << 8); have_icmp = true; break;
      case 177:
      case 179: icmp = uint16_t((icmp & 0xff00) | (un(v, len) & 0xff)); have_icmp = true; break;
      // Interfaces: the physical ones only when the logical ones are absent or zero.
      case 10: f.in_if = uint32_t(un(v, len)); break;
      case 14: f.out_if = uint32_t(un(v, len)); break;
      case 252: in_phys = uint32_t(un(v, len)); break;
      case 253: out_phys = uint32_t(un(v, len)); break;
      // L2.
      case 58:
      case 243: if (!f.src_vlan) f.src_vlan = uint16_t(un(v, len) & 0xfff); break;
      case 59:
      case 254: if (!f.dst_vlan) f.dst_vlan = uint16_t(un(v, len) & 0xfff); break;
      // MACs and their post variants: the first non-zero, as the counters.
      case 56:
      case 81: if (!f.src_mac) f.src_mac = un(v, len); break;
      case 80:
      case 57: if (!f.dst_mac) f.dst_mac = un(v, len); break;
      // MPLS label stack (IEs 70-79): the label is the top 20 bits of the 3 bytes.
      case 70: case 71: case 72: case 73: case 74:
      case 75: case 76: case 77: case 78: case 79:
        if (uint32_t label = uint32_t(un(v, len) >> 4)) f.mpls_labels.push(label);
        break;
      case 234: f.ingress_vrf_id = uint32_t(un(v, len)); break;
      case 235: f.egress_vrf_id = uint32_t(un(v, len)); break;
      case 89: f.forwarding_status = uint32_t(un(v, len)); break;
      case 61: {
        uint64_t dir = un(v, len);
        f.flow_direction = dir == 0 ? FlowDirection::kIngress
                           : dir == 1 ? FlowDirection::kEgress
                                      : FlowDirection::kUndefined;
        break;
      }
      // NAT (RFC 8158 / Cisco NSEL).
      case 225:
      case 281: f.src_addr_nat = addr(v, len); break;
      case 226:
      case 282: f.dst_addr_nat = addr(v, len); break;
      case 227: f.src_port_nat = uint16_t(un(v, len)); break;
      case 228: f.dst_port_nat = uint16_t(un(v, len)); break;
      // Times.
      case 22:
        start_uptime = un(v, len);
        have_start_uptime = true;
        break;
      case 160: init_ms = un(v, len); break;
      case 150: first = uint32_t(un(v, len)); break;
      case 152: first = uint32_t(un(v, len) / 1000); break;
      case 154:
      case 156: {
        uint64_t secs = un(v, len) >> 32;
        first = secs > kNtpOffset ? uint32_t(secs - kNtpOffset) : 0;
        break;
      }
      // RFC 7133: a copy of the start of the frame.
      case 315: {
        FlowRecord& rec = f;
        frame_l3 = parseEthernet(std::span<const uint8_t>(v, len), rec, packet_);
        break;
      }
      default: break;
    }
  };
  auto field = [&](const TemplateField& fs, const uint8_t* v, size_t len) {
    if (fs.scope) return;
    if (fs.pen) {
      if (fs.pen == kJuniperPen && fs.type == 137 && len == 2 && !reverse) {
        // Juniper commonPropertiesId: CPID type 2 is the forwarding exception code; 0 means
        // forwarded (64), anything else dropped (128).
        if (((v[0] & 0xfc) >> 2) == 0x02) f.forwarding_status = (be16(v) & 0x3ff) ? 128 : 64;
        return;
      }
      if (fs.pen != kReversePen || !reverse) return;  // other enterprises: skipped
    } else if (reverse) {
      for (const auto& o : t.fields)
        if (o.pen == kReversePen && o.type == fs.type) return;  // replaced by its reverse
    }
    value(fs.type, v, len);
  };
  size_t used;
  if (t.plain && !reverse && config_.compiled_fields) {
    // Fixed lengths, no enterprise or scope field: the record is min_length bytes, which the
    // data set loop checked, and each field was compiled with the template (compileFieldOps):
    // most are a load and a store, without value()'s switch per field.
    char* rec = reinterpret_cast<char*>(&f);
    for (const FieldOp& op : t.ops) {
      const uint8_t* v = p + op.offset;
      switch (op.kind) {
#define AKVO_STORE_CASE(W, T, L)                              \
  case kStore + 4 * W + sizeIndex(L): {                       \
    T x = T(loadBE<L>(v));                                    \
    std::memcpy(rec + op.dest, &x, sizeof x);                 \
    break;                                                    \
  }
#define AKVO_STORE_CASES(W, T) \
  AKVO_STORE_CASE(W, T, 1) AKVO_STORE_CASE(W, T, 2) AKVO_STORE_CASE(W, T, 4) AKVO_STORE_CASE(W, T, 8) \
  case kStoreAny + W: {                                       \
    T x = T(un(v, op.len));                                   \
    std::memcpy(rec + op.dest, &x, sizeof x);                 \
    break;                                                    \
  }
        AKVO_STORE_CASES(0, uint8_t)
        AKVO_STORE_CASES(1, uint16_t)
        AKVO_STORE_CASES(2, uint32_t)
        AKVO_STORE_CASES(3, uint64_t)
#undef AKVO_STORE_CASES
#undef AKVO_STORE_CASE
        case kSkip: break;
        case kSrcAddr:
          if (!allZero(v, op.len)) {
            f.src_addr = addr(v, op.len);
            f.etype = op.dest;
          }
          break;
        case kDstAddr:
          if (!allZero(v, op.len)) {
            f.dst_addr = addr(v, op.len);
            f.etype = op.dest;
          }
          break;
        case kAddrAt: {
          IPv6Addr a = addr(v, op.len);
          std::memcpy(rec + op.dest, &a, sizeof a);
          break;
        }
        case kNextHop: setNextHop(f.next_hop, v, op.len); break;
        case kTcpFlags:
          f.tcp_flags = tcpFlags(op.len == 1   ? v[0]
                                 : op.len == 2 ? loadBE<2>(v)
                                               : un(v, op.len));
          break;
        case kBytes:
          if (!bytes) bytes = loadCounter(v, op.len);
          break;
        case kPackets:
          if (!packets) packets = loadCounter(v, op.len);
          break;
        case kMplsLabel:
          if (uint32_t label = uint32_t((op.len == 3 ? uint64_t(v[0]) << 16 | v[1] << 8 | v[2]
                                                     : un(v, op.len)) >> 4))
            f.mpls_labels.push(label);
          break;
        default: value(op.dest, v, op.len); break;
      }
    }
    used = t.min_length;
  } else if (t.plain && !reverse) {
    const uint8_t* v = p;
    for (const TemplateField& fs : t.fields) {
      value(fs.type, v, fs.length);
      v += fs.length;
    }
    used = t.min_length;
  } else {
    used = forEachField(t, p, n, field);
  }
  if (used == 0) return 0;

  // The first non-zero of: delta counts, NSEL initiator + responder, total counts, the frame.
  if (!bytes) bytes = init_bytes + resp_bytes;
  if (!bytes) bytes = total_bytes;
  if (!bytes) bytes = frame_l3;
  f.bytes = bytes;
  if (!packets) packets = init_packets + resp_packets;
  if (!packets) packets = total_packets;
  if (!packets && frame_l3) packets = 1;
  f.packets = packets;
  if (!f.in_if) f.in_if = in_phys;
  if (!f.out_if) f.out_if = out_phys;

  // Without ICMP elements, a record's frame (IE 315) has given type and code already.
  if ((f.proto == 1 || f.proto == 58) && (have_icmp || !frame_l3)) {
    // Without ICMP elements, exporters put type and code in the destination port (Cisco's
    // NetFlow v5 habit), when the source port is 0.
    if (!have_icmp && f.src_port == 0) icmp = f.dst_port;
    if (f.proto == 1) {
      f.icmpv4_type = uint8_t(icmp >> 8);
      f.icmpv4_code = uint8_t(icmp);
    } else {
      f.icmpv6_type = uint8_t(icmp >> 8);
      f.icmpv6_code = uint8_t(icmp);
    }
  }

  f.sampler_id = uint32_t(sampler);
  f.sampling_rate = inline_rate;
  if (!f.sampling_rate && have_sampler) f.sampling_rate = samplingRate(d, sampler);
  if (!f.sampling_rate) f.sampling_rate = samplingRate(d, 0);

  if (have_start_uptime) {
    if (version_ == 9) {
      // FIRST_SWITCHED is the sysUptime (ms) at the first packet (RFC 3954 §8).
      first = uptimeToUnix(export_time_, sys_uptime_, uint32_t(start_uptime));
    } else if (init_ms) {
      first = uint32_t((init_ms + start_uptime) / 1000);  // RFC 7011 flowStartSysUpTime + 160
    }
  }
  f.first_switched = first;
  switch (in.timestamp_source) {
    case TimestampSource::kNetflowPacket: f.time_received = export_time_; break;
    case TimestampSource::kNetflowFirstSwitched:
      if (first) f.time_received = first;
      break;
    default: break;
  }

  if (reverse && f.packets == 0) return used;  // nothing went the other way
  if (packet_.decap != Decapsulation::kNone && frame_l3 == 0) [[unlikely]] {
    // Decapsulating needs the record's frame (IE 315) to be so encapsulated: without it, or
    // with another packet, the record is dropped (Akvorado: "non-encapsulated packet").
    stats_.not_encapsulated++;
    return used;
  }
  if (reverse) {
    std::swap(f.src_addr, f.dst_addr);
    std::swap(f.src_net_mask, f.dst_net_mask);
    std::swap(f.src_port, f.dst_port);
    std::swap(f.src_as, f.dst_as);
    std::swap(f.in_if, f.out_if);
    std::swap(f.src_vlan, f.dst_vlan);
    std::swap(f.src_mac, f.dst_mac);
    std::swap(f.src_addr_nat, f.dst_addr_nat);
    std::swap(f.src_port_nat, f.dst_port_nat);
  }
  stats_.flows++;
  sink.flow(f);
  return used;
}

}  // namespace akvo::decoder
