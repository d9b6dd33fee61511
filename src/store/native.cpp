#include "store/native.h"

#include <cstring>

namespace akvo {

void writeVarUInt(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(v | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}

void writeStringBinary(std::string& out, std::string_view s) {
  writeVarUInt(out, s.size());
  out.append(s);
}

namespace {

inline uint64_t hashBytes(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
  }
  for (; i < s.size(); i++) h = (h ^ uint8_t(s[i])) * 0x100000001b3ull;
  h ^= h >> 32;
  return h * 0x9E3779B97F4A7C15ull;
}

template <class T>
inline void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian host
  out.append(b, sizeof(T));
}

}  // namespace

LowCardinalityDict::LowCardinalityDict(size_t fixed_width) : fixed_width_(fixed_width) {
  table_.assign(64, 0);
  clear();
}

std::string_view LowCardinalityDict::at(uint32_t i) const {
  uint32_t start = offsets_[i];
  uint32_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : uint32_t(arena_.size());
  return std::string_view(arena_).substr(start, end - start);
}

void LowCardinalityDict::clear() {
  arena_.clear();
  offsets_.clear();
  std::fill(table_.begin(), table_.end(), 0);
  // Index 0: the default value (empty string, or all-zero fixed-width value).
  offsets_.push_back(0);
  arena_.append(fixed_width_, '\0');
  std::string_view zero(arena_.data(), fixed_width_);
  size_t slot = hashBytes(zero) & (table_.size() - 1);
  table_[slot] = 1;
}

void LowCardinalityDict::grow() {
  std::vector<uint32_t> t(table_.size() * 2, 0);
  for (uint32_t i = 0; i < offsets_.size(); i++) {
    size_t slot = hashBytes(at(i)) & (t.size() - 1);
    while (t[slot]) slot = (slot + 1) & (t.size() - 1);
    t[slot] = i + 1;
  }
  table_.swap(t);
}

uint32_t LowCardinalityDict::index(std::string_view value) {
  size_t mask = table_.size() - 1;
  size_t slot = hashBytes(value) & mask;
  while (uint32_t e = table_[slot]) {
    if (at(e - 1) == value) return e - 1;
    slot = (slot + 1) & mask;
  }
  uint32_t idx = uint32_t(offsets_.size());
  offsets_.push_back(uint32_t(arena_.size()));
  arena_.append(value);
  table_[slot] = idx + 1;
  if (offsets_.size() * 2 > table_.size()) grow();
  return idx;
}

void LowCardinalityDict::encodeKeys(std::string& out) const {
  if (fixed_width_) {
    out.append(arena_);
    return;
  }
  for (uint32_t i = 0; i < offsets_.size(); i++) writeStringBinary(out, at(i));
}

// One column of the batch. `data` holds fixed-width values, or array offsets' elements, or
// LowCardinality indexes (UInt32).
struct NativeBatch::Column {
  enum class Kind { kFixed, kLowCardinality, kArray } kind;
  ColumnKey key;
  std::string name, type;
  std::string data;                  // fixed: values; array: elements; LC: UInt32 indexes
  std::vector<uint64_t> offsets;     // array only
  std::unique_ptr<LowCardinalityDict> dict;  // LC only
};

NativeBatch::NativeBatch(const Schema& schema) {
  for (ColumnKey k : schema.insertedColumns()) {
    const ColumnDef& def = columnDef(k);
    auto c = std::make_unique<Column>();
    c->key = k;
    c->name = def.name;
    c->type = def.type;
    if (def.type.starts_with("LowCardinality(")) {
      c->kind = Column::Kind::kLowCardinality;
      c->dict = std::make_unique<LowCardinalityDict>(def.type == "LowCardinality(IPv6)" ? 16 : 0);
    } else if (def.type.starts_with("Array(")) {
      c->kind = Column::Kind::kArray;
    } else {
      c->kind = Column::Kind::kFixed;
    }
    if (!column_list_.empty()) column_list_ += ", ";
    column_list_ += def.name;
    columns_.push_back(std::move(c));
  }
}

NativeBatch::~NativeBatch() = default;
NativeBatch::NativeBatch(NativeBatch&&) noexcept = default;
NativeBatch& NativeBatch::operator=(NativeBatch&&) noexcept = default;

namespace {
inline std::string_view ipView(const IPv6Addr& a) {
  return std::string_view(reinterpret_cast<const char*>(a.bytes.data()), 16);
}
template <class Col>
inline void putLCImpl(Col& c, std::string_view v) {
  uint32_t idx = v.empty() ? 0 : c.dict->index(v);
  put<uint32_t>(c.data, idx);
}
template <class Col, unsigned N>
inline void putArray(Col& c, const InlineVec<uint32_t, N>& a) {
  for (uint32_t x : a) put<uint32_t>(c.data, x);
  c.offsets.push_back((c.offsets.empty() ? 0 : c.offsets.back()) + a.size());
}
}  // namespace

void NativeBatch::append(const FlowRecord& f) {
  using K = ColumnKey;
  for (auto& cp : columns_) {
    Column& c = *cp;
    std::string& d = c.data;
    switch (c.key) {
      case K::kTimeReceived: put<uint32_t>(d, f.time_received); break;
      case K::kSamplingRate: put<uint64_t>(d, f.sampling_rate); break;
      case K::kExporterAddress: putLCImpl(c, ipView(f.exporter_address)); break;
      case K::kExporterName: putLCImpl(c, f.exporter_name); break;
      case K::kExporterGroup: putLCImpl(c, f.exporter_group); break;
      case K::kExporterRole: putLCImpl(c, f.exporter_role); break;
      case K::kExporterSite: putLCImpl(c, f.exporter_site); break;
      case K::kExporterRegion: putLCImpl(c, f.exporter_region); break;
      case K::kExporterTenant: putLCImpl(c, f.exporter_tenant); break;
      case K::kSrcAddr: d.append(ipView(f.src_addr)); break;
      case K::kDstAddr: d.append(ipView(f.dst_addr)); break;
      case K::kSrcNetMask: put<uint8_t>(d, f.src_net_mask); break;
      case K::kDstNetMask: put<uint8_t>(d, f.dst_net_mask); break;
      case K::kSrcAS: put<uint32_t>(d, f.src_as); break;
      case K::kDstAS: put<uint32_t>(d, f.dst_as); break;
      case K::kSrcNetName: putLCImpl(c, f.src_net_name); break;
      case K::kDstNetName: putLCImpl(c, f.dst_net_name); break;
      case K::kSrcNetRole: putLCImpl(c, f.src_net_role); break;
      case K::kDstNetRole: putLCImpl(c, f.dst_net_role); break;
      case K::kSrcNetSite: putLCImpl(c, f.src_net_site); break;
      case K::kDstNetSite: putLCImpl(c, f.dst_net_site); break;
      case K::kSrcNetRegion: putLCImpl(c, f.src_net_region); break;
      case K::kDstNetRegion: putLCImpl(c, f.dst_net_region); break;
      case K::kSrcNetTenant: putLCImpl(c, f.src_net_tenant); break;
      case K::kDstNetTenant: putLCImpl(c, f.dst_net_tenant); break;
      case K::kSrcVlan: put<uint16_t>(d, f.src_vlan); break;
      case K::kDstVlan: put<uint16_t>(d, f.dst_vlan); break;
      case K::kSrcCountry: d.append(f.src_country, 2); break;
      case K::kDstCountry: d.append(f.dst_country, 2); break;
      case K::kSrcGeoCity: putLCImpl(c, f.src_geo_city); break;
      case K::kDstGeoCity: putLCImpl(c, f.dst_geo_city); break;
      case K::kSrcGeoState: putLCImpl(c, f.src_geo_state); break;
      case K::kDstGeoState: putLCImpl(c, f.dst_geo_state); break;
      case K::kDstASPath: putArray(c, f.dst_as_path); break;
      case K::kSrcCommunities: putArray(c, f.src_communities); break;
      case K::kDstCommunities: putArray(c, f.dst_communities); break;
      case K::kSrcLargeCommunities:
      case K::kDstLargeCommunities: {
        const auto& a = c.key == K::kSrcLargeCommunities ? f.src_large_communities
                                                          : f.dst_large_communities;
        for (const auto& lc : a) {
          put<uint64_t>(d, uint64_t(lc.local1) << 32 | lc.local2);  // low half
          put<uint64_t>(d, lc.asn);                                   // high half
        }
        c.offsets.push_back((c.offsets.empty() ? 0 : c.offsets.back()) + a.size());
        break;
      }
      case K::kInIfName: putLCImpl(c, f.in_if_name); break;
      case K::kOutIfName: putLCImpl(c, f.out_if_name); break;
      case K::kInIfDescription: putLCImpl(c, f.in_if_description); break;
      case K::kOutIfDescription: putLCImpl(c, f.out_if_description); break;
      case K::kInIfSpeed: put<uint32_t>(d, f.in_if_speed); break;
      case K::kOutIfSpeed: put<uint32_t>(d, f.out_if_speed); break;
      case K::kInIfConnectivity: putLCImpl(c, f.in_if_connectivity); break;
      case K::kOutIfConnectivity: putLCImpl(c, f.out_if_connectivity); break;
      case K::kInIfProvider: putLCImpl(c, f.in_if_provider); break;
      case K::kOutIfProvider: putLCImpl(c, f.out_if_provider); break;
      case K::kInIfBoundary: put<int8_t>(d, int8_t(f.in_if_boundary)); break;
      case K::kOutIfBoundary: put<int8_t>(d, int8_t(f.out_if_boundary)); break;
      case K::kEType: put<uint32_t>(d, f.etype); break;
      case K::kProto: put<uint32_t>(d, f.proto); break;
      case K::kSrcPort: put<uint16_t>(d, f.src_port); break;
      case K::kDstPort: put<uint16_t>(d, f.dst_port); break;
      case K::kBytes: put<uint64_t>(d, f.bytes); break;
      case K::kPackets: put<uint64_t>(d, f.packets); break;
      case K::kForwardingStatus: put<uint32_t>(d, f.forwarding_status); break;
      case K::kFlowDirection: put<int8_t>(d, int8_t(f.flow_direction)); break;
      case K::kSrcAddrNAT: d.append(ipView(f.src_addr_nat)); break;
      case K::kDstAddrNAT: d.append(ipView(f.dst_addr_nat)); break;
      case K::kSrcPortNAT: put<uint16_t>(d, f.src_port_nat); break;
      case K::kDstPortNAT: put<uint16_t>(d, f.dst_port_nat); break;
      case K::kSrcMAC: put<uint64_t>(d, f.src_mac); break;
      case K::kDstMAC: put<uint64_t>(d, f.dst_mac); break;
      case K::kIPTTL: put<uint8_t>(d, f.ip_ttl); break;
      case K::kIPTos: put<uint8_t>(d, f.ip_tos); break;
      case K::kIPFragmentID: put<uint32_t>(d, f.ip_fragment_id); break;
      case K::kIPFragmentOffset: put<uint16_t>(d, f.ip_fragment_offset); break;
      case K::kIPv6FlowLabel: put<uint32_t>(d, f.ipv6_flow_label); break;
      case K::kTCPFlags: put<uint16_t>(d, f.tcp_flags); break;
      case K::kICMPv4Type: put<uint8_t>(d, f.icmpv4_type); break;
      case K::kICMPv4Code: put<uint8_t>(d, f.icmpv4_code); break;
      case K::kICMPv6Type: put<uint8_t>(d, f.icmpv6_type); break;
      case K::kICMPv6Code: put<uint8_t>(d, f.icmpv6_code); break;
      case K::kNextHop: putLCImpl(c, ipView(f.next_hop)); break;
      case K::kMPLSLabels: putArray(c, f.mpls_labels); break;
      case K::kIngressVRFID: put<uint32_t>(d, f.ingress_vrf_id); break;
      case K::kEgressVRFID: put<uint32_t>(d, f.egress_vrf_id); break;
      default: break;  // alias and generated columns are never inserted
    }
  }
  rows_++;
}

void NativeBatch::encode(std::string& out) const {
  out.clear();
  writeVarUInt(out, columns_.size());
  writeVarUInt(out, rows_);
  for (const auto& cp : columns_) {
    const Column& c = *cp;
    writeStringBinary(out, c.name);
    writeStringBinary(out, c.type);
    switch (c.kind) {
      case Column::Kind::kFixed: out.append(c.data); break;
      case Column::Kind::kArray:
        for (uint64_t o : c.offsets) put<uint64_t>(out, o);
        out.append(c.data);
        break;
      case Column::Kind::kLowCardinality: {
        // SerializationLowCardinality: key version (shared dictionaries with additional keys),
        // then flags: index type UInt32 (2) | HasAdditionalKeys (1<<9) | NeedUpdateDictionary
        // (1<<10), the keys, the row count and the indexes.
        put<uint64_t>(out, 1);
        put<uint64_t>(out, 2 | (1u << 9) | (1u << 10));
        put<uint64_t>(out, c.dict->size());
        c.dict->encodeKeys(out);
        put<uint64_t>(out, rows_);
        out.append(c.data);
        break;
      }
    }
  }
}

void NativeBatch::clear() {
  for (auto& c : columns_) {
    c->data.clear();
    c->offsets.clear();
    if (c->dict) c->dict->clear();
  }
  rows_ = 0;
}

}  // namespace akvo
