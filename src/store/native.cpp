#include "store/native.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstring>
#include <cstdlib>
#include <new>
#include <optional>
#include <stdexcept>


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

inline std::string_view ipView(const IPv6Addr& a) {
  return std::string_view(reinterpret_cast<const char*>(a.bytes.data()), 16);
}

}  // namespace

LowCardinalityDict::LowCardinalityDict(size_t fixed_width) : fixed_width_(fixed_width) {
  table_.assign(64, 0);
  clear();
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

// One column of the batch. Every column has a fixed-width part with one slot per row, written
// at row * width without bounds checks (the batch grows all columns together): the value for
// plain columns, the UInt32 dictionary index for LowCardinality ones (the interned string id
// until encode() maps LowCardinality(String) columns), the cumulative UInt64
// offset for arrays (whose elements go to `elems`).
struct NativeBatch::Column {
  enum class Op : uint8_t { kCopy1, kCopy2, kCopy4, kCopy8, kCopy16, kLCString, kLCIPv6,
                            kArrayU32, kArrayLarge };
  Op op;
  uint8_t width;     // bytes per row in `fixed`
  uint32_t offset;   // of the field in FlowRecord
  ColumnKey key;
  std::string name, type;
  char* fixed = nullptr;     // in the batch's block
  // No row of the chunk has a non-zero value yet: append() does not write `fixed` (it checks
  // the field is still zero), seal() leaves the column out of the block (the engine fills it).
  bool idle = false;
  std::string elems;        // arrays only
  uint64_t elem_count = 0;  // arrays only
  uint32_t count_offset = 0;  // arrays only: of the InlineVec's element count in FlowRecord
  std::unique_ptr<LowCardinalityDict> dict;  // LowCardinality only
  // LowCardinality(String): dictionary indexes by interned string id, direct-mapped. An id
  // names one string for the life of the process, so a hit needs no byte comparison.
  struct Memo {
    uint32_t id = 0, idx = 0;
  };
  static constexpr size_t kMemoSlots = 256;
  std::array<Memo, kMemoSlots> memo{};
  // LowCardinality(IPv6): the last value and its index.
  IPv6Addr last_ip{};
  uint32_t last_ip_idx = 0;

  void resetMemo() {
    memo.fill(Memo{});
    last_ip = IPv6Addr{};
    last_ip_idx = 0;
  }
  uint32_t lcString(const IStr& v) {
    uint32_t id = v.id();
    if (!id) return 0;
    Memo& m = memo[id & (kMemoSlots - 1)];
    if (m.id != id) m = Memo{id, dict->index(v.view())};
    return m.idx;
  }
  uint32_t lcIPv6(const IPv6Addr& a) {
    uint64_t w[2], l[2];
    std::memcpy(w, a.bytes.data(), 16);
    if ((w[0] | w[1]) == 0) return 0;
    std::memcpy(l, last_ip.bytes.data(), 16);
    if (w[0] == l[0] && w[1] == l[1]) return last_ip_idx;
    uint32_t idx = dict->index(ipView(a));
    last_ip = a;
    last_ip_idx = idx;
    return idx;
  }
};

namespace {

struct Layout {
  NativeBatch::Column::Op op;
  uint32_t offset;
};

#define AKVO_FIELD(field) uint32_t(offsetof(FlowRecord, field))

// Where each inserted column's value is in FlowRecord and how it is written. Every plain
// column is a copy of the field's bytes: the field types match the column types (little-endian
// host; enums are one byte like Int8/Enum8; countries are two chars like FixedString(2)).
static_assert(kFlowCustomStrings == kCustomStringSlots && kFlowCustomUInts == kCustomUIntSlots);

std::optional<Layout> layoutOf(ColumnKey k, const ColumnDef& def) {
  using K = ColumnKey;
  using Op = NativeBatch::Column::Op;
  auto copy = [](uint32_t off, size_t width) {
    Op op = width == 1 ? Op::kCopy1 : width == 2 ? Op::kCopy2 : width == 4 ? Op::kCopy4
          : width == 8 ? Op::kCopy8 : Op::kCopy16;
    return Layout{op, off};
  };
  // Custom dictionary columns: a slot of FlowRecord, as wide as the configured type.
  if (isCustomStringColumn(k))
    return Layout{Op::kLCString, uint32_t(offsetof(FlowRecord, custom_strings) +
                                          (size_t(k) - size_t(K::kCustomString0)) * sizeof(IStr))};
  if (isCustomColumn(k)) {
    if (def.name.empty()) return std::nullopt;  // an unnamed slot (no Schema given)
    size_t width = def.type == "UInt8" ? 1 : def.type == "UInt16" ? 2 : def.type == "UInt32" ? 4 : 8;
    return copy(uint32_t(offsetof(FlowRecord, custom_uints) +
                         (size_t(k) - size_t(K::kCustomUInt0)) * sizeof(uint64_t)),
                width);
  }
#define COPY(field) copy(AKVO_FIELD(field), sizeof(FlowRecord::field))
#define LC(field) Layout{Op::kLCString, AKVO_FIELD(field)}
  switch (k) {
    case K::kTimeReceived: return COPY(time_received);
    case K::kSamplingRate: return COPY(sampling_rate);
    case K::kExporterAddress: return Layout{Op::kLCIPv6, AKVO_FIELD(exporter_address)};
    case K::kExporterName: return LC(exporter_name);
    case K::kExporterGroup: return LC(exporter_group);
    case K::kExporterRole: return LC(exporter_role);
    case K::kExporterSite: return LC(exporter_site);
    case K::kExporterRegion: return LC(exporter_region);
    case K::kExporterTenant: return LC(exporter_tenant);
    case K::kSrcAddr: return COPY(src_addr);
    case K::kDstAddr: return COPY(dst_addr);
    case K::kSrcNetMask: return COPY(src_net_mask);
    case K::kDstNetMask: return COPY(dst_net_mask);
    case K::kSrcAS: return COPY(src_as);
    case K::kDstAS: return COPY(dst_as);
    case K::kSrcNetName: return LC(src_net_name);
    case K::kDstNetName: return LC(dst_net_name);
    case K::kSrcNetRole: return LC(src_net_role);
    case K::kDstNetRole: return LC(dst_net_role);
    case K::kSrcNetSite: return LC(src_net_site);
    case K::kDstNetSite: return LC(dst_net_site);
    case K::kSrcNetRegion: return LC(src_net_region);
    case K::kDstNetRegion: return LC(dst_net_region);
    case K::kSrcNetTenant: return LC(src_net_tenant);
    case K::kDstNetTenant: return LC(dst_net_tenant);
    case K::kSrcVlan: return COPY(src_vlan);
    case K::kDstVlan: return COPY(dst_vlan);
    case K::kSrcCountry: return COPY(src_country);
    case K::kDstCountry: return COPY(dst_country);
    case K::kSrcGeoCity: return LC(src_geo_city);
    case K::kDstGeoCity: return LC(dst_geo_city);
    case K::kSrcGeoState: return LC(src_geo_state);
    case K::kDstGeoState: return LC(dst_geo_state);
    case K::kDstASPath: return Layout{Op::kArrayU32, AKVO_FIELD(dst_as_path)};
    case K::kSrcCommunities: return Layout{Op::kArrayU32, AKVO_FIELD(src_communities)};
    case K::kDstCommunities: return Layout{Op::kArrayU32, AKVO_FIELD(dst_communities)};
    case K::kSrcLargeCommunities: return Layout{Op::kArrayLarge, AKVO_FIELD(src_large_communities)};
    case K::kDstLargeCommunities: return Layout{Op::kArrayLarge, AKVO_FIELD(dst_large_communities)};
    case K::kInIfName: return LC(in_if_name);
    case K::kOutIfName: return LC(out_if_name);
    case K::kInIfDescription: return LC(in_if_description);
    case K::kOutIfDescription: return LC(out_if_description);
    case K::kInIfSpeed: return COPY(in_if_speed);
    case K::kOutIfSpeed: return COPY(out_if_speed);
    case K::kInIfConnectivity: return LC(in_if_connectivity);
    case K::kOutIfConnectivity: return LC(out_if_connectivity);
    case K::kInIfProvider: return LC(in_if_provider);
    case K::kOutIfProvider: return LC(out_if_provider);
    case K::kInIfBoundary: return COPY(in_if_boundary);
    case K::kOutIfBoundary: return COPY(out_if_boundary);
    case K::kEType: return COPY(etype);
    case K::kProto: return COPY(proto);
    case K::kSrcPort: return COPY(src_port);
    case K::kDstPort: return COPY(dst_port);
    case K::kBytes: return COPY(bytes);
    case K::kPackets: return COPY(packets);
    case K::kForwardingStatus: return COPY(forwarding_status);
    case K::kFlowDirection: return COPY(flow_direction);
    case K::kSrcAddrNAT: return COPY(src_addr_nat);
    case K::kDstAddrNAT: return COPY(dst_addr_nat);
    case K::kSrcPortNAT: return COPY(src_port_nat);
    case K::kDstPortNAT: return COPY(dst_port_nat);
    case K::kSrcMAC: return COPY(src_mac);
    case K::kDstMAC: return COPY(dst_mac);
    case K::kIPTTL: return COPY(ip_ttl);
    case K::kIPTos: return COPY(ip_tos);
    case K::kIPFragmentID: return COPY(ip_fragment_id);
    case K::kIPFragmentOffset: return COPY(ip_fragment_offset);
    case K::kIPv6FlowLabel: return COPY(ipv6_flow_label);
    case K::kTCPFlags: return COPY(tcp_flags);
    case K::kICMPv4Type: return COPY(icmpv4_type);
    case K::kICMPv4Code: return COPY(icmpv4_code);
    case K::kICMPv6Type: return COPY(icmpv6_type);
    case K::kICMPv6Code: return COPY(icmpv6_code);
    case K::kNextHop: return Layout{Op::kLCIPv6, AKVO_FIELD(next_hop)};
    case K::kMPLSLabels: return Layout{Op::kArrayU32, AKVO_FIELD(mpls_labels)};
    case K::kIngressVRFID: return COPY(ingress_vrf_id);
    case K::kEgressVRFID: return COPY(egress_vrf_id);
    // Generated in the raw table; inserted with the consolidated rows (Consolidator).
    case K::kDst1stAS: return COPY(dst_1st_as);
    case K::kDst2ndAS: return COPY(dst_2nd_as);
    case K::kDst3rdAS: return COPY(dst_3rd_as);
    default: return std::nullopt;  // alias columns are never inserted
  }
#undef COPY
#undef LC
}
#undef AKVO_FIELD

// Where an array column's element count is in FlowRecord.
uint32_t countOffset(ColumnKey k) {
#define COUNT(field) \
  uint32_t(offsetof(FlowRecord, field) + offsetof(decltype(FlowRecord::field), n))
  switch (k) {
    case ColumnKey::kDstASPath: return COUNT(dst_as_path);
    case ColumnKey::kSrcCommunities: return COUNT(src_communities);
    case ColumnKey::kDstCommunities: return COUNT(dst_communities);
    case ColumnKey::kSrcLargeCommunities: return COUNT(src_large_communities);
    case ColumnKey::kDstLargeCommunities: return COUNT(dst_large_communities);
    default: return COUNT(mpls_labels);
  }
#undef COUNT
}

// The column's type as the registry writes it, checked against the field it is copied from.
size_t rowWidth(NativeBatch::Column::Op op) {
  using Op = NativeBatch::Column::Op;
  switch (op) {
    case Op::kCopy1: return 1;
    case Op::kCopy2: return 2;
    case Op::kCopy4: return 4;
    case Op::kCopy8: return 8;
    case Op::kCopy16: return 16;
    case Op::kLCString:
    case Op::kLCIPv6: return 4;
    case Op::kArrayU32:
    case Op::kArrayLarge: return 8;
  }
  return 0;
}

}  // namespace

std::optional<FlowField> flowField(ColumnKey k) {
  if (isCustomColumn(k)) return std::nullopt;
  auto layout = layoutOf(k, columnDef(k));
  using Op = NativeBatch::Column::Op;
  if (!layout || layout->op == Op::kArrayU32 || layout->op == Op::kArrayLarge) return std::nullopt;
  uint32_t width = layout->op == Op::kLCIPv6 ? 16 : layout->op == Op::kLCString ? 4
                   : uint32_t(rowWidth(layout->op));
  return FlowField{layout->offset, width};
}

NativeBatch::NativeBatch(const Schema& schema, size_t chunk_rows)
    : NativeBatch(schema.insertedColumns(), chunk_rows, &schema) {}

NativeBatch::NativeBatch(const std::vector<ColumnKey>& columns, size_t chunk_rows,
                         const Schema* schema)
    : chunk_size_(std::max<size_t>(chunk_rows, 1)) {
  for (ColumnKey k : columns) {
    const ColumnDef& def = schema ? schema->column(k) : columnDef(k);
    if (isCustomColumn(k) && def.name.empty()) continue;  // an unnamed slot
    auto layout = layoutOf(k, def);
    if (!layout) continue;
    Column& c = columns_.emplace_back();
    c.op = layout->op;
    c.offset = layout->offset;
    c.width = uint8_t(rowWidth(c.op));
    c.key = k;
    if (c.op == Column::Op::kArrayU32 || c.op == Column::Op::kArrayLarge) c.count_offset = countOffset(k);
    c.name = def.name;
    c.type = def.type;
    if (c.op == Column::Op::kLCString || c.op == Column::Op::kLCIPv6)
      c.dict = std::make_unique<LowCardinalityDict>(c.op == Column::Op::kLCIPv6 ? 16 : 0);
    if (!column_list_.empty()) column_list_ += ", ";
    column_list_ += def.name;
  }
}

NativeBatch::~NativeBatch() = default;
NativeBatch::NativeBatch(NativeBatch&&) noexcept = default;
NativeBatch& NativeBatch::operator=(NativeBatch&&) noexcept = default;

// The chunk: the fixed-width parts of all columns share one block, allocated once, each column
// one cache line further than its size needs: the sizes are multiples of 4 KiB, and a row
// writes to every column, so without the stagger a row's 57 stores fell into the same cache set
// (the copies were 40 % of the append time). No MADV_HUGEPAGE: it helped the full outlet path
// by less than the noise, and it lets a page fault wait on memory compaction.
void NativeBatch::nextChunk() {
  if (chunk_capacity_) {
    seal();
    return;
  }
  chunk_capacity_ = chunk_size_;
  size_t bytes = 0;
  for (const Column& c : columns_) bytes += ((chunk_capacity_ * c.width + 63) & ~size_t(63)) + 64;
  constexpr size_t kAlign = 4096;
  bytes = (bytes + kAlign - 1) & ~(kAlign - 1);
  block_.reset(static_cast<char*>(std::aligned_alloc(kAlign, bytes)));
  if (!block_) throw std::bad_alloc();
  char* p = block_.get();
  for (Column& c : columns_) {
    c.fixed = p;
    p += ((chunk_capacity_ * c.width + 63) & ~size_t(63)) + 64;
  }
  resetSlots();
}

// Every column starts the chunk idle: its fields are checked, not copied, until one is not
// zero (activate()). Most flows leave many columns zero (NAT, MAC, VLAN, MPLS, communities,
// ICMP, fragments: 20 to 30 of the 57 for NetFlow v9 and sFlow); their stores, to as many
// different cache lines per row, were most of append()'s cost, and seal() copied their zeros
// into every block, which the engine then parsed.
void NativeBatch::resetSlots() {
  for (auto& g : copy_) g.clear();
  for (auto& g : idle_) g.clear();
  lc_ips_.clear();
  arrays_.clear();
  for (Column& c : columns_) {
    Slot slot{c.fixed, c.offset, &c};
    c.idle = true;
    switch (c.op) {
      case Column::Op::kCopy1: idle_[0].push_back(slot); break;
      case Column::Op::kCopy2: idle_[1].push_back(slot); break;
      case Column::Op::kCopy4: idle_[2].push_back(slot); break;
      case Column::Op::kCopy8: idle_[3].push_back(slot); break;
      case Column::Op::kCopy16: idle_[4].push_back(slot); break;
      // LowCardinality(String): the row holds the interned id until seal() maps the column
      // to its dictionary, so appending is a 4-byte copy like any UInt32 column.
      case Column::Op::kLCString: idle_[2].push_back(slot); break;
      case Column::Op::kLCIPv6: lc_ips_.push_back(slot); break;
      case Column::Op::kArrayU32:
      case Column::Op::kArrayLarge: arrays_.push_back(slot); break;
    }
  }
}

namespace {
template <size_t W>
inline void copyAll(const std::vector<NativeBatch::Slot>& slots, const char* src, size_t row) {
#pragma GCC unroll 8
  for (const auto& s : slots) std::memcpy(s.base + row * W, src + s.offset, W);
}
}  // namespace

void NativeBatch::appendElements(Column& c, const FlowRecord& f, unsigned n) {
  if (c.op == Column::Op::kArrayU32) {
    const uint32_t* v;
    switch (c.key) {
      case ColumnKey::kDstASPath: v = f.dst_as_path.begin(); break;
      case ColumnKey::kSrcCommunities: v = f.src_communities.begin(); break;
      case ColumnKey::kDstCommunities: v = f.dst_communities.begin(); break;
      default: v = f.mpls_labels.begin(); break;
    }
    c.elems.append(reinterpret_cast<const char*>(v), size_t(n) * 4);
    return;
  }
  const auto& a = c.key == ColumnKey::kSrcLargeCommunities ? f.src_large_communities
                                                           : f.dst_large_communities;
  for (const auto& lc : a) {
    put<uint64_t>(c.elems, uint64_t(lc.local1) << 32 | lc.local2);  // low half
    put<uint64_t>(c.elems, lc.asn);                                   // high half
  }
}

namespace {
// The OR of the idle columns' fields of one width: zero while they all stay zero.
template <size_t W>
inline uint64_t orAll(const std::vector<NativeBatch::Slot>& slots, const char* src) {
  uint64_t acc = 0;
#pragma GCC unroll 8
  for (const auto& s : slots) {
    if constexpr (W == 16) {
      uint64_t w[2];
      std::memcpy(w, src + s.offset, 16);
      acc |= w[0] | w[1];
    } else {
      uint64_t v = 0;
      std::memcpy(&v, src + s.offset, W);
      acc |= v;
    }
  }
  return acc;
}
}  // namespace

// The idle columns of width group `g` whose field is not zero in this row: their rows so far
// become zeros, they take this row's value and are copied from now on.
void NativeBatch::activate(size_t g, const char* src, size_t row) {
  static constexpr size_t kWidth[5] = {1, 2, 4, 8, 16};
  static constexpr char kZero[16] = {};
  const size_t w = kWidth[g];
  auto& idle = idle_[g];
  for (size_t i = 0; i < idle.size();) {
    Slot s = idle[i];
    if (std::memcmp(src + s.offset, kZero, w) == 0) {
      i++;
      continue;
    }
    std::memset(s.base, 0, row * w);
    std::memcpy(s.base + row * w, src + s.offset, w);
    s.column->idle = false;
    copy_[g].push_back(s);
    idle[i] = idle.back();
    idle.pop_back();
  }
}

// Columns are appended group by group (same operation, no dispatch per column); `row` and the
// destinations are locals so the char stores cannot make the compiler reload them. Idle
// columns (all zero so far in the chunk) are only read.
void NativeBatch::appendRow(const FlowRecord& f) {
  assert(!finished_ && "append() after encode() needs a clear() first");
  const size_t row = chunk_rows_;
  const char* src = reinterpret_cast<const char*>(&f);
  min_time_ = std::min(min_time_, f.time_received);
  max_time_ = std::max(max_time_, f.time_received);
  copyAll<1>(copy_[0], src, row);
  copyAll<2>(copy_[1], src, row);
  copyAll<4>(copy_[2], src, row);
  copyAll<8>(copy_[3], src, row);
  copyAll<16>(copy_[4], src, row);
  if (orAll<1>(idle_[0], src)) [[unlikely]]
    activate(0, src, row);
  if (orAll<2>(idle_[1], src)) [[unlikely]]
    activate(1, src, row);
  if (orAll<4>(idle_[2], src)) [[unlikely]]
    activate(2, src, row);
  if (orAll<8>(idle_[3], src)) [[unlikely]]
    activate(3, src, row);
  if (orAll<16>(idle_[4], src)) [[unlikely]]
    activate(4, src, row);
  for (const Slot& s : lc_ips_) {
    Column& c = *s.column;
    const IPv6Addr& ip = *reinterpret_cast<const IPv6Addr*>(src + s.offset);
    if (c.idle) {
      if (ip.isZero()) continue;
      std::memset(s.base, 0, row * 4);  // index 0: the zero address
      c.idle = false;
    }
    uint32_t idx = c.lcIPv6(ip);
    std::memcpy(s.base + row * 4, &idx, 4);
  }
  for (const Slot& s : arrays_) {
    // The element count of the InlineVec (after its array); most rows have no elements.
    Column& c = *s.column;
    uint16_t n;
    std::memcpy(&n, src + c.count_offset, 2);
    if (c.idle) {
      if (!n) continue;
      std::memset(s.base, 0, row * 8);  // offsets of empty arrays
      c.idle = false;
    }
    if (n) appendElements(c, f, n);
    c.elem_count += n;
    std::memcpy(s.base + row * 8, &c.elem_count, 8);
  }
  chunk_rows_ = row + 1;
}

// The LowCardinality(String) columns hold interned ids until here: each is mapped to its
// dictionary indexes in place, one column at a time. Done per row in append(), the 25 columns'
// memos (50 KiB) competed for the L1 cache with the decoder and the enricher; one column at a
// time, its memo stays in cache and the loop is a read and a write per row.
// Their dictionaries and memos start empty (resetChunk).
void NativeBatch::mapLowCardinality() {
  for (Column& c : columns_) {
    if (c.op != Column::Op::kLCString || c.idle) continue;  // idle: every index is 0
    // Runs of one value are the common case (a column never set, an exporter's name): eight
    // rows equal to the previous value are checked and written as vectors.
    uint32_t* v = reinterpret_cast<uint32_t*>(c.fixed);
    uint32_t last_id = 0, last_idx = 0;
    // Outside runs, every row goes through the memo: a hit has no branch on the value (a
    // comparison with the previous row's value mispredicted on columns that alternate, such
    // as the cities of mixed sources).
    auto one = [&](uint32_t& x) {
      const Column::Memo m = c.memo[x & (Column::kMemoSlots - 1)];
      last_id = x;
      if (m.id == x) [[likely]] {
        last_idx = m.idx;
      } else {
        IStr id;
        std::memcpy(static_cast<void*>(&id), &x, 4);
        last_idx = c.lcString(id);
      }
      x = last_idx;
    };
    size_t r = 0;
    for (; r + 8 <= chunk_rows_; r += 8) {
      uint32_t diff = 0;
      for (size_t k = 0; k < 8; k++) diff |= v[r + k] ^ last_id;
      if (diff == 0) {
        for (size_t k = 0; k < 8; k++) v[r + k] = last_idx;
        continue;
      }
      for (size_t k = 0; k < 8; k++) one(v[r + k]);
    }
    for (; r < chunk_rows_; r++) one(v[r]);
  }
}

// Encodes the chunk as one Native block at the end of sealed_ and empties it.
void NativeBatch::seal() {
  mapLowCardinality();
  std::string& out = sealed_;
  // Idle columns (zero in every row of the chunk) are left out of the block: the engine fills
  // a column the INSERT names but the block lacks with its type's default (0, '', [], the
  // zero address), which is what they hold, and none of them has a DEFAULT expression. That
  // spares writing and parsing 20 to 30 columns of zeros per row. An empty block keeps every
  // column: the engine fills only blocks with rows.
  const bool omit = chunk_rows_ > 0;
  size_t written = 0;
  for (const Column& c : columns_) written += !(omit && c.idle);
  writeVarUInt(out, written);
  writeVarUInt(out, chunk_rows_);
  for (Column& c : columns_) {
    if (omit && c.idle) continue;
    writeStringBinary(out, c.name);
    writeStringBinary(out, c.type);
    std::string_view fixed(c.fixed, chunk_rows_ * c.width);
    switch (c.op) {
      case Column::Op::kArrayU32:
      case Column::Op::kArrayLarge:
        out.append(fixed);
        out.append(c.elems);
        break;
      case Column::Op::kLCString:
      case Column::Op::kLCIPv6: {
        // SerializationLowCardinality: key version (shared dictionaries with additional keys),
        // then flags: index type | HasAdditionalKeys (1<<9) | NeedUpdateDictionary (1<<10), the
        // keys, the row count and the indexes. The indexes are the narrowest type that holds
        // the dictionary, as the engine writes them: UInt8 (0) for most columns of a chunk (an
        // exporter's names, a handful of countries), UInt16 (1), else UInt32 (2).
        size_t keys = c.dict->size();
        uint64_t type = keys <= 0x100 ? 0 : keys <= 0x10000 ? 1 : 2;
        put<uint64_t>(out, 1);
        put<uint64_t>(out, type | (1u << 9) | (1u << 10));
        put<uint64_t>(out, keys);
        c.dict->encodeKeys(out);
        put<uint64_t>(out, chunk_rows_);
        if (type == 2) {
          out.append(fixed);
        } else {
          const uint32_t* __restrict idx = reinterpret_cast<const uint32_t*>(c.fixed);
          size_t at = out.size();
          out.resize(at + (chunk_rows_ << type));
          const size_t n = chunk_rows_;
          if (type == 0) {
            uint8_t* __restrict dst = reinterpret_cast<uint8_t*>(out.data() + at);
            for (size_t r = 0; r < n; r++) dst[r] = uint8_t(idx[r]);
          } else {
            uint16_t* __restrict dst = reinterpret_cast<uint16_t*>(out.data() + at);
            for (size_t r = 0; r < n; r++) dst[r] = uint16_t(idx[r]);
          }
        }
        break;
      }
      default: out.append(fixed); break;
    }
  }
  sealed_rows_ += chunk_rows_;
  blocks_++;
  resetChunk();
}

// Empties the chunk: no rows, array elements, dictionaries or memos.
void NativeBatch::resetChunk() {
  for (Column& c : columns_) {
    c.elems.clear();
    c.elem_count = 0;
    if (c.dict) {
      c.dict->clear();
      c.resetMemo();
    }
  }
  chunk_rows_ = 0;
  if (chunk_capacity_) resetSlots();
}

const std::string& NativeBatch::encode() {
  if (!finished_) {
    if (chunk_rows_ || !sealed_rows_) seal();
    finished_ = true;
  }
  return sealed_;
}

// Consolidation.

Consolidator::Consolidator(const std::vector<ColumnKey>& columns, uint32_t interval_seconds,
                           const Schema* schema)
    : interval_(std::max<uint32_t>(interval_seconds, 1)) {
  size_t bytes = 4;  // the interval's start
  for (ColumnKey k : columns) {
    const ColumnDef& def = schema ? schema->column(k) : columnDef(k);
    if (def.alias || k == ColumnKey::kTimeReceived || k == ColumnKey::kBytes ||
        k == ColumnKey::kPackets)
      continue;
    if (k == ColumnKey::kDst1stAS || k == ColumnKey::kDst2ndAS || k == ColumnKey::kDst3rdAS) {
      path_ = true;
      continue;
    }
    auto layout = layoutOf(k, def);
    using Op = NativeBatch::Column::Op;
    if (!layout || layout->op == Op::kArrayU32 || layout->op == Op::kArrayLarge)
      throw std::logic_error("column " + std::string(def.name) + " cannot be consolidated");
    uint32_t width = layout->op == Op::kLCIPv6 ? 16 : layout->op == Op::kLCString ? 4
                     : uint32_t(rowWidth(layout->op));
    fields_.push_back({layout->offset, width});
    bytes += width;
  }
  // The default schema's columns are FlowRecord's consolidated block, field for field (the
  // pad aside): the key is that block, then the interval's start and the first ASes, then the
  // custom dictionary columns when the schema has some (packed in a few more words).
  size_t covered = 0, extra_bytes = 0;
  bool inside = true;
  for (const Field& fd : fields_) {
    if (fd.offset >= offsetof(FlowRecord, custom_strings)) {
      extra_bytes += fd.width;
      continue;
    }
    covered += fd.width;
    inside = inside && fd.offset >= kConsolidatedBegin && fd.offset + fd.width <= kConsolidatedEnd;
  }
  block_ = inside && covered == kConsolidatedEnd - kConsolidatedBegin - sizeof(FlowRecord::consolidated_pad_) &&
           extra_bytes <= kMaxExtraWords * 8;
  if (block_) {
    uint32_t extra_pos = uint32_t(kBlockKeyWords * 8);
    for (Field& fd : fields_) {
      if (fd.offset >= offsetof(FlowRecord, custom_strings)) {
        fd.key_pos = extra_pos;
        extra_pos += fd.width;
        extras_.push_back(fd);
      } else {
        fd.key_pos = uint32_t(fd.offset - kConsolidatedBegin);
      }
    }
    extra_words_ = (extra_bytes + 7) / 8;
    // addBlock()'s layout: the block, the interval's start, Dst1st..3rdAS (zeros unless
    // among the columns), the custom columns.
    time_pos_ = uint32_t(kConsolidatedEnd - kConsolidatedBegin);
    path_pos_ = time_pos_ + 4;
    key_size_ = (kBlockKeyWords + extra_words_) * 8;
  } else {
    // Widest first: add() copies each width with its own loop of fixed-size copies.
    std::stable_sort(fields_.begin(), fields_.end(),
                     [](const Field& a, const Field& b) { return a.width > b.width; });
    uint32_t pos = 4;  // after the interval's start
    for (Field& fd : fields_) {
      size_t w = fd.width == 16 ? 0 : fd.width == 8 ? 1 : fd.width == 4 ? 2 : fd.width == 2 ? 3 : 4;
      width_count_[w]++;
      fd.key_pos = pos;
      pos += fd.width;
    }
    time_pos_ = 0;
    path_pos_ = pos;
    if (path_) bytes += 12;
    key_size_ = (bytes + 7) & ~size_t(7);
  }
  scratch_.assign(key_size_ / 8, 0);
  table_.assign(1024, 0);
}

namespace {
// Pairs of words multiplied (128-bit, folded) and summed: independent multiplies, so the hash
// of a 200-byte key takes a few cycles per word, not a dependent chain per word (that chain was
// most of the consolidator's cost).
[[gnu::always_inline]] inline uint64_t mixPair(uint64_t a, uint64_t b, size_t i) {
  __uint128_t m = __uint128_t(a ^ (0x9E3779B97F4A7C15ull * (i + 1))) *
                  (b ^ (0xC2B2AE3D27D4EB4Full * (i + 2)));
  return uint64_t(m) ^ uint64_t(m >> 64);
}
[[gnu::always_inline]] inline uint32_t finishHash(uint64_t h) {
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 29;
  return uint32_t(h >> 32);
}
inline uint64_t loadWord(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
}  // namespace

// The default schema's key: FlowRecord's consolidated block, read in place, then one word with
// the interval's start and Dst1stAS, one with Dst2ndAS and Dst3rdAS, built in registers. The
// record is hashed and compared where it is, with sizes known here: no copy into a scratch key
// (whose 4-byte writes then read as 8-byte words stalled store forwarding), no loops over a
// run-time word count. A key is only copied when it starts a group.
template <bool kExtras>
[[gnu::always_inline]] inline void Consolidator::addBlock(const FlowRecord& f, uint32_t bucket) {
  constexpr size_t kBlockWords = (kConsolidatedEnd - kConsolidatedBegin) / 8;
  static_assert(kBlockWords % 2 == 0 && kBlockWords + 2 == kBlockKeyWords);
  const char* src = reinterpret_cast<const char*>(&f) + kConsolidatedBegin;
  uint32_t as[3] = {0, 0, 0};
  if (path_ && !f.dst_as_path.empty()) compactPath(f, as);
  const uint64_t e0 = bucket | uint64_t(as[0]) << 32, e1 = as[1] | uint64_t(as[2]) << 32;
  // Custom dictionary columns, packed after the block's words (only with custom dictionaries).
  uint64_t ex[kMaxExtraWords + 1] = {};
  const size_t stride = kExtras ? kBlockKeyWords + extra_words_ : kBlockKeyWords;
  // Flows come in runs of one group (a datagram's flows, between two reception seconds): the
  // last group is compared first, without hashing.
  // (Not with custom dictionaries, whose extra words are not packed yet.) Where runs are rare
  // (the synthetic benchmarks: 160 groups, no two flows of one group in a row), the compare
  // cost 3-8 %: it is skipped for 16384 flows when it hit less than half of 1024 tries.
  if (!kExtras && last_group_ != UINT32_MAX && memo_off_ == 0) {
    const uint64_t* k = keys_.data() + size_t(last_group_) * stride;
    uint64_t diff = (k[kBlockWords] ^ e0) | (k[kBlockWords + 1] ^ e1);
#pragma GCC unroll 16
    for (size_t i = 0; i < kBlockWords; i++) diff |= k[i] ^ loadWord(src + i * 8);
    const bool hit = diff == 0;
    memo_hits_ += hit;
    if (++memo_tries_ == 1024) [[unlikely]] {
      if (memo_hits_ < 512) memo_off_ = 16384;
      memo_tries_ = memo_hits_ = 0;
    }
    if (hit) {
      sums_[last_group_].bytes += f.bytes;
      sums_[last_group_].packets += f.packets;
      return;
    }
  } else if (memo_off_) {
    memo_off_--;
  }
  uint64_t h = stride;
  if constexpr (kExtras) {
    char* e = reinterpret_cast<char*>(ex);
    const char* rec = reinterpret_cast<const char*>(&f);
    for (const Field& fd : extras_) std::memcpy(e + fd.key_pos - kBlockKeyWords * 8, rec + fd.offset, fd.width);
    for (size_t i = 0; i < extra_words_; i += 2) h += mixPair(ex[i], ex[i + 1], kBlockKeyWords + i);
  }
#pragma GCC unroll 16
  for (size_t i = 0; i < kBlockWords; i += 2) h += mixPair(loadWord(src + i * 8), loadWord(src + i * 8 + 8), i);
  h += mixPair(e0, e1, kBlockWords);
  const uint32_t h32 = finishHash(h);
  const size_t mask = table_.size() - 1;
  size_t slot = h32 & mask;
  while (uint32_t e = table_[slot]) {
    const uint32_t g = e - 1;
    if (hashes_[g] == h32) {
      const uint64_t* k = keys_.data() + size_t(g) * stride;
      uint64_t diff = (k[kBlockWords] ^ e0) | (k[kBlockWords + 1] ^ e1);
      if constexpr (kExtras)
        for (size_t i = 0; i < extra_words_; i++) diff |= k[kBlockKeyWords + i] ^ ex[i];
#pragma GCC unroll 16
      for (size_t i = 0; i < kBlockWords; i++) diff |= k[i] ^ loadWord(src + i * 8);
      if (diff == 0) {
        sums_[g].bytes += f.bytes;
        sums_[g].packets += f.packets;
        last_group_ = g;
        return;
      }
    }
    slot = (slot + 1) & mask;
  }
  const uint32_t g = uint32_t(sums_.size());
  const size_t at = keys_.size();
  keys_.resize(at + stride);
  std::memcpy(keys_.data() + at, src, kBlockWords * 8);
  keys_[at + kBlockWords] = e0;
  keys_[at + kBlockWords + 1] = e1;
  if constexpr (kExtras) std::memcpy(keys_.data() + at + kBlockKeyWords, ex, extra_words_ * 8);
  sums_.push_back({f.bytes, f.packets});
  hashes_.push_back(h32);
  table_[slot] = g + 1;
  last_group_ = g;
  if (sums_.size() * 2 > table_.size()) grow();
}

// arrayCompact(DstASPath)[1..3]: the path without consecutive repeats (prepending).
void Consolidator::compactPath(const FlowRecord& f, uint32_t (&as)[3]) {
  unsigned n = 0;
  for (uint32_t a : f.dst_as_path) {
    if (n && as[n - 1] == a) continue;
    if (n == 3) break;
    as[n++] = a;
  }
}

void Consolidator::add(const FlowRecord& f) {
  // Flows come in runs with one reception time (a datagram): divide once per run.
  if (f.time_received != last_time_) [[unlikely]] {
    last_time_ = f.time_received;
    last_bucket_ = f.time_received / interval_ * interval_;
  }
  const uint32_t bucket = last_bucket_;
  if (block_) {
    if (extras_.empty()) [[likely]]
      addBlock<false>(f, bucket);
    else
      addBlock<true>(f, bucket);
    return;
  }
  char* k = reinterpret_cast<char*>(scratch_.data());
  const char* src = reinterpret_cast<const char*>(&f);
  {
    size_t pos = 4;
    const Field* fd = fields_.data();
    auto copies = [&]<size_t W>(size_t n) {
      for (size_t i = 0; i < n; i++, fd++, pos += W) std::memcpy(k + pos, src + fd->offset, W);
    };
    copies.template operator()<16>(width_count_[0]);
    copies.template operator()<8>(width_count_[1]);
    copies.template operator()<4>(width_count_[2]);
    copies.template operator()<2>(width_count_[3]);
    copies.template operator()<1>(width_count_[4]);
  }
  std::memcpy(k + time_pos_, &bucket, 4);
  if (path_) {
    uint32_t as[3] = {0, 0, 0};
    compactPath(f, as);
    std::memcpy(k + path_pos_, as, 12);
  }
  const size_t words = key_size_ / 8;
  uint64_t h = words;
  size_t i = 0;
  for (; i + 2 <= words; i += 2) h += mixPair(scratch_[i], scratch_[i + 1], i);
  if (i < words) h += scratch_[i] * 0xff51afd7ed558ccdull;
  uint32_t h32 = finishHash(h);
  size_t mask = table_.size() - 1;
  size_t slot = h32 & mask;
  while (uint32_t e = table_[slot]) {
    uint32_t g = e - 1;
    if (hashes_[g] == h32 && sameKey(keys_.data() + g * words, words)) {
      sums_[g].bytes += f.bytes;
      sums_[g].packets += f.packets;
      return;
    }
    slot = (slot + 1) & mask;
  }
  uint32_t g = uint32_t(sums_.size());
  keys_.insert(keys_.end(), scratch_.begin(), scratch_.end());
  sums_.push_back({f.bytes, f.packets});
  hashes_.push_back(h32);
  table_[slot] = g + 1;
  if (sums_.size() * 2 > table_.size()) grow();
}

bool Consolidator::sameKey(const uint64_t* a, size_t words) const {
  const uint64_t* b = scratch_.data();
  uint64_t diff = 0;
  for (size_t i = 0; i < words; i++) diff |= a[i] ^ b[i];  // no early exit: vectorized
  return diff == 0;
}

void Consolidator::grow() {
  std::vector<uint32_t> t(table_.size() * 2, 0);
  size_t mask = t.size() - 1;
  for (uint32_t g = 0; g < hashes_.size(); g++) {
    size_t slot = hashes_[g] & mask;
    while (t[slot]) slot = (slot + 1) & mask;
    t[slot] = g + 1;
  }
  table_.swap(t);
}

void Consolidator::writeTo(NativeBatch& out) const {
  FlowRecord row;
  char* dst = reinterpret_cast<char*>(&row);
  const size_t words = key_size_ / 8;
  for (size_t g = 0; g < sums_.size(); g++) {
    const char* k = reinterpret_cast<const char*>(keys_.data() + g * words);
    std::memcpy(&row.time_received, k + time_pos_, 4);
    for (const Field& fd : fields_) std::memcpy(dst + fd.offset, k + fd.key_pos, fd.width);
    if (path_) {
      std::memcpy(&row.dst_1st_as, k + path_pos_, 4);
      std::memcpy(&row.dst_2nd_as, k + path_pos_ + 4, 4);
      std::memcpy(&row.dst_3rd_as, k + path_pos_ + 8, 4);
    }
    row.bytes = sums_[g].bytes;
    row.packets = sums_[g].packets;
    out.append(row);
  }
}

void Consolidator::clear() {
  last_group_ = UINT32_MAX;
  keys_.clear();
  sums_.clear();
  hashes_.clear();
  std::fill(table_.begin(), table_.end(), 0);
}

void NativeBatch::consolidate(const std::vector<ColumnKey>& columns, uint32_t interval_seconds,
                              const Schema* schema) {
  consolidator_ = std::make_unique<Consolidator>(columns, interval_seconds, schema);
  consolidated_ = std::make_unique<NativeBatch>(columns, kChunkRows, schema);
  consolidated_done_ = false;
}

const std::string& NativeBatch::encodeConsolidated() {
  static const std::string kNone;
  if (!consolidator_) return kNone;
  if (!consolidated_done_) {
    consolidated_->clear();
    consolidator_->writeTo(*consolidated_);
    consolidated_done_ = true;
  }
  return consolidated_->encode();
}

const std::string& NativeBatch::consolidatedColumnList() const {
  static const std::string kNone;
  return consolidated_ ? consolidated_->columnList() : kNone;
}

void NativeBatch::clear() {
  skipped_rows_ = 0;
  if (consolidator_) {
    consolidator_->clear();
    consolidated_->clear();
    consolidated_done_ = false;
  }
  resetChunk();
  sealed_.clear();
  sealed_rows_ = blocks_ = 0;
  finished_ = false;
  min_time_ = UINT32_MAX;
  max_time_ = 0;
}

}  // namespace akvo
