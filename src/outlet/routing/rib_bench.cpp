// RIB benchmark: 1 million IPv4 + 200k IPv6 prefixes, each announced by 4 peers (4.8 million
// routes, like four full-table transit sessions), attribute sets drawn from a pool of 100k AS
// paths per peer. Reports bytes per route and lookups per second: random addresses inside
// announced prefixes (random host bits), 1/6 IPv6, over the whole table.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <set>
#include <vector>

#include "outlet/routing/rib.h"

namespace akvo::routing {
namespace {

constexpr size_t kV4 = 1'000'000, kV6 = 200'000, kPeers = 4, kPaths = 100'000;

struct Table {
  std::vector<Nlri> prefixes;
  std::unique_ptr<Rib> rib;
  IPv6Addr exporter = IPv6Addr::fromV4(0xcb007101);
  double build_seconds = 0;
};

/// Prefix lengths roughly as in the global table: mostly /24 (IPv4) and /48 (IPv6).
uint8_t v4Len(std::mt19937& rng) {
  static const uint8_t lens[] = {24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 23, 23, 22, 22,
                                 22, 21, 20, 19, 18, 17, 16};
  return lens[rng() % sizeof(lens)];
}
uint8_t v6Len(std::mt19937& rng) {
  static const uint8_t lens[] = {48, 48, 48, 48, 48, 48, 44, 40, 36, 32, 32, 29};
  return lens[rng() % sizeof(lens)];
}

Table& table() {
  static Table t = [] {
    Table t;
    std::mt19937 rng(42);
    std::set<std::pair<IPv6Addr, uint8_t>> seen;
    while (t.prefixes.size() < kV4) {
      Nlri n;
      uint8_t len = v4Len(rng);
      uint32_t a = uint32_t(rng()) & (~0u << (32 - len));
      if ((a >> 24) == 0 || (a >> 24) >= 224) continue;
      n.prefix = {IPv6Addr::fromV4(a), uint8_t(96 + len)};
      if (seen.insert({n.prefix.addr, n.prefix.len}).second) t.prefixes.push_back(n);
    }
    while (t.prefixes.size() < kV4 + kV6) {
      Nlri n;
      uint8_t len = v6Len(rng);
      uint64_t hi = (uint64_t(0x2000) << 48 | (uint64_t(rng()) << 16 | rng() % 65536) << 4) &
                    (~uint64_t(0) << (64 - len));
      std::array<uint8_t, 16> b{};
      for (int i = 0; i < 8; i++) b[size_t(i)] = uint8_t(hi >> (56 - 8 * i));
      n.prefix = {IPv6Addr::fromV6Bytes(b.data()), len};
      if (seen.insert({n.prefix.addr, n.prefix.len}).second) t.prefixes.push_back(n);
    }
    t.rib = std::make_unique<Rib>();
    auto start = std::chrono::steady_clock::now();
    for (size_t p = 0; p < kPeers; p++) {
      BmpPeer peer;
      peer.address = IPv6Addr::fromV4(0xc0000201 + uint32_t(p));
      peer.asn = 65001 + uint32_t(p);
      auto id = t.rib->peer(t.exporter, peer);
      PathAttributes attrs;
      IPv6Addr nh = peer.address;
      // UPDATE messages of 8 prefixes sharing attributes, as routers pack them.
      for (size_t i = 0; i < t.prefixes.size(); i += 8) {
        uint32_t path = uint32_t((i / 8 * 2654435761u + p) % kPaths);
        attrs.as_path = {peer.asn, 174 + path % 50, 1000 + path % 5000, 64512 + path};
        attrs.communities = {peer.asn << 16 | (path % 100)};
        size_t n = std::min<size_t>(8, t.prefixes.size() - i);
        std::vector<Nlri> batch(t.prefixes.begin() + std::ptrdiff_t(i),
                                t.prefixes.begin() + std::ptrdiff_t(i + n));
        for (auto& b : batch) b.next_hop = nh;
        t.rib->update(id, attrs, batch, {});
      }
    }
    t.build_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return t;
  }();
  return t;
}

void BM_RibLookup(benchmark::State& state) {
  Table& t = table();
  std::mt19937 rng(7);
  // Addresses inside announced prefixes (host bits random), mixed IPv4 and IPv6.
  std::vector<IPv6Addr> queries;
  for (int i = 0; i < 1 << 16; i++) {
    IPv6Addr a = t.prefixes[rng() % t.prefixes.size()].prefix.addr;
    a.bytes[15] ^= uint8_t(rng());
    queries.push_back(a);
  }
  RouteInfo r;
  size_t i = 0, found = 0;
  for (auto _ : state) {
    found += t.rib->lookup(t.exporter, queries[i++ & 0xffff], {}, r);
    benchmark::DoNotOptimize(r.asn);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
  // Per-thread averages (the table is shared, not per thread).
  auto avg = [](double v) { return benchmark::Counter(v, benchmark::Counter::kAvgThreads); };
  state.counters["found"] = avg(double(found) / double(state.iterations()));
  state.counters["routes"] = avg(double(t.rib->routes()));
  state.counters["prefixes"] = avg(double(t.rib->prefixes()));
  state.counters["attr_sets"] = avg(double(t.rib->attributeSets()));
  state.counters["MB"] = avg(double(t.rib->memoryBytes()) / 1e6);
  state.counters["bytes_per_route"] = avg(double(t.rib->memoryBytes()) / double(t.rib->routes()));
  state.counters["build_routes_per_s"] = avg(double(t.rib->routes()) / t.build_seconds);
}
// Wall time: lookups/s of the threads together. The CPU column is the cost per lookup on one
// core (on a shared machine, wall time also counts the time other processes had the core).
BENCHMARK(BM_RibLookup)->ThreadRange(1, 2)->UseRealTime();

// The same code on a table that fits in the CPU caches (20k prefixes, one peer): the gap with
// BM_RibLookup is memory latency (a cache miss per trie level and per route).
void BM_RibLookupCached(benchmark::State& state) {
  std::mt19937 rng(3);
  Rib rib;
  BmpPeer peer;
  peer.address = IPv6Addr::fromV4(0xc0000201);
  peer.asn = 65001;
  auto id = rib.peer(IPv6Addr{}, peer);
  std::vector<IPv6Addr> queries;
  PathAttributes attrs;
  attrs.as_path = {65001, 174, 64476};
  for (int i = 0; i < 20000; i++) {
    Nlri n;
    uint8_t len = v4Len(rng);
    n.prefix = {IPv6Addr::fromV4(uint32_t(rng()) & (~0u << (32 - len))), uint8_t(96 + len)};
    Nlri one[] = {n};
    rib.update(id, attrs, one, {});
    queries.push_back(n.prefix.addr);
  }
  RouteInfo r;
  size_t i = 0;
  for (auto _ : state) {
    rib.lookup(IPv6Addr{}, queries[i++ % queries.size()], {}, r);
    benchmark::DoNotOptimize(r.asn);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_RibLookupCached);

}  // namespace
}  // namespace akvo::routing
