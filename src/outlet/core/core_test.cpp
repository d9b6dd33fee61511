#include "outlet/core/core.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "testing/config.h"

namespace akvo {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

template <class T>
T read(const std::string& yaml, const char* path) {
  return testing::readSection<T>(yaml, path, "test.yaml");
}

const char* kMetadata = R"y(
providers:
  - type: static
    exporters:
      192.0.2.0/24:
        name: par-edge1.example.net
        ifindexes:
          1: {name: Gi0/0/1, description: "Transit: Cogent", speed: 10000}
          2: {name: Gi0/0/2, description: "Customer: cust1", speed: 1000}
          3: {name: Gi0/0/3, description: "lab", speed: 1000}
      198.51.100.0/24:
        name: static-classified
        region: asia
        default: {name: x, speed: 10, provider: p1, connectivity: c1, boundary: internal}
)y";

const char* kCore = R"y(
exporter-classifiers:
  - ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "$1")
  - ClassifyRegion("europe")
interface-classifiers:
  - Interface.Description == "lab" && Reject()
  - ClassifyConnectivityRegex(Interface.Description, "(?i)(transit|pni|ppni|ix):? ", "$1") && ClassifyProviderRegex(Interface.Description, "[^ ]+ ([^ ]+)", "$1") && ClassifyExternal()
  - ClassifyInternal()
default-sampling-rate: {192.0.2.0/24: 100}
override-sampling-rate: {192.0.2.99: 5000}
)y";

const char* kNetworks = R"y(
networks:
  203.0.113.0/24: {name: customers, role: customer, site: par, region: europe, tenant: t1, asn: 64501}
)y";

struct Fixture {
  Metrics metrics;
  metadata::Metadata md{read<metadata::Metadata::Config>(kMetadata, "metadata"), metrics};
  Networks networks{read<Networks::Config>(kNetworks, "networks")};
  GeoIP geoip{[] {
                GeoIP::Config c;
                c.asn_database = {"../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb"};
                c.geo_database = {"../shared/testdata/geoip/GeoLite2-City-Test.mmdb"};
                return c;
              }(),
              metrics};
  Core core{read<Core::Config>(kCore, "core"), metrics, &md, &networks, &geoip};
};

FlowRecord flow(const char* exporter, uint32_t in, uint32_t out) {
  FlowRecord f;
  f.time_received = 1700000000;
  f.exporter_address = ip(exporter);
  f.in_if = in;
  f.out_if = out;
  f.src_addr = ip("89.160.20.112");  // SE, AS29518 in the test databases
  f.dst_addr = ip("203.0.113.5");
  f.bytes = 1000;
  f.packets = 1;
  return f;
}

// One flow of one byte at sampling rate 1 from 192.0.2.1 (rate limiter tests).
FlowRecord oneByte(uint32_t time_received = 0) {
  FlowRecord f;
  f.time_received = time_received;
  f.exporter_address = ip("192.0.2.1");
  f.in_if = 1;
  f.sampling_rate = 1;
  f.bytes = 1;
  return f;
}

TEST(Core, EnrichesInAkvoradoOrder) {
  Fixture fx;
  auto e = fx.core.makeEnricher();
  FlowRecord f = flow("192.0.2.1", 1, 2);
  ASSERT_TRUE(e->enrich(f));
  EXPECT_EQ(f.sampling_rate, 100u);  // default: the flow had none
  EXPECT_EQ(f.exporter_name, "par-edge1.example.net");
  EXPECT_EQ(f.exporter_site, "par");
  EXPECT_EQ(f.exporter_region, "europe");
  EXPECT_EQ(f.in_if_name, "Gi0/0/1");
  EXPECT_EQ(f.in_if_description, "Transit: Cogent");
  EXPECT_EQ(f.in_if_speed, 10000u);
  EXPECT_EQ(f.in_if_connectivity, "transit");
  EXPECT_EQ(f.in_if_provider, "cogent");
  EXPECT_EQ(f.in_if_boundary, Boundary::kExternal);
  EXPECT_EQ(f.out_if_name, "Gi0/0/2");
  EXPECT_EQ(f.out_if_connectivity, "");
  EXPECT_EQ(f.out_if_boundary, Boundary::kInternal);
  EXPECT_EQ(std::string(f.src_country, 2), "SE");
  EXPECT_EQ(f.src_geo_city, "Linköping");
  EXPECT_EQ(f.src_as, 29518u);  // networks provider (GeoIP) since the flow has none
  EXPECT_EQ(f.dst_net_name, "customers");
  EXPECT_EQ(f.dst_net_role, "customer");
  EXPECT_EQ(f.dst_net_tenant, "t1");
  EXPECT_EQ(f.dst_as, 64501u);
  // A flow AS wins over the networks provider (default order: flow, routing, networks).
  FlowRecord g = flow("192.0.2.1", 1, 2);
  g.src_as = 65000;
  ASSERT_TRUE(e->enrich(g));
  EXPECT_EQ(g.src_as, 65000u);
}

TEST(Core, SamplingOverrideDefaultAndMissing) {
  Fixture fx;
  auto e = fx.core.makeEnricher();
  FlowRecord o = flow("192.0.2.99", 1, 2);
  o.sampling_rate = 10;
  ASSERT_TRUE(e->enrich(o));
  EXPECT_EQ(o.sampling_rate, 5000u);  // override wins over the flow
  FlowRecord k = flow("192.0.2.1", 1, 2);
  k.sampling_rate = 10;
  ASSERT_TRUE(e->enrich(k));
  EXPECT_EQ(k.sampling_rate, 10u);  // default only applies when the flow has none
  FlowRecord m = flow("198.51.100.1", 1, 2);
  EXPECT_FALSE(e->enrich(m));  // no sampling rate, no default
  e->flushCounters();
  EXPECT_EQ(fx.metrics.sum("akvo_outlet_core_flows_dropped_by_reason_total"), 1u);
}

TEST(Core, DropRulesAndStaticClassification) {
  Fixture fx;
  auto e = fx.core.makeEnricher();
  // Neither interface: kept (host exporters send none), counted.
  FlowRecord none = flow("192.0.2.1", 0, 0);
  none.sampling_rate = 1;
  EXPECT_TRUE(e->enrich(none));
  EXPECT_EQ(fx.metrics.sum("akvo_outlet_core_flows_without_interfaces_total"), 0u)
      << "counted locally until the worker flushes";
  e->flushCounters();
  EXPECT_EQ(fx.metrics.sum("akvo_outlet_core_flows_without_interfaces_total"), 1u);
  FlowRecord lab = flow("192.0.2.1", 3, 1);
  EXPECT_FALSE(e->enrich(lab));  // Reject() on the input interface
  FlowRecord s = flow("198.51.100.1", 5, 6);
  s.sampling_rate = 1;
  ASSERT_TRUE(e->enrich(s));
  // Classification data in the metadata bypasses the classifiers.
  EXPECT_EQ(s.exporter_region, "asia");
  EXPECT_EQ(s.exporter_site, "");
  EXPECT_EQ(s.in_if_provider, "p1");
  EXPECT_EQ(s.in_if_boundary, Boundary::kInternal);
}

TEST(Core, AsnProviders) {
  Metrics m;
  auto cfg = read<Core::Config>("asn-providers: [flow-except-private, networks]", "core");
  Networks nets(read<Networks::Config>("networks: {10.0.0.0/8: {asn: 64999}, 11.0.0.0/8: {asn: 3356}}", "networks"));
  Core core(cfg, m, nullptr, &nets, nullptr);
  auto e = core.makeEnricher();
  FlowRecord f;
  f.in_if = 1;
  f.sampling_rate = 1;
  f.src_addr = ip("11.1.1.1");
  f.src_as = 64512;  // private: ignored
  f.dst_addr = ip("10.1.1.1");
  f.dst_as = 174;
  ASSERT_TRUE(e->enrich(f));
  EXPECT_EQ(f.src_as, 3356u);
  EXPECT_EQ(f.dst_as, 174u);
  EXPECT_TRUE(Core::privateAsn(65551));
  EXPECT_FALSE(Core::privateAsn(65552));
  EXPECT_TRUE(Core::privateAsn(4200000000u));
  EXPECT_THROW(read<Core::Config>("asn-providers: [flows]", "core"), ConfigError);
  try {
    read<Core::Config>("interface-classifiers: ['ClassifyProvider(']", "core");
    FAIL();
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("test.yaml:1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("position"), std::string::npos) << msg;
  }
}

TEST(Core, RateLimitKeepsTotals) {
  Metrics m;
  auto cfg = read<Core::Config>("rate-limit: 100", "core");
  Core core(cfg, m, nullptr, nullptr, nullptr);
  auto e = core.makeEnricher();
  // Two seconds of 1000 flows of 1 byte at sampling rate 1: the second second keeps about
  // 100 flows whose sampling rate is scaled by received/accepted of the first second.
  uint64_t kept[2] = {0, 0}, volume[2] = {0, 0};
  for (uint32_t sec = 0; sec < 3; sec++) {
    for (int i = 0; i < 1000; i++) {
      FlowRecord f = oneByte(1000 + sec);
      if (e->enrich(f) && sec > 0) {
        kept[sec - 1]++;
        volume[sec - 1] += f.bytes * f.sampling_rate;
      }
    }
  }
  for (int s = 0; s < 2; s++) {
    EXPECT_GT(kept[s], 60u);
    EXPECT_LE(kept[s], 100u);
    EXPECT_GT(volume[s], 700u) << "volume is scaled back up";
    EXPECT_LT(volume[s], 1300u);
  }
  e->flushCounters();
  EXPECT_GE(m.sum("akvo_outlet_core_flows_dropped_by_reason_total"), 2700u);
}

// Interface index 0: the exporter still has its name, classes and Reject(); the missing
// interface is classified by the interface rules, with an empty name (as Akvorado does).
TEST(Core, InterfaceIndexZero) {
  Fixture fx;
  auto e = fx.core.makeEnricher();
  FlowRecord none = flow("192.0.2.1", 0, 0);
  none.sampling_rate = 1;
  ASSERT_TRUE(e->enrich(none));
  EXPECT_EQ(none.exporter_name, "par-edge1.example.net");
  EXPECT_EQ(none.exporter_site, "par");
  EXPECT_EQ(none.in_if_name, "");
  EXPECT_EQ(none.in_if_boundary, Boundary::kInternal);  // ClassifyInternal() ran on it
  FlowRecord one = flow("192.0.2.1", 1, 0);
  ASSERT_TRUE(e->enrich(one));
  EXPECT_EQ(one.in_if_provider, "cogent");
  EXPECT_EQ(one.out_if_name, "");
  EXPECT_EQ(one.out_if_speed, 0u);
  EXPECT_EQ(one.out_if_boundary, Boundary::kInternal);
  // A static default interface is for interfaces the exporter does not list, not for index 0.
  FlowRecord s = flow("198.51.100.1", 5, 0);
  s.sampling_rate = 1;
  ASSERT_TRUE(e->enrich(s));
  EXPECT_EQ(s.in_if_name, "x");
  EXPECT_EQ(s.out_if_name, "");
  EXPECT_EQ(s.exporter_name, "static-classified");

  // An exporter rejected by its name loses its flows without interfaces too.
  Metrics m;
  metadata::Metadata md{read<metadata::Metadata::Config>(kMetadata, "metadata"), m};
  Core rejecting(read<Core::Config>(R"(exporter-classifiers: ['Exporter.Name startsWith "par-" && Reject()'])",
                                    "core"),
                 m, &md, nullptr, nullptr);
  auto r = rejecting.makeEnricher();
  FlowRecord host = flow("192.0.2.1", 0, 0);
  host.sampling_rate = 1;
  EXPECT_FALSE(r->enrich(host));
}

// Time for caches and the rate limiter is the datagram's reception time, not the flow's
// TimeReceived (the exporter's clock with some timestamp sources): here the exporter's clock is
// stuck, and the limit still applies per second of reception.
TEST(Core, RateLimitCountsReceptionSeconds) {
  Metrics m;
  Core core(read<Core::Config>("rate-limit: 100", "core"), m, nullptr, nullptr, nullptr);
  auto e = core.makeEnricher();
  uint64_t kept[3] = {}, volume[3] = {};
  for (uint32_t sec = 0; sec < 3; sec++) {
    e->received(5000 + sec);
    for (int i = 0; i < 1000; i++) {
      FlowRecord f = oneByte(42);  // exporter's clock
      if (e->enrich(f)) {
        kept[sec]++;
        volume[sec] += f.bytes * f.sampling_rate;
      }
    }
  }
  for (int s = 0; s < 3; s++) {
    EXPECT_GT(kept[s], 60u) << s;  // one second of 3000 flows would keep 100 in all
    EXPECT_LE(kept[s], 100u) << s;
  }
  EXPECT_GT(volume[2], 700u);
  EXPECT_LT(volume[2], 1300u);
  // After a quiet minute, ten flows are ten flows: the last burst's multiplier is not reused.
  e->received(5060);
  uint64_t quiet = 0;
  for (int i = 0; i < 10; i++) {
    FlowRecord f = oneByte();
    ASSERT_TRUE(e->enrich(f));
    quiet += f.bytes * f.sampling_rate;
  }
  EXPECT_EQ(quiet, 10u);
}

// Exporters without a sampling rate are named in the log once each, up to Core::kMaxWarned;
// past them (forged exporter addresses), one line says there are more, and nothing else.
TEST(Core, NoSamplingRateWarningsAreBounded) {
  std::ostringstream out;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  Metrics m;
  Core core(read<Core::Config>("rate-limit: 0", "core"), m, nullptr, nullptr, nullptr);
  auto e = core.makeEnricher();
  e->received(8000);
  const uint32_t n = uint32_t(Core::kMaxWarned) + 100;
  for (int round = 0; round < 2; round++)
    for (uint32_t i = 0; i < n; i++) {
      FlowRecord f = oneByte();
      f.sampling_rate = 0;
      f.exporter_address = IPv6Addr::fromV4(0x0a000000u + i);
      EXPECT_FALSE(e->enrich(f));
    }
  e->flushCounters();
  spdlog::set_default_logger(previous);
  const std::string log = out.str();
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = 0; (at = log.find(what, at)) != std::string::npos; at++) n++;
    return n;
  };
  EXPECT_EQ(count("ALL ITS FLOWS ARE DROPPED"), Core::kMaxWarned);
  EXPECT_EQ(count("exporters send flows without a sampling rate"), 1u);
  EXPECT_EQ(m.sum("akvo_outlet_core_flows_dropped_by_reason_total"), 2u * n);
}

// The per-exporter rate states stay bounded under forged exporter addresses: past 65,536
// exporters they start over, so an exporter at its limit gets a fresh count in that second.
TEST(Core, RateLimitStatesAreBounded) {
  Metrics m;
  Core core(read<Core::Config>("rate-limit: 1", "core"), m, nullptr, nullptr, nullptr);
  auto e = core.makeEnricher();
  e->received(7000);
  FlowRecord f = oneByte();
  ASSERT_TRUE(e->enrich(f));
  f = oneByte();
  ASSERT_FALSE(e->enrich(f));  // its one flow of this second is taken
  for (uint32_t i = 1; i < 65536; i++) {
    FlowRecord g = oneByte();
    g.exporter_address = IPv6Addr::fromV4(0x0a000000u + i);
    ASSERT_TRUE(e->enrich(g)) << i;
  }
  f = oneByte();
  EXPECT_FALSE(e->enrich(f));  // 65,536 exporters: 192.0.2.1 is still known
  FlowRecord g = oneByte();
  g.exporter_address = ip("198.51.100.1");  // the 65,537th
  EXPECT_TRUE(e->enrich(g));
  f = oneByte();
  EXPECT_TRUE(e->enrich(f));  // started over
}

// An input's rate-limit (carried by each datagram) wins over core.rate-limit, and applies
// without it.
TEST(Core, InputRateLimitWins) {
  Metrics m;
  for (const char* yaml : {"rate-limit: 0", "rate-limit: 500"}) {
    Core core(read<Core::Config>(yaml, "core"), m, nullptr, nullptr, nullptr);
    auto e = core.makeEnricher();
    uint64_t kept = 0;
    for (uint32_t sec = 0; sec < 2; sec++) {
      e->received(7000 + sec, 50);
      for (int i = 0; i < 1000; i++) {
        FlowRecord f = oneByte();
        if (e->enrich(f) && sec == 1) kept++;
      }
    }
    EXPECT_GT(kept, 25u) << yaml;
    EXPECT_LE(kept, 50u) << yaml;
  }
}

// Between network attributes and GeoIP, the most specific prefix wins per attribute (the
// network for equal ones), as in Akvorado's merged tree.
TEST(Core, NetworksAndGeoIPMostSpecificWins) {
  Metrics m;
  // 89.160.20.112 is in the test databases' 89.160.20.112/28 (SE, Linköping) and 89.160.0.0/17
  // (AS29518): a /8 loses to them, a /32 wins.
  Networks nets(read<Networks::Config>(R"(networks:
  89.0.0.0/8: {country: FR, city: Paris, asn: 65001}
  89.160.20.0/24: {name: lab}
  89.160.20.112/32: {name: host, country: DE})", "networks"));
  GeoIP geo([] {
    GeoIP::Config c;
    c.asn_database = {"../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb"};
    c.geo_database = {"../shared/testdata/geoip/GeoLite2-City-Test.mmdb"};
    return c;
  }(), m);
  Core core(read<Core::Config>("asn-providers: [networks]", "core"), m, nullptr, &nets, &geo);
  auto e = core.makeEnricher();
  FlowRecord f;
  f.in_if = 1;
  f.sampling_rate = 1;
  f.src_addr = ip("89.160.20.113");  // the /24 inherits FR and 65001 from the /8
  f.dst_addr = ip("89.160.20.112");  // the /32 sets DE
  ASSERT_TRUE(e->enrich(f));
  EXPECT_EQ(f.src_net_name, "lab");
  EXPECT_EQ(std::string(f.src_country, 2), "SE");  // GeoIP's network is more specific than /8
  EXPECT_EQ(f.src_geo_city, "Linköping");
  EXPECT_EQ(f.src_as, 29518u);
  EXPECT_EQ(f.dst_net_name, "host");
  EXPECT_EQ(std::string(f.dst_country, 2), "DE");  // the /32 is more specific than GeoIP's
  EXPECT_EQ(f.dst_geo_city, "Linköping");           // not set by the /32: GeoIP's beats the /8
  // Outside GeoIP's networks, the /8's attributes apply.
  FlowRecord g;
  g.in_if = 1;
  g.sampling_rate = 1;
  g.src_addr = ip("89.1.1.1");
  ASSERT_TRUE(e->enrich(g));
  EXPECT_EQ(std::string(g.src_country, 2), "FR");
  EXPECT_EQ(g.src_geo_city, "Paris");
  EXPECT_EQ(g.src_as, 65001u);
}

}  // namespace
}  // namespace akvo
