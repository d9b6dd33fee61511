#pragma once
/// The `clickhouse` configuration section and the schema migrations the orchestrator runs:
/// the raw `flows` table, one consolidated table per resolution fed by materialized views,
/// TTLs, and the lookup dictionaries (protocols, icmp, asns). Every step checks what exists
/// first, so running the migrations twice changes nothing.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/schema.h"
#include "common/tls.h"
#include "store/http_store.h"
#include "store/store.h"

namespace akvo {

struct Resolution {
  Duration interval{0};  ///< 0 is the raw table.
  Duration ttl{0};       ///< 0 keeps forever.
  /// `table-settings` (Akvorado's): MergeTree settings of the table, name -> SQL literal
  /// (numbers as written, anything else quoted), over akvo's own (index_granularity = 8192,
  /// ttl_only_drop_parts = 1); applied at creation, altered when they differ later.
  std::vector<std::pair<std::string, std::string>> table_settings;
};

struct ClickHouseConfig {
  std::string path = "./akvo-data";  ///< the embedded store's folder (used when no servers)
  std::string library;               ///< libchdb.so override
  std::vector<std::string> servers;  ///< ClickHouse servers (host:port, HTTP) instead
  std::string database = "default";
  std::string username = "default";
  std::string password;
  std::string cluster;
  std::string compression = "zstd";  ///< of inserts to servers: none, gzip, zstd (HTTP store)
  TlsConfig tls;                     ///< to the servers
  std::vector<Resolution> resolutions = {
      {Duration(0), std::chrono::hours(24 * 15)},
      {std::chrono::minutes(1), std::chrono::hours(24 * 7)},
      {std::chrono::minutes(5), std::chrono::hours(24 * 90)},
      {std::chrono::hours(1), std::chrono::hours(24 * 365 * 5)},
  };
  int64_t max_partitions = 50;
  bool skip_migrations = false;
  std::map<uint32_t, std::string> asns;  ///< ASN name overrides

  void read(ConfigReader& r);
  bool embedded() const { return servers.empty(); }
};

/// What akvo thinks of a ClickHouse server's version (`SELECT version()`, e.g. "24.8.4.13").
struct ServerVersionCheck {
  bool ok = true;                     ///< false: akvo refuses to run with it
  std::string error;                  ///< why, naming the version found and the minimum
  std::vector<std::string> warnings;  ///< supported, with a caveat
};
/// The oldest ClickHouse akvo's SQL runs on; and the first whose default query analyzer is the
/// one akvo's queries are written and tested on (the new one; akvo is tested with chDB 26.x).
inline constexpr std::string_view kMinimumClickHouse = "23.2";
inline constexpr std::string_view kAnalyzerClickHouse = "24.3";
/// Pure: decides from the version string alone.
ServerVersionCheck checkClickHouseVersion(std::string_view version);

/// The HTTP store's configuration for `clickhouse.servers` (TLS included).
HttpStore::Config httpStoreConfig(const ClickHouseConfig& c);

/// Table name for a resolution: "flows" for 0, else "flows_" + Go duration ("flows_1m0s").
std::string flowsTableName(Duration interval);

class Migrations {
 public:
  Migrations(const ClickHouseConfig& config, const Schema& schema, StoreConnection& conn,
             Metrics& metrics);
  /// Checks the server's version (checkClickHouseVersion: StoreError when refused, warnings
  /// logged), then brings the store to the wanted schema. Throws StoreError naming the failed
  /// step.
  void run();
  /// Steps applied by the last run (empty when nothing had to change).
  const std::vector<std::string>& applied() const { return applied_; }

  /// Makes every consolidated table agree with its source again after an unclean stop of the
  /// process that inserted (kill -9, crash). An insert into `flows`,
  /// the outlet's insert of the same batch's consolidated rows into the first consolidated table,
  /// and the chained materialized views that one triggers (flows_1m0s -> flows_5m0s -> ...) are
  /// separate commits: a kill between them leaves a batch in one table and not in the next.
  /// For each consolidated table in turn (finest first), compares its per-bucket Bytes and
  /// Packets with its source's over the `window` before the newest stored flow, and for the
  /// buckets that differ inserts the per-key difference (source minus table). The difference
  /// flows on to the coarser tables through their views, which are checked next. A negative
  /// difference (the view's part committed, not the source's) is inserted modulo 2^64: sums
  /// stay exact, and SummingMergeTree folds the row into its counterpart at the next merge.
  /// `inflight` (TimeReceived from, to; 0, 0 for none) is also checked, whatever its age: the
  /// range of the batch the writer was inserting (flows stamped by the exporter's clock can be
  /// older than the window).
  /// Embedded mode only (no cluster). Returns the number of buckets repaired.
  size_t repairConsolidated(Duration window, std::pair<uint32_t, uint32_t> inflight = {0, 0});
  /// Adds the rows of the first consolidated table for raw rows that did not come through an
  /// outlet (inserted with SQL: tests, imports), optionally those WHERE `where`. The tables
  /// after it follow through their views.
  void consolidateFromRaw(const std::string& where = "");

  /// DDL of a flows table (exposed for tests).
  std::string createTableSQL(size_t resolution_index) const;
  std::string consumerSelectSQL(size_t resolution_index) const;
  /// With clickhouse.cluster: the Distributed table over the local (replicated) one.
  std::string distributedTableSQL(size_t resolution_index) const;

 private:
  void exec(const std::string& step, const std::string& sql);
  /// A step whose check found it done (akvo_..._migrations_not_applied_total).
  void notApplied(const std::string& step);
  std::string scalar(const std::string& sql);
  void lookupTables();
  void flowsTable(size_t i);
  void consumer(size_t i);
  std::string partitionBy(const Resolution& r) const;
  /// The columns a consolidated table groups by (quoted), TimeReceived, Bytes, Packets excluded.
  std::vector<std::string> consolidatedKey() const;
  std::string ttlClause(const Resolution& r) const;
  /// The data-skipping indexes of resolution i's table: those of the schema whose column the
  /// table has (the consolidated tables lack the main-table-only columns).
  std::vector<SkipIndex> skipIndexes(size_t i) const;
  /// Adds, replaces and drops the indexes of an existing table to match skipIndexes(i).
  void reconcileSkipIndexes(size_t i);
  // Cluster mode (clickhouse.cluster set): tables are "<name>_local" (Replicated engines) on
  // every node, created ON CLUSTER, with a Distributed table "<name>" over them.
  std::string onCluster() const;
  std::string local(const std::string& name) const;
  std::string replicated(const std::string& engine, bool per_shard = true) const;

  const ClickHouseConfig& config_;
  const Schema& schema_;
  StoreConnection& conn_;
  Counter& applied_counter_;
  Counter& not_applied_counter_;
  Gauge& running_;  ///< 1 while run() runs
  std::vector<std::string> applied_;
};

/// Data shipped in the binary (data/*.csv), by file name.
std::string_view embeddedData(std::string_view name);

}  // namespace akvo
