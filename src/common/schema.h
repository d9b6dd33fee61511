#pragma once
/// The schema registry: one table of every flow column akvo knows (Akvorado's names and
/// ClickHouse types), with what each column is allowed to do. It drives the DDL, the batch
/// encoder, the consolidated tables, the filter language and the console's dimension list.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"

namespace akvo {

enum class ColumnKey : uint8_t {
  kTimeReceived,
  kSamplingRate,
  kExporterAddress,
  kExporterName,
  kExporterGroup,
  kExporterRole,
  kExporterSite,
  kExporterRegion,
  kExporterTenant,
  kSrcAddr,
  kDstAddr,
  kSrcNetMask,
  kDstNetMask,
  kSrcNetPrefix,
  kDstNetPrefix,
  kSrcAS,
  kDstAS,
  kSrcNetName,
  kDstNetName,
  kSrcNetRole,
  kDstNetRole,
  kSrcNetSite,
  kDstNetSite,
  kSrcNetRegion,
  kDstNetRegion,
  kSrcNetTenant,
  kDstNetTenant,
  kSrcVlan,
  kDstVlan,
  kSrcCountry,
  kDstCountry,
  kSrcGeoCity,
  kDstGeoCity,
  kSrcGeoState,
  kDstGeoState,
  kDstASPath,
  kDst1stAS,
  kDst2ndAS,
  kDst3rdAS,
  kSrcCommunities,
  kDstCommunities,
  kSrcLargeCommunities,
  kDstLargeCommunities,
  kInIfName,
  kOutIfName,
  kInIfDescription,
  kOutIfDescription,
  kInIfSpeed,
  kOutIfSpeed,
  kInIfConnectivity,
  kOutIfConnectivity,
  kInIfProvider,
  kOutIfProvider,
  kInIfBoundary,
  kOutIfBoundary,
  kEType,
  kProto,
  kSrcPort,
  kDstPort,
  kBytes,
  kPackets,
  kPacketSize,
  kPacketSizeBucket,
  kForwardingStatus,
  kFlowDirection,
  kSrcAddrNAT,
  kDstAddrNAT,
  kSrcPortNAT,
  kDstPortNAT,
  kSrcMAC,
  kDstMAC,
  kIPTTL,
  kIPTos,
  kIPFragmentID,
  kIPFragmentOffset,
  kIPv6FlowLabel,
  kTCPFlags,
  kICMPv4Type,
  kICMPv4Code,
  kICMPv6Type,
  kICMPv6Code,
  kICMPv4,
  kICMPv6,
  kNextHop,
  kMPLSLabels,
  kMPLS1stLabel,
  kMPLS2ndLabel,
  kMPLS3rdLabel,
  kMPLS4thLabel,
  kIngressVRFID,
  kEgressVRFID,
  // Custom dictionary columns (schema.custom-dictionaries): slots named by the configuration,
  // after every fixed column (as Akvorado appends them). Unnamed slots are never enabled.
  kCustomString0,
  kCustomString1,
  kCustomString2,
  kCustomString3,
  kCustomString4,
  kCustomString5,
  kCustomString6,
  kCustomString7,
  kCustomUInt0,
  kCustomUInt1,
  kCustomUInt2,
  kCustomUInt3,
  kCount,
  kNone = 255,
};

/// How the filter language parses values for a column.
enum class FilterType : uint8_t {
  kNone,  ///< not filterable
  kIP,
  kString,
  kASN,
  kUInt,
  kBoundary,
  kDirection,
  kEType,
  kProto,
  kMAC,
  kPrefix,
  kASPath,
  kCommunity,
  kArrayUInt,
};

struct ColumnDef {
  ColumnKey key;
  std::string_view name;
  std::string_view type;        ///< ClickHouse type, codec excluded.
  std::string_view codec;       ///< e.g. "ZSTD(1)"; empty for the default.
  std::string_view expression;  ///< ALIAS (computed at query time) or DEFAULT expression.
  bool alias = false;           ///< ALIAS column: never stored, never sent.
  bool generated = false;       ///< DEFAULT column computed by ClickHouse at insert.
  bool enabled_by_default = true;
  bool disableable = true;
  bool main_only = false;        ///< Only in the raw `flows` table.
  bool dimension = true;         ///< Usable as a console dimension.
  bool truncatable = false;      ///< IP column that dimensions can truncate to a prefix.
  bool not_sorting_key = false;  ///< Kept out of the consolidated tables' sort key.
  bool consolidated_pk = false;  ///< Part of the consolidated tables' primary key.
  FilterType filter = FilterType::kNone;
  ColumnKey reverse = ColumnKey::kNone;  ///< Src<->Dst, In<->Out twin.
  std::string_view group;                ///< "L2", "NAT", "L3L4", "MPLS", "VRF" or empty.
};

/// Custom dictionary columns: String attributes go to LowCardinality(String) slots, UInt ones to
/// UInt slots; a configuration asking for more columns is refused.
inline constexpr size_t kCustomStringSlots = 8;
inline constexpr size_t kCustomUIntSlots = 4;
inline constexpr bool isCustomColumn(ColumnKey k) {
  return k >= ColumnKey::kCustomString0 && k < ColumnKey::kCount;
}
inline constexpr bool isCustomStringColumn(ColumnKey k) {
  return k >= ColumnKey::kCustomString0 && k < ColumnKey::kCustomUInt0;
}

/// Every column, indexed by ColumnKey (custom slots unnamed: use Schema::column() for them).
std::span<const ColumnDef> allColumns();
const ColumnDef& columnDef(ColumnKey key);
/// Case-insensitive lookup by name among the fixed columns (Schema::find() also knows the
/// custom ones).
const ColumnDef* findColumn(std::string_view name);

/// One key of a custom dictionary (Akvorado's CustomDictKey): a CSV column matched against a
/// flow column: the dimension itself, `match-dimension`, or the dimension + `match-dimension-suffix`.
struct CustomDictKey {
  std::string name;
  std::string type = "String";  ///< String, UInt8, UInt16, UInt32, UInt64 or IPv6
  std::string match_dimension, match_dimension_suffix;
};

/// One attribute of a custom dictionary: a CSV column that becomes a flow column per dimension.
struct CustomDictAttribute {
  std::string name;
  std::string type = "String";  ///< String, UInt8, UInt16, UInt32 or UInt64
  std::string label;            ///< the column's suffix; TitleCase(name) when empty
  std::string default_value;    ///< when no entry matches ("None" for String, 0 for UInt, unset)
  bool has_default = false;
};

/// `schema.custom-dictionaries.<name>` (Akvorado's SCH-7). akvo computes the columns in the
/// outlet from the CSV file, not with ClickHouse dictionaries.
struct CustomDictionaryConfig {
  std::string name;
  std::string layout = "hashed";  ///< hashed, complex_key_hashed or ip_trie
  std::vector<CustomDictKey> keys;
  std::vector<CustomDictAttribute> attributes;
  std::string source;  ///< CSV file with a header naming the keys and attributes
  std::vector<std::string> dimensions;
};

/// What a flow column gives a custom dictionary key: "ip", "string", "bytes" (a country),
/// "uint", or empty when it cannot be a key (computed by ClickHouse, an enum, an array).
std::string_view customKeyKind(const ColumnDef& c);

/// "role" -> "Role", as Akvorado names a column from an attribute without label (Go's
/// cases.Title: the first letter upper case, the others lower case).
std::string titleCase(std::string_view name);

/// A ClickHouse data-skipping index on one column of the flows tables (Akvorado's SCH-6).
struct SkipIndex {
  ColumnKey column;
  std::string type;  ///< the TYPE clause: "bloom_filter(0.001)", "minmax", "set(0)"
  std::string column_name;  ///< the schema's name of the column (custom ones included)
  /// The index's name in the tables, as Akvorado's: "idx_" + the column's name in lower case.
  std::string name() const;
};

/// Every index in the tables has this granularity (4 granules of 8192 rows), as Akvorado's.
inline constexpr int kSkipIndexGranularity = 4;

/// Parses an index as the configuration writes it (Akvorado's forms): "bloom(P)" with 0 < P < 1,
/// "minmax", "set(N)" with N >= 0. Returns the TYPE clause for ClickHouse ("bloom_filter(P)",
/// "minmax", "set(N)"). Throws std::invalid_argument naming the value and the valid forms.
std::string skipIndexType(std::string_view value);

/// The indexes of a flows table when the configuration says nothing, by column name (Akvorado's
/// defaults): bloom(0.001) on Src/DstAddr, Src/DstAS, Src/DstPort, Src/DstCountry; minmax on
/// ExporterName; set(0) on In/OutIfProvider, In/OutIfConnectivity, In/OutIfBoundary.
const std::vector<std::pair<std::string_view, std::string_view>>& defaultSkipIndexes();

/// The configuration section `schema`: which columns are enabled, which stay in consolidated
/// tables, which are indexed.
struct SchemaConfig {
  std::vector<std::string> enabled;
  std::vector<std::string> disabled;
  std::vector<std::string> main_table_only;
  std::vector<std::string> not_main_table_only;
  /// `indexes`: column -> index in the configuration's form ("bloom(0.01)"), added to the
  /// defaults or replacing theirs.
  std::map<std::string, std::string> indexes;
  /// `no-indexes`: columns whose default index is removed.
  std::vector<std::string> no_indexes;
  /// `custom-dictionaries`, in file order.
  std::vector<CustomDictionaryConfig> custom_dictionaries;

  /// Reads the section; a bad column or index names its key, file and line.
  void read(ConfigReader& r);
};

/// The schema in force: the registry with the user's choices applied.
class Schema {
 public:
  /// Throws std::invalid_argument naming the column and the reason on a bad configuration.
  explicit Schema(const SchemaConfig& config = {});

  /// The column's definition: the registry's, or the configuration's for a custom column.
  const ColumnDef& column(ColumnKey k) const {
    return isCustomColumn(k) && custom_ ? custom_->defs[size_t(k) - size_t(ColumnKey::kCustomString0)]
                                        : columnDef(k);
  }
  /// Case-insensitive lookup by name, custom columns included.
  const ColumnDef* find(std::string_view name) const;

  /// A column a custom dictionary fills: attribute `attribute` of dictionary `dictionary`
  /// looked up with the keys of dimension `dimension`.
  struct CustomColumn {
    ColumnKey key;
    size_t dictionary, attribute;
    std::string dimension;
    /// The flow column each key is matched against, in the dictionary's key order.
    std::vector<ColumnKey> key_columns;
  };
  const std::vector<CustomDictionaryConfig>& customDictionaries() const;
  /// In slot order: the String slots, then the UInt ones.
  const std::vector<CustomColumn>& customColumns() const;

  bool enabled(ColumnKey k) const { return enabled_[size_t(k)]; }
  bool mainOnly(ColumnKey k) const { return main_only_[size_t(k)]; }
  /// Enabled columns in registry order.
  const std::vector<ColumnKey>& columns() const { return columns_; }
  /// Enabled columns that the outlet sends in each batch (stored, not alias, not generated).
  const std::vector<ColumnKey>& insertedColumns() const { return inserted_; }
  /// Enabled columns kept in consolidated tables.
  std::vector<ColumnKey> consolidatedColumns() const;
  /// The consolidated columns that are stored (not alias): those of the consolidated rows the
  /// outlet inserts.
  std::vector<ColumnKey> consolidatedInsertedColumns() const;
  /// Stable fingerprint of the inserted columns (name and type), hex.
  std::string hash() const;
  /// The data-skipping indexes of the enabled columns, in registry order (defaults, then the
  /// configuration's `indexes` and `no-indexes`). Each goes on every flows table that has its
  /// column (consolidated tables have no main-table-only column).
  const std::vector<SkipIndex>& skipIndexes() const { return skip_indexes_; }

 private:
  void buildCustom(const std::vector<CustomDictionaryConfig>& dictionaries);
  std::array<bool, size_t(ColumnKey::kCount)> enabled_{};
  std::array<bool, size_t(ColumnKey::kCount)> main_only_{};
  std::vector<ColumnKey> columns_;
  std::vector<ColumnKey> inserted_;
  std::vector<SkipIndex> skip_indexes_;
  /// Immutable once built, shared by copies (the custom definitions' names point into it).
  struct Custom {
    std::vector<CustomDictionaryConfig> dictionaries;
    std::vector<CustomColumn> columns;
    std::vector<std::unique_ptr<std::string>> names;
    std::array<ColumnDef, kCustomStringSlots + kCustomUIntSlots> defs{};
  };
  std::shared_ptr<const Custom> custom_;
};

}  // namespace akvo
