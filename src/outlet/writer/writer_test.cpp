// The writer: the TimeReceived range noted before each insert, for the repair after a kill -9
// (app.cpp reads it back); the raw and consolidated inserts of each batch.
#include "outlet/writer/writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "orchestrator/clickhouse.h"
#include "testing/test_store.h"

namespace akvo {
namespace {

TEST(BatchWriter, NotesTheRangeOfTheBatchInFlight) {
  AKVO_REQUIRE_STORE();
  Schema schema{SchemaConfig{}};
  Metrics metrics;
  BatchWriter::Config config;
  config.discard = true;  // encoded, not inserted: only the note matters here
  std::string dir = std::filesystem::temp_directory_path() / ("akvo-writer-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config.inflight_file = dir + "/akvo.inflight";
  BatchWriter writer(config, schema, testing::testStore(), metrics);
  writer.start();
  auto readNote = [&] {
    uint32_t a = 0, b = 0;
    std::ifstream(config.inflight_file) >> a >> b;
    return std::make_pair(a, b);
  };
  NativeBatch batch = writer.emptyBatch();
  FlowRecord f;
  f.sampling_rate = 1;
  for (uint32_t t : {1700000500u, 1700000100u, 1700000900u}) {
    f.time_received = t;
    batch.append(f);
  }
  EXPECT_EQ(batch.minTime(), 1700000100u);
  EXPECT_EQ(batch.maxTime(), 1700000900u);
  std::atomic<bool> stored = false;
  batch = writer.submit(std::move(batch), [&] { stored = true; });
  EXPECT_EQ(batch.rows(), 0u);
  EXPECT_EQ(batch.minTime(), 0u);  // a cleared batch has no range
  // The next batch, once the first is written (batches waiting together are noted as one
  // range), replaces the note.
  for (int i = 0; i < 1000 && !stored; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(stored);
  f.time_received = 1600000000;
  batch.append(f);
  batch = writer.submit(std::move(batch));
  writer.stop();
  EXPECT_TRUE(stored);
  EXPECT_EQ(readNote(), std::make_pair(1600000000u, 1600000000u));
  EXPECT_FALSE(std::filesystem::exists(config.inflight_file + ".tmp"));
  std::filesystem::remove_all(dir);
}

// With a consolidated table, each batch goes in twice: its raw rows into `flows`, then its rows
// grouped by minute into flows_1m0s (no view on `flows` does it any more); the coarser tables
// follow through their views. Batches waiting together go in as one INSERT per table: one
// part. (The writer's connection is the store's default database, which no other test of this
// process uses.)
TEST(BatchWriter, InsertsTheConsolidatedRowsAfterTheRawOnesAndJoinsWaitingBatches) {
  AKVO_REQUIRE_STORE();
  Schema schema{SchemaConfig{}};
  Metrics metrics;
  ClickHouseConfig ch;
  auto conn = testing::testStore().connect();
  Migrations(ch, schema, *conn, metrics).run();
  for (const char* t : {"flows", "flows_1m0s", "flows_5m0s", "flows_1h0m0s"})
    conn->query(std::string("SYSTEM STOP MERGES ") + t);
  BatchWriter::Config config;
  config.consolidated_table = "flows_1m0s";
  config.consolidated_seconds = 60;
  BatchWriter writer(config, schema, testing::testStore(), metrics);
  const uint32_t minute = uint32_t(time(nullptr)) / 60 * 60 - 600;
  FlowRecord f;
  f.sampling_rate = 1;
  f.exporter_name = "edge1";
  f.bytes = 100;
  f.packets = 1;
  std::vector<int> stored;
  // Three batches wait before the writer starts: 6 flows in one minute and 4 in the next, then
  // an empty batch, then 5 flows in the first minute.
  NativeBatch batch = writer.emptyBatch();
  ASSERT_TRUE(batch.consolidating());
  for (uint32_t i = 0; i < 10; i++) {
    f.time_received = minute + (i < 6 ? 5 : 65) + i;
    f.src_port = uint16_t(1000 + i);  // main-only: not a reason for a new row
    batch.append(f);
  }
  EXPECT_EQ(batch.consolidatedRows(), 2u);
  batch = writer.submit(std::move(batch), [&] { stored.push_back(1); });
  EXPECT_EQ(batch.consolidatedRows(), 0u);  // a fresh batch, its groups too
  batch = writer.submit(std::move(batch), [&] { stored.push_back(2); });
  for (uint32_t i = 0; i < 5; i++) {
    f.time_received = minute + 30 + i;
    batch.append(f);
  }
  batch = writer.submit(std::move(batch), [&] { stored.push_back(3); });
  writer.start();
  writer.stop();
  EXPECT_EQ(stored, (std::vector<int>{1, 2, 3}));
  auto q = [&](const std::string& sql) {
    std::string r = conn->query(sql);
    while (!r.empty() && r.back() == '\n') r.pop_back();
    return r;
  };
  EXPECT_EQ(q("SELECT count(), sum(Bytes) FROM flows"), "15\t1500");
  EXPECT_EQ(q("SELECT groupArray((t, b, p)) FROM (SELECT toUInt32(TimeReceived) - " +
              std::to_string(minute) + " AS t, sum(Bytes) AS b, sum(Packets) AS p FROM flows_1m0s "
              "GROUP BY t ORDER BY t)"),
            "[(0,1100,11),(60,400,4)]");
  EXPECT_EQ(q("SELECT sum(Bytes) FROM flows_1h0m0s"), "1500");
  // One INSERT each: one part in every table.
  EXPECT_EQ(q("SELECT groupArray(table) FROM (SELECT table FROM system.parts WHERE database = "
              "currentDatabase() AND table LIKE 'flows%' AND active ORDER BY table)"),
            "['flows','flows_1h0m0s','flows_1m0s','flows_5m0s']");
  EXPECT_EQ(metrics.counter("akvo_outlet_clickhouse_batches_joined_total", "").value(), 2u);
  EXPECT_EQ(metrics.counter("akvo_outlet_clickhouse_consolidated_rows_total", "").value(), 3u);
  EXPECT_EQ(metrics.counter("akvo_outlet_clickhouse_flows_total", "").value(), 15u);
}

/// A store whose one connection is `conn` (the writer connects once), seen through `wrap`.
class OneConnectionStore : public Store {
 public:
  explicit OneConnectionStore(std::unique_ptr<StoreConnection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<StoreConnection> connect(bool) override { return std::move(conn_); }
  std::string describe() const override { return "test"; }

 private:
  std::unique_ptr<StoreConnection> conn_;
};

/// Passes everything to a chDB connection; with `refuse_async`, refuses an insert with settings
/// as ClickHouse 18.16 does (the exact message its HTTP interface gives, http_store_test.cpp).
class Recording : public StoreConnection {
 public:
  Recording(StoreConnection& to, bool refuse_async, std::vector<std::string>& calls)
      : calls(calls), to_(to), refuse_async_(refuse_async) {}
  std::string query(std::string_view sql, std::string_view format) override {
    return to_.query(sql, format);
  }
  void insertNative(std::string_view prefix, std::string_view block) override {
    to_.insertNative(prefix, block);
  }
  void insertNativeParts(std::string_view prefix, const std::vector<std::string_view>& parts,
                         const Settings& settings) override {
    calls.push_back(settings.empty() ? "plain" : "async");
    if (refuse_async_ && !settings.empty())
      throw StoreError("Code: 115, e.displayText() = DB::Exception: Unknown setting async_insert, "
                       "e.what() = DB::Exception");
    to_.insertNativeParts(prefix, parts, settings);
  }
  std::vector<std::string>& calls;  ///< "async" or "plain", per insert

 private:
  StoreConnection& to_;
  bool refuse_async_;
};

// In cluster mode, inserts of at most a tenth of maximum-batch-size flows ask the server to join
// them with other small inserts (async_insert=1, wait_for_async_insert=1), as Akvorado does; the
// engine takes the statement and stores the rows before the insert returns (the embedded engine
// has no queue of async inserts: it inserts at once, its AsyncInsertQuery event stays 0; the
// HTTP store's test shows the setting reaching a server). A server that does not know the
// setting gets the small inserts as plain ones, without an error counted.
TEST(BatchWriter, SmallBatchesGoAsAsyncInsertsUnlessTheServerRefuses) {
  AKVO_REQUIRE_STORE();
  for (bool refuse : {false, true}) {
    SCOPED_TRACE(refuse ? "server refuses async_insert" : "server takes async_insert");
    Schema schema{SchemaConfig{}};
    Metrics metrics;
    auto db = testing::freshDatabase();
    ClickHouseConfig ch;
    Migrations(ch, schema, *db, metrics).run();
    std::vector<std::string> calls;  // the writer's connection does not outlive it
    OneConnectionStore store(std::make_unique<Recording>(*db, refuse, calls));
    BatchWriter::Config config;
    config.maximum_batch_size = 100;
    config.async_small_inserts = true;
    config.consolidated_table = "flows_1m0s";
    config.consolidated_seconds = 60;
    BatchWriter writer(config, schema, store, metrics);
    writer.start();
    FlowRecord f;
    f.sampling_rate = 1;
    f.bytes = 100;
    f.packets = 1;
    f.time_received = uint32_t(time(nullptr)) / 60 * 60 - 600;
    // 10 flows (a tenth: small), then 11 (not), then 5 (small), each written before the next.
    NativeBatch batch = writer.emptyBatch();
    for (int n : {10, 11, 5}) {
      for (int i = 0; i < n; i++) batch.append(f);
      std::atomic<bool> stored = false;
      batch = writer.submit(std::move(batch), [&] { stored = true; });
      for (int i = 0; i < 1000 && !stored; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      ASSERT_TRUE(stored);
    }
    writer.stop();
    EXPECT_EQ(db->query("SELECT count(), sum(Bytes) FROM flows"), "26\t2600\n");
    EXPECT_EQ(db->query("SELECT sum(Bytes) FROM flows_1m0s"), "2600\n");
    EXPECT_EQ(metrics.sum("akvo_outlet_clickhouse_errors_total"), 0u);
    if (!refuse) {
      // Raw and consolidated inserts of the first and third batches.
      EXPECT_EQ(calls, (std::vector<std::string>{"async", "async", "plain", "plain", "async", "async"}));
      EXPECT_EQ(metrics.sum("akvo_outlet_clickhouse_async_inserts_total"), 4u);
    } else {
      // Asked once, then never again.
      EXPECT_EQ(calls, (std::vector<std::string>{"async", "plain", "plain", "plain", "plain", "plain", "plain"}));
      EXPECT_EQ(metrics.sum("akvo_outlet_clickhouse_async_inserts_total"), 0u);
    }
  }
}

}  // namespace
}  // namespace akvo
