#include "outlet/metadata/metadata.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "outlet/metadata/snmpd_fixture.h"
#include "testing/config.h"

namespace akvo::metadata {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

Metadata::Config readConfig(const std::string& yaml) {
  return testing::readSection<Metadata::Config>(yaml, "metadata");
}

const char* kRouter = R"(
sysName edge1.example.net
override .1.3.6.1.2.1.31.1.1.1.1.42 octet_str "Gi0/0/42"
override .1.3.6.1.2.1.31.1.1.1.18.42 octet_str "Transit: Cogent"
override .1.3.6.1.2.1.2.2.1.2.42 octet_str "GigabitEthernet0/0/42"
override .1.3.6.1.2.1.31.1.1.1.15.42 unsigned 10000
override .1.3.6.1.2.1.31.1.1.1.1.7 octet_str "Te0/1"
override .1.3.6.1.2.1.31.1.1.1.18.7 octet_str ""
override .1.3.6.1.2.1.2.2.1.2.7 octet_str "TenGigE0/1"
override .1.3.6.1.2.1.31.1.1.1.15.7 unsigned 100000
)";

TEST(StaticMetadata, ExportersInterfacesDefaultsAndSkips) {
  auto c = readConfig(R"(
providers:
  - type: static
    exporters:
      192.0.2.0/24:
        name: static1
        region: europe
        default: {name: unknown, description: default iface, speed: 1000}
        ifindexes:
          10: {name: Gi0/10, description: "Transit: Lumen", speed: 10000, provider: lumen, connectivity: transit, boundary: external}
      198.51.100.1:
        name: partial
        skip-missing-interfaces: true
        ifindexes:
          1: {name: Gi1, speed: 100}
)");
  Metrics m;
  Metadata md(c, m);
  auto e = md.lookup({ip("192.0.2.7"), 10}, 1000);
  ASSERT_NE(e, nullptr);  // static answers at once, no poll
  EXPECT_TRUE(e->answer.found);
  EXPECT_EQ(e->answer.exporter.name, "static1");
  EXPECT_EQ(e->answer.exporter.region, "europe");
  EXPECT_EQ(e->answer.iface.name, "Gi0/10");
  EXPECT_EQ(e->answer.iface.provider, "lumen");
  EXPECT_EQ(e->answer.iface.boundary, Boundary::kExternal);
  EXPECT_TRUE(e->answer.iface.classified());
  auto d = md.lookup({ip("192.0.2.7"), 99}, 1000);
  EXPECT_EQ(d->answer.iface.name, "unknown");
  EXPECT_EQ(d->answer.iface.speed, 1000u);
  EXPECT_FALSE(d->answer.iface.classified());
  EXPECT_EQ(md.lookup({ip("198.51.100.1"), 1}, 1000)->answer.iface.name, "Gi1");
  // Skipped by every provider: cached as empty.
  auto s = md.lookup({ip("198.51.100.1"), 2}, 1000);
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->answer.found);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_provider_skips_total"), 1u);
  EXPECT_FALSE(md.lookup({ip("203.0.113.1"), 2}, 1000)->answer.found);
}

TEST(StaticMetadata, ConfigErrors) {
  EXPECT_THROW(readConfig("providers: [{type: gnmi, models: []}]"), ConfigError);
  EXPECT_THROW(readConfig("providers: [{type: static, exporters: {192.0.2.0/24: {}}}]"),
               ConfigError);
  EXPECT_THROW(readConfig("providers: [{type: static, exporters: {192.0.2.0/24: {name: a, "
                          "default: {name: x}, skip-missing-interfaces: true}}}]"),
               ConfigError);
  EXPECT_THROW(readConfig("providers: [{type: snmp, credentials: {::/0: {user-name: u, "
                          "authentication-protocol: SHA1, authentication-passphrase: 12345678}}}]"),
               ConfigError);
  // A bad value inside a static exporter names its whole key and its own line.
  auto errorOf = [](const char* yaml) {
    try {
      readConfig(yaml);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const char* exporters =
      "providers:\n"
      "  - type: static\n"
      "    exporters:\n"
      "      192.0.2.0/24:\n"
      "        name: edge1\n"
      "        ifindexes:\n"
      "          7: {name: Gi0/7, speed: 10G}\n";
  std::string e = errorOf(exporters);
  EXPECT_NE(e.find(":7:"), std::string::npos) << e;
  EXPECT_NE(e.find("providers[0].exporters.192.0.2.0/24.ifindexes.7.speed: \"10G\" is not a speed "
                   "(a whole number of Mbps"),
            std::string::npos) << e;
  e = errorOf("providers: [{type: static, exporters: {192.0.2.0/24: {name: a, ifindexes: "
              "{x1: {name: b}}}}}]");
  EXPECT_NE(e.find("exporters.192.0.2.0/24.ifindexes: \"x1\" is not an interface index"),
            std::string::npos) << e;
  e = errorOf("providers: [{type: static, exporters: {192.0.2.0/24: {name: a, default: "
              "{name: b, boundary: outside}}}}]");
  EXPECT_NE(e.find("exporters.192.0.2.0/24.default.boundary: \"outside\" is not a valid choice; "
                   "valid choices: external, internal, undefined"),
            std::string::npos) << e;
  e = errorOf("providers: [{type: snmp, ports: {192.0.2.0/24: snmp}}]");
  EXPECT_NE(e.find("providers[0].ports.192.0.2.0/24: \"snmp\" is not a port (1 to 65535)"),
            std::string::npos) << e;
  e = errorOf("providers: [{type: static, exporters: {name: a, colour: red}}]");  // one for all
  EXPECT_NE(e.find("exporters: unknown key \"colour\"; valid keys: name,"), std::string::npos) << e;
  try {
    readConfig("providers: [{type: snmp, communities: x}]");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("valid keys"), std::string::npos) << e.what();
  }
}

Metadata::Config snmpConfig(uint16_t port, const std::string& credentials) {
  return readConfig(fmt::format(R"(
max-in-flight: 2
providers:
  - type: snmp
    poller-timeout: 500ms
    poller-retries: 1
    ports: {{::/0: {}}}
    agents: {{192.0.2.1: 127.0.0.1, 127.0.0.1: 127.0.0.1}}
    credentials:
      ::/0: {}
)",
                                port, credentials));
}

void expectRouter(Metadata& md) {
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 42}, 1000), nullptr);  // a miss never blocks
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(5)));
  auto e = md.lookup({ip("192.0.2.1"), 42}, 1000);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->answer.found);
  EXPECT_EQ(e->answer.exporter.name, "edge1.example.net");
  EXPECT_EQ(e->answer.iface.name, "Gi0/0/42");
  EXPECT_EQ(e->answer.iface.description, "Transit: Cogent");  // ifAlias preferred
  EXPECT_EQ(e->answer.iface.speed, 10000u);
  md.lookup({ip("192.0.2.1"), 7}, 1000);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(5)));
  auto t = md.lookup({ip("192.0.2.1"), 7}, 1000);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->answer.iface.description, "TenGigE0/1");  // empty ifAlias: ifDescr
  EXPECT_EQ(t->answer.iface.speed, 100000u);
}

TEST(SnmpMetadata, V2cAgainstRealSnmpd) {
  testing::Snmpd snmpd(kRouter);
  ASSERT_TRUE(snmpd.running());
  Metrics m;
  // The wrong community first: answers are merged from the communities that work.
  Metadata md(snmpConfig(snmpd.port(), "{communities: [wrong, public]}"), m);
  md.start();
  expectRouter(md);
  EXPECT_GE(m.sum("akvo_outlet_metadata_snmp_requests_total"), 4u);
  md.stop();
}

TEST(SnmpMetadata, V3AuthPrivAndAuthNoPriv) {
  testing::Snmpd snmpd(kRouter);
  Metrics m;
  // An unknown user: no answer, counted, the flow path still does not block. (net-snmp keeps
  // the keys of each user it has seen per engine, process wide: a wrong passphrase for a user
  // already used successfully would still work, so this test uses another user.)
  Metadata bad(snmpConfig(snmpd.port(), "{user-name: nosuchuser, authentication-protocol: SHA, "
                                        "authentication-passphrase: wrongpass1, "
                                        "privacy-protocol: AES, privacy-passphrase: privpass123}"),
               m);
  bad.start();
  EXPECT_EQ(bad.lookup({ip("192.0.2.1"), 42}, 1000), nullptr);
  ASSERT_TRUE(bad.waitIdle(std::chrono::seconds(5)));
  auto e = bad.lookup({ip("192.0.2.1"), 42}, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->answer.found);
  EXPECT_TRUE(e->failed);
  EXPECT_GE(m.sum("akvo_outlet_metadata_provider_failures_total"), 1u);
  bad.stop();
  Metadata md(snmpConfig(snmpd.port(),
                         "{user-name: authpriv, authentication-protocol: SHA, "
                         "authentication-passphrase: authpass123, privacy-protocol: AES, "
                         "privacy-passphrase: privpass123}"),
              m);
  md.start();
  expectRouter(md);
  md.stop();
  Metadata auth(snmpConfig(snmpd.port(), "{user-name: authonly, authentication-protocol: MD5, "
                                         "authentication-passphrase: authpass123}"),
                m);
  auth.start();
  expectRouter(auth);
  auth.stop();
}

TEST(SnmpMetadata, CachePersistsAcrossRestarts) {
  auto file = std::filesystem::temp_directory_path() /
              fmt::format("akvo-metadata-cache-{}.json", ::getpid());
  std::filesystem::remove(file);
  {
    testing::Snmpd snmpd(kRouter);
    Metrics m;
    auto c = snmpConfig(snmpd.port(), "{communities: public}");
    c.cache_persist_file = file.string();
    Metadata md(c, m);
    md.start();
    expectRouter(md);
    md.stop();
  }
  ASSERT_TRUE(std::filesystem::exists(file));
  // snmpd is gone: the answers come from the file, at once.
  Metrics m;
  auto c = snmpConfig(testing::Snmpd::freeUdpPort(), "{communities: public}");
  c.cache_persist_file = file.string();
  Metadata md(c, m);
  md.start();
  auto e = md.lookup({ip("192.0.2.1"), 42}, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->answer.exporter.name, "edge1.example.net");
  EXPECT_EQ(e->answer.iface.description, "Transit: Cogent");
  EXPECT_EQ(m.sum("akvo_outlet_metadata_snmp_requests_total"), 0u);
  md.stop();
  std::filesystem::remove(file);
}

TEST(SnmpMetadata, TimeoutIsAFailureNotABlock) {
  Metrics m;
  auto c = snmpConfig(testing::Snmpd::freeUdpPort(), "{communities: public}");
  Metadata md(c, m);
  md.start();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 1}, 1000), nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(5)));
  EXPECT_GE(m.sum("akvo_outlet_metadata_snmp_errors_total"), 1u);
  md.stop();
}

}  // namespace
}  // namespace akvo::metadata

namespace akvo::metadata {
namespace {

// A provider that takes 200 ms per query, as an SNMP agent that times out (a fault snmpd does
// not produce on demand for thousands of exporters).
struct SlowProvider : Provider {
  std::string_view name() const override { return "slow"; }
  bool synchronous() const override { return false; }
  Result query(const Query&, Answer&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    return Result::kFailed;
  }
};

// Stop does not work through the queue (SIGTERM waited for every queued poll), and the queue is
// bounded (spoofed exporters).
TEST(MetadataCache, StopsWithPollsQueuedAndBoundsTheQueue) {
  Metrics m;
  auto c = readConfig("max-in-flight: 2\n");
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(std::make_unique<SlowProvider>());
  Metadata md(c, m, std::move(providers));
  md.start();
  for (uint32_t i = 0; i < 10100; i++) md.lookup({IPv6Addr::fromV4(0x0a000000u + i), 1}, 1000);
  EXPECT_GE(m.sum("akvo_outlet_metadata_queue_full_total"), 98u);  // 10,000 queued at most
  auto t0 = std::chrono::steady_clock::now();
  md.stop();  // 10,000 polls of 200 ms on 2 pollers would take 1,000 s
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

// Fails at once for 192.0.2.1 (an exporter that refuses SNMP), answers for the others.
struct DeadExporterProvider : Provider {
  std::atomic<int> dead_calls{0}, live_calls{0};
  std::string_view name() const override { return "dead"; }
  bool synchronous() const override { return false; }
  Result query(const Query& q, Answer& out) override {
    if (q.exporter == *IPv6Addr::parse("192.0.2.1")) {
      dead_calls++;
      return Result::kFailed;
    }
    live_calls++;
    out.found = true;
    out.exporter.name = "alive";
    return Result::kAnswered;
  }
};

// As Akvorado: 20 failed polls in a row open the exporter's breaker; its next polls fail
// without asking the provider, other exporters are polled as before.
TEST(MetadataCache, CircuitBreakerPerExporter) {
  Metrics m;
  auto c = readConfig("max-in-flight: 1\n");
  auto p = std::make_unique<DeadExporterProvider>();
  DeadExporterProvider& provider = *p;
  std::vector<std::unique_ptr<Provider>> providers;
  providers.push_back(std::move(p));
  Metadata md(c, m, std::move(providers));
  md.start();
  const IPv6Addr dead = *IPv6Addr::parse("192.0.2.1"), live = *IPv6Addr::parse("192.0.2.2");
  for (uint32_t i = 1; i <= 30; i++) md.lookup({dead, i}, 1000);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(5)));
  EXPECT_EQ(provider.dead_calls.load(), 20);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_provider_breaker_opens_total"), 1u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_provider_breaker_refused_total"), 10u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_provider_failures_total"), 30u);
  for (uint32_t i = 1; i <= 5; i++) md.lookup({live, i}, 1000);
  md.lookup({dead, 31}, 1000);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(5)));
  EXPECT_EQ(provider.live_calls.load(), 5);
  EXPECT_EQ(provider.dead_calls.load(), 20);  // still open
  auto e = md.lookup({live, 1}, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->answer.exporter.name, "alive");
  md.stop();
}

TEST(MetadataCache, RefreshesBeforeExpiryAndForgetsUnusedEntries) {
  auto c = readConfig(R"(
cache-duration: 2s
cache-refresh: 1s
cache-check-interval: 200ms
providers:
  - type: static
    exporters: {192.0.2.0/24: {name: e1, default: {name: i1, speed: 10}}}
)");
  Metrics m;
  Metadata md(c, m);
  md.start();
  auto now = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  auto first = md.lookup({*IPv6Addr::parse("192.0.2.1"), 1}, now());
  ASSERT_NE(first, nullptr);
  uint64_t gen = md.generation();
  // Used every 200 ms: refreshed (a new entry) but never dropped.
  for (int i = 0; i < 15; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_NE(md.lookup({*IPv6Addr::parse("192.0.2.1"), 1}, now()), nullptr);
  }
  EXPECT_GE(m.sum("akvo_outlet_metadata_cache_refreshes_total"), 1u);
  EXPECT_GT(md.generation(), gen);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_cache_expired_total"), 0u);
  // Unused for longer than cache-duration: dropped.
  for (int i = 0; i < 30 && md.size() > 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(md.size(), 0u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_cache_expired_total"), 1u);
  // The entry handed out earlier is still valid for whoever holds it.
  EXPECT_EQ(first->answer.exporter.name, "e1");
  md.stop();
}

}  // namespace
}  // namespace akvo::metadata
