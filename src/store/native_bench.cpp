// The store's insert rate of our batches alone: 50,000 flow rows, encoded once, inserted over
// and over into the embedded store (raw table and the three consolidated tables through their
// views), one INSERT per batch. The argument is the batch's chunk size: 4096 (the default, 13
// Native blocks per INSERT) or 50,000 (the whole batch in one block).
#include <benchmark/benchmark.h>

#include <random>

#include "common/metrics.h"
#include "orchestrator/clickhouse.h"
#include "store/native.h"
#include "testing/bench_store.h"

namespace akvo {
namespace {

void BM_InsertBatch(benchmark::State& state) {
  constexpr size_t kRows = 50000;
  Schema schema{SchemaConfig{}};
  auto conn = testing::benchDatabase();
  Metrics metrics;
  Migrations(ClickHouseConfig{}, schema, *conn, metrics).run();
  NativeBatch batch(schema, size_t(state.range(0)));
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
  const std::string block = batch.encode();
  const std::string insert = "INSERT INTO flows (" + batch.columnList() + ")";
  for (auto _ : state) conn->insertNative(insert, block);
  state.SetItemsProcessed(int64_t(state.iterations() * kRows));
  state.counters["blocks"] = double(batch.blocks());
  state.counters["bytes_per_row"] = double(block.size()) / kRows;
}
BENCHMARK(BM_InsertBatch)->Arg(4096)->Arg(50000)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace akvo
