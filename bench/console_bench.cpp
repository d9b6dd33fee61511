// The console's /graph/line on 100 million flows over 30 days, in chDB. Run by hand (not part of
// the test suite): the first run generates the data inside the store with SQL (several
// minutes), later runs reuse it (AKVO_CONSOLE_BENCH_REFILL=1 regenerates the consolidated
// tables).
//
//   AKVO_CONSOLE_BENCH_DIR=/tmp/akvo-console-bench build/release/akvo_bench \
//     --benchmark_filter=ConsoleLine --benchmark_repetitions=3
//
// The data: flows at a steady rate ending at the generation time, 4 exporters with 8
// interfaces each, 5,000 "conversations" (source AS, destination AS, protocol, country,
// interface...) with skewed sizes, free addresses and ports. The consolidated tables are filled
// by the materialized views, as in production.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "common/metrics.h"
#include "common/schema.h"
#include "console/console.h"
#include "orchestrator/clickhouse.h"
#include "store/chdb_store.h"

namespace akvo {
namespace {

constexpr int64_t kRows = 100'000'000;
constexpr int64_t kSpan = 30 * 86400;

struct BenchStore {
  std::unique_ptr<ChdbStore> store;
  std::unique_ptr<StoreConnection> conn;
  ClickHouseConfig clickhouse;
  Schema schema;
  Metrics metrics;
  std::unique_ptr<console::Console> console;
  std::mutex mutex;
  int64_t now = 0;
  std::string last_table;
};

BenchStore& bench() {
  static BenchStore* b = [] {
    auto* s = new BenchStore;
    const char* dir = getenv("AKVO_CONSOLE_BENCH_DIR");
    ChdbStore::Config c;
    c.path = dir ? dir : "/tmp/akvo-console-bench";
    s->store = std::make_unique<ChdbStore>(c);
    s->conn = s->store->connect();
    s->clickhouse.path = c.path;
    // Keep every generated flow: with the default TTLs (raw 15 days, 1-minute 7 days) merges
    // would drop half of the raw data between runs. The queries measured read the same tables
    // as with the defaults (6 hours: 1-minute table; 30 days: hourly table).
    s->clickhouse.resolutions[0].ttl = Duration(0);
    s->clickhouse.resolutions[1].ttl = Duration(0);
    Migrations m(s->clickhouse, s->schema, *s->conn, s->metrics);
    m.run();
    int64_t have = std::stoll(s->conn->query("SELECT count() FROM flows", "TSV"));
    if (have < kRows) {
      s->conn->query("TRUNCATE TABLE flows", "TSV");
      for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"})
        s->conn->query(fmt::format("TRUNCATE TABLE {}", t), "TSV");
      // The views run inside each INSERT; filling the consolidated tables afterwards with the
      // views' own SELECT, one day at a time, gives the same tables at a fraction of the cost.
      for (size_t i = 1; i < s->clickhouse.resolutions.size(); i++)
        s->conn->query(fmt::format("DROP VIEW IF EXISTS {}_consumer",
                                   flowsTableName(s->clickhouse.resolutions[i].interval)),
                       "TSV");
      int64_t end = int64_t(time(nullptr));
      int64_t start = end - kSpan;
      constexpr int64_t kChunk = 10'000'000;
      for (int64_t from = 0; from < kRows; from += kChunk) {
        auto t0 = std::chrono::steady_clock::now();
        s->conn->query(
            fmt::format(R"(INSERT INTO flows (TimeReceived, SamplingRate, ExporterAddress, ExporterName,
  InIfName, OutIfName, InIfSpeed, OutIfSpeed, InIfBoundary, OutIfBoundary, InIfProvider, OutIfProvider,
  InIfConnectivity, OutIfConnectivity, SrcAS, DstAS, SrcCountry, DstCountry, SrcAddr, DstAddr,
  SrcPort, DstPort, Proto, EType, ForwardingStatus, Bytes, Packets)
SELECT toDateTime({0} + intDiv(number * {1}, {2})) AS t, 1000,
  toIPv6(concat('::ffff:192.0.2.', toString(r))), concat('edge', toString(r)),
  concat('Gi0/', toString(ii)), concat('Te0/', toString(oi)), 10000, 100000,
  if(ii < 4, 'external', 'internal'), if(oi < 4, 'external', 'internal'),
  ['cogent', 'telia', 'lumen', 'ntt', '', '', '', ''][ii + 1], ['', '', '', '', 'core', 'core', 'core', 'core'][oi + 1],
  ['transit', 'transit', 'ix', 'pni', '', '', '', ''][ii + 1], '',
  64500 + k % 300, 15169 + k % 50, ['FR', 'DE', 'US', 'NL', 'GB', 'JP', 'BR', 'IN'][k % 8 + 1], 'FR',
  toIPv6(IPv4NumToString(toUInt32(167772160 + h % 65536))), toIPv6(IPv4NumToString(toUInt32(3221225472 + bitShiftRight(h, 16) % 4096))),
  h % 64512 + 1024, [443, 80, 53, 22][k % 4 + 1], [6, 6, 17, 1][k % 4 + 1], if(k % 10 = 0, 34525, 2048), 64,
  100 + h % 1400, 1 + h % 20
FROM (SELECT number, intHash64(number) AS h, toUInt32(pow(h % 1000000 / 1000000.0, 3) * 5000) AS k,
  k % 4 + 1 AS r, intDiv(k, 4) % 8 AS ii, intDiv(k, 32) % 8 AS oi FROM numbers({3}, {4}))
SETTINGS max_insert_threads = 1, max_threads = 2)",
                        start, kSpan, kRows, from, kChunk),
            "TSV");
        spdlog::info("console bench: generated {}M flows ({:.1f} s for this chunk)", (from + kChunk) / 1'000'000,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    if (getenv("AKVO_CONSOLE_BENCH_REFILL") ||
        std::stoll(s->conn->query("SELECT count() FROM flows_1h0m0s", "TSV")) == 0) {
      // Aggregating 100M raw rows on ~40 key columns takes over half an hour on this machine
      // (the views inside the INSERTs even longer). Every consolidated column of the data set is
      // a function of the conversation k, so the consolidated rows are generated directly with
      // the same formulas, grouped by (time bucket, k): the same rows the views would write.
      // The 1-minute table gets the last 2 days only (enough for the 6-hour graph); its views
      // carry them on to the 5-minute and hourly tables, which then get the first 28 days.
      for (const char* t : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"})
        s->conn->query(fmt::format("TRUNCATE TABLE {}", t), "TSV");
      int64_t start = std::stoll(s->conn->query("SELECT toUInt32(min(TimeReceived)) FROM flows", "TSV"));
      struct Fill {
        const char* table;
        int64_t resolution, from;
        int64_t to;
      } fills[] = {{"flows_1m0s", 60, kRows / 30 * 28, kRows}, {"flows_1h0m0s", 3600, 0, kRows / 30 * 28}};
      for (const auto& f : fills) {
        auto t0 = std::chrono::steady_clock::now();
        s->conn->query(fmt::format(R"(INSERT INTO {0} (TimeReceived, SamplingRate, ExporterAddress,
  ExporterName, InIfName, OutIfName, InIfSpeed, OutIfSpeed, InIfBoundary, OutIfBoundary, InIfProvider,
  OutIfProvider, InIfConnectivity, OutIfConnectivity, SrcAS, DstAS, SrcCountry, DstCountry, Proto, EType,
  ForwardingStatus, Bytes, Packets)
SELECT tt, 1000, toIPv6(concat('::ffff:192.0.2.', toString(r))), concat('edge', toString(r)),
  concat('Gi0/', toString(ii)), concat('Te0/', toString(oi)), 10000, 100000,
  if(ii < 4, 'external', 'internal'), if(oi < 4, 'external', 'internal'),
  ['cogent', 'telia', 'lumen', 'ntt', '', '', '', ''][ii + 1], ['', '', '', '', 'core', 'core', 'core', 'core'][oi + 1],
  ['transit', 'transit', 'ix', 'pni', '', '', '', ''][ii + 1], '',
  64500 + k % 300, 15169 + k % 50, ['FR', 'DE', 'US', 'NL', 'GB', 'JP', 'BR', 'IN'][k % 8 + 1], 'FR',
  [6, 6, 17, 1][k % 4 + 1], if(k % 10 = 0, 34525, 2048), 64, b, p
FROM (SELECT toDateTime(intDiv({1} + intDiv(number * {2}, {3}), {4}) * {4}) AS tt,
        toUInt32(pow(intHash64(number) % 1000000 / 1000000.0, 3) * 5000) AS k,
        sum(100 + intHash64(number) % 1400) AS b, sum(1 + intHash64(number) % 20) AS p
      FROM numbers({5}, {6}) GROUP BY tt, k)
ARRAY JOIN [k % 4 + 1] AS r, [intDiv(k, 4) % 8] AS ii, [intDiv(k, 32) % 8] AS oi)",
                                   f.table, start, kSpan, kRows, f.resolution, f.from, f.to - f.from),
                       "TSV");
        spdlog::info("console bench: filled {} ({:.1f} s)", f.table,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    s->now = std::stoll(s->conn->query("SELECT toUInt32(max(TimeReceived)) FROM flows", "TSV"));
    console::ConsoleConfig cc;
    cc.cache_size = 0;  // measure the queries, not the cache
    cc.query_timeout = std::chrono::seconds(60);
    s->console = std::make_unique<console::Console>(
        cc, s->schema, s->clickhouse,
        [s](const std::string& sql, const std::string& f) {
          std::lock_guard lock(s->mutex);
          return s->conn->query(sql, f);
        },
        s->metrics);
    s->console->setClock([s] { return s->now; });
    s->console->start();
    return s;
  }();
  return *b;
}

void lineGraph(benchmark::State& state, int64_t range, const char* dims, const char* filter) {
  BenchStore& b = bench();
  std::string body = fmt::format(
      R"({{"start":"{}","end":"{}","dimensions":{},"limit":10,"points":200,"filter":"{}","units":"l3bps"}})",
      console::formatRfc3339(b.now - range), console::formatRfc3339(b.now), dims, filter);
  HttpRequest req;
  req.method = "POST";
  req.path = "/api/v0/console/graph/line";
  req.body = body;
  std::string table;
  for (auto _ : state) {
    HttpResponse r = b.console->handle(req);
    if (r.status != 200) state.SkipWithError(r.body.c_str());
    table = nlohmann::json::parse(r.body)["table"];
    benchmark::DoNotOptimize(r.body);
  }
  state.SetLabel(fmt::format("table {}", table));
}

void ConsoleLine6h(benchmark::State& state) {
  lineGraph(state, 6 * 3600, R"(["SrcAS"])", "InIfBoundary = external");
}
void ConsoleLine30d(benchmark::State& state) {
  lineGraph(state, 30 * 86400, R"(["SrcAS"])", "InIfBoundary = external");
}
void ConsoleLine6hRawColumn(benchmark::State& state) {
  lineGraph(state, 6 * 3600, R"(["DstPort"])", "InIfBoundary = external AND SrcPort > 1023");
}
BENCHMARK(ConsoleLine6h)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ConsoleLine30d)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ConsoleLine6hRawColumn)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace akvo
