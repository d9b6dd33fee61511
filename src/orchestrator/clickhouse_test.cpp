#include "orchestrator/clickhouse.h"

#include <fmt/format.h>
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

TEST(Migrations, CreateThenNothingToDo) {
  AKVO_REQUIRE_STORE();
  auto conn = testing::freshDatabase();
  Metrics metrics;
  ClickHouseConfig config;
  Schema schema;
  Migrations m(config, schema, *conn, metrics);
  m.run();
  EXPECT_FALSE(m.applied().empty());
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
