// The outlet's per-flow path: decode only, decode + batch, and decode + enrich (warm caches:
// static metadata, exporter and interface classifiers, networks, GeoIP) + batch.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/pcap_reader.h"
#include "demo/encoder.h"
#include "outlet/core/core.h"
#include "outlet/decoder/netflow/netflow.h"
#include "outlet/decoder/sflow/sflow.h"
#include "store/native.h"
#include "testing/config.h"

namespace akvo {
namespace {

template <class T>
T read(const std::string& yaml, const char* path) {
  return testing::readSection<T>(yaml, path, "bench.yaml");
}

struct Traffic {
  std::vector<std::vector<uint8_t>> datagrams;
  std::vector<IPv6Addr> exporters;
  size_t flows = 0;
};

// protocol 0: NetFlow v5, 30 flows per datagram; 1: IPFIX, 20 flows per message, templates and
// the sampling option in each exporter's first message only.
Traffic makeTraffic(int protocol) {
  Traffic t;
  std::mt19937 rng(42);
  const char* geo[] = {"89.160.20.112", "81.2.69.142", "2.125.160.216", "175.16.199.1"};
  for (int e = 0; e < 4; e++) {
    for (int d = 0; d < 64; d++) {
      std::vector<FlowRecord> flows(protocol == 0 ? 30 : 20);
      for (auto& f : flows) {
        f.src_addr = rng() % 2 ? *IPv6Addr::parse(geo[rng() % 4])
                               : IPv6Addr::fromV4(0x0b000000u | (rng() & 0xffffff));
        f.dst_addr = IPv6Addr::fromV4(0xcb007100u | (rng() & 0xff));  // 203.0.113.0/24
        f.in_if = 1 + rng() % 4;
        f.out_if = 11 + rng() % 4;
        f.proto = 6;
        f.src_port = 443;
        f.dst_port = uint16_t(32768 + rng() % 20000);
        f.bytes = 1500;
        f.packets = 1;
        f.src_as = rng() % 3 ? 0 : 15169;
        f.src_net_mask = 16;
        f.dst_net_mask = 24;
      }
      if (protocol == 0) {
        demo::V5Header h{3600000, 1700000000, uint32_t(d * 30), 1000};
        t.datagrams.push_back(demo::encodeNetflowV5(h, flows));
      } else {
        demo::IpfixHeader h;
        h.export_time = 1700000000;
        h.sequence = uint32_t(d * 20);
        h.domain = 1;
        h.sampling_interval = d == 0 ? 1000 : 0;
        h.templates = d == 0;
        t.datagrams.push_back(demo::encodeIpfix(h, flows));
      }
      t.exporters.push_back(IPv6Addr::fromV4(0x7f00000au + uint32_t(e)));
      t.flows += flows.size();
    }
  }
  return t;
}

size_t kBatchRows = getenv("BATCH_ROWS") ? size_t(atol(getenv("BATCH_ROWS"))) : 50000;

class Sink : public decoder::FlowSink {
 public:
  FlowEnricher* enricher = nullptr;
  NativeBatch* batch = nullptr;
  bool encode = false;  ///< full batches are encoded (the writer's work)
  uint64_t flows = 0, dropped = 0;
  uint64_t batches = 0, groups = 0;  ///< full batches and their consolidated rows
  void flow(FlowRecord& f) override {
    if (enricher && !enricher->enrich(f)) {
      dropped++;
      return;
    }
    if (batch) {
      batch->append(f);
      if (batch->rows() >= kBatchRows) {
        if (encode) {
          benchmark::DoNotOptimize(batch->encode().size());
          benchmark::DoNotOptimize(batch->encodeConsolidated().size());
        }
        batches++;
        groups += batch->consolidatedRows();
        batch->clear();
      }
    }
    flows++;
  }
};

void run(benchmark::State& state, Sink& sink, const Traffic& t) {
  decoder::NetflowDecoder dec;
  // Reception time is now: caches expire entries whose last use is older than cache-duration.
  const uint32_t now = uint32_t(time(nullptr));
  for (auto _ : state) {
    for (size_t i = 0; i < t.datagrams.size(); i++) {
      decoder::Input in{std::span<const uint8_t>(t.datagrams[i].data(), t.datagrams[i].size()),
                        t.exporters[i], now};
      if (sink.enricher) sink.enricher->received(now);  // as the outlet's worker, per datagram
      benchmark::DoNotOptimize(dec.decode(in, sink));
    }
  }
  state.SetItemsProcessed(int64_t(state.iterations() * t.flows));
  state.SetLabel(state.range(0) == 0 ? "netflow-v5" : "ipfix");
  state.counters["dropped"] = double(sink.dropped);
  if (sink.batches) state.counters["groups/batch"] = double(sink.groups) / double(sink.batches);
}

void BM_DecodeOnly(benchmark::State& state) {
  Traffic t = makeTraffic(int(state.range(0)));
  Sink sink;
  run(state, sink, t);
}
BENCHMARK(BM_DecodeOnly)->Arg(0)->Arg(1);

void BM_DecodeBatch(benchmark::State& state) {
  Traffic t = makeTraffic(int(state.range(0)));
  Schema schema(SchemaConfig{});
  NativeBatch batch(schema);
  batch.consolidate(schema.consolidatedInsertedColumns(), 60);  // as the writer's batches
  Sink sink;
  sink.batch = &batch;
  run(state, sink, t);
}
BENCHMARK(BM_DecodeBatch)->Arg(0)->Arg(1);

const char* kMetadata = R"y(
providers:
  - type: static
    exporters:
      127.0.0.0/24:
        name: par-edge1.example.net
        default: {name: Gi0/0/0, description: "Customer: cust", speed: 10000}
        ifindexes:
          1: {name: Gi0/0/1, description: "Transit: Cogent", speed: 10000}
          2: {name: Gi0/0/2, description: "PNI: Netflix", speed: 100000}
          3: {name: Gi0/0/3, description: "IX: FranceIX", speed: 100000}
          4: {name: Gi0/0/4, description: "Transit: Lumen", speed: 10000}
)y";
const char* kCore = R"y(
exporter-classifiers:
  - ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "$1")
  - Exporter.Name endsWith ".net" && ClassifyRegion("europe")
interface-classifiers:
  - ClassifyConnectivityRegex(Interface.Description, "(?i)(transit|pni|ppni|ix):? ", "$1") && ClassifyProviderRegex(Interface.Description, "[^ ]+ ([^ ]+)", "$1") && ClassifyExternal()
  - ClassifyInternal()
)y";

// The enrichment every outlet-path benchmark uses (warm after the first flows): static
// metadata, the slide's classifiers, two networks, both GeoIP test databases.
struct Enrichment {
  static GeoIP::Config geoConfig() {
    GeoIP::Config gc;
    gc.asn_database = {"../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb"};
    gc.geo_database = {"../shared/testdata/geoip/GeoLite2-City-Test.mmdb"};
    return gc;
  }
  explicit Enrichment(const std::string& core_yaml = kCore,
                      const CustomDictionaries* dictionaries = nullptr)
      : md(read<metadata::Metadata::Config>(kMetadata, "metadata"), metrics),
        nets(read<Networks::Config>(
            "networks: {203.0.113.0/24: {name: customers, role: customer, tenant: t1}, "
            "11.0.0.0/8: {name: remote, asn: 64999}}",
            "networks")),
        geo(geoConfig(), metrics),
        core(read<Core::Config>(core_yaml, "core"), metrics, &md, &nets, &geo, nullptr,
             dictionaries),
        enricher(core.makeEnricher()) {}
  Metrics metrics;
  metadata::Metadata md;
  Networks nets;
  GeoIP geo;
  Core core;
  std::unique_ptr<FlowEnricher> enricher;
};

void enrichBench(benchmark::State& state, bool with_batch, bool with_encode = false) {
  Traffic t = makeTraffic(int(state.range(0)));
  Enrichment e;
  Schema schema(SchemaConfig{});
  NativeBatch batch(schema);
  batch.consolidate(schema.consolidatedInsertedColumns(), 60);  // as the writer's batches
  Sink sink;
  sink.enricher = e.enricher.get();
  if (with_batch) sink.batch = &batch;
  sink.encode = with_encode;
  run(state, sink, t);
}
// The same with custom dictionaries: roles of addresses (ip_trie, SrcAddrRole and DstAddrRole)
// and sites of exporters (hashed on ExporterName): three more columns per flow, in the batch and
// in the consolidated rows (whose key is then built field by field).
void BM_DecodeEnrichBatchDictionaries(benchmark::State& state) {
  Traffic t = makeTraffic(int(state.range(0)));
  const std::string dir = "/tmp/akvo-bench-dict-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/roles.csv") << "prefix,role\n10.0.0.0/8,servers\n10.1.0.0/16,databases\n"
                                       "203.0.113.0/24,customers\n2001:db8::/32,v6\n";
  std::ofstream(dir + "/sites.csv") << "name,site\npar-edge1.example.net,paris\n";
  std::string y = R"y(
custom-dictionaries:
  roles:
    layout: ip_trie
    keys: [{name: prefix}]
    attributes: [{name: role}]
    source: DIR/roles.csv
    dimensions: [SrcAddr, DstAddr]
  sites:
    keys: [{name: name}]
    attributes: [{name: site}]
    source: DIR/sites.csv
    dimensions: [ExporterName]
)y";
  for (size_t at; (at = y.find("DIR")) != std::string::npos;) y.replace(at, 3, dir);
  SchemaConfig sc = read<SchemaConfig>(y, "schema");
  Schema schema(sc);
  Metrics metrics;
  CustomDictionaries dicts(schema, metrics, Duration(0));
  std::filesystem::remove_all(dir);
  Enrichment e(kCore, &dicts);
  NativeBatch batch(schema);
  batch.consolidate(schema.consolidatedInsertedColumns(), 60, &schema);
  Sink sink;
  sink.enricher = e.enricher.get();
  sink.batch = &batch;
  run(state, sink, t);
}
BENCHMARK(BM_DecodeEnrichBatchDictionaries)->Arg(0)->Arg(1);

void BM_DecodeEnrich(benchmark::State& state) { enrichBench(state, false); }
BENCHMARK(BM_DecodeEnrich)->Arg(0)->Arg(1);
void BM_DecodeEnrichBatch(benchmark::State& state) { enrichBench(state, true); }
BENCHMARK(BM_DecodeEnrichBatch)->Arg(0)->Arg(1);
// Plus the end of each full batch: its last chunk encoded (the other chunks were encoded as
// they filled, in every benchmark with a batch).
void BM_DecodeEnrichBatchEncode(benchmark::State& state) { enrichBench(state, true, true); }
BENCHMARK(BM_DecodeEnrichBatchEncode)->Arg(0)->Arg(1);

// The same paths on real captures (the decoder benchmarks' files): 0: NetFlow v9 (data.pcap
// after its templates), 1: sFlow (data-1140.pcap). Exporter 127.0.0.10, so the static metadata
// above applies (interfaces not listed take its default).
struct Capture {
  std::vector<std::vector<uint8_t>> warmup, hot;
  bool sflow = false;
};
Capture capture(int which) {
  const std::string dir = std::string(AKVO_SOURCE_DIR) + "/../shared/testdata/";
  auto load = [&](const char* f) {
    std::vector<std::vector<uint8_t>> out;
    for (auto& d : readPcapUdp(dir + f)) out.push_back(std::move(d.payload));
    return out;
  };
  Capture c;
  if (which == 0) {
    c.warmup = load("netflow/template.pcap");
    c.hot = load("netflow/data.pcap");
  } else {
    c.hot = load("sflow/data-1140.pcap");
    c.sflow = true;
  }
  return c;
}

template <class D>
void runCapture(benchmark::State& state, D& dec, Sink& sink, const Capture& c) {
  const IPv6Addr exporter = IPv6Addr::fromV4(0x7f00000au);
  const uint32_t now = uint32_t(time(nullptr));
  for (const auto& p : c.warmup) dec.decode(decoder::Input{std::span<const uint8_t>(p), exporter, now}, sink);
  sink.flows = 0;
  for (auto _ : state)
    for (const auto& p : c.hot) {
      if (sink.enricher) sink.enricher->received(now);  // as the outlet's worker, per datagram
      benchmark::DoNotOptimize(dec.decode(decoder::Input{std::span<const uint8_t>(p), exporter, now}, sink));
    }
  state.SetItemsProcessed(int64_t(sink.flows));
  state.SetLabel(c.sflow ? "sflow data-1140.pcap" : "netflow-v9 data.pcap");
  state.counters["dropped"] = double(sink.dropped);
  if (sink.batches) state.counters["groups/batch"] = double(sink.groups) / double(sink.batches);
}

void captureBench(benchmark::State& state, bool enrich_and_batch, bool with_encode = false) {
  Capture c = capture(int(state.range(0)));
  Enrichment e(std::string(kCore) + "default-sampling-rate: 1\n");
  Schema schema(SchemaConfig{});
  NativeBatch batch(schema);
  batch.consolidate(schema.consolidatedInsertedColumns(), 60);  // as the writer's batches
  Sink sink;
  if (enrich_and_batch) {
    sink.enricher = e.enricher.get();
    sink.batch = &batch;
  }
  sink.encode = with_encode;
  if (c.sflow) {
    decoder::SflowDecoder dec;
    runCapture(state, dec, sink, c);
  } else {
    decoder::NetflowDecoder dec;
    runCapture(state, dec, sink, c);
  }
}
void BM_CaptureDecodeOnly(benchmark::State& state) { captureBench(state, false); }
BENCHMARK(BM_CaptureDecodeOnly)->Arg(0)->Arg(1);
void BM_CaptureDecodeEnrichBatch(benchmark::State& state) { captureBench(state, true); }
BENCHMARK(BM_CaptureDecodeEnrichBatch)->Arg(0)->Arg(1);
void BM_CaptureDecodeEnrichBatchEncode(benchmark::State& state) { captureBench(state, true, true); }
BENCHMARK(BM_CaptureDecodeEnrichBatchEncode)->Arg(0)->Arg(1);

void BM_NetworksLookup(benchmark::State& state) {
  Networks::Config c;
  std::mt19937 rng(1);
  for (int i = 0; i < 10000; i++) {
    IPv6Prefix p{IPv6Addr::fromV4(rng() & 0xffffff00u), uint8_t(96 + 16 + rng() % 9)};
    for (unsigned b = p.len; b < 128; b++) p.addr.bytes[b / 8] &= uint8_t(~(0x80 >> (b % 8)));
    NetworkAttributes a;
    a.name = IStr("net" + std::to_string(i));
    c.networks.emplace_back(p, a);
  }
  Networks nets(c);
  std::vector<IPv6Addr> addrs;
  for (int i = 0; i < 4096; i++) addrs.push_back(IPv6Addr::fromV4(rng()));
  size_t i = 0, found = 0;
  for (auto _ : state) {
    found += nets.lookup(addrs[i++ & 4095]) != nullptr;
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_NetworksLookup);

void BM_GeoIPLookup(benchmark::State& state) {
  GeoDatabases db({"../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb"},
                  {"../shared/testdata/geoip/GeoLite2-City-Test.mmdb"});
  IPv6Addr a = *IPv6Addr::parse("89.160.20.112");
  for (auto _ : state) benchmark::DoNotOptimize(db.lookup(a));
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_GeoIPLookup);

}  // namespace
}  // namespace akvo
