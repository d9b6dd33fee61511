// Migrations in cluster mode (clickhouse.cluster): no ClickHouse cluster runs here, so the
// statements are recorded and each one is checked by the real ClickHouse parser (chDB's
// EXPLAIN AST); the embedded mode's migrations (clickhouse_test.cpp) prove the same SQL runs.
#include <gtest/gtest.h>

#include "orchestrator/clickhouse.h"
#include "testing/test_store.h"

namespace akvo {
namespace {

/// Answers the migrations' existence checks with "nothing exists" (and the version check with a
/// recent server) and records the statements.
class Recorder : public StoreConnection {
 public:
  std::string query(std::string_view sql, std::string_view) override {
    if (sql == "SELECT version()") return "26.7.2.1\n";
    if (sql.starts_with("SELECT")) return sql.find("count()") != std::string_view::npos ? "0\n" : "";
    statements.emplace_back(sql);
    return "";
  }
  void insertNative(std::string_view, std::string_view) override {}
  std::vector<std::string> statements;
};

TEST(ClusterMigrations, ReplicatedLocalTablesDistributedTablesOnCluster) {
  Metrics metrics;
  ClickHouseConfig config;
  config.cluster = "akvo";
  Schema schema;
  Recorder rec;
  Migrations m(config, schema, rec, metrics);
  m.run();
  auto find = [&](std::string_view needle) {
    for (const auto& s : rec.statements)
      if (s.find(needle) != std::string::npos) return s;
    return std::string();
  };
  std::string raw = find("CREATE TABLE IF NOT EXISTS flows_local ON CLUSTER `akvo`");
  ASSERT_FALSE(raw.empty());
  EXPECT_NE(raw.find("ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')"),
            std::string::npos) << raw;
  std::string m1 = find("CREATE TABLE IF NOT EXISTS flows_1m0s_local ON CLUSTER `akvo`");
  EXPECT_NE(m1.find("ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', "
                    "'{replica}', (Bytes, Packets))"),
            std::string::npos) << m1;
  EXPECT_EQ(find("CREATE TABLE IF NOT EXISTS flows ON CLUSTER `akvo` AS flows_local ENGINE = "
                 "Distributed(`akvo`, currentDatabase(), flows_local, rand())"),
            "CREATE TABLE IF NOT EXISTS flows ON CLUSTER `akvo` AS flows_local ENGINE = "
            "Distributed(`akvo`, currentDatabase(), flows_local, rand())");
  std::string view = find("CREATE MATERIALIZED VIEW flows_5m0s_consumer ON CLUSTER `akvo` TO flows_5m0s_local");
  ASSERT_FALSE(view.empty());
  EXPECT_NE(view.find("FROM flows_1m0s_local GROUP BY"), std::string::npos) << view;
  // Every DDL statement runs on the whole cluster; only the lookup loads (INSERT) do not: the
  // lookup tables share one replication path, so every node receives their rows.
  for (const auto& s : rec.statements)
    if (!s.starts_with("INSERT")) {
      EXPECT_NE(s.find(" ON CLUSTER `akvo`"), std::string::npos) << s;
    }
  EXPECT_NE(find("CREATE TABLE protocols_data ON CLUSTER `akvo`").find(
                "ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')"),
            std::string::npos);
  // ClickHouse's own parser accepts each statement.
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  for (const auto& s : rec.statements) {
    if (s.starts_with("INSERT")) continue;
    EXPECT_NO_THROW(conn->query("EXPLAIN AST " + s, "TSV")) << s;
  }
}

TEST(ClusterMigrations, EmbeddedModeUnchanged) {
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Recorder rec;
  Migrations m(config, schema, rec, metrics);
  m.run();
  for (const auto& s : rec.statements) {
    EXPECT_EQ(s.find("ON CLUSTER"), std::string::npos) << s;
    EXPECT_EQ(s.find("_local"), std::string::npos) << s;
    EXPECT_EQ(s.find("Replicated"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace akvo
