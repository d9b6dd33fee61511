// Flows per second through the whole pipeline on this machine: NetFlow v5 datagrams handed to
// the transport → (Kafka: producer → broker → consumer group) → outlet workers (decode, batch) →
// writer → chDB. BM_Pipeline/embedded is the in-process queue of all-in-one, for comparison.
// The Kafka case needs a broker: bench/kafka.sh starts one and sets AKVO_KAFKA_BROKERS.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "demo/encoder.h"
#include "orchestrator/clickhouse.h"
#include "orchestrator/kafka.h"
#include "outlet/outlet.h"
#include "store/chdb_store.h"
#include "testing/bench_store.h"
#include "transport/kafka.h"

namespace akvo {
namespace {

constexpr size_t kDatagrams = 2000;  // x 30 flows per iteration

Store& benchStore(const Schema& schema) {
  static ChdbStore* store = [&] {
    ChdbStore* s = &testing::benchStore();
    auto conn = s->connect();
    Metrics m;
    ClickHouseConfig cc;
    Migrations(cc, schema, *conn, m).run();
    return s;
  }();
  return *store;
}

std::vector<Datagram> makeDatagrams() {
  std::mt19937 rng(42);
  std::vector<Datagram> out(kDatagrams);
  std::vector<FlowRecord> flows(30);
  uint32_t seq = 0;
  for (size_t i = 0; i < kDatagrams; i++) {
    for (auto& f : flows) {
      f.src_addr = IPv6Addr::fromV4(0x0a000000 | (rng() & 0xffffff));
      f.dst_addr = IPv6Addr::fromV4(0xc0000200 | (rng() & 0xff));
      f.bytes = 100 + rng() % 1400;
      f.packets = 1 + rng() % 10;
      f.src_port = uint16_t(rng());
      f.dst_port = 443;
      f.proto = 6;
    }
    auto bytes = demo::encodeNetflowV5({100000, 1700000000, seq, 0}, flows);
    seq += 30;
    out[i].buffer.assign(bytes.begin(), bytes.end());
    out[i].buffer.resize(Datagram::kMaxSize);
    out[i].size = uint32_t(bytes.size());
    out[i].exporter = IPv6Addr::fromV4(0x7f000001 + uint32_t(i % 4));
    out[i].time_received = 1700000000;
  }
  return out;
}

void sendAll(FlowTransport& t, const std::vector<Datagram>& src, std::vector<Datagram>& scratch) {
  for (size_t i = 0; i < src.size();) {
    size_t n = std::min<size_t>(64, src.size() - i);
    for (size_t k = 0; k < n; k++) {
      scratch[k].buffer = src[i + k].buffer;  // send() swaps buffers out
      scratch[k].size = src[i + k].size;
      scratch[k].exporter = src[i + k].exporter;
      scratch[k].time_received = src[i + k].time_received;
    }
    size_t done = t.send(std::span(scratch.data(), n));
    if (done == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // queue full
    i += done;
  }
}

void waitStored(Metrics& m, uint64_t want) {
  while (m.sum("akvo_outlet_clickhouse_flows_total") < want)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

void BM_Pipeline(benchmark::State& state, bool kafka) {
  Schema schema(SchemaConfig{});
  Store& store = benchStore(schema);
  Metrics metrics;
  Outlet::Config oc;
  oc.workers = 2;
  oc.clickhouse.maximum_wait_time = std::chrono::milliseconds(100);
  auto datagrams = makeDatagrams();
  std::vector<Datagram> scratch(64);
  std::unique_ptr<QueueTransport> queues;
  std::unique_ptr<KafkaProducer> producer;
  std::unique_ptr<KafkaConsumer> consumer;
  KafkaConfig kc;
  FlowTransport* in = nullptr;
  OutletTransport* out = nullptr;
  if (kafka) {
    const char* brokers = getenv("AKVO_KAFKA_BROKERS");
    if (!brokers) {
      state.SkipWithError("AKVO_KAFKA_BROKERS not set: run bench/kafka.sh");
      return;
    }
    kc.brokers = {brokers};
    kc.topic = "bench" + std::to_string(getpid());
    kc.num_partitions = 4;
    kc.max_workers = 2;
    kc.consumer_group = kc.topic;
    ensureKafkaTopic(kc);
    producer = std::make_unique<KafkaProducer>(kc, metrics);
    producer->start();
    consumer = std::make_unique<KafkaConsumer>(kc, metrics);
    consumer->start();
    in = producer.get();
    out = consumer.get();
  } else {
    queues = std::make_unique<QueueTransport>(2, 16384);
    in = queues.get();
    out = queues.get();
  }
  Outlet outlet(oc, schema, *out, store, metrics);
  outlet.start();
  while (consumer && consumer->assignedPartitions() == 0)  // the group's first rebalance
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  uint64_t want = 0;
  for (auto _ : state) {
    sendAll(*in, datagrams, scratch);
    want += kDatagrams * 30;
    waitStored(metrics, want);
  }
  state.counters["flows_per_s"] =
      benchmark::Counter(double(want), benchmark::Counter::kIsRate);
  outlet.stop();
  if (producer) producer->stop();
  if (consumer) consumer->stop();
}

BENCHMARK_CAPTURE(BM_Pipeline, embedded, false)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);
BENCHMARK_CAPTURE(BM_Pipeline, kafka, true)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);

}  // namespace
}  // namespace akvo
