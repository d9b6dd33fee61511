#include "common/schema.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <stdexcept>

#include "common/csv.h"

namespace akvo {
namespace {

/// A mistake in one custom dictionary, with the key of its section it is about.
struct CustomDictError : std::invalid_argument {
  /// `full`: the message with its path (what()), `bare`: without (for ConfigReader::fail()).
  CustomDictError(std::string k, const std::string& full, std::string bare)
      : std::invalid_argument(full), key(std::move(k)), message(std::move(bare)) {}
  std::string key, message;
};

const std::vector<std::string> kCustomKeyTypes = {"String", "UInt8",  "UInt16",
                                                  "UInt32", "UInt64", "IPv6"};
const std::vector<std::string> kCustomAttributeTypes = {"String", "UInt8", "UInt16", "UInt32",
                                                        "UInt64"};

/// The type among `choices`, whatever its case, or "".
std::string normalizeType(std::string_view t, const std::vector<std::string>& choices) {
  for (const auto& c : choices)
    if (c.size() == t.size() && strncasecmp(c.data(), t.data(), t.size()) == 0) return c;
  return "";
}

bool alphanumeric(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!isalnum(uint8_t(c))) return false;
  return true;
}

/// The twin of a column name for bidirectional graphs: Src <-> Dst, In <-> Out.
std::string reverseName(std::string_view n) {
  if (n.starts_with("Src")) return "Dst" + std::string(n.substr(3));
  if (n.starts_with("Dst")) return "Src" + std::string(n.substr(3));
  if (n.starts_with("In")) return "Out" + std::string(n.substr(2));
  if (n.starts_with("Out")) return "In" + std::string(n.substr(3));
  return "";
}

uint64_t maxOfType(std::string_view type) {
  if (type == "UInt8") return 0xff;
  if (type == "UInt16") return 0xffff;
  if (type == "UInt32") return 0xffffffffull;
  return ~0ull;
}

using K = ColumnKey;
using F = FilterType;

struct Builder {
  ColumnDef d;
  Builder(K k, std::string_view name, std::string_view type, F f) {
    d.key = k;
    d.name = name;
    d.type = type;
    d.filter = f;
  }
  Builder& codec(std::string_view c) { d.codec = c; return *this; }
  Builder& alias(std::string_view e) { d.alias = true; d.expression = e; return *this; }
  Builder& generated(std::string_view e) { d.generated = true; d.expression = e; return *this; }
  Builder& off(std::string_view group = {}) { d.enabled_by_default = false; d.group = group; return *this; }
  Builder& fixed() { d.disableable = false; return *this; }
  Builder& mainOnly() { d.main_only = true; return *this; }
  Builder& noDim() { d.dimension = false; return *this; }
  Builder& trunc() { d.truncatable = true; return *this; }
  Builder& notSortKey() { d.not_sorting_key = true; return *this; }
  Builder& pk() { d.consolidated_pk = true; return *this; }
  Builder& rev(K r) { d.reverse = r; return *this; }
};

std::array<ColumnDef, size_t(K::kCount)> buildRegistry() {
  constexpr std::string_view kLCS = "LowCardinality(String)";
  std::vector<Builder> b;
  b.push_back(Builder(K::kTimeReceived, "TimeReceived", "DateTime", F::kNone).codec("DoubleDelta, LZ4").fixed().noDim().pk());
  b.push_back(Builder(K::kSamplingRate, "SamplingRate", "UInt64", F::kNone).fixed().noDim().pk());
  b.push_back(Builder(K::kExporterAddress, "ExporterAddress", "LowCardinality(IPv6)", F::kIP).pk());
  b.push_back(Builder(K::kExporterName, "ExporterName", kLCS, F::kString).notSortKey());
  b.push_back(Builder(K::kExporterGroup, "ExporterGroup", kLCS, F::kString).notSortKey());
  b.push_back(Builder(K::kExporterRole, "ExporterRole", kLCS, F::kString).notSortKey());
  b.push_back(Builder(K::kExporterSite, "ExporterSite", kLCS, F::kString).notSortKey());
  b.push_back(Builder(K::kExporterRegion, "ExporterRegion", kLCS, F::kString).notSortKey());
  b.push_back(Builder(K::kExporterTenant, "ExporterTenant", kLCS, F::kString).notSortKey());
  b.push_back(Builder(K::kSrcAddr, "SrcAddr", "IPv6", F::kIP).codec("ZSTD(1)").mainOnly().trunc().rev(K::kDstAddr));
  b.push_back(Builder(K::kDstAddr, "DstAddr", "IPv6", F::kIP).codec("ZSTD(1)").mainOnly().trunc().rev(K::kSrcAddr));
  b.push_back(Builder(K::kSrcNetMask, "SrcNetMask", "UInt8", F::kNone).mainOnly().noDim().rev(K::kDstNetMask));
  b.push_back(Builder(K::kDstNetMask, "DstNetMask", "UInt8", F::kNone).mainOnly().noDim().rev(K::kSrcNetMask));
  b.push_back(Builder(K::kSrcNetPrefix, "SrcNetPrefix", "String", F::kPrefix).mainOnly().rev(K::kDstNetPrefix)
      .alias("CASE WHEN EType = 0x800 THEN concat(replaceRegexpOne(IPv6CIDRToRange(SrcAddr, (96 + SrcNetMask)::UInt8).1::String, '^::ffff:', ''), '/', SrcNetMask::String) "
             "WHEN EType = 0x86dd THEN concat(IPv6CIDRToRange(SrcAddr, SrcNetMask).1::String, '/', SrcNetMask::String) ELSE '' END"));
  b.push_back(Builder(K::kDstNetPrefix, "DstNetPrefix", "String", F::kPrefix).mainOnly().rev(K::kSrcNetPrefix)
      .alias("CASE WHEN EType = 0x800 THEN concat(replaceRegexpOne(IPv6CIDRToRange(DstAddr, (96 + DstNetMask)::UInt8).1::String, '^::ffff:', ''), '/', DstNetMask::String) "
             "WHEN EType = 0x86dd THEN concat(IPv6CIDRToRange(DstAddr, DstNetMask).1::String, '/', DstNetMask::String) ELSE '' END"));
  b.push_back(Builder(K::kSrcAS, "SrcAS", "UInt32", F::kASN).pk().rev(K::kDstAS));
  b.push_back(Builder(K::kDstAS, "DstAS", "UInt32", F::kASN).pk().rev(K::kSrcAS));
  b.push_back(Builder(K::kSrcNetName, "SrcNetName", kLCS, F::kString).rev(K::kDstNetName));
  b.push_back(Builder(K::kDstNetName, "DstNetName", kLCS, F::kString).rev(K::kSrcNetName));
  b.push_back(Builder(K::kSrcNetRole, "SrcNetRole", kLCS, F::kString).rev(K::kDstNetRole));
  b.push_back(Builder(K::kDstNetRole, "DstNetRole", kLCS, F::kString).rev(K::kSrcNetRole));
  b.push_back(Builder(K::kSrcNetSite, "SrcNetSite", kLCS, F::kString).rev(K::kDstNetSite));
  b.push_back(Builder(K::kDstNetSite, "DstNetSite", kLCS, F::kString).rev(K::kSrcNetSite));
  b.push_back(Builder(K::kSrcNetRegion, "SrcNetRegion", kLCS, F::kString).rev(K::kDstNetRegion));
  b.push_back(Builder(K::kDstNetRegion, "DstNetRegion", kLCS, F::kString).rev(K::kSrcNetRegion));
  b.push_back(Builder(K::kSrcNetTenant, "SrcNetTenant", kLCS, F::kString).rev(K::kDstNetTenant));
  b.push_back(Builder(K::kDstNetTenant, "DstNetTenant", kLCS, F::kString).rev(K::kSrcNetTenant));
  b.push_back(Builder(K::kSrcVlan, "SrcVlan", "UInt16", F::kUInt).off("L2").rev(K::kDstVlan));
  b.push_back(Builder(K::kDstVlan, "DstVlan", "UInt16", F::kUInt).off("L2").rev(K::kSrcVlan));
  b.push_back(Builder(K::kSrcCountry, "SrcCountry", "FixedString(2)", F::kString).rev(K::kDstCountry));
  b.push_back(Builder(K::kDstCountry, "DstCountry", "FixedString(2)", F::kString).rev(K::kSrcCountry));
  b.push_back(Builder(K::kSrcGeoCity, "SrcGeoCity", kLCS, F::kString).rev(K::kDstGeoCity));
  b.push_back(Builder(K::kDstGeoCity, "DstGeoCity", kLCS, F::kString).rev(K::kSrcGeoCity));
  b.push_back(Builder(K::kSrcGeoState, "SrcGeoState", kLCS, F::kString).rev(K::kDstGeoState));
  b.push_back(Builder(K::kDstGeoState, "DstGeoState", kLCS, F::kString).rev(K::kSrcGeoState));
  b.push_back(Builder(K::kDstASPath, "DstASPath", "Array(UInt32)", F::kASPath).mainOnly());
  b.push_back(Builder(K::kDst1stAS, "Dst1stAS", "UInt32", F::kASN).generated("arrayCompact(DstASPath)[1]"));
  b.push_back(Builder(K::kDst2ndAS, "Dst2ndAS", "UInt32", F::kASN).generated("arrayCompact(DstASPath)[2]"));
  b.push_back(Builder(K::kDst3rdAS, "Dst3rdAS", "UInt32", F::kASN).generated("arrayCompact(DstASPath)[3]"));
  b.push_back(Builder(K::kSrcCommunities, "SrcCommunities", "Array(UInt32)", F::kCommunity).off().mainOnly().rev(K::kDstCommunities));
  b.push_back(Builder(K::kDstCommunities, "DstCommunities", "Array(UInt32)", F::kCommunity).mainOnly().rev(K::kSrcCommunities));
  b.push_back(Builder(K::kSrcLargeCommunities, "SrcLargeCommunities", "Array(UInt128)", F::kNone).off().mainOnly().noDim().rev(K::kDstLargeCommunities));
  b.push_back(Builder(K::kDstLargeCommunities, "DstLargeCommunities", "Array(UInt128)", F::kNone).mainOnly().noDim().rev(K::kSrcLargeCommunities));
  b.push_back(Builder(K::kInIfName, "InIfName", kLCS, F::kString).pk().rev(K::kOutIfName));
  b.push_back(Builder(K::kOutIfName, "OutIfName", kLCS, F::kString).pk().rev(K::kInIfName));
  b.push_back(Builder(K::kInIfDescription, "InIfDescription", kLCS, F::kString).notSortKey().rev(K::kOutIfDescription));
  b.push_back(Builder(K::kOutIfDescription, "OutIfDescription", kLCS, F::kString).notSortKey().rev(K::kInIfDescription));
  b.push_back(Builder(K::kInIfSpeed, "InIfSpeed", "UInt32", F::kUInt).notSortKey().rev(K::kOutIfSpeed));
  b.push_back(Builder(K::kOutIfSpeed, "OutIfSpeed", "UInt32", F::kUInt).notSortKey().rev(K::kInIfSpeed));
  b.push_back(Builder(K::kInIfConnectivity, "InIfConnectivity", kLCS, F::kString).notSortKey().rev(K::kOutIfConnectivity));
  b.push_back(Builder(K::kOutIfConnectivity, "OutIfConnectivity", kLCS, F::kString).notSortKey().rev(K::kInIfConnectivity));
  b.push_back(Builder(K::kInIfProvider, "InIfProvider", kLCS, F::kString).notSortKey().rev(K::kOutIfProvider));
  b.push_back(Builder(K::kOutIfProvider, "OutIfProvider", kLCS, F::kString).notSortKey().rev(K::kInIfProvider));
  b.push_back(Builder(K::kInIfBoundary, "InIfBoundary", "Enum8('undefined' = 0, 'external' = 1, 'internal' = 2)", F::kBoundary).notSortKey().rev(K::kOutIfBoundary));
  b.push_back(Builder(K::kOutIfBoundary, "OutIfBoundary", "Enum8('undefined' = 0, 'external' = 1, 'internal' = 2)", F::kBoundary).notSortKey().rev(K::kInIfBoundary));
  b.push_back(Builder(K::kEType, "EType", "UInt32", F::kEType).pk());
  b.push_back(Builder(K::kProto, "Proto", "UInt32", F::kProto).pk());
  b.push_back(Builder(K::kSrcPort, "SrcPort", "UInt16", F::kUInt).mainOnly().rev(K::kDstPort));
  b.push_back(Builder(K::kDstPort, "DstPort", "UInt16", F::kUInt).mainOnly().rev(K::kSrcPort));
  b.push_back(Builder(K::kBytes, "Bytes", "UInt64", F::kNone).codec("T64, ZSTD(1)").fixed().noDim().notSortKey());
  b.push_back(Builder(K::kPackets, "Packets", "UInt64", F::kNone).codec("T64, ZSTD(1)").fixed().noDim().notSortKey());
  b.push_back(Builder(K::kPacketSize, "PacketSize", "UInt64", F::kUInt).alias("intDiv(Bytes, Packets)"));
  b.push_back(Builder(K::kPacketSizeBucket, "PacketSizeBucket", kLCS, F::kNone).alias(
      "multiIf(PacketSize < 64, '0-63', PacketSize < 128, '64-127', PacketSize < 256, '128-255', "
      "PacketSize < 512, '256-511', PacketSize < 768, '512-767', PacketSize < 1024, '768-1023', "
      "PacketSize < 1280, '1024-1279', PacketSize < 1501, '1280-1500', PacketSize < 2048, '1501-2047', "
      "PacketSize < 3072, '2048-3071', PacketSize < 4096, '3072-4095', PacketSize < 8192, '4096-8191', "
      "PacketSize < 10240, '8192-10239', PacketSize < 16384, '10240-16383', PacketSize < 32768, '16384-32767', "
      "PacketSize < 65536, '32768-65535', '65536-Inf')"));
  b.push_back(Builder(K::kForwardingStatus, "ForwardingStatus", "UInt32", F::kUInt).pk());
  b.push_back(Builder(K::kFlowDirection, "FlowDirection", "Enum8('undefined' = 0, 'ingress' = 1, 'egress' = 2)", F::kDirection));
  b.push_back(Builder(K::kSrcAddrNAT, "SrcAddrNAT", "IPv6", F::kIP).off("NAT").mainOnly().trunc().rev(K::kDstAddrNAT));
  b.push_back(Builder(K::kDstAddrNAT, "DstAddrNAT", "IPv6", F::kIP).off("NAT").mainOnly().trunc().rev(K::kSrcAddrNAT));
  b.push_back(Builder(K::kSrcPortNAT, "SrcPortNAT", "UInt16", F::kUInt).off("NAT").mainOnly().rev(K::kDstPortNAT));
  b.push_back(Builder(K::kDstPortNAT, "DstPortNAT", "UInt16", F::kUInt).off("NAT").mainOnly().rev(K::kSrcPortNAT));
  b.push_back(Builder(K::kSrcMAC, "SrcMAC", "UInt64", F::kMAC).off("L2").rev(K::kDstMAC));
  b.push_back(Builder(K::kDstMAC, "DstMAC", "UInt64", F::kMAC).off("L2").rev(K::kSrcMAC));
  b.push_back(Builder(K::kIPTTL, "IPTTL", "UInt8", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kIPTos, "IPTos", "UInt8", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kIPFragmentID, "IPFragmentID", "UInt32", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kIPFragmentOffset, "IPFragmentOffset", "UInt16", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kIPv6FlowLabel, "IPv6FlowLabel", "UInt32", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kTCPFlags, "TCPFlags", "UInt16", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kICMPv4Type, "ICMPv4Type", "UInt8", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kICMPv4Code, "ICMPv4Code", "UInt8", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kICMPv6Type, "ICMPv6Type", "UInt8", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kICMPv6Code, "ICMPv6Code", "UInt8", F::kUInt).off("L3L4"));
  b.push_back(Builder(K::kICMPv4, "ICMPv4", kLCS, F::kString).off("L3L4").alias(
      "if(Proto = 1, dictGetOrDefault('icmp', 'name', tuple(1, ICMPv4Type, ICMPv4Code), concat(toString(ICMPv4Type), '/', toString(ICMPv4Code))), '')"));
  b.push_back(Builder(K::kICMPv6, "ICMPv6", kLCS, F::kString).off("L3L4").alias(
      "if(Proto = 58, dictGetOrDefault('icmp', 'name', tuple(58, ICMPv6Type, ICMPv6Code), concat(toString(ICMPv6Type), '/', toString(ICMPv6Code))), '')"));
  b.push_back(Builder(K::kNextHop, "NextHop", "LowCardinality(IPv6)", F::kIP).codec("ZSTD(1)").off());
  b.push_back(Builder(K::kMPLSLabels, "MPLSLabels", "Array(UInt32)", F::kArrayUInt).off("MPLS").mainOnly());
  b.push_back(Builder(K::kMPLS1stLabel, "MPLS1stLabel", "UInt32", F::kUInt).off("MPLS").mainOnly().alias("MPLSLabels[1]"));
  b.push_back(Builder(K::kMPLS2ndLabel, "MPLS2ndLabel", "UInt32", F::kUInt).off("MPLS").mainOnly().alias("MPLSLabels[2]"));
  b.push_back(Builder(K::kMPLS3rdLabel, "MPLS3rdLabel", "UInt32", F::kUInt).off("MPLS").mainOnly().alias("MPLSLabels[3]"));
  b.push_back(Builder(K::kMPLS4thLabel, "MPLS4thLabel", "UInt32", F::kUInt).off("MPLS").mainOnly().alias("MPLSLabels[4]"));
  b.push_back(Builder(K::kIngressVRFID, "IngressVRFID", "UInt32", F::kUInt).off("VRF").rev(K::kEgressVRFID));
  b.push_back(Builder(K::kEgressVRFID, "EgressVRFID", "UInt32", F::kUInt).off("VRF").rev(K::kIngressVRFID));

  // Custom dictionary slots: named by the configuration (Schema), disabled here.
  for (size_t i = 0; i < kCustomStringSlots; i++)
    b.push_back(Builder(K(size_t(K::kCustomString0) + i), "", kLCS, F::kString).off());
  for (size_t i = 0; i < kCustomUIntSlots; i++)
    b.push_back(Builder(K(size_t(K::kCustomUInt0) + i), "", "UInt64", F::kUInt).off());

  std::array<ColumnDef, size_t(K::kCount)> out{};
  if (b.size() != size_t(K::kCount)) throw std::logic_error("schema registry: missing columns");
  for (size_t i = 0; i < b.size(); i++) {
    if (size_t(b[i].d.key) != i)
      throw std::logic_error(fmt::format("schema registry: {} out of order", b[i].d.name));
    out[i] = b[i].d;
  }
  return out;
}

const std::array<ColumnDef, size_t(K::kCount)>& registry() {
  static const auto r = buildRegistry();
  return r;
}

}  // namespace

std::span<const ColumnDef> allColumns() { return registry(); }
const ColumnDef& columnDef(ColumnKey key) { return registry()[size_t(key)]; }

const ColumnDef* findColumn(std::string_view name) {
  if (name.empty()) return nullptr;  // the unnamed custom slots
  for (const auto& c : registry())
    if (c.name.size() == name.size() && strncasecmp(c.name.data(), name.data(), name.size()) == 0)
      return &c;
  return nullptr;
}

std::string titleCase(std::string_view name) {
  std::string out(name);
  for (size_t i = 0; i < out.size(); i++)
    out[i] = char(i == 0 ? toupper(uint8_t(out[i])) : tolower(uint8_t(out[i])));
  return out;
}

std::string_view customKeyKind(const ColumnDef& c) {
  if (c.alias || c.generated || c.name.empty()) return {};
  if (c.type == "IPv6" || c.type == "LowCardinality(IPv6)") return "ip";
  if (c.type == "LowCardinality(String)") return "string";
  if (c.type == "FixedString(2)") return "bytes";
  if (c.type == "UInt8" || c.type == "UInt16" || c.type == "UInt32" || c.type == "UInt64")
    return "uint";
  return {};
}

std::string SkipIndex::name() const {
  std::string out = "idx_";
  for (char c : column_name) out += char(tolower(uint8_t(c)));
  return out;
}

std::string skipIndexType(std::string_view value) {
  std::string_view v = value;
  while (!v.empty() && isspace(uint8_t(v.front()))) v.remove_prefix(1);
  while (!v.empty() && isspace(uint8_t(v.back()))) v.remove_suffix(1);
  auto invalid = [&](std::string_view why) {
    return std::invalid_argument(fmt::format(
        "invalid index \"{}\"{}; valid forms: bloom(P) with 0 < P < 1 (e.g. bloom(0.001)), "
        "minmax, set(N) with N >= 0 (0: no limit)",
        value, why));
  };
  // The argument of "name(...)", or nullopt when v is not that call.
  auto argument = [&](std::string_view name) -> std::optional<std::string_view> {
    if (v.size() < name.size() + 2 || v.substr(0, name.size()) != name ||
        v[name.size()] != '(' || v.back() != ')')
      return std::nullopt;
    return v.substr(name.size() + 1, v.size() - name.size() - 2);
  };
  if (v == "minmax") return "minmax";
  if (auto arg = argument("set")) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(arg->data(), arg->data() + arg->size(), n);
    if (arg->empty() || ec != std::errc() || end != arg->data() + arg->size())
      throw invalid(": set(N) takes a whole number");
    return fmt::format("set({})", n);
  }
  if (auto arg = argument("bloom")) {
    double p = 0;
    auto [end, ec] = std::from_chars(arg->data(), arg->data() + arg->size(), p);
    if (arg->empty() || ec != std::errc() || end != arg->data() + arg->size() || !(p > 0 && p < 1))
      throw invalid(": the false-positive probability P must be between 0 and 1, both excluded");
    return fmt::format("bloom_filter({})", p);
  }
  throw invalid("");
}

const std::vector<std::pair<std::string_view, std::string_view>>& defaultSkipIndexes() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kDefaults = {
      {"SrcAddr", "bloom(0.001)"},     {"DstAddr", "bloom(0.001)"},
      {"SrcAS", "bloom(0.001)"},       {"DstAS", "bloom(0.001)"},
      {"SrcPort", "bloom(0.001)"},     {"DstPort", "bloom(0.001)"},
      {"SrcCountry", "bloom(0.001)"},  {"DstCountry", "bloom(0.001)"},
      {"ExporterName", "minmax"},      {"InIfProvider", "set(0)"},
      {"OutIfProvider", "set(0)"},     {"InIfConnectivity", "set(0)"},
      {"OutIfConnectivity", "set(0)"}, {"InIfBoundary", "set(0)"},
      {"OutIfBoundary", "set(0)"},
  };
  return kDefaults;
}

void SchemaConfig::read(ConfigReader& r) {
  r.field("enabled", enabled);
  r.field("disabled", disabled);
  r.field("main-table-only", main_table_only);
  r.field("not-main-table-only", not_main_table_only);
  r.section("custom-dictionaries", [&](ConfigReader& s) {
    for (const auto& name : s.keys()) {
      CustomDictionaryConfig d;
      d.name = name;
      s.section(name, [&](ConfigReader& c) {
        c.field("layout", d.layout);
        c.list("keys", [&](ConfigReader& k, size_t) {
          CustomDictKey key;
          k.field("name", key.name);
          k.field("type", key.type);
          k.field("match-dimension", key.match_dimension);
          k.field("match-dimension-suffix", key.match_dimension_suffix);
          d.keys.push_back(std::move(key));
        });
        c.list("attributes", [&](ConfigReader& a, size_t) {
          CustomDictAttribute attr;
          a.field("name", attr.name);
          a.field("type", attr.type);
          a.field("label", attr.label);
          attr.has_default = a.has("default");
          a.field("default", attr.default_value);
          d.attributes.push_back(std::move(attr));
        });
        c.field("source", d.source);
        c.field("dimensions", d.dimensions);
        // Every mistake at the key it is about: the checks of the Schema, then the CSV header.
        SchemaConfig trial;  // the dictionaries alone (the other keys may name their columns)
        trial.custom_dictionaries = custom_dictionaries;
        trial.custom_dictionaries.push_back(d);
        try {
          Schema check(trial);
          d = check.customDictionaries().back();  // normalized (types, layout)
        } catch (const CustomDictError& e) {
          c.fail(e.key, e.message.empty() ? e.what() : e.message);
        }
        // Only the outlet reads the file: a host without it (a console, an orchestrator, an
        // inlet given the same configuration) is told, and goes on; the outlet's start fails
        // with the file's name when it cannot read it.
        std::error_code ec;
        if (!std::filesystem::is_regular_file(d.source, ec)) {
          spdlog::warn("{}: schema.custom-dictionaries.{}: {} is not here (the outlet needs it)",
                       c.file(), d.name, d.source);
          return;
        }
        std::vector<std::string> header;
        try {
          const std::string text = readTextFile(d.source);  // the parser reads it in place
          CsvParser csv(text);
          if (!csv.next(header)) c.fail("source", fmt::format("{} is empty: its first line names "
                                                             "the keys and attributes", d.source));
        } catch (const std::runtime_error& e) {
          if (dynamic_cast<const ConfigError*>(&e)) throw;
          c.fail("source", fmt::format("{}: {}", d.source, e.what()));
        }
        auto need = [&](const std::string& col, std::string_view what) {
          if (std::find(header.begin(), header.end(), col) == header.end())
            c.fail("source", fmt::format("the header of {} has no column \"{}\" ({}); its columns: {}",
                                         d.source, col, what, fmt::join(header, ", ")));
        };
        for (const auto& k : d.keys) need(k.name, "a key");
        for (const auto& a : d.attributes) need(a.name, "an attribute");
      });
      custom_dictionaries.push_back(std::move(d));
    }
  });
  // The columns the custom dictionaries add, which the keys below may name.
  std::optional<Schema> with_custom;
  if (!custom_dictionaries.empty()) {
    SchemaConfig dicts;
    dicts.custom_dictionaries = custom_dictionaries;
    with_custom.emplace(dicts);  // checked above, dictionary by dictionary
  }
  auto known = [&](const std::string& name) {
    return findColumn(name) || (with_custom && with_custom->find(name));
  };
  const char* kUnknown = "unknown column \"{}\" (`akvo version -d` lists the columns; custom "
                         "dictionaries add theirs)";
  for (const auto* list : {&main_table_only, &not_main_table_only})
    for (const auto& n : *list)
      if (!known(n))
        r.fail(list == &main_table_only ? "main-table-only" : "not-main-table-only",
               fmt::format(fmt::runtime(kUnknown), n));
  r.field("no-indexes", no_indexes);
  for (const auto& n : no_indexes)
    if (!known(n)) r.fail("no-indexes", fmt::format(fmt::runtime(kUnknown), n));
  r.section("indexes", [&](ConfigReader& s) {
    std::vector<ColumnKey> given;
    for (const auto& key : s.keys()) {
      std::string value;
      s.field(key, value);
      if (!known(key)) s.fail(key, "unknown column (`akvo version -d` lists them; custom "
                                   "dictionaries add theirs)");
      try {
        skipIndexType(value);
      } catch (const std::invalid_argument& e) {
        s.fail(key, e.what());
      }
      indexes[key] = value;
      if (const ColumnDef* c = findColumn(key)) given.push_back(c->key);
    }
    // The defaults, so that `config check` shows the indexes in force (an environment override
    // of one of them counts as given).
    for (const auto& [name, type] : defaultSkipIndexes()) {
      ColumnKey k = findColumn(name)->key;
      if (std::find(given.begin(), given.end(), k) != given.end()) continue;
      bool removed = false;
      for (const auto& n : no_indexes) removed = removed || findColumn(n)->key == k;
      if (removed) continue;
      std::string value(type);
      s.field(std::string(name), value);
      if (value == type) continue;
      try {
        skipIndexType(value);
      } catch (const std::invalid_argument& e) {
        s.fail(std::string(name), e.what());
      }
      indexes[std::string(name)] = value;
    }
  });
  try {
    Schema check(*this);
  } catch (const std::invalid_argument& e) {
    r.fail("", e.what());
  }
}

Schema::Schema(const SchemaConfig& config) {
  for (const auto& c : registry()) {
    enabled_[size_t(c.key)] = c.enabled_by_default;
    main_only_[size_t(c.key)] = c.main_only;
  }
  // The custom columns first: main-table-only and indexes may name them.
  if (!config.custom_dictionaries.empty()) buildCustom(config.custom_dictionaries);
  // Fixed columns only (enabled, disabled), or custom ones too.
  auto lookupIn = [this](bool custom, const std::string& name, std::string_view what) -> const ColumnDef& {
    const ColumnDef* c = custom ? find(name) : findColumn(name);
    if (!c) throw std::invalid_argument(fmt::format("schema.{}: unknown column \"{}\"", what, name));
    return *c;
  };
  auto lookup = [&](const std::string& name, std::string_view what) -> const ColumnDef& {
    return lookupIn(false, name, what);
  };
  auto lookupAny = [&](const std::string& name, std::string_view what) -> const ColumnDef& {
    return lookupIn(true, name, what);
  };
  for (const auto& n : config.enabled) enabled_[size_t(lookup(n, "enabled").key)] = true;
  for (const auto& n : config.disabled) {
    const auto& c = lookup(n, "disabled");
    if (!c.disableable)
      throw std::invalid_argument(fmt::format("schema.disabled: column {} cannot be disabled", c.name));
    // As Akvorado: the tables' primary keys name these columns.
    if (c.consolidated_pk)
      throw std::invalid_argument(
          fmt::format("schema.disabled: column {} is in the primary key and cannot be disabled", c.name));
    enabled_[size_t(c.key)] = false;
  }
  for (const auto& n : config.main_table_only) {
    const auto& c = lookupAny(n, "main-table-only");
    if (c.consolidated_pk)
      throw std::invalid_argument(fmt::format(
          "schema.main-table-only: column {} is in the consolidated primary key", c.name));
    main_only_[size_t(c.key)] = true;
  }
  for (const auto& n : config.not_main_table_only)
    main_only_[size_t(lookupAny(n, "not-main-table-only").key)] = false;
  // Columns computed from others need them.
  auto need = [&](K col, K dep) {
    if (enabled_[size_t(col)] && !enabled_[size_t(dep)])
      throw std::invalid_argument(fmt::format("schema: column {} needs column {}",
                                              columnDef(col).name, columnDef(dep).name));
  };
  for (K k : {K::kDst1stAS, K::kDst2ndAS, K::kDst3rdAS}) need(k, K::kDstASPath);
  for (K k : {K::kMPLS1stLabel, K::kMPLS2ndLabel, K::kMPLS3rdLabel, K::kMPLS4thLabel})
    need(k, K::kMPLSLabels);
  need(K::kSrcNetPrefix, K::kSrcNetMask);
  need(K::kDstNetPrefix, K::kDstNetMask);
  need(K::kICMPv4, K::kICMPv4Type);
  need(K::kICMPv6, K::kICMPv6Type);
  for (const auto& c : registry()) {
    if (!enabled_[size_t(c.key)] || isCustomColumn(c.key)) continue;
    columns_.push_back(c.key);
    if (!c.alias && !c.generated) inserted_.push_back(c.key);
  }
  for (const auto& c : customColumns()) {  // after the fixed ones
    columns_.push_back(c.key);
    inserted_.push_back(c.key);
  }
  // Data-skipping indexes: the defaults, the configuration's over them, minus `no-indexes`.
  std::array<std::string, size_t(K::kCount)> index;  // column -> TYPE clause, "" for none
  for (const auto& [name, type] : defaultSkipIndexes())
    index[size_t(findColumn(name)->key)] = skipIndexType(type);
  std::array<bool, size_t(K::kCount)> given{};
  for (const auto& [name, type] : config.indexes) {
    const auto& c = lookupAny(name, "indexes");
    if (given[size_t(c.key)])
      throw std::invalid_argument(fmt::format("schema.indexes: column {} is given twice", c.name));
    given[size_t(c.key)] = true;
    if (c.alias)
      throw std::invalid_argument(fmt::format(
          "schema.indexes: column {} is computed at query time (ALIAS): it cannot be indexed",
          c.name));
    try {
      index[size_t(c.key)] = skipIndexType(type);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("schema.indexes.{}: {}", c.name, e.what()));
    }
  }
  for (const auto& n : config.no_indexes) {
    const auto& c = lookupAny(n, "no-indexes");
    if (given[size_t(c.key)])
      throw std::invalid_argument(fmt::format(
          "schema.no-indexes: column {} is also in schema.indexes", c.name));
    index[size_t(c.key)].clear();
  }
  for (auto k : columns_)
    if (!index[size_t(k)].empty()) skip_indexes_.push_back(SkipIndex{k, index[size_t(k)], std::string(column(k).name)});
}

// Custom dictionary columns (Akvorado's schema.New): for each dictionary, dimension and
// attribute, a column <Dimension><Label or TitleCase(name)>, after the fixed ones.
void Schema::buildCustom(const std::vector<CustomDictionaryConfig>& dictionaries) {
  auto custom = std::make_shared<Custom>();
  size_t strings = 0, uints = 0;
  std::vector<std::string> wanted_strings, wanted_uints;
  for (size_t di = 0; di < dictionaries.size(); di++) {
    CustomDictionaryConfig d = dictionaries[di];
    const std::string where = "schema.custom-dictionaries." + d.name;
    auto fail = [&](const std::string& key, const std::string& message) {
      throw CustomDictError(key, fmt::format("{}: {}", key.empty() ? where : where + "." + key, message),
                            message);
    };
    if (!alphanumeric(d.name)) fail("", "the name must be letters and digits");
    if (d.layout == "iptrie") d.layout = "ip_trie";  // Akvorado's former spelling
    if (d.layout != "hashed" && d.layout != "complex_key_hashed" && d.layout != "ip_trie")
      fail("layout", fmt::format("unknown layout \"{}\"; valid layouts: hashed, complex_key_hashed, "
                                 "ip_trie", d.layout));
    if (d.keys.empty()) fail("keys", "a dictionary needs at least one key");
    if (d.attributes.empty()) fail("attributes", "a dictionary needs at least one attribute");
    if (d.dimensions.empty()) fail("dimensions", "a dictionary needs at least one dimension (e.g. SrcAddr)");
    if (d.source.empty()) fail("source", "the CSV file of the dictionary is required");
    if (d.keys.size() > 4) fail("keys", "a dictionary takes at most 4 keys");
    if (d.layout == "ip_trie" && d.keys.size() != 1)
      fail("keys", "the ip_trie layout takes exactly one key (a prefix such as 192.0.2.0/24)");
    for (auto& k : d.keys) {
      if (!alphanumeric(k.name)) fail("keys", fmt::format("key name \"{}\" must be letters and digits", k.name));
      std::string t = normalizeType(k.type, kCustomKeyTypes);
      if (t.empty())
        fail("keys", fmt::format("key {}: unknown type \"{}\"; valid types: {}", k.name, k.type,
                                 fmt::join(kCustomKeyTypes, ", ")));
      k.type = t;
      if (d.keys.size() > 1 && k.match_dimension.empty() && k.match_dimension_suffix.empty())
        fail("keys", fmt::format("key {}: a dictionary with several keys needs match-dimension or "
                                 "match-dimension-suffix on each key", k.name));
    }
    for (auto& a : d.attributes) {
      if (!alphanumeric(a.name))
        fail("attributes", fmt::format("attribute name \"{}\" must be letters and digits", a.name));
      if (!a.label.empty() && !alphanumeric(a.label))
        fail("attributes", fmt::format("attribute {}: label \"{}\" must be letters and digits", a.name, a.label));
      std::string t = normalizeType(a.type, kCustomAttributeTypes);
      if (t.empty())
        fail("attributes", fmt::format("attribute {}: unknown or unsupported type \"{}\"; valid types: {}",
                                       a.name, a.type, fmt::join(kCustomAttributeTypes, ", ")));
      a.type = t;
      if (t != "String" && a.has_default) {
        uint64_t v = 0;
        auto [end, ec] = std::from_chars(a.default_value.data(), a.default_value.data() + a.default_value.size(), v);
        if (a.default_value.empty() || ec != std::errc() || end != a.default_value.data() + a.default_value.size() ||
            v > maxOfType(t))
          fail("attributes", fmt::format("attribute {}: default \"{}\" is not a {}", a.name, a.default_value, t));
      }
    }
    std::vector<std::string_view> kinds;  // of each key, the same for every dimension
    for (const auto& dim : d.dimensions) {
      if (!alphanumeric(dim)) fail("dimensions", fmt::format("dimension \"{}\" must be letters and digits", dim));
      // The flow column each key matches: match-dimension, the dimension + suffix, or the
      // dimension itself.
      std::vector<ColumnKey> key_columns;
      for (const auto& k : d.keys) {
        std::string col = !k.match_dimension.empty() ? k.match_dimension
                          : !k.match_dimension_suffix.empty() ? dim + k.match_dimension_suffix
                                                              : dim;
        const ColumnDef* c = findColumn(col);
        const std::string key = k.match_dimension.empty() && k.match_dimension_suffix.empty() ? "dimensions" : "keys";
        if (!c)
          fail(key, fmt::format("key {} of dimension {} matches column \"{}\", which does not exist "
                                "(`akvo version -d` lists the columns)", k.name, dim, col));
        std::string_view kind = customKeyKind(*c);
        if (kind.empty())
          fail(key, fmt::format("key {} of dimension {}: column {} ({}) cannot be matched; keys "
                                "match address, string, country and unsigned integer columns the "
                                "outlet fills", k.name, dim, c->name, c->type));
        if (d.layout == "ip_trie" && kind != "ip")
          fail(key, fmt::format("the ip_trie layout matches addresses: column {} is a {}", c->name, c->type));
        if (k.type == "IPv6" && kind != "ip")
          fail("keys", fmt::format("key {} is an IPv6 but column {} is a {}", k.name, c->name, c->type));
        if (k.type.starts_with("UInt") && kind != "uint")
          fail("keys", fmt::format("key {} is a {} but column {} is a {}", k.name, k.type, c->name, c->type));
        const size_t ki = key_columns.size();
        if (kinds.size() > ki && kinds[ki] != kind)
          fail(key, fmt::format("key {} matches a {} column for one dimension and {} ({}) for "
                                "dimension {}: a key matches columns of one kind",
                                k.name, kinds[ki], c->name, c->type, dim));
        if (kinds.size() <= ki) kinds.push_back(kind);
        key_columns.push_back(c->key);
      }
      for (size_t ai = 0; ai < d.attributes.size(); ai++) {
        const auto& a = d.attributes[ai];
        std::string name = dim + (a.label.empty() ? titleCase(a.name) : a.label);
        if (findColumn(name))
          fail("attributes", fmt::format("column {} (dimension {}, attribute {}) already exists", name, dim, a.name));
        for (const auto& n : custom->names)
          if (strcasecmp(n->c_str(), name.c_str()) == 0)
            fail("attributes", fmt::format("column {} is defined twice by the custom dictionaries", name));
        const bool str = a.type == "String";
        (str ? wanted_strings : wanted_uints).push_back(name);
        size_t& used = str ? strings : uints;
        if (used == (str ? kCustomStringSlots : kCustomUIntSlots)) continue;  // reported below
        ColumnKey key = ColumnKey(size_t(str ? ColumnKey::kCustomString0 : ColumnKey::kCustomUInt0) + used++);
        custom->names.push_back(std::make_unique<std::string>(name));
        custom->names.push_back(std::make_unique<std::string>(str ? "LowCardinality(String)" : a.type));
        ColumnDef& def = custom->defs[size_t(key) - size_t(ColumnKey::kCustomString0)];
        def = columnDef(key);
        def.name = *custom->names[custom->names.size() - 2];
        def.type = *custom->names.back();
        def.filter = str ? FilterType::kString : FilterType::kUInt;
        def.enabled_by_default = true;
        custom->columns.push_back(CustomColumn{key, di, ai, dim, key_columns});
      }
    }
    custom->dictionaries.push_back(std::move(d));
  }
  if (wanted_strings.size() > kCustomStringSlots || wanted_uints.size() > kCustomUIntSlots)
    throw CustomDictError(
        "", fmt::format("schema.custom-dictionaries: akvo has room for {} String and {} UInt columns "
                        "from custom dictionaries (one per dimension and attribute); this configuration "
                        "asks for {} String ({}) and {} UInt ({})",
                        kCustomStringSlots, kCustomUIntSlots, wanted_strings.size(),
                        fmt::join(wanted_strings, ", "), wanted_uints.size(), fmt::join(wanted_uints, ", ")),
        "");
  std::sort(custom->columns.begin(), custom->columns.end(),
            [](const CustomColumn& a, const CustomColumn& b) { return a.key < b.key; });
  // Bidirectional twins among the custom columns (SrcAddrRole <-> DstAddrRole).
  for (const auto& c : custom->columns) {
    ColumnDef& def = custom->defs[size_t(c.key) - size_t(ColumnKey::kCustomString0)];
    std::string twin = reverseName(def.name);
    for (const auto& o : custom->columns) {
      const ColumnDef& od = custom->defs[size_t(o.key) - size_t(ColumnKey::kCustomString0)];
      if (!twin.empty() && od.name == twin) def.reverse = o.key;
    }
  }
  for (const auto& c : custom->columns) {
    enabled_[size_t(c.key)] = true;
    main_only_[size_t(c.key)] = false;  // unless main-table-only names it
  }
  custom_ = std::move(custom);
}

const ColumnDef* Schema::find(std::string_view name) const {
  if (const ColumnDef* c = findColumn(name)) return c;
  if (!custom_ || name.empty()) return nullptr;
  for (const auto& c : custom_->columns) {
    const ColumnDef& d = column(c.key);
    if (d.name.size() == name.size() && strncasecmp(d.name.data(), name.data(), name.size()) == 0)
      return &d;
  }
  return nullptr;
}

const std::vector<CustomDictionaryConfig>& Schema::customDictionaries() const {
  static const std::vector<CustomDictionaryConfig> kNone;
  return custom_ ? custom_->dictionaries : kNone;
}

const std::vector<Schema::CustomColumn>& Schema::customColumns() const {
  static const std::vector<CustomColumn> kNone;
  return custom_ ? custom_->columns : kNone;
}

std::vector<ColumnKey> Schema::consolidatedColumns() const {
  std::vector<ColumnKey> out;
  for (auto k : columns_)
    if (!main_only_[size_t(k)]) out.push_back(k);
  return out;
}

std::vector<ColumnKey> Schema::consolidatedInsertedColumns() const {
  std::vector<ColumnKey> out;
  for (auto k : consolidatedColumns())
    if (!columnDef(k).alias) out.push_back(k);
  return out;
}

std::string Schema::hash() const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (auto k : inserted_) {
    const auto& c = column(k);
    for (char ch : c.name) h = (h ^ uint8_t(ch)) * 0x100000001b3ull;
    for (char ch : c.type) h = (h ^ uint8_t(ch)) * 0x100000001b3ull;
    h = (h ^ 0xff) * 0x100000001b3ull;
  }
  return fmt::format("{:016x}", h);
}

}  // namespace akvo
