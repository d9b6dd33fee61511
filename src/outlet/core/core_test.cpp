#include "outlet/core/core.h"

#include <gtest/gtest.h>

namespace akvo {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

template <class T>
T read(const std::string& yaml, const char* path) {
  YAML::Node n = YAML::Load(yaml);
  ConfigReader r(n, "test.yaml", path);
  T c;
  c.read(r);
  r.finish();
  return c;
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
      FlowRecord f;
      f.time_received = 1000 + sec;
      f.exporter_address = ip("192.0.2.1");
      f.in_if = 1;
      f.sampling_rate = 1;
      f.bytes = 1;
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

}  // namespace
}  // namespace akvo
