// Decoder throughput on the test captures, with heap allocations counted per record (the hot
// path must allocate nothing). Run: build/release/akvo_bench --benchmark_filter=Decode
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "common/pcap_reader.h"
#include "demo/encoder.h"
#include "outlet/decoder/netflow/netflow.h"
#include "outlet/decoder/sflow/sflow.h"

// Every heap allocation of the process is counted (this file's operator new replaces the
// global one in akvo_bench).
static std::atomic<uint64_t> g_allocations{0};
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace akvo::decoder {
namespace {

const std::string kData = std::string(AKVO_SOURCE_DIR) + "/../shared/testdata/";

struct Sink : FlowSink {
  uint64_t bytes = 0, flows = 0;
  void flow(FlowRecord& f) override {
    bytes += f.bytes;
    flows++;
  }
};

std::vector<std::vector<uint8_t>> payloads(const std::vector<std::string>& files) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& f : files)
    for (auto& d : readPcapUdp(kData + f)) out.push_back(std::move(d.payload));
  return out;
}

// Decodes `warmup` once (templates), then `hot` over and over.
template <class D>
void run(benchmark::State& state, D& d, const std::vector<std::vector<uint8_t>>& warmup,
         const std::vector<std::vector<uint8_t>>& hot) {
  Sink sink;
  IPv6Addr exporter = *IPv6Addr::parse("192.0.2.1");
  for (const auto& p : warmup) d.decode(Input{std::span<const uint8_t>(p), exporter, 1}, sink);
  sink = {};
  uint64_t allocs_before = g_allocations.load();
  uint64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& p : hot) {
      d.decode(Input{std::span<const uint8_t>(p), exporter, 1}, sink);
      bytes += p.size();
    }
  }
  benchmark::DoNotOptimize(sink.bytes);
  uint64_t allocs = g_allocations.load() - allocs_before;
  state.SetItemsProcessed(int64_t(sink.flows));
  state.SetBytesProcessed(int64_t(bytes));
  state.counters["allocs_per_record"] =
      sink.flows ? double(allocs) / double(sink.flows) : double(allocs);
}

void BM_DecodeNetflowV9(benchmark::State& state) {
  NetflowDecoder d;
  run(state, d, payloads({"netflow/options-template.pcap", "netflow/options-data.pcap",
                          "netflow/template.pcap"}),
      payloads({"netflow/data.pcap"}));
}
BENCHMARK(BM_DecodeNetflowV9);

// The only IPFIX capture: template, options and 2 flows (IPv6, MPLS labels) per datagram.
void BM_DecodeIpfix(benchmark::State& state) {
  NetflowDecoder d;
  auto p = payloads({"netflow/mpls.pcap"});
  run(state, d, p, p);  // template and data in the same datagram
}
BENCHMARK(BM_DecodeIpfix);

// NetFlow v9 with data, templates and options in one datagram (21 flows).
void BM_DecodeNetflowV9Mixed(benchmark::State& state) {
  NetflowDecoder d;
  auto p = payloads({"netflow/data+templates.pcap"});
  run(state, d, p, p);
}
BENCHMARK(BM_DecodeNetflowV9Mixed);

// IPFIX from the demo encoder: 20 flows per message, templates sent once.
void BM_DecodeIpfixDemo(benchmark::State& state) {
  std::vector<FlowRecord> flows(20);
  for (size_t i = 0; i < flows.size(); i++) {
    flows[i].src_addr = IPv6Addr::fromV4(0x0a000000 + uint32_t(i));
    flows[i].dst_addr = IPv6Addr::fromV4(0xc0000200 + uint32_t(i));
    flows[i].bytes = 1000 + i;
    flows[i].packets = 1;
    flows[i].proto = 6;
  }
  NetflowDecoder d;
  run(state, d, {demo::encodeIpfix({1, 0, 0, 1000, true}, flows)},
      {demo::encodeIpfix({1, 0, 0, 0, false}, flows)});
}
BENCHMARK(BM_DecodeIpfixDemo);

// The same with templates shared (Kafka scale-out): each datagram is first checked by
// waitsForTemplates, as the outlet worker does, and the decoder looks at the shared generation.
void BM_DecodeIpfixDemoShared(benchmark::State& state) {
  std::vector<FlowRecord> flows(20);
  for (size_t i = 0; i < flows.size(); i++) {
    flows[i].src_addr = IPv6Addr::fromV4(0x0a000000 + uint32_t(i));
    flows[i].dst_addr = IPv6Addr::fromV4(0xc0000200 + uint32_t(i));
    flows[i].bytes = 1000 + i;
    flows[i].packets = 1;
    flows[i].proto = 6;
  }
  SharedTemplates shared;
  NetflowDecoder d;
  d.share(&shared);
  struct Checked : Decoder {
    NetflowDecoder& d;
    explicit Checked(NetflowDecoder& x) : d(x) {}
    Status decode(const Input& in, FlowSink& sink) override {
      if (d.waitsForTemplates(in)) return Status::kMissingTemplate;
      return d.decode(in, sink);
    }
  } checked(d);
  run(state, checked, {demo::encodeIpfix({1, 0, 0, 1000, true}, flows)},
      {demo::encodeIpfix({1, 0, 0, 0, false}, flows)});
}
BENCHMARK(BM_DecodeIpfixDemoShared);

// Template records applied from the templates topic (another outlet's), per second.
void BM_SharedTemplatesApply(benchmark::State& state) {
  Template t;
  for (uint16_t f = 1; f <= 20; f++) t.fields.push_back({f, 4, 0, false});
  t.min_length = 80;
  std::vector<std::pair<std::string, std::string>> records;
  for (uint32_t e = 0; e < 1000; e++) {
    t.refreshed = 1700000000 + e;
    DomainKey k{IPv6Addr::fromV4(0x0a000000 + e), 1, 10};
    records.emplace_back(SharedTemplates::templateKey(k, 256), SharedTemplates::templateValue(t));
  }
  int64_t n = 0;
  for (auto _ : state) {
    SharedTemplates s;
    for (const auto& [k, v] : records) benchmark::DoNotOptimize(s.apply(k, v));
    n += int64_t(records.size());
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_SharedTemplatesApply);

void BM_DecodeNetflowV5(benchmark::State& state) {
  NetflowDecoder d;
  auto p = payloads({"netflow/nfv5.pcap"});
  run(state, d, p, p);
}
BENCHMARK(BM_DecodeNetflowV5);

// sFlow flow samples with their sampled headers parsed (Ethernet, VLAN, IPv4/IPv6, TCP).
void BM_DecodeSflow(benchmark::State& state) {
  SflowDecoder d;
  auto p = payloads({"sflow/data-1140.pcap"});
  run(state, d, p, p);
}
BENCHMARK(BM_DecodeSflow);

void BM_DecodeSflowRawIPv4(benchmark::State& state) {
  SflowDecoder d;
  auto p = payloads({"sflow/data-sflow-raw-ipv4.pcap"});
  run(state, d, p, p);
}
BENCHMARK(BM_DecodeSflowRawIPv4);

}  // namespace
}  // namespace akvo::decoder
