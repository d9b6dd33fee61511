// The store's insert rate of our batches alone: 50,000 flow rows, encoded once, inserted over
// and over into the raw table of the embedded store, one INSERT per batch. The first argument is
// the batch's chunk size: 4096 (the default, 13 Native blocks per INSERT) or 50,000 (the whole
// batch in one block); the second, the table's data-skipping indexes: the defaults (1), none (0),
// or the defaults but the bloom filters on addresses and ports (2). BM_MergeBatches: what merging
// 20 such batches into one part costs (OPTIMIZE FINAL, merges stopped while inserting), with the
// same three choices of indexes. Both count the CPU seconds of the whole process per million
// rows (process_cpu_s_per_M_rows): wall time moves too much on a shared machine.
#include <benchmark/benchmark.h>

#include <sys/resource.h>

#include <random>

#include "common/metrics.h"
#include "orchestrator/clickhouse.h"
#include "store/native.h"
#include "testing/bench_store.h"

namespace akvo {
namespace {

constexpr size_t kRows = 50000;

/// CPU seconds of the whole process (every thread of the engine: inserts and the merges they
/// start), steadier than wall time on a shared machine.
double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

/// 1: the default indexes; 0: none; 2: the defaults but the bloom filters on the addresses and
/// ports (the columns with the most distinct values).
SchemaConfig withIndexes(int64_t which) {
  SchemaConfig c;
  if (which == 0)
    for (const auto& [column, type] : defaultSkipIndexes()) c.no_indexes.emplace_back(column);
  if (which == 2) c.no_indexes = {"SrcAddr", "DstAddr", "SrcPort", "DstPort"};
  return c;
}

NativeBatch makeBatch(const Schema& schema, size_t chunk) {
  NativeBatch batch(schema, chunk);
  std::mt19937 rng(7);
  const IStr names[] = {IStr("par-edge1"), IStr("par-edge2"), IStr("fra-edge1"), IStr("lon-core1")};
  const IStr ifs[] = {IStr("Gi0/0/1"), IStr("Gi0/0/2"), IStr("Te0/1/0"), IStr("Hu0/0/0/1")};
  const IStr providers[] = {IStr{}, IStr("cogent"), IStr("lumen"), IStr("franceix")};
  const uint32_t now = uint32_t(time(nullptr)) / 60 * 60;
  FlowRecord f;
  for (size_t i = 0; i < kRows; i++) {
    f.reset();
    f.time_received = now - uint32_t(rng() % 120);
    f.sampling_rate = 1000;
    f.exporter_address = IPv6Addr::fromV4(0x0a000001u + rng() % 4);
    f.exporter_name = names[rng() % 4];
    f.src_addr = IPv6Addr::fromV4(rng());
    f.dst_addr = IPv6Addr::fromV4(0xcb007100u | (rng() & 0xff));
    f.src_as = rng() % 3 ? 15169 : 64500 + rng() % 100;
    f.dst_as = 64501;
    f.in_if = 1 + rng() % 4;
    f.in_if_name = ifs[f.in_if - 1];
    f.in_if_provider = providers[f.in_if - 1];
    f.in_if_speed = 10000;
    f.in_if_boundary = f.in_if_provider.empty() ? Boundary::kInternal : Boundary::kExternal;
    f.out_if_name = ifs[rng() % 4];
    f.src_country[0] = 'F';
    f.src_country[1] = 'R';
    f.etype = 0x800;
    f.proto = 6;
    f.src_port = 443;
    f.dst_port = uint16_t(32768 + rng() % 20000);
    f.bytes = 100 + rng() % 1400;
    f.packets = 1 + rng() % 10;
    batch.append(f);
  }
  return batch;
}

void BM_InsertBatch(benchmark::State& state) {
  Schema schema{withIndexes(state.range(1))};
  auto conn = testing::benchDatabase();
  Metrics metrics;
  Migrations(ClickHouseConfig{}, schema, *conn, metrics).run();
  NativeBatch batch = makeBatch(schema, size_t(state.range(0)));
  const std::string block = batch.encode();
  const std::string insert = "INSERT INTO flows (" + batch.columnList() + ")";
  const double cpu = processCpuSeconds();
  for (auto _ : state) conn->insertNative(insert, block);
  state.counters["process_cpu_s_per_M_rows"] =
      (processCpuSeconds() - cpu) * 1e6 / double(state.iterations() * kRows);
  state.SetItemsProcessed(int64_t(state.iterations() * kRows));
  state.counters["blocks"] = double(batch.blocks());
  state.counters["bytes_per_row"] = double(block.size()) / kRows;
}
BENCHMARK(BM_InsertBatch)
    ->Args({4096, 1})
    ->Args({4096, 0})
    ->Args({4096, 2})
    ->Args({50000, 1})
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_MergeBatches(benchmark::State& state) {
  Schema schema{withIndexes(state.range(0))};
  NativeBatch batch = makeBatch(schema, 4096);
  const std::string block = batch.encode();
  const std::string insert = "INSERT INTO flows (" + batch.columnList() + ")";
  double cpu = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto conn = testing::benchDatabase();
    Metrics metrics;
    Migrations(ClickHouseConfig{}, schema, *conn, metrics).run();
    conn->query("SYSTEM STOP MERGES flows");
    for (int i = 0; i < 20; i++) conn->insertNative(insert, block);
    conn->query("SYSTEM START MERGES flows");
    state.ResumeTiming();
    const double before = processCpuSeconds();
    conn->query("OPTIMIZE TABLE flows FINAL");
    cpu += processCpuSeconds() - before;
  }
  state.counters["process_cpu_s_per_M_rows"] = cpu * 1e6 / double(state.iterations() * kRows * 20);
  state.SetItemsProcessed(int64_t(state.iterations() * kRows * 20));
}
BENCHMARK(BM_MergeBatches)
    ->Arg(1)
    ->Arg(0)
    ->Arg(2)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace akvo
