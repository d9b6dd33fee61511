#pragma once
/// The flow record: one decoded, enriched flow. Decoders fill it, enrichment completes it, the
/// batch encoder appends it to a columnar batch. It is reused: workers own one and reset it per
/// flow, so it holds no heap memory. Enrichment strings are interned (`IStr`): they never dangle, and
/// the batch maps them to dictionary indexes by id.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <emmintrin.h>
#include <type_traits>
#include <string_view>

#include "common/intern.h"
#include "common/ip.h"

namespace akvo {

/// A fixed-capacity array stored inline (no allocation). push() drops values past capacity and
/// reports it.
template <class T, unsigned N>
struct InlineVec {
  T v[N];
  uint16_t n = 0;
  bool push(T x) {
    if (n >= N) return false;
    v[n++] = x;
    return true;
  }
  void clear() { n = 0; }
  const T* begin() const { return v; }
  const T* end() const { return v + n; }
  unsigned size() const { return n; }
  bool empty() const { return n == 0; }
  const T& operator[](unsigned i) const { return v[i]; }
};

/// BGP large community (RFC 8092). Stored as UInt128 = asn << 64 | local1 << 32 | local2.
struct LargeCommunity {
  uint32_t asn = 0, local1 = 0, local2 = 0;
};

/// Custom dictionary columns a flow carries (schema.custom-dictionaries; the schema has as many
/// slots).
inline constexpr unsigned kFlowCustomStrings = 8, kFlowCustomUInts = 4;

enum class Boundary : uint8_t { kUndefined = 0, kExternal = 1, kInternal = 2 };
enum class FlowDirection : uint8_t { kUndefined = 0, kIngress = 1, kEgress = 2 };

struct FlowRecord {
  // The columns of the consolidated tables (the default schema's, but the time, the counters
  // and Dst1st..3rdAS), side by side, widest first and with no padding: the outlet groups
  // flows by these bytes as one block (Consolidator), and reset() zeroes the pad.
  IPv6Addr exporter_address;
  uint64_t sampling_rate = 0;  ///< 0 means unknown (a default may apply in the outlet).
  IStr exporter_name, exporter_group, exporter_role, exporter_site, exporter_region,
      exporter_tenant;
  // Each side's network attributes in NetworkAttributes' order, and each interface's strings
  // in the enricher's slot order: the enricher copies each group as one block.
  IStr src_net_name, src_net_role, src_net_site, src_net_region, src_net_tenant;
  IStr dst_net_name, dst_net_role, dst_net_site, dst_net_region, dst_net_tenant;
  IStr src_geo_city, src_geo_state, dst_geo_city, dst_geo_state;
  // Interfaces: names and classes from metadata and classifiers.
  IStr in_if_name, in_if_description, in_if_provider, in_if_connectivity;
  IStr out_if_name, out_if_description, out_if_provider, out_if_connectivity;
  uint32_t src_as = 0, dst_as = 0;
  uint32_t in_if_speed = 0, out_if_speed = 0;  ///< Mbps.
  uint32_t etype = 0;  ///< 0x800 IPv4, 0x86dd IPv6, 0 unknown.
  uint32_t proto = 0;
  uint32_t forwarding_status = 0;
  char src_country[2] = {0, 0}, dst_country[2] = {0, 0};
  Boundary in_if_boundary = Boundary::kUndefined, out_if_boundary = Boundary::kUndefined;
  FlowDirection flow_direction = FlowDirection::kUndefined;
  uint8_t consolidated_pad_[5] = {};  ///< always zero: the block is a whole number of words
  // (end of the consolidated block)

  uint32_t time_received = 0;  ///< Unix seconds.

  // L3 addresses and routing.
  IPv6Addr src_addr, dst_addr;
  uint8_t src_net_mask = 0, dst_net_mask = 0;
  IPv6Addr next_hop;

  // Interface indexes, from the flow.
  uint32_t in_if = 0, out_if = 0;

  // L2 to L4.
  uint16_t src_port = 0, dst_port = 0;
  uint64_t bytes = 0, packets = 0;  ///< As counted by the exporter (not multiplied by sampling).
  uint16_t src_vlan = 0, dst_vlan = 0;
  uint64_t src_mac = 0, dst_mac = 0;
  IPv6Addr src_addr_nat, dst_addr_nat;
  uint16_t src_port_nat = 0, dst_port_nat = 0;
  uint8_t ip_ttl = 0, ip_tos = 0;
  uint32_t ip_fragment_id = 0;
  uint16_t ip_fragment_offset = 0;
  uint32_t ipv6_flow_label = 0;
  uint16_t tcp_flags = 0;
  uint8_t icmpv4_type = 0, icmpv4_code = 0, icmpv6_type = 0, icmpv6_code = 0;
  uint32_t ingress_vrf_id = 0, egress_vrf_id = 0;

  // Decoder facts that are not columns.
  uint32_t sampler_id = 0;          ///< NetFlow v9/IPFIX sampler or selector id, 0 if none.
  uint32_t first_switched = 0;      ///< Unix seconds, 0 if unknown.
  uint32_t export_time = 0;         ///< Export header time, unix seconds.
  uint32_t observation_domain = 0;  ///< IPFIX observation domain / v9 source id / sFlow sub-agent.
  /// Dst1stAS, Dst2ndAS, Dst3rdAS: only in the consolidated rows the outlet builds (the raw
  /// table computes them from DstASPath).
  uint32_t dst_1st_as = 0, dst_2nd_as = 0, dst_3rd_as = 0;

  // Arrays last: reset() empties them without clearing their storage.
  InlineVec<uint32_t, 32> dst_as_path;
  InlineVec<uint32_t, 32> src_communities, dst_communities;
  InlineVec<LargeCommunity, 16> src_large_communities, dst_large_communities;
  InlineVec<uint32_t, 10> mpls_labels;

  // Custom dictionary columns, after the arrays: reset() does not touch them (the default
  // schema never reads them), and when dictionaries are configured the enricher writes every
  // configured slot of every flow (a match or the attribute's default). UInt slots hold the
  // value in their low bytes (little-endian: a UInt8 column copies the first byte).
  IStr custom_strings[kFlowCustomStrings];
  uint64_t custom_uints[kFlowCustomUInts] = {};

  /// Back to the defaults, which are all zero bytes (views, addresses, enums, counters), up to
  /// the arrays, which are only emptied: a record is reset per flow, and the arrays are most
  /// of its size.
  void reset();
};

/// The consolidated block of FlowRecord: its first and last byte, and its size (a multiple of 8).
inline constexpr size_t kConsolidatedBegin = offsetof(FlowRecord, exporter_address);
inline constexpr size_t kConsolidatedEnd =
    offsetof(FlowRecord, consolidated_pad_) + sizeof(FlowRecord::consolidated_pad_);
static_assert(kConsolidatedBegin == 0 && kConsolidatedEnd == 176, "the block has no padding");
static_assert(offsetof(FlowRecord, flow_direction) + 1 == offsetof(FlowRecord, consolidated_pad_));

inline void FlowRecord::reset() {
  static_assert(std::is_standard_layout_v<FlowRecord>);
  // 16-byte stores, unrolled: for these ~700 bytes, a memset became `rep stos`, whose start-up
  // cost showed as 7 % of decoding.
  constexpr size_t kBytes = offsetof(FlowRecord, dst_as_path);
  char* p = reinterpret_cast<char*>(this);
  const __m128i zero = _mm_setzero_si128();
#pragma GCC unroll 64
  for (size_t i = 0; i + 16 <= kBytes; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(p + i), zero);
  if constexpr (kBytes % 16) std::memset(p + kBytes - kBytes % 16, 0, kBytes % 16);
  dst_as_path.clear();
  src_communities.clear();
  dst_communities.clear();
  src_large_communities.clear();
  dst_large_communities.clear();
  mpls_labels.clear();
}

}  // namespace akvo
