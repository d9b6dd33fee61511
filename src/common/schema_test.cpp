#include "common/schema.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

namespace akvo {

TEST(Schema, RegistryIsCompleteAndOrdered) {
  auto cols = allColumns();
  ASSERT_EQ(cols.size(), size_t(ColumnKey::kCount));
  for (size_t i = 0; i < cols.size(); i++) EXPECT_EQ(size_t(cols[i].key), i) << cols[i].name;
  EXPECT_EQ(columnDef(ColumnKey::kSrcAddr).type, "IPv6");
  EXPECT_EQ(findColumn("srcas")->key, ColumnKey::kSrcAS);
  EXPECT_EQ(findColumn("nope"), nullptr);
}

TEST(Schema, ReverseColumnsArePairs) {
  for (const auto& c : allColumns()) {
    if (c.reverse == ColumnKey::kNone) continue;
    EXPECT_EQ(columnDef(c.reverse).reverse, c.key) << c.name;
    EXPECT_EQ(columnDef(c.reverse).type, c.type) << c.name;
  }
  EXPECT_EQ(columnDef(ColumnKey::kInIfProvider).reverse, ColumnKey::kOutIfProvider);
}

TEST(Schema, DefaultsAndConsolidation) {
  Schema s;
  EXPECT_TRUE(s.enabled(ColumnKey::kSrcAddr));
  EXPECT_FALSE(s.enabled(ColumnKey::kSrcMAC));
  auto cons = s.consolidatedColumns();
  auto has = [&](ColumnKey k) { return std::find(cons.begin(), cons.end(), k) != cons.end(); };
  EXPECT_FALSE(has(ColumnKey::kSrcAddr));
  EXPECT_FALSE(has(ColumnKey::kDstPort));
  EXPECT_TRUE(has(ColumnKey::kSrcAS));
  EXPECT_TRUE(has(ColumnKey::kInIfBoundary));
  // Alias and generated columns are never sent by the outlet.
  for (auto k : s.insertedColumns()) {
    EXPECT_FALSE(columnDef(k).alias) << columnDef(k).name;
    EXPECT_FALSE(columnDef(k).generated) << columnDef(k).name;
  }
}

TEST(Schema, UserChoices) {
  Schema s(SchemaConfig{.enabled = {"SrcMAC", "dstmac"}, .disabled = {"SrcGeoCity"},
                        .main_table_only = {"ExporterName"}});
  EXPECT_TRUE(s.enabled(ColumnKey::kSrcMAC));
  EXPECT_TRUE(s.enabled(ColumnKey::kDstMAC));
  EXPECT_FALSE(s.enabled(ColumnKey::kSrcGeoCity));
  EXPECT_TRUE(s.mainOnly(ColumnKey::kExporterName));
  EXPECT_NE(Schema().hash(), s.hash());
  EXPECT_THROW(Schema(SchemaConfig{.disabled = {"Bytes"}}), std::invalid_argument);
  EXPECT_THROW(Schema(SchemaConfig{.enabled = {"Nope"}}), std::invalid_argument);
  EXPECT_THROW(Schema(SchemaConfig{.main_table_only = {"SrcAS"}}), std::invalid_argument);
  EXPECT_THROW(Schema(SchemaConfig{.disabled = {"DstASPath"}}), std::invalid_argument);
}

// Akvorado's forms (common/schema/config.go): bloom(P) with 0 < P < 1, minmax, set(N >= 0).
TEST(Schema, SkipIndexTypes) {
  EXPECT_EQ(skipIndexType("bloom(0.001)"), "bloom_filter(0.001)");
  EXPECT_EQ(skipIndexType(" bloom(0.01) "), "bloom_filter(0.01)");
  EXPECT_EQ(skipIndexType("bloom(1e-4)"), "bloom_filter(0.0001)");
  EXPECT_EQ(skipIndexType("minmax"), "minmax");
  EXPECT_EQ(skipIndexType("set(0)"), "set(0)");
  EXPECT_EQ(skipIndexType("set(0100)"), "set(100)");
  for (const char* bad : {"bloom(0)", "bloom(1)", "bloom(-0.1)", "bloom(x)", "bloom()", "bloom(0.1",
                          "bloom_filter(0.01)", "set(-1)", "set()", "set(1.5)", "set", "MINMAX",
                          "", "ngrambf_v1(3, 256, 2, 0)"}) {
    try {
      skipIndexType(bad);
      ADD_FAILURE() << bad;
    } catch (const std::invalid_argument& e) {
      std::string m = e.what();
      EXPECT_NE(m.find(fmt::format("\"{}\"", bad)), std::string::npos) << m;
      EXPECT_NE(m.find("valid forms: bloom(P) with 0 < P < 1"), std::string::npos) << m;
      EXPECT_NE(m.find("minmax, set(N) with N >= 0"), std::string::npos) << m;
    }
  }
}

TEST(Schema, SkipIndexes) {
  auto types = [](const Schema& s) {
    std::map<std::string, std::string> out;
    for (const auto& x : s.skipIndexes()) out[std::string(columnDef(x.column).name)] = x.type;
    return out;
  };
  // Akvorado's defaults (common/schema/config.go, DefaultIndexes).
  std::map<std::string, std::string> defaults = {
      {"SrcAddr", "bloom_filter(0.001)"},  {"DstAddr", "bloom_filter(0.001)"},
      {"SrcAS", "bloom_filter(0.001)"},    {"DstAS", "bloom_filter(0.001)"},
      {"SrcPort", "bloom_filter(0.001)"},  {"DstPort", "bloom_filter(0.001)"},
      {"SrcCountry", "bloom_filter(0.001)"}, {"DstCountry", "bloom_filter(0.001)"},
      {"ExporterName", "minmax"},          {"InIfProvider", "set(0)"},
      {"OutIfProvider", "set(0)"},         {"InIfConnectivity", "set(0)"},
      {"OutIfConnectivity", "set(0)"},     {"InIfBoundary", "set(0)"},
      {"OutIfBoundary", "set(0)"}};
  EXPECT_EQ(types(Schema()), defaults);
  EXPECT_EQ(Schema().skipIndexes()[0].name(), "idx_exportername");  // registry order
  // Override, add, remove; a disabled column has none.
  Schema s(SchemaConfig{.disabled = {"SrcCountry"},
                        .indexes = {{"srcaddr", "bloom(0.01)"}, {"SrcNetName", "set(100)"}},
                        .no_indexes = {"DstAddr", "ExporterName"}});
  auto want = defaults;
  want["SrcAddr"] = "bloom_filter(0.01)";
  want["SrcNetName"] = "set(100)";
  want.erase("DstAddr");
  want.erase("ExporterName");
  want.erase("SrcCountry");
  EXPECT_EQ(types(s), want);
  // An index on a column enabled later comes with it.
  EXPECT_EQ(types(Schema(SchemaConfig{.enabled = {"SrcVlan"}, .indexes = {{"SrcVlan", "minmax"}}}))
                .count("SrcVlan"),
            1u);
  EXPECT_EQ(types(Schema(SchemaConfig{.indexes = {{"SrcVlan", "minmax"}}})).count("SrcVlan"), 0u);
  auto error = [](const SchemaConfig& c) {
    try {
      Schema x(c);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error({.indexes = {{"Nope", "minmax"}}}).find("unknown column \"Nope\""),
            std::string::npos);
  EXPECT_NE(error({.no_indexes = {"Nope"}}).find("schema.no-indexes: unknown column"),
            std::string::npos);
  EXPECT_NE(error({.indexes = {{"SrcAddr", "bloom(2)"}}})
                .find("schema.indexes.SrcAddr: invalid index"),
            std::string::npos);
  EXPECT_NE(error({.indexes = {{"PacketSize", "minmax"}}}).find("ALIAS"), std::string::npos);
  EXPECT_NE(error({.indexes = {{"SrcAddr", "minmax"}}, .no_indexes = {"srcaddr"}})
                .find("also in schema.indexes"),
            std::string::npos);
  EXPECT_NE(error({.indexes = {{"SrcAddr", "minmax"}, {"srcaddr", "set(0)"}}}).find("given twice"),
            std::string::npos);
}

}  // namespace akvo
