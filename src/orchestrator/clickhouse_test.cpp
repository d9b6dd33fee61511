#include "orchestrator/clickhouse.h"

#include <fmt/format.h>
#include <algorithm>
#include <gtest/gtest.h>

#include "store/native.h"
#include "testing/test_store.h"

namespace akvo {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

TEST(Migrations, TableNames) {
  EXPECT_EQ(flowsTableName(Duration(0)), "flows");
  EXPECT_EQ(flowsTableName(std::chrono::minutes(1)), "flows_1m0s");
  EXPECT_EQ(flowsTableName(std::chrono::minutes(5)), "flows_5m0s");
  EXPECT_EQ(flowsTableName(std::chrono::hours(1)), "flows_1h0m0s");
  EXPECT_EQ(flowsTableName(std::chrono::seconds(30)), "flows_30s");
}

// CH-1: the version gate (`SELECT version()` at the start of the migrations).
TEST(Migrations, ClickHouseVersionGate) {
  for (const char* v : {"24.3.3.102", "24.5.1.1763", "24.8.4.13", "25.8.1.1", "26.7.2.1",
                        "24.8.4.13-lts", "100.1"}) {
    auto c = checkClickHouseVersion(v);
    EXPECT_TRUE(c.ok) << v << ": " << c.error;
    EXPECT_TRUE(c.warnings.empty()) << v << ": " << c.warnings.front();
  }
  // Older than the versions akvo is tested with (new analyzer), but able to run its SQL; and
  // the ranges Akvorado refuses for bugs akvo does not meet (Protobuf IPv6 in 23.1-23.5).
  for (const char* v : {"23.2.1.2537", "23.3.1.2823", "23.4.1.1943", "23.8.11.29.altinitystable",
                        "23.10.1.1", "24.2.3.70"}) {
    auto c = checkClickHouseVersion(v);
    EXPECT_TRUE(c.ok) << v << ": " << c.error;
    ASSERT_EQ(c.warnings.size(), 1u) << v;
    EXPECT_NE(c.warnings[0].find(fmt::format("ClickHouse {} is older than 24.3", v)),
              std::string::npos) << c.warnings[0];
  }
  // Too old for format() with a structure (23.2), which loads the lookup tables.
  for (const char* v : {"23.1.1.3077", "22.12.5.34", "22.4.3.3", "22.3.11.12", "18.16.1", "23"}) {
    auto c = checkClickHouseVersion(v);
    EXPECT_FALSE(c.ok) << v;
    EXPECT_EQ(c.error, fmt::format("ClickHouse {} is too old: akvo needs 23.2 or later", v));
  }
  for (const char* v : {"", "unknown", "v24.3"}) {
    auto c = checkClickHouseVersion(v);
    EXPECT_FALSE(c.ok) << v;
    EXPECT_NE(c.error.find("cannot read the ClickHouse version"), std::string::npos) << c.error;
  }
  // The embedded engine passes.
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  auto c = checkClickHouseVersion(trim(conn->query("SELECT version()")));
  EXPECT_TRUE(c.ok && c.warnings.empty()) << c.error;
}

namespace {
/// A connection that notes the migrations-running gauge at each statement.
class GaugeWatcher : public StoreConnection {
 public:
  GaugeWatcher(StoreConnection& inner, const Gauge& g) : inner_(inner), g_(g) {}
  std::string query(std::string_view sql, std::string_view format) override {
    seen.push_back(g_.value());
    return inner_.query(sql, format);
  }
  void insertNative(std::string_view prefix, std::string_view block) override {
    inner_.insertNative(prefix, block);
  }
  std::vector<double> seen;

 private:
  StoreConnection& inner_;
  const Gauge& g_;
};
}  // namespace

TEST(Migrations, CreateThenNothingToDo) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  const Gauge& running = metrics.gauge("akvo_orchestrator_clickhouse_migrations_running", "");
  GaugeWatcher watched(*conn, running);
  Migrations m(config, schema, watched, metrics);
  m.run();
  EXPECT_FALSE(m.applied().empty());
  // OBS-3: the running gauge is 1 during the run (every statement saw it), 0 after; every step
  // counted as applied, none found done.
  ASSERT_FALSE(watched.seen.empty());
  EXPECT_EQ(*std::min_element(watched.seen.begin(), watched.seen.end()), 1.0);
  EXPECT_EQ(running.value(), 0.0);
  EXPECT_EQ(metrics.sum("akvo_orchestrator_clickhouse_migrations_applied_total"), m.applied().size());
  EXPECT_EQ(metrics.sum("akvo_orchestrator_clickhouse_migrations_not_applied_total"), 0u);
  for (const char* t : {"flows", "flows_1m0s", "flows_5m0s", "flows_1h0m0s", "flows_5m0s_consumer",
                        "flows_1h0m0s_consumer", "protocols", "icmp", "asns", "tcp", "udp"}) {
    EXPECT_EQ(trim(conn->query(fmt::format("SELECT count() FROM system.tables WHERE database = "
                                           "currentDatabase() AND name = '{}'", t))), "1") << t;
  }
  // No view on the raw table: the outlet builds the 1-minute rows (Consolidator).
  EXPECT_EQ(trim(conn->query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                             "AND name = 'flows_1m0s_consumer'")), "0");
  // Consolidated tables drop the main-only columns.
  EXPECT_EQ(trim(conn->query("SELECT count() FROM system.columns WHERE database = currentDatabase() "
                             "AND table = 'flows_1m0s' AND name IN ('SrcAddr', 'DstPort')")), "0");
  // The raw table: Akvorado's primary key, rows sorted further by SrcAS and DstAS.
  EXPECT_EQ(trim(conn->query("SELECT primary_key, '|', sorting_key FROM system.tables WHERE database = "
                             "currentDatabase() AND name = 'flows'")),
            "toStartOfFiveMinutes(TimeReceived), ExporterAddress, InIfName, OutIfName\t|\t"
            "toStartOfFiveMinutes(TimeReceived), ExporterAddress, InIfName, OutIfName, SrcAS, DstAS");
  EXPECT_EQ(trim(conn->query("SELECT dictGet('protocols', 'name', toUInt64(6))")), "TCP");
  EXPECT_EQ(trim(conn->query("SELECT dictGet('asns', 'name', toUInt64(15169))")), "Google");
  EXPECT_EQ(trim(conn->query("SELECT dictGet('icmp', 'name', (1, 8, 0))")), "echo-request");
  EXPECT_EQ(trim(conn->query("SELECT dictGet('tcp', 'name', toUInt64(443))")), "https");
  EXPECT_EQ(trim(conn->query("SELECT dictGet('udp', 'name', toUInt64(53))")), "domain");
  EXPECT_EQ(trim(conn->query("SELECT dictGetOrDefault('udp', 'name', toUInt64(80), '')")), "");
  // A second run changes nothing.
  Migrations again(config, schema, *conn, metrics);
  again.run();
  EXPECT_TRUE(again.applied().empty()) << again.applied().front();
  // Each check found its step done: 5 lookup tables; for each of the 4 flows tables, its
  // creation, columns, TTL, settings and indexes; the 2 views between consolidated tables.
  EXPECT_EQ(metrics.sum("akvo_orchestrator_clickhouse_migrations_applied_total"), m.applied().size());
  EXPECT_EQ(metrics.sum("akvo_orchestrator_clickhouse_migrations_not_applied_total"), 5u + 4 * 5 + 2);
  EXPECT_EQ(running.value(), 0.0);
  // A data folder of an earlier version, with the view on the raw table: it is dropped.
  conn->query("CREATE MATERIALIZED VIEW flows_1m0s_consumer TO flows_1m0s AS " + m.consumerSelectSQL(1));
  Migrations upgrade(config, schema, *conn, metrics);
  upgrade.run();
  EXPECT_EQ(upgrade.applied(), std::vector<std::string>{"drop view flows_1m0s_consumer"});
  EXPECT_EQ(trim(conn->query("SELECT count() FROM system.tables WHERE database = currentDatabase() "
                             "AND name = 'flows_1m0s_consumer'")), "0");
  // The engine's own logs stay out of the way: no query log table fills the disk.
  EXPECT_EQ(trim(conn->query("SELECT count() FROM system.tables WHERE database = 'system' AND "
                             "name LIKE '%_log' AND total_rows > 0")), "0");
}

namespace {
/// "table name expr type granularity" of every data-skipping index, one per line.
std::string skipIndexes(StoreConnection& conn) {
  return trim(conn.query("SELECT table, name, expr, type_full, granularity FROM "
                         "system.data_skipping_indices WHERE database = currentDatabase() "
                         "ORDER BY table, name FORMAT TSVRaw",
                         "TSVRaw"));
}
}  // namespace

// Akvorado's default indexes (SCH-6): on every flows table that has the column, named
// idx_<column>, GRANULARITY 4; created with the tables, then nothing to do.
TEST(Migrations, DefaultSkipIndexes) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Migrations m(config, schema, *conn, metrics);
  m.run();
  // Sorted by name, as the query lists them; the consolidated tables lack the main-table-only
  // columns (addresses, ports).
  const std::vector<std::pair<std::string, bool>> expected = {
      {"idx_dstaddr\tDstAddr\tbloom_filter(0.001)", true},
      {"idx_dstas\tDstAS\tbloom_filter(0.001)", false},
      {"idx_dstcountry\tDstCountry\tbloom_filter(0.001)", false},
      {"idx_dstport\tDstPort\tbloom_filter(0.001)", true},
      {"idx_exportername\tExporterName\tminmax", false},
      {"idx_inifboundary\tInIfBoundary\tset(0)", false},
      {"idx_inifconnectivity\tInIfConnectivity\tset(0)", false},
      {"idx_inifprovider\tInIfProvider\tset(0)", false},
      {"idx_outifboundary\tOutIfBoundary\tset(0)", false},
      {"idx_outifconnectivity\tOutIfConnectivity\tset(0)", false},
      {"idx_outifprovider\tOutIfProvider\tset(0)", false},
      {"idx_srcaddr\tSrcAddr\tbloom_filter(0.001)", true},
      {"idx_srcas\tSrcAS\tbloom_filter(0.001)", false},
      {"idx_srccountry\tSrcCountry\tbloom_filter(0.001)", false},
      {"idx_srcport\tSrcPort\tbloom_filter(0.001)", true},
  };
  std::string want;
  for (const char* t : {"flows", "flows_1h0m0s", "flows_1m0s", "flows_5m0s"})
    for (const auto& [index, main_only] : expected)
      if (!main_only || std::string_view(t) == "flows")
        want += fmt::format("{}{}\t{}\t4", want.empty() ? "" : "\n", t, index);
  EXPECT_EQ(skipIndexes(*conn), want);
  Migrations again(config, schema, *conn, metrics);
  again.run();
  EXPECT_TRUE(again.applied().empty()) << again.applied().front();
}

// On an existing table: indexes added (a data folder of a version without them), replaced when
// their type changed, dropped when removed or when their column is disabled; an index that is
// not ours (not idx_*) is left alone. Each time, a second run applies nothing.
TEST(Migrations, SkipIndexesFollowTheConfiguration) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  SchemaConfig none;
  for (const auto& [column, type] : defaultSkipIndexes()) none.no_indexes.emplace_back(column);
  Migrations(config, Schema(none), *conn, metrics).run();
  EXPECT_EQ(skipIndexes(*conn), "");
  conn->query("ALTER TABLE flows ADD INDEX mine Proto TYPE set(10) GRANULARITY 1");
  auto steps = [&](const Schema& schema) {
    Migrations m(config, schema, *conn, metrics);
    m.run();
    Migrations again(config, schema, *conn, metrics);
    again.run();
    EXPECT_TRUE(again.applied().empty()) << again.applied().front();
    return m.applied();
  };
  auto has = [](const std::vector<std::string>& applied, const std::string& step) {
    return std::find(applied.begin(), applied.end(), step) != applied.end();
  };
  auto count = [&](const char* table) {
    return trim(conn->query(fmt::format("SELECT count() FROM system.data_skipping_indices WHERE "
                                        "database = currentDatabase() AND table = '{}'",
                                        table)));
  };
  std::vector<std::string> applied = steps(Schema());
  EXPECT_EQ(applied.size(), 4u);
  EXPECT_TRUE(has(applied, "add index idx_exportername minmax, idx_srcaddr bloom_filter(0.001), "
                           "idx_dstaddr bloom_filter(0.001), idx_srcas bloom_filter(0.001), "
                           "idx_dstas bloom_filter(0.001), idx_srccountry bloom_filter(0.001), "
                           "idx_dstcountry bloom_filter(0.001), idx_inifconnectivity set(0), "
                           "idx_outifconnectivity set(0), idx_inifprovider set(0), "
                           "idx_outifprovider set(0), idx_inifboundary set(0), "
                           "idx_outifboundary set(0), idx_srcport bloom_filter(0.001), "
                           "idx_dstport bloom_filter(0.001) to flows"))
      << applied.front();
  EXPECT_EQ(count("flows"), "16");  // and mine
  EXPECT_EQ(count("flows_1m0s"), "11");
  EXPECT_EQ(count("flows_1h0m0s"), "11");

  applied = steps(Schema(SchemaConfig{
      .disabled = {"DstCountry"},
      .indexes = {{"SrcAddr", "bloom(0.01)"},
                  {"SrcNetName", "set(100)"},
                  {"ExporterName", "minmax"}},
      .no_indexes = {"DstAddr", "InIfBoundary"}}));
  EXPECT_TRUE(has(applied, "drop index idx_srcaddr, idx_dstaddr, idx_dstcountry, idx_inifboundary "
                           "of flows"));
  EXPECT_TRUE(has(applied, "add index idx_srcaddr bloom_filter(0.01), idx_srcnetname set(100) to "
                           "flows"));
  for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"}) {
    EXPECT_TRUE(has(applied, fmt::format("drop index idx_dstcountry, idx_inifboundary of {}", t)))
        << t;
    EXPECT_TRUE(has(applied, fmt::format("add index idx_srcnetname set(100) to {}", t))) << t;
  }
  EXPECT_EQ(trim(conn->query("SELECT table, name, type_full FROM system.data_skipping_indices "
                             "WHERE database = currentDatabase() AND name IN ('idx_srcaddr', "
                             "'idx_dstaddr', 'idx_srcnetname', 'idx_inifboundary', 'mine') "
                             "ORDER BY table, name")),
            "flows\tidx_srcaddr\tbloom_filter(0.01)\n"
            "flows\tidx_srcnetname\tset(100)\n"
            "flows\tmine\tset(10)\n"
            "flows_1h0m0s\tidx_srcnetname\tset(100)\n"
            "flows_1m0s\tidx_srcnetname\tset(100)\n"
            "flows_5m0s\tidx_srcnetname\tset(100)");
  // The store's data is read the same with the new indexes.
  conn->query("INSERT INTO flows (TimeReceived, SrcAddr, SrcNetName, Bytes, Packets) VALUES "
              "(now(), '::ffff:192.0.2.1', 'net1', 100, 1), "
              "(now(), '::ffff:192.0.2.2', 'net2', 200, 2)");
  EXPECT_EQ(trim(conn->query("SELECT sum(Bytes) FROM flows WHERE SrcAddr = "
                             "toIPv6('::ffff:192.0.2.2') AND SrcNetName = 'net2'")),
            "200");
}

// A filter on DstAddr reads a few granules of the raw table instead of all of them: the
// engine's own plan (EXPLAIN indexes = 1) shows the bloom filter index skipping the others.
TEST(Migrations, DstAddrFilterSkipsGranules) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Migrations(config, schema, *conn, metrics).run();
  // 1M flows of one exporter and one 5-minute bucket, one destination each (10.0.0.0 + n),
  // sorted by SrcAS = n / 8192: the rows of an address sit in one granule of 8192 rows.
  conn->query("INSERT INTO flows (TimeReceived, ExporterAddress, SrcAS, DstAddr, Bytes, Packets) "
              "SELECT toDateTime('2026-01-01 00:00:00'), toIPv6('::ffff:192.0.2.1'), "
              "intDiv(number, 8192), toIPv6(IPv4NumToString(toUInt32(167772160 + number))), "
              "1000 + number, 1 FROM numbers(1000000)");
  const std::string where = "FROM flows WHERE DstAddr = toIPv6('::ffff:10.7.161.32')";
  std::string plan = conn->query("EXPLAIN indexes = 1 SELECT sum(Bytes) " + where, "TSVRaw");
  size_t skip = plan.find("Name: idx_dstaddr");
  ASSERT_NE(skip, std::string::npos) << plan;
  size_t granules = plan.find("Granules: ", skip);
  ASSERT_NE(granules, std::string::npos) << plan;
  int kept = 0, total = 0;
  ASSERT_EQ(sscanf(plan.c_str() + granules, "Granules: %d/%d", &kept, &total), 2) << plan;
  EXPECT_GE(total, 1000000 / 8192) << plan;
  EXPECT_GE(kept, 1) << plan;
  EXPECT_LE(kept, kSkipIndexGranularity * 2) << plan;  // one index granule, maybe a false positive
  EXPECT_EQ(trim(conn->query("SELECT sum(Bytes) " + where)), "501000");
  EXPECT_EQ(trim(conn->query("SELECT sum(Bytes) " + where + " SETTINGS use_skip_indexes = 0")),
            "501000");
}

// The consolidated tables disagree with their sources as a kill -9 between commits leaves them:
// a raw batch whose views never ran, and a 5-minute part without its 1-minute source.
TEST(Migrations, RepairConsolidatedAfterUncleanStop) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Migrations m(config, schema, *conn, metrics);
  m.run();
  auto totals = [&](const char* table) {
    return trim(conn->query(fmt::format("SELECT sum(Bytes), sum(Packets) FROM {}", table)));
  };
  conn->query("INSERT INTO flows (TimeReceived, ExporterAddress, InIfName, SrcAS, Bytes, Packets) "
              "VALUES (now() - 120, '::ffff:192.0.2.1', 'eth0', 64500, 1000, 10), "
              "(now(), '::ffff:192.0.2.1', 'eth1', 64501, 2000, 20)");
  m.consolidateFromRaw();  // what the outlet inserts with such a batch
  EXPECT_EQ(m.repairConsolidated(std::chrono::minutes(10)), 0u);  // consistent: nothing to do
  // A raw batch whose consolidated rows were never inserted (killed between the two inserts).
  conn->query("INSERT INTO flows (TimeReceived, ExporterAddress, InIfName, SrcAS, Bytes, Packets) "
              "VALUES (now(), '::ffff:192.0.2.1', 'eth0', 64500, 500, 5), "
              "(now(), '::ffff:192.0.2.2', 'eth9', 64502, 300, 3)");
  // A 5-minute row with no source (it reaches the hourly table through its view).
  conn->query("INSERT INTO flows_5m0s (TimeReceived, ExporterAddress, InIfName, Bytes, Packets) "
              "VALUES (toStartOfFiveMinutes(now()), '::ffff:192.0.2.3', 'eth3', 7000, 70)");
  ASSERT_EQ(totals("flows"), "3800\t38");
  ASSERT_EQ(totals("flows_1m0s"), "3000\t30");
  ASSERT_EQ(totals("flows_5m0s"), "10000\t100");
  EXPECT_GT(m.repairConsolidated(std::chrono::minutes(10)), 0u);
  for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"}) {
    EXPECT_EQ(totals(t), "3800\t38") << t;
    // Per key too: the same rows as the source, grouped.
    EXPECT_EQ(trim(conn->query(fmt::format(
                  "SELECT sum(Bytes) FROM {} WHERE InIfName = 'eth9' AND SrcAS = 64502", t))),
              "300")
        << t;
  }
  EXPECT_EQ(m.repairConsolidated(std::chrono::minutes(10)), 0u);  // and now consistent
  // Outside the window nothing is looked at.
  conn->query("INSERT INTO flows_1m0s (TimeReceived, ExporterAddress, Bytes, Packets) "
              "VALUES (toStartOfMinute(now() - 3600), '::ffff:192.0.2.4', 1, 1)");
  EXPECT_EQ(m.repairConsolidated(std::chrono::minutes(10)), 0u);
  // Unless the writer was inserting a batch of that time (flows stamped by the exporter's
  // clock): its range is checked too, and the stray row is undone in every table.
  const uint32_t hour_ago = uint32_t(time(nullptr)) - 3600;
  EXPECT_GT(m.repairConsolidated(std::chrono::minutes(10), {hour_ago - 30, hour_ago + 30}), 0u);
  for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"})
    EXPECT_EQ(totals(t), "3800\t38") << t;
  EXPECT_EQ(m.repairConsolidated(std::chrono::minutes(10), {hour_ago - 30, hour_ago + 30}), 0u);
}

// Tables created before a codec changed (here: set back to LZ4 by hand) are migrated to it.
TEST(Migrations, CodecsFollowTheSchema) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Migrations m(config, schema, *conn, metrics);
  m.run();
  auto codec = [&](const char* table, const char* column) {
    return trim(conn->query(fmt::format("SELECT compression_codec FROM system.columns WHERE database = "
                                        "currentDatabase() AND table = '{}' AND name = '{}'",
                                        table, column)));
  };
  EXPECT_EQ(codec("flows", "SrcPort"), "CODEC(ZSTD(1))");
  EXPECT_EQ(codec("flows", "Bytes"), "CODEC(T64, ZSTD(1))");
  conn->query("ALTER TABLE flows MODIFY COLUMN SrcPort CODEC(LZ4)");
  conn->query("ALTER TABLE flows_1m0s MODIFY COLUMN InIfName CODEC(LZ4)");
  Migrations again(config, schema, *conn, metrics);
  again.run();
  EXPECT_EQ(again.applied(), (std::vector<std::string>{"codec of flows.SrcPort",
                                                       "codec of flows_1m0s.InIfName"}));
  EXPECT_EQ(codec("flows", "SrcPort"), "CODEC(ZSTD(1))");
  EXPECT_EQ(codec("flows_1m0s", "InIfName"), "CODEC(ZSTD(1))");
  Migrations third(config, schema, *conn, metrics);
  third.run();
  EXPECT_TRUE(third.applied().empty());
}

TEST(Migrations, TtlAndColumnsFollowTheConfiguration) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Migrations(config, Schema(), *conn, metrics).run();
  config.resolutions[0].ttl = std::chrono::hours(24 * 3);
  config.resolutions[2].ttl = Duration(0);
  Schema more(SchemaConfig{.enabled = {"SrcMAC", "DstMAC"}});
  Migrations m(config, more, *conn, metrics);
  m.run();
  std::string steps;
  for (const auto& s : m.applied()) steps += s + "\n";
  EXPECT_NE(steps.find("set ttl of flows to 3d"), std::string::npos) << steps;
  EXPECT_NE(steps.find("remove ttl of flows_5m0s"), std::string::npos) << steps;
  EXPECT_NE(steps.find("add column flows.SrcMAC"), std::string::npos) << steps;
  EXPECT_NE(steps.find("add column flows_1m0s.SrcMAC"), std::string::npos) << steps;
  EXPECT_NE(trim(conn->query("SELECT engine_full FROM system.tables WHERE database = "
                             "currentDatabase() AND name = 'flows'")).find("toIntervalSecond(259200)"),
            std::string::npos);
  Migrations again(config, more, *conn, metrics);
  again.run();
  EXPECT_TRUE(again.applied().empty()) << again.applied().front();
}

// resolutions[].table-settings (Akvorado's): set at creation over akvo's own, altered when they
// change, nothing to do when they agree; bad names are configuration errors.
TEST(Migrations, TableSettingsFollowTheConfiguration) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  auto read = [](const std::string& yaml) {
    YAML::Node n = YAML::Load(yaml);
    ConfigReader r(n, "test.yaml", "clickhouse");
    ClickHouseConfig c;
    c.read(r);
    r.finish();
    return c;
  };
  ClickHouseConfig config = read(
      "resolutions: [{interval: 0, ttl: 15d}, {interval: 1m, ttl: 7d, table-settings: "
      "{merge_with_ttl_timeout: 3600, ttl_only_drop_parts: 0}}]");
  Schema schema;
  Migrations(config, schema, *conn, metrics).run();
  auto engine = [&](const char* t) {
    return trim(conn->query(fmt::format("SELECT engine_full FROM system.tables WHERE database = "
                                        "currentDatabase() AND name = '{}'", t)));
  };
  EXPECT_NE(engine("flows_1m0s").find("ttl_only_drop_parts = 0, merge_with_ttl_timeout = 3600"),
            std::string::npos) << engine("flows_1m0s");
  EXPECT_NE(engine("flows").find("ttl_only_drop_parts = 1"), std::string::npos) << engine("flows");
  EXPECT_EQ(engine("flows").find("merge_with_ttl_timeout"), std::string::npos);
  Migrations same(config, schema, *conn, metrics);
  same.run();
  EXPECT_TRUE(same.applied().empty()) << same.applied().front();
  config = read(
      "resolutions: [{interval: 0, ttl: 15d}, {interval: 1m, ttl: 7d, table-settings: "
      "{merge_with_ttl_timeout: 7200, ttl_only_drop_parts: 0}}]");
  Migrations changed(config, schema, *conn, metrics);
  changed.run();
  EXPECT_EQ(changed.applied(), std::vector<std::string>{"set merge_with_ttl_timeout of flows_1m0s"});
  EXPECT_NE(engine("flows_1m0s").find("merge_with_ttl_timeout = 7200"), std::string::npos);
  try {
    read("resolutions: [{interval: 0, table-settings: {\"DROP TABLE\": 1}}]");
    FAIL() << "a bad setting name was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a setting name"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("test.yaml:1"), std::string::npos) << e.what();
  }
}

// A column enabled later joins the consolidated tables' sorting key: the summing engine keeps
// apart rows that differ by it (before, two MACs merged into one row with either MAC).
TEST(Migrations, ColumnsEnabledLaterJoinTheConsolidatedKey) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Migrations(config, Schema(), *conn, metrics).run();
  Schema more(SchemaConfig{.enabled = {"SrcMAC", "DstMAC"}});
  Migrations(config, more, *conn, metrics).run();
  auto key = [&](const char* table) {
    return trim(conn->query(fmt::format("SELECT sorting_key FROM system.tables WHERE database = "
                                        "currentDatabase() AND name = '{}'", table)));
  };
  for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"}) {
    EXPECT_NE(key(t).find("SrcMAC, DstMAC"), std::string::npos) << t << ": " << key(t);
    EXPECT_EQ(key(t).find("TimeReceived, ExporterAddress"), 0u) << key(t);
  }
  EXPECT_EQ(key("flows").find("SrcMAC"), std::string::npos) << key("flows");
  conn->query("INSERT INTO flows_1m0s (TimeReceived, SrcMAC, Bytes, Packets) VALUES "
              "(now(), 1, 100, 1), (now(), 2, 200, 2)");
  conn->query("OPTIMIZE TABLE flows_1m0s FINAL");
  EXPECT_EQ(trim(conn->query("SELECT count(), sum(Bytes) FROM flows_1m0s", "TSV")), "2\t300");
  Migrations again(config, more, *conn, metrics);
  again.run();
  EXPECT_TRUE(again.applied().empty()) << again.applied().front();
}

TEST(NativeBatch, RoundTripThroughTheStoreAndViews) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Migrations(config, schema, *conn, metrics).run();
  NativeBatch batch(schema);
  batch.consolidate(schema.consolidatedInsertedColumns(), 60);
  FlowRecord f;
  // Recent times: rows older than the TTL are dropped at insert.
  uint32_t base = uint32_t(time(nullptr)) / 3600 * 3600 - 3600;
  // Enough rows that the Native block certainly holds "\n\n" byte pairs (STORAGE.md's trap).
  for (uint32_t i = 0; i < 5000; i++) {
    f.reset();
    f.time_received = base + i % 600;
    f.sampling_rate = 1000;
    f.exporter_address = IPv6Addr::fromV4(0xc0000201 + i % 3);
    f.exporter_name = i % 3 == 0 ? "edge1" : i % 3 == 1 ? "edge2" : "";
    f.src_addr = IPv6Addr::fromV4(0x0a0a0a0a + i);
    f.dst_addr = *IPv6Addr::parse("2001:db8::1");
    f.src_as = 15169;
    f.dst_as = 64501 + i % 7;
    f.src_country[0] = 'F';
    f.src_country[1] = 'R';
    f.dst_as_path.push(64501);
    f.dst_as_path.push(15169);
    f.dst_communities.push(0x0a0a0a0a);  // 2570:2570 = "\n\n\n\n"
    f.dst_large_communities.push({64501, 1, 2});
    f.in_if_name = "Gi0/0/0/1";
    f.in_if_boundary = Boundary::kExternal;
    f.etype = 0x86dd;
    f.proto = 6;
    f.src_port = 443;
    f.dst_port = uint16_t(i);
    f.bytes = 1000 + i;
    f.packets = 2;
    f.flow_direction = FlowDirection::kIngress;
    batch.append(f);
  }
  std::string block = batch.encode();
  ASSERT_NE(block.find("\n\n"), std::string::npos);
  testing::insertBatch(*conn, batch);
  EXPECT_EQ(trim(conn->query("SELECT count(), sum(Bytes), uniqExact(ExporterAddress), uniqExact(ExporterName) FROM flows")),
            "5000\t17497500\t3\t3");
  EXPECT_EQ(trim(conn->query("SELECT ExporterName, toString(SrcAddr), toString(DstAddr), SrcCountry, DstASPath, "
                             "Dst1stAS, DstCommunities, DstLargeCommunities, InIfBoundary, FlowDirection, "
                             "PacketSize FROM flows WHERE DstPort = 3")),
            "edge1\t::ffff:10.10.10.13\t2001:db8::1\tFR\t[64501,15169]\t64501\t[168430090]\t"
            "[1189833439498344083750914]\texternal\tingress\t501");
  // Large community = asn << 64 | local1 << 32 | local2.
  EXPECT_EQ(trim(conn->query("SELECT bitShiftRight(DstLargeCommunities[1], 64) FROM flows LIMIT 1")), "64501");
  // The batch's consolidated rows and the views after them fed every resolution with the same
  // totals.
  for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"})
    EXPECT_EQ(trim(conn->query(fmt::format("SELECT sum(Bytes), sum(Packets) FROM {}", t))),
              "17497500\t10000") << t;
  EXPECT_EQ(trim(conn->query("SELECT count() FROM flows_1m0s WHERE toSecond(TimeReceived) != 0")), "0");
  // Clearing keeps capacity and starts over.
  batch.clear();
  EXPECT_EQ(batch.rows(), 0u);
  batch.append(f);
  testing::insertBatch(*conn, batch);
  EXPECT_EQ(trim(conn->query("SELECT count() FROM flows")), "5001");
  EXPECT_EQ(trim(conn->query("SELECT sum(Packets) FROM flows_1h0m0s")), "10002");
}

TEST(Store, ErrorsCarryTheEngineMessage) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  try {
    conn->query("SELECT * FROM no_such_table");
    FAIL();
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos);
  }
  EXPECT_THROW(conn->insertNative("INSERT INTO nope (a)", "garbage"), StoreError);
  // The connection still works after errors.
  EXPECT_EQ(trim(conn->query("SELECT 1")), "1");
}

}  // namespace akvo
