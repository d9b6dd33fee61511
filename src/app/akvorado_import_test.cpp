// Converting Akvorado configurations: the values akvo reads from the result, and each key left
// out with its file and line.
#include "app/akvorado_import.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/app.h"

namespace akvo {
namespace {

/// A folder of Akvorado files, removed at the end.
class Files {
 public:
  Files() {
    dir_ = std::filesystem::temp_directory_path() /
           ("akvo-import-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  ~Files() { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream((dir_ / name).string()) << text;
    texts_[name] = text;
    return (dir_ / name).string();
  }
  /// 1-based line of the first line of `name` containing `needle`.
  int line(const std::string& name, const std::string& needle) const {
    std::istringstream in(texts_.at(name));
    int n = 0;
    for (std::string l; std::getline(in, l);) {
      n++;
      if (l.find(needle) != std::string::npos) return n;
    }
    ADD_FAILURE() << needle << " not in " << name;
    return -1;
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
  std::map<std::string, std::string> texts_;
};

/// A document without files: keys are reported in `akvorado.yaml`.
AkvoradoImport convert(const std::string& text, AkvoradoImportOptions o = {}) {
  return importAkvorado(YamlDocument{YAML::Load(text), nullptr}, o);
}

AppConfig loadResult(const AkvoradoImport& r) {
  return AppConfig::fromYaml(YAML::Load(r.yaml), "converted");
}

const ImportDiagnostic* find(const AkvoradoImport& r, const std::string& key) {
  for (const auto& d : r.left_out)
    if (d.key == key) return &d;
  return nullptr;
}

std::string listed(const AkvoradoImport& r) {
  std::string s;
  for (const auto& d : r.left_out) s += d.format() + "\n";
  return s;
}

// An orchestrator file in Akvorado's shape: shared kafka, clickhousedb and clickhouse
// sections, then the services, included from their own files, as lists.
const char* kMain = R"(---
# the orchestrator of a lab deployment
reporting:
  logging: {}
kafka:
  topic: netflows
  brokers:
    - broker-a:9092
    - broker-b:9092
  manage-topic: true
  topic-configuration:
    num-partitions: 12
    replication-factor: 2
    config-entries:
      retention.ms: 43200000
      segment.bytes: 536870912
clickhousedb:
  servers: [ch-1:9000, ch-2:9000]
  username: collector
  password: s3cret
  database: netdata
  max-open-conns: 20
clickhouse:
  orchestrator-url: http://orch.example.net:8080
  max-partitions: 40
  resolutions:
    - {interval: 0, ttl: 240h}
    - {interval: 1m, ttl: 72h}
    - {interval: 1h, ttl: 4320h}
  asns:
    64600: Example Transit
schema:
  enabled: [SrcMAC, DstMAC]
  custom-dictionaries:
    sites:
      layout: iptrie
      keys: [{name: addr, type: String}]
      attributes: [{name: site, type: String, default: elsewhere}]
      source: @SITES@
      dimensions: [SrcAddr, DstAddr]
inlet: !include "inlet.yaml"
outlet: !include "outlet.yaml"
console: !include "console.yaml"
)";

const char* kInlet = R"(---
- kafka:
    compression-codec: lz4
    queue-size: 8192
    load-balance: by-exporter
  flow:
    inputs:
      - type: udp
        decoder: netflow
        listen: "0.0.0.0:9995"
        workers: 3
        receive-buffer: 4194304
      - type: udp
        decoder: sflow
        listen: "[::]:6344"
        use-src-addr-for-exporter-addr: true
      - type: file
        decoder: netflow
        paths: [/srv/captures/one.pcap]
  reporting:
    metrics: true
- flow:
    inputs:
      - {type: udp, decoder: netflow, listen: ":2056"}
)";

const char* kOutlet = R"(---
kafka-input:
  consumer-group: migrated-outlets
  max-workers: 6
  min-workers: 2
metadata:
  cache-duration: 45m
  providers:
    - type: snmp
      credentials:
        ::/0: {communities: [private-ro, other-ro]}
        198.51.100.0/24:
          user-name: monitor
          authentication-protocol: SHA
          authentication-passphrase: a-long-passphrase
          privacy-protocol: AES
          privacy-passphrase: another-long-passphrase
      ports:
        ::/0: 161
        198.51.100.0/24: 1161
      poller-timeout: 2s
    - type: static
      exporters:
        203.0.113.7:
          name: edge-par-1
          ifindexes:
            5: {name: et-0/0/5, description: "Transit: Example", speed: 100000}
    - type: gnmi
      targets:
        203.0.113.8: 203.0.113.9
      authentication-parameters:
        ::/0: {username: flows, password: secret, insecure: true}
routing:
  provider:
    type: bmp
    listen: ":11019"
    collect-communities: false
    rib-shards: 32
core:
  exporter-classifiers:
    - ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "$1")
  interface-classifiers:
    - |
      ClassifyConnectivityRegex(Interface.Description, "^(?i)(transit|ix):? ", "$1") &&
      ClassifyExternal()
    - ClassifyInternal()
  default-sampling-rate: 2048
  override-sampling-rate:
    198.51.100.0/24: 4096
  asn-providers: [routing, flow]
geoip:
  asn-database: [/var/lib/geo/asn.mmdb]
  geo-database: /var/lib/geo/country.mmdb
  optional: true
networks:
  networks:
    192.0.2.0/25: {name: lab, role: testing}
  network-sources:
    ipam:
      url: http://ipam.example.net/prefixes.json
      interval: 30m
    cloud:
      url: https://cloud.example.com/ranges.json
      transform: .prefixes[]
)";

const char* kConsole = R"(---
- default-visualize-options:
    start: 12 hours ago
    dimensions: [SrcAS, DstAS]
    limit: 20
    limitType: max
  homepage-top-widgets: [src-as, dst-as, protocol]
  dimensions-limit: 30
  http:
    cache:
      type: redis
      server: cache:6379
  database:
    driver: sqlite
    dsn: /var/lib/akvorado/console.sqlite
    saved-filters:
      - description: From outside
        content: InIfBoundary = external
)";

class AkvoradoImportFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string main = kMain;
    main.replace(main.find("@SITES@"), 7, files_.write("sites.csv", "addr,site\n192.0.2.0/24,paris\n"));
    main_ = files_.write("akvorado.yaml", main);
    files_.write("inlet.yaml", kInlet);
    files_.write("outlet.yaml", kOutlet);
    files_.write("console.yaml", kConsole);
  }
  AkvoradoImport run(AkvoradoImportOptions o = {}) {
    return importAkvorado(loadYamlFile(main_), o);
  }
  /// Asserts that `key` is reported at `needle`'s line of `file`.
  void expectAt(const AkvoradoImport& r, const std::string& key, const std::string& file,
                const std::string& needle) {
    const ImportDiagnostic* d = find(r, key);
    ASSERT_NE(d, nullptr) << key << " not reported; reported:\n" << listed(r);
    EXPECT_EQ(d->file, files_.path(file)) << key;
    EXPECT_EQ(d->line, files_.line(file, needle)) << key << ": " << d->why;
    EXPECT_NE(r.yaml.find("#   " + d->format()), std::string::npos)
        << "not in the comment at the top: " << d->format();
  }
  Files files_;
  std::string main_;
};

TEST_F(AkvoradoImportFiles, InletEntryAndKafka) {
  AkvoradoImport r = run();
  AppConfig c = loadResult(r);
  ASSERT_EQ(c.inlet.inputs.size(), 2u) << r.yaml;
  EXPECT_EQ(c.inlet.inputs[0].decoder, "netflow");
  EXPECT_EQ(c.inlet.inputs[0].listen, "0.0.0.0:9995");
  EXPECT_EQ(c.inlet.inputs[0].workers, 3);
  EXPECT_EQ(c.inlet.inputs[0].receive_buffer, 4194304);
  EXPECT_EQ(c.inlet.inputs[1].decoder, "sflow");
  EXPECT_EQ(c.inlet.inputs[1].listen, "[::]:6344");
  EXPECT_TRUE(c.inlet.inputs[1].use_src_addr_for_exporter_addr);
  EXPECT_EQ(c.kafka.brokers, (std::vector<std::string>{"broker-a:9092", "broker-b:9092"}));
  EXPECT_EQ(c.kafka.topic, "netflows");
  EXPECT_EQ(c.kafka.num_partitions, 12);
  EXPECT_EQ(c.kafka.replication_factor, 2);
  // The topic's properties as they are (akvo keeps them on the topic), manage-topic too.
  EXPECT_EQ(c.kafka.topicConfig().at("retention.ms"), "43200000");
  EXPECT_EQ(c.kafka.topicConfig().at("segment.bytes"), "536870912");
  EXPECT_TRUE(c.kafka.manage_topic);  // as given
  EXPECT_EQ(c.kafka.compression_codec, "lz4");
  EXPECT_EQ(c.kafka.queue_size, 8192);
  EXPECT_EQ(c.kafka.partitioning, "exporter");
  EXPECT_EQ(c.kafka.consumer_group, "migrated-outlets");
  EXPECT_EQ(c.kafka.max_workers, 6);
  EXPECT_NE(r.yaml.find("# inlet: entry 0 of 2 (--index N converts another)"), std::string::npos)
      << r.yaml;
  EXPECT_NE(r.yaml.find("# outlet: a single mapping"), std::string::npos);
  EXPECT_NE(r.yaml.find("# console: entry 0 of 1"), std::string::npos);
}

TEST_F(AkvoradoImportFiles, ClickHouseSchemaAndConsole) {
  AkvoradoImport r = run();
  AppConfig c = loadResult(r);
  // Native protocol ports become HTTP ones.
  EXPECT_EQ(c.clickhouse.servers, (std::vector<std::string>{"ch-1:8123", "ch-2:8123"}));
  EXPECT_EQ(c.clickhouse.username, "collector");
  EXPECT_EQ(c.clickhouse.password, "s3cret");
  EXPECT_EQ(c.clickhouse.database, "netdata");
  EXPECT_EQ(c.clickhouse.max_partitions, 40);
  ASSERT_EQ(c.clickhouse.resolutions.size(), 3u);
  EXPECT_EQ(c.clickhouse.resolutions[0].ttl, std::chrono::hours(240));
  EXPECT_EQ(c.clickhouse.resolutions[2].interval, std::chrono::hours(1));
  EXPECT_EQ(c.clickhouse.resolutions[2].ttl, std::chrono::hours(4320));
  EXPECT_EQ(c.clickhouse.asns.at(64600), "Example Transit");
  EXPECT_EQ(c.schema.enabled, (std::vector<std::string>{"SrcMAC", "DstMAC"}));
  // Custom dictionaries are carried over as they are (Akvorado's former "iptrie" layout read
  // as ip_trie).
  ASSERT_EQ(c.schema.custom_dictionaries.size(), 1u) << r.yaml;
  const auto& d = c.schema.custom_dictionaries[0];
  EXPECT_EQ(d.name, "sites");
  EXPECT_EQ(d.layout, "ip_trie");
  ASSERT_EQ(d.attributes.size(), 1u);
  EXPECT_EQ(d.attributes[0].default_value, "elsewhere");
  EXPECT_EQ(d.dimensions, (std::vector<std::string>{"SrcAddr", "DstAddr"}));
  Schema schema(c.schema);
  ASSERT_NE(schema.find("SrcAddrSite"), nullptr);
  ASSERT_NE(schema.find("DstAddrSite"), nullptr);
  EXPECT_EQ(c.console.default_visualize_options.start, "12 hours ago");
  EXPECT_EQ(c.console.default_visualize_options.dimensions,
            (std::vector<std::string>{"SrcAS", "DstAS"}));
  EXPECT_EQ(c.console.default_visualize_options.limit, 20);
  EXPECT_EQ(c.console.default_visualize_options.limit_type, "max");
  EXPECT_EQ(c.console.homepage_top_widgets,
            (std::vector<std::string>{"src-as", "dst-as", "protocol"}));
  EXPECT_EQ(c.console.dimensions_limit, 30);
  ASSERT_EQ(c.console.saved_filters.size(), 1u);
  EXPECT_EQ(c.console.saved_filters[0].content, "InIfBoundary = external");
}

TEST_F(AkvoradoImportFiles, OutletEnrichment) {
  AkvoradoImport r = run();
  AppConfig c = loadResult(r);
  EXPECT_EQ(c.metadata.cache_duration, std::chrono::minutes(45));
  ASSERT_EQ(c.metadata.providers.size(), 3u) << r.yaml;
  EXPECT_EQ(c.metadata.providers[0].type, "snmp");
  EXPECT_EQ(c.metadata.providers[0].snmp.poller_timeout, std::chrono::seconds(2));
  YAML::Node snmp = c.resolved["outlet"]["metadata"]["providers"][0];
  EXPECT_EQ(snmp["credentials"]["::/0"]["communities"][1].as<std::string>(), "other-ro");
  EXPECT_EQ(snmp["credentials"]["198.51.100.0/24"]["user-name"].as<std::string>(), "monitor");
  EXPECT_EQ(snmp["ports"]["198.51.100.0/24"].as<int>(), 1161);
  EXPECT_EQ(c.metadata.providers[1].type, "static");
  // gNMI carried over with its keys; the former `insecure` turns TLS off.
  EXPECT_EQ(c.metadata.providers[2].type, "gnmi");
  const auto& gnmi = c.metadata.providers[2].gnmi;
  const IPv6Addr* target = gnmi.targets.lookup(*IPv6Addr::parse("203.0.113.8"));
  ASSERT_NE(target, nullptr);
  EXPECT_EQ(target->toString(), "203.0.113.9");
  const auto* auth = gnmi.authentication_parameters.lookup(*IPv6Addr::parse("192.0.2.1"));
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->username, "flows");
  EXPECT_FALSE(auth->tls.enable);
  EXPECT_EQ(c.routing.type, "bmp");
  EXPECT_EQ(c.routing.bmp.listen, ":11019");
  EXPECT_FALSE(c.routing.bmp.collect_communities);
  ASSERT_EQ(c.core.exporter_classifiers.size(), 1u);
  ASSERT_EQ(c.core.interface_classifiers.size(), 2u);
  // The multi-line rule comes back exactly.
  EXPECT_EQ(c.core.interface_classifiers[0],
            "ClassifyConnectivityRegex(Interface.Description, \"^(?i)(transit|ix):? \", \"$1\") "
            "&&\nClassifyExternal()\n");
  EXPECT_EQ(c.core.asn_providers, (std::vector<std::string>{"routing", "flow"}));
  YAML::Node core = c.resolved["outlet"]["core"];
  EXPECT_EQ(core["default-sampling-rate"].as<int>(), 2048);
  EXPECT_EQ(core["override-sampling-rate"]["198.51.100.0/24"].as<int>(), 4096);
  EXPECT_EQ(c.geoip.asn_database, std::vector<std::string>{"/var/lib/geo/asn.mmdb"});
  EXPECT_EQ(c.geoip.geo_database, std::vector<std::string>{"/var/lib/geo/country.mmdb"});
  EXPECT_TRUE(c.geoip.optional);
  ASSERT_EQ(c.networks.networks.size(), 1u);
  ASSERT_EQ(c.networks.network_sources.size(), 1u);
  EXPECT_EQ(c.networks.network_sources.at("ipam").url, "http://ipam.example.net/prefixes.json");
}

TEST_F(AkvoradoImportFiles, LeftOutKeysNameTheirFileAndLine) {
  AkvoradoImport r = run();
  expectAt(r, "reporting", "akvorado.yaml", "reporting:");
  expectAt(r, "clickhousedb.max-open-conns", "akvorado.yaml", "max-open-conns:");
  expectAt(r, "clickhouse.orchestrator-url", "akvorado.yaml", "orchestrator-url:");
  EXPECT_EQ(find(r, "schema.custom-dictionaries"), nullptr) << "custom dictionaries are carried over";
  expectAt(r, "inlet[0].flow.inputs[2]", "inlet.yaml", "- type: file");
  expectAt(r, "inlet[0].reporting", "inlet.yaml", "reporting:");
  expectAt(r, "outlet.kafka-input.min-workers", "outlet.yaml", "min-workers:");
  EXPECT_EQ(find(r, "outlet.metadata.providers[2]"), nullptr) << "gnmi is carried over";
  expectAt(r, "outlet.routing.provider.rib-shards", "outlet.yaml", "rib-shards:");
  expectAt(r, "outlet.networks.network-sources.cloud", "outlet.yaml", "url: https://cloud");
  EXPECT_EQ(find(r, "console[0].http"), nullptr) << "its cache is carried over";
  EXPECT_EQ(find(r, "console[0].database.driver"), nullptr) << "the saved filters' database is carried over";
  EXPECT_EQ(find(r, "console[0].database.dsn"), nullptr);
  EXPECT_EQ(r.left_out.size(), 8u) << listed(r);
  AppConfig c = loadResult(r);
  EXPECT_EQ(c.http.cache.type, "redis");
  EXPECT_EQ(c.http.cache.server, "cache:6379");
  EXPECT_EQ(c.console.database_driver, "sqlite");
  EXPECT_EQ(c.console.database_path, "/var/lib/akvorado/console.sqlite");
}

TEST_F(AkvoradoImportFiles, IndexPicksAnotherEntry) {
  AkvoradoImport r = run({.index = 1});
  AppConfig c = loadResult(r);
  ASSERT_EQ(c.inlet.inputs.size(), 1u);
  EXPECT_EQ(c.inlet.inputs[0].listen, ":2056");
  EXPECT_NE(r.yaml.find("# inlet: entry 1 of 2"), std::string::npos);
  // The console list has one entry: entry 0, as Akvorado's orchestrator.
  EXPECT_NE(r.yaml.find("# console: entry 0 of 1 (no entry 1: entry 0, as Akvorado)"),
            std::string::npos)
      << r.yaml;
  EXPECT_EQ(c.console.dimensions_limit, 30);
  EXPECT_EQ(find(r, "inlet[0].flow.inputs[2]"), nullptr) << "entry 0 is not converted";
}

TEST(AkvoradoImport, AkvoradoDefaultsThatDecideWhatIsStored) {
  AkvoradoImport r = convert("inlet:\n  - flow: {inputs: [{decoder: netflow}]}\n");
  EXPECT_TRUE(r.left_out.empty()) << listed(r);
  AppConfig c = loadResult(r);
  // The hourly table keeps 360 days in Akvorado (akvo: 5 years).
  ASSERT_EQ(c.clickhouse.resolutions.size(), 4u);
  EXPECT_EQ(c.clickhouse.resolutions[3].ttl, std::chrono::hours(24 * 360));
  EXPECT_EQ(c.clickhouse.resolutions[0].ttl, std::chrono::hours(24 * 15));
  // Routes from BMP, as Akvorado's default outlet.
  EXPECT_EQ(c.routing.type, "bmp");
  EXPECT_EQ(c.routing.bmp.listen, ":10179");
  // Akvorado's ClickHouse server, reached over HTTP.
  EXPECT_EQ(c.clickhouse.servers, std::vector<std::string>{"127.0.0.1:8123"});
  // An input without listen gets a port, said in a comment.
  ASSERT_EQ(c.inlet.inputs.size(), 1u);
  EXPECT_EQ(c.inlet.inputs[0].listen, "0.0.0.0:2055");
  EXPECT_NE(r.yaml.find("akvo's default"), std::string::npos);
  EXPECT_NE(r.yaml.find("Akvorado's default resolutions"), std::string::npos);
}

TEST(AkvoradoImport, ValuesAkvoRefusesAreLeftOutWithAkvosReason) {
  const char* text =
      "outlet:\n"
      "  - core:\n"
      "      asn-providers: [flow, bogus]\n"
      "      default-sampling-rate: 100\n"
      "    routing:\n"
      "      provider: {type: bmp, listen: \"not-an-address:11019\", keep: 10m}\n"
      "console:\n"
      "  dimensions-limit: 5\n";
  AkvoradoImport r = convert(text);
  AppConfig c = loadResult(r);
  const ImportDiagnostic* d = find(r, "outlet[0].core.asn-providers");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_EQ(d->file, "akvorado.yaml");
  EXPECT_EQ(d->line, 3);
  EXPECT_NE(d->why.find("akvo refuses the value"), std::string::npos) << d->why;
  EXPECT_NE(d->why.find("bogus"), std::string::npos) << d->why;
  d = find(r, "outlet[0].routing.provider.listen");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_EQ(d->line, 6);
  d = find(r, "console.dimensions-limit");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_EQ(d->line, 8);
  EXPECT_EQ(r.left_out.size(), 3u) << listed(r);
  // The rest is carried over.
  EXPECT_EQ(c.core.asn_providers, (std::vector<std::string>{"flow", "routing", "networks"}));
  EXPECT_EQ(c.resolved["outlet"]["core"]["default-sampling-rate"].as<int>(), 100);
  EXPECT_EQ(c.routing.bmp.keep, std::chrono::minutes(10));
}

// A value akvo refuses deep inside a block copied as it is (a static exporters map) is left out
// alone, with its own line: the exporter's other interfaces, and the other exporters, stay.
TEST(AkvoradoImport, ARefusedValueInsideACopiedBlockIsLeftOutAlone) {
  const char* text =
      "outlet:\n"
      "  - metadata:\n"
      "      providers:\n"
      "        - type: static\n"
      "          exporters:\n"
      "            192.0.2.0/24:\n"
      "              name: edge1\n"
      "              ifindexes:\n"
      "                10: {name: Gi0/0/10, description: Transit, speed: 1000}\n"
      "                11:\n"
      "                  name: Gi0/0/11\n"
      "                  speed: fast\n"
      "            2001:db8::/64:\n"
      "              name: edge2\n";
  AkvoradoImport r = convert(text);
  AppConfig c = loadResult(r);
  ASSERT_EQ(r.left_out.size(), 1u) << listed(r);
  const ImportDiagnostic& d = r.left_out[0];
  EXPECT_EQ(d.line, 12) << d.format();
  EXPECT_NE(d.key.find("ifindexes.11.speed"), std::string::npos) << d.format();
  EXPECT_NE(d.why.find("akvo refuses the value"), std::string::npos) << d.why;
  YAML::Node exporters = c.resolved["outlet"]["metadata"]["providers"][0]["exporters"];
  ASSERT_TRUE(exporters.IsMap()) << r.yaml;
  EXPECT_EQ(exporters.size(), 2u) << r.yaml;
  YAML::Node e1 = exporters["192.0.2.0/24"];
  EXPECT_EQ(e1["name"].as<std::string>(), "edge1");
  EXPECT_EQ(e1["ifindexes"]["10"]["speed"].as<int>(), 1000);
  EXPECT_EQ(e1["ifindexes"]["11"]["name"].as<std::string>(), "Gi0/0/11");
  EXPECT_FALSE(e1["ifindexes"]["11"]["speed"].IsDefined()) << r.yaml;
  EXPECT_EQ(exporters["2001:db8::/64"]["name"].as<std::string>(), "edge2");
}

TEST(AkvoradoImport, KafkaTlsAndSaslKeepTheirKeys) {
  const char* text =
      "kafka:\n"
      "  brokers: [k:9093]\n"
      "  tls: {enable: true, verify: false}\n"
      "  sasl: {username: u1, password: p1, mechanism: SCRAM-SHA512}\n"
      "outlet:\n"
      "  - kafka-output:\n"
      "      enabled: true\n"
      "      brokers: [k2:9093]\n"
      "      sasl: {username: c1, password: s1, mechanism: plain}\n";
  AkvoradoImport r = convert(text);
  EXPECT_TRUE(r.left_out.empty()) << listed(r);
  AppConfig c = loadResult(r);
  EXPECT_TRUE(c.kafka.tls.enable);
  EXPECT_TRUE(c.kafka.tls.skip_verify);
  EXPECT_EQ(c.kafka.sasl.mechanism, "scram-sha512");
  EXPECT_EQ(c.kafka.sasl.username, "u1");
  EXPECT_EQ(c.kafka.sasl.password, "p1");
  EXPECT_TRUE(c.kafka.options.empty()) << r.yaml;
  auto p = kafkaSecurityProperties(c.kafka.tls, c.kafka.sasl);
  std::map<std::string, std::string> props(p.begin(), p.end());
  EXPECT_EQ(props.at("security.protocol"), "sasl_ssl");
  EXPECT_EQ(props.at("sasl.mechanisms"), "SCRAM-SHA-512");
  EXPECT_EQ(props.at("enable.ssl.certificate.verification"), "false");
  // The export's own brokers: its own SASL, and no TLS (the kafka section's is not copied).
  KafkaConfig out = c.kafka_output.connection(c.kafka);
  EXPECT_FALSE(out.tls.enable);
  EXPECT_EQ(out.sasl.mechanism, "plain");
  p = kafkaSecurityProperties(out.tls, out.sasl);
  props = std::map<std::string, std::string>(p.begin(), p.end());
  EXPECT_EQ(props.at("security.protocol"), "sasl_plaintext");
  EXPECT_EQ(props.at("sasl.username"), "c1");
  // OAuth's keys are carried as they are when this librdkafka has OIDC; else the mechanism is
  // left out, and the list says why.
  r = convert(
      "kafka:\n  sasl: {username: c1, password: s1, mechanism: oauth, oauth-token-url: "
      "\"https://idp/token\", oauth-scopes: [a, b]}\n");
  if (r.left_out.empty()) {
    YAML::Node y = YAML::Load(r.yaml);
    EXPECT_EQ(y["kafka"]["sasl"]["mechanism"].as<std::string>(), "oauth") << r.yaml;
    EXPECT_EQ(y["kafka"]["sasl"]["oauth-token-url"].as<std::string>(), "https://idp/token");
    EXPECT_EQ(y["kafka"]["sasl"]["oauth-scopes"][1].as<std::string>(), "b");
  } else {
    EXPECT_NE(listed(r).find("kafka.sasl.mechanism: akvo refuses the value: oauth is not "
                             "available with this librdkafka"),
              std::string::npos)
        << listed(r);
  }
}

TEST(AkvoradoImport, OneConnectionForEveryRole) {
  const char* text =
      "clickhousedb: {servers: [ch:9000], username: a}\n"
      "outlet:\n"
      "  - clickhousedb: {servers: [ch:9000], username: b}\n"
      "    clickhouse: {maximum-batch-size: 20000}\n"
      "console:\n"
      "  - clickhouse: {servers: [other:8123]}\n";
  AkvoradoImport r = convert(text);
  AppConfig c = loadResult(r);
  EXPECT_EQ(c.clickhouse.username, "a");
  EXPECT_EQ(c.clickhouse.servers, std::vector<std::string>{"ch:8123"});
  EXPECT_EQ(c.outlet.clickhouse.maximum_batch_size, 20000);
  ASSERT_EQ(r.left_out.size(), 2u) << listed(r);
  const ImportDiagnostic* d = find(r, "outlet[0].clickhousedb.username");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_EQ(d->line, 3);
  EXPECT_NE(d->why.find("clickhousedb.username (akvorado.yaml:1)"), std::string::npos) << d->why;
  d = find(r, "console[0].clickhouse.servers");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_EQ(d->line, 6);
}

TEST(AkvoradoImport, OlderKeysAkvoradoMigrates) {
  const char* text =
      "geoip: {geo-database: /g/country.mmdb}\n"
      "clickhouse:\n"
      "  servers: [old:9000]\n"
      "  networks: {192.0.2.0/24: {name: office}}\n"
      "outlet:\n"
      "  metadata:\n"
      "    provider: {type: snmp, communities: {::/0: legacy}}\n"
      "  core: {workers: 4}\n";
  AkvoradoImport r = convert(text);
  AppConfig c = loadResult(r);
  EXPECT_EQ(c.geoip.geo_database, std::vector<std::string>{"/g/country.mmdb"});
  EXPECT_EQ(c.clickhouse.servers, std::vector<std::string>{"old:8123"});
  ASSERT_EQ(c.networks.networks.size(), 1u);
  ASSERT_EQ(c.metadata.providers.size(), 1u);
  EXPECT_EQ(
      c.resolved["outlet"]["metadata"]["providers"][0]["credentials"]["::/0"]["communities"][0]
          .as<std::string>(),
      "legacy");
  ASSERT_EQ(r.left_out.size(), 1u) << listed(r);
  EXPECT_EQ(r.left_out[0].key, "outlet.core.workers");
  EXPECT_EQ(r.left_out[0].line, 8);
}

TEST(AkvoradoImport, EverythingCarriedOverMeansNoDiagnostic) {
  const char* text =
      "automatic-restart: false\n"
      "http: {listen: \"127.0.0.1:8090\"}\n"
      "clickhouse: {resolutions: [{interval: 0, ttl: 30d}, {interval: 5m, ttl: 100d}]}\n"
      "outlet:\n"
      "  routing: {provider: {type: bmp}}\n"
      "  networks: {network-sources: []}\n"
      "  metadata: {providers: [{type: snmp, credentials: {::/0: {communities: c1}}}]}\n"
      "demo-exporter: []\n";
  AkvoradoImport r = convert(text);
  EXPECT_TRUE(r.left_out.empty()) << listed(r);
  EXPECT_EQ(r.yaml.find("Left out"), std::string::npos);
  AppConfig c = loadResult(r);
  EXPECT_FALSE(c.automatic_restart);
  EXPECT_EQ(c.http.listen, "127.0.0.1:8090");
  ASSERT_EQ(c.clickhouse.resolutions.size(), 2u);
  EXPECT_EQ(c.clickhouse.resolutions[1].ttl, std::chrono::hours(2400));
  EXPECT_EQ(c.routing.bmp.listen, ":10179");
}

// Remote data sources (network-sources, the static provider's exporter-sources) carry every
// key of Akvorado's engine, jq transform and https included; a source without an interval
// does not load in Akvorado either, and is left out with that reason.
TEST(AkvoradoImport, RemoteDataSources) {
  const char* text =
      "outlet:\n"
      "  - networks:\n"
      "      network-sources:\n"
      "        amazon:\n"
      "          url: https://ip-ranges.amazonaws.com/ip-ranges.json\n"
      "          interval: 10m\n"
      "          headers: {X-Token: abc}\n"
      "          pagination: none\n"
      "          transform: '(.prefixes + .ipv6_prefixes)[] | {prefix: (.ip_prefix // "
      ".ipv6_prefix), tenant: \"amazon\"}'\n"
      "        broken:\n"
      "          url: http://192.0.2.1/x.json\n"
      "    metadata:\n"
      "      providers:\n"
      "        - type: static\n"
      "          exporter-sources:\n"
      "            inventory:\n"
      "              url: http://192.0.2.2/exporters.csv\n"
      "              interval: 1h\n"
      "              parser: csv-comma\n"
      "              transform: '.[] | {exportersubnet: .f1, name: .f2}'\n"
      "          exporter-sources-timeout: 30s\n";
  AkvoradoImport r = convert(text);
  ASSERT_EQ(r.left_out.size(), 1u) << listed(r);
  EXPECT_EQ(r.left_out[0].key, "outlet[0].networks.network-sources.broken") << listed(r);
  EXPECT_NE(r.left_out[0].why.find("no interval"), std::string::npos) << r.left_out[0].why;
  AppConfig c = loadResult(r);
  ASSERT_EQ(c.networks.network_sources.count("amazon"), 1u);
  const RemoteSource& a = c.networks.network_sources.at("amazon");
  EXPECT_EQ(a.url, "https://ip-ranges.amazonaws.com/ip-ranges.json");
  EXPECT_EQ(a.headers.at("X-Token"), "abc");
  EXPECT_EQ(a.pagination, RemoteSource::Pagination::kNone);
  EXPECT_NE(a.transform.find(".ipv6_prefix"), std::string::npos);
  EXPECT_EQ(c.networks.network_sources.count("broken"), 0u);
  ASSERT_EQ(c.metadata.providers.size(), 1u);
  const auto& st = c.metadata.providers[0].static_;
  ASSERT_EQ(st.exporter_sources.count("inventory"), 1u);
  EXPECT_EQ(st.exporter_sources.at("inventory").transform, ".[] | {exportersubnet: .f1, name: .f2}");
  EXPECT_EQ(st.exporter_sources_timeout, std::chrono::seconds(30));
}

TEST(AkvoradoImport, DemoExporters) {
  const char* text =
      "demo-exporter:\n"
      "  - snmp: {name: r1.example.net, interfaces: {10: \"Transit: Telia\", 20: core}, listen: \":1161\"}\n"
      "    flows:\n"
      "      samplingrate: 50000\n"
      "      seed: 7\n"
      "      target: \"127.0.0.1:2055\"\n"
      "      flows:\n"
      "        - per-second: 1.5\n"
      "          in-if-index: 10\n"
      "          out-if-index: [20, 21]\n"
      "          peak-hour: 16h\n"
      "          multiplier: 3\n"
      "          src-net: 216.58.206.0/24\n"
      "          dst-net: 192.0.2.0/24\n"
      "          src-as: 15169\n"
      "          dst-as: 64501\n"
      "          srcport: [80, 443]\n"
      "          dst-port: 0\n"
      "          protocol: tcp\n"
      "          size: 1300\n"
      "          reverse-direction-ratio: 0.1\n"
      "        - {per-second: 1, in-if-index: 10, out-if-index: 20, peak-hour: 16h, multiplier: 1,\n"
      "           src-net: 2a01:cb00::/32, dst-net: 2a01:db8:cafe:1::/64, src-as: 3215,\n"
      "           dst-as: 64501, protocol: [tcp, udp], colour: blue}\n"
      "    bmp:\n"
      "      target: \"127.0.0.1:10179\"\n"
      "      routes: [{prefixes: \"192.0.2.0/24,2001:db8::/32\", aspath: \"64501,64502\"}]\n"
      "  - snmp: {name: r2.example.net, interfaces: {11: \"IX: DECIX\"}, listen: \":1161\"}\n"
      "    flows:\n"
      "      seed: 100\n"
      "      target: \"127.0.0.1:2056\"\n"
      "      flows: [{per-second: 2, in-if-index: 11, out-if-index: 11, peak-hour: 4h,\n"
      "               multiplier: 2, src-net: 198.51.100.0/24, dst-net: 203.0.113.0/24,\n"
      "               src-as: 1, dst-as: 2, protocol: icmp}]\n"
      "    bmp: {target: \"127.0.0.1:10180\"}\n"
      "  - snmp: {name: r3.example.net}\n";
  AkvoradoImport r = convert(text);
  AppConfig c = loadResult(r);
  EXPECT_TRUE(c.demo.enabled);
  EXPECT_EQ(c.demo.protocol, "netflow-v9");
  EXPECT_EQ(c.demo.target, "127.0.0.1:2055");
  EXPECT_EQ(c.demo.snmp_port, 1161);
  ASSERT_EQ(c.demo.bmp.routes.size(), 1u);
  EXPECT_EQ(c.demo.bmp.routes[0].prefixes.size(), 2u);
  EXPECT_EQ(c.demo.bmp.routes[0].as_path, (std::vector<uint32_t>{64501, 64502}));
  // Each Akvorado demo exporter is one router, with its name, interfaces and recipes.
  ASSERT_EQ(c.demo.router_list.size(), 2u) << r.yaml;
  EXPECT_EQ(c.demo.routers, 2);
  const auto& r1 = c.demo.router_list[0];
  EXPECT_EQ(r1.name, "r1.example.net");
  EXPECT_EQ(r1.interfaces.at(10), "Transit: Telia");
  EXPECT_EQ(r1.interfaces.at(20), "core");
  EXPECT_EQ(r1.sampling_rate, 50000);
  EXPECT_EQ(r1.seed, 7);
  ASSERT_EQ(r1.flows.size(), 2u);
  EXPECT_DOUBLE_EQ(r1.flows[0].per_second, 1.5);
  EXPECT_EQ(r1.flows[0].out_if_index, (std::vector<uint32_t>{20, 21}));
  EXPECT_EQ(r1.flows[0].peak_hour, std::chrono::hours(16));
  EXPECT_EQ(r1.flows[0].src_port, (std::vector<uint16_t>{80, 443}));
  EXPECT_EQ(r1.flows[0].dst_port, (std::vector<uint16_t>{0}));
  EXPECT_EQ(r1.flows[0].size, 1300u);
  EXPECT_DOUBLE_EQ(r1.flows[0].reverse_direction_ratio, 0.1);
  EXPECT_EQ(r1.flows[1].protocol, (std::vector<uint8_t>{6, 17}));
  const auto& r2 = c.demo.router_list[1];
  EXPECT_EQ(r2.name, "r2.example.net");
  EXPECT_EQ(r2.seed, 100);
  EXPECT_EQ(r2.sampling_rate, 0);  // the demo's
  ASSERT_EQ(r2.flows.size(), 1u);
  EXPECT_EQ(r2.flows[0].protocol, (std::vector<uint8_t>{1}));
  // What akvo's demo has once, the other entries' differing values are left out.
  const ImportDiagnostic* d = find(r, "demo-exporter[1].flows.target");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_EQ(d->line, 31);
  EXPECT_NE(find(r, "demo-exporter[1].bmp.target"), nullptr) << listed(r);
  // A key akvo does not know in a recipe, and an entry akvo cannot run (no interfaces, no
  // recipes), are left out with akvo's reason.
  d = find(r, "demo-exporter[0].flows.flows[1].colour");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_NE(d->why.find("recipes"), std::string::npos) << d->why;
  d = find(r, "demo-exporter[2]");
  ASSERT_NE(d, nullptr) << listed(r);
  EXPECT_NE(d->why.find("interface indexes"), std::string::npos) << d->why << listed(r);
  EXPECT_EQ(find(r, "demo-exporter[0].snmp.name"), nullptr) << listed(r);
  EXPECT_EQ(find(r, "demo-exporter[0].flows.flows"), nullptr) << listed(r);
}

TEST(AkvoradoImport, NotAnAkvoradoConfiguration) {
  EXPECT_THROW(convert("- a\n- b\n"), ConfigError);
}

}  // namespace
}  // namespace akvo
