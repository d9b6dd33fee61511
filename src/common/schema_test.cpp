#include "common/schema.h"

#include <gtest/gtest.h>

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

}  // namespace akvo
