#include "common/config.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/app.h"
#include "orchestrator/clickhouse.h"
#include "store/http_store.h"
#include "testing/temp_dir.h"

namespace akvo {
namespace {

std::string writeTemp(const std::string& content) {
  static int n = 0;
  auto p = testing::tempDir() / ("config-" + std::to_string(n++) + ".yaml");
  std::ofstream(p) << content;
  return p.string();
}

std::string loadError(const std::string& content) {
  auto path = writeTemp(content);
  try {
    AppConfig::load(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// A temporary folder of configuration files, removed with its content.
class ConfigDir {
 public:
  ConfigDir() {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("akvo-config-include-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~ConfigDir() { std::filesystem::remove_all(dir_); }
  /// Writes `content` to `name` (subfolders created) and returns its path.
  std::string write(const std::string& name, const std::string& content) const {
    auto p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
    return p.string();
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string error(const std::string& name) const {
    try {
      AppConfig::load(path(name));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace

TEST(Config, Durations) {
  EXPECT_EQ(parseDuration("5s").count(), 5000);
  EXPECT_EQ(parseDuration("1h30m").count(), 5400000);
  EXPECT_EQ(parseDuration("15d").count(), 15 * 86400000LL);
  EXPECT_EQ(parseDuration("0").count(), 0);
  EXPECT_THROW(parseDuration("5x"), std::invalid_argument);
  EXPECT_EQ(formatDuration(parseDuration("90m")), "1h30m");
}

TEST(Config, DefaultsWithoutFile) {
  AppConfig c = AppConfig::load("");
  EXPECT_EQ(c.http.listen, "127.0.0.1:8081");
  EXPECT_EQ(c.clickhouse.path, "./akvo-data");
  ASSERT_EQ(c.inlet.inputs.size(), 2u);
  EXPECT_EQ(c.inlet.inputs[0].listen, "0.0.0.0:2055");
  EXPECT_EQ(c.inlet.inputs[1].decoder, "sflow");
  EXPECT_EQ(c.inlet.inputs[1].listen, "0.0.0.0:6343");
  ASSERT_EQ(c.clickhouse.resolutions.size(), 4u);
  EXPECT_EQ(c.clickhouse.resolutions[0].ttl, std::chrono::hours(24 * 15));
  EXPECT_FALSE(c.demo.enabled);
  EXPECT_TRUE(AppConfig::load("", true).demo.enabled);
  // config check prints the free-form mappings too, empty when absent.
  for (const YAML::Node& n :
       {c.resolved["outlet"]["networks"]["networks"], c.resolved["outlet"]["networks"]["network-sources"],
        c.resolved["outlet"]["core"]["default-sampling-rate"], c.resolved["outlet"]["core"]["override-sampling-rate"],
        c.resolved["clickhouse"]["asns"], c.resolved["kafka"]["options"],
        c.resolved["clickhouse"]["resolutions"][0]["table-settings"]}) {
    EXPECT_TRUE(n.IsMap() && n.size() == 0) << YAML::Dump(n);
  }
}

TEST(Config, IssueExample) {
  auto path = writeTemp(R"(clickhouse:
  path: /tmp/x
http:
  listen: 127.0.0.1:9999
inlet:
  flow:
    inputs:
      - {type: udp, decoder: netflow, listen: "0.0.0.0:2055", workers: 2, receive-buffer: 8388608}
      - {type: udp, decoder: sflow,   listen: "0.0.0.0:6343"}
demo-exporter:
  enabled: true
)");
  AppConfig c = AppConfig::load(path);
  EXPECT_EQ(c.clickhouse.path, "/tmp/x");
  EXPECT_EQ(c.inlet.inputs[0].workers, 2);
  EXPECT_EQ(c.inlet.inputs[0].receive_buffer, 8388608);
  EXPECT_TRUE(c.demo.enabled);
  EXPECT_EQ(c.demo.target, "127.0.0.1:2055");  // the first NetFlow input, on loopback
  EXPECT_EQ(c.resolved["demo-exporter"]["target"].as<std::string>(), "127.0.0.1:2055");
  EXPECT_EQ(c.resolved["inlet"]["flow"]["inputs"][1]["workers"].as<int>(), 1);
}

TEST(Config, UnknownKeyNamesFileLineAndValidKeys) {
  std::string e = loadError("http:\n  listen: 127.0.0.1:8081\n  lisen: x\n");
  EXPECT_NE(e.find(":3:3"), std::string::npos) << e;
  EXPECT_NE(e.find("http.lisen"), std::string::npos) << e;
  EXPECT_NE(e.find("valid keys: listen"), std::string::npos) << e;
  e = loadError("inlet:\n  flow:\n    inputs:\n      - {decoder: netflow, port: 3}\n");
  EXPECT_NE(e.find("inlet.flow.inputs[0].port"), std::string::npos) << e;
  EXPECT_NE(e.find(":4:"), std::string::npos) << e;
}

TEST(Config, WrongTypesAndRanges) {
  std::string e = loadError("inlet:\n  flow:\n    inputs:\n      - {decoder: netflow, workers: many}\n");
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
  e = loadError("inlet:\n  flow:\n    inputs:\n      - {decoder: netflow, workers: 1000}\n");
  EXPECT_NE(e.find("out of range [1, 256]"), std::string::npos) << e;
  e = loadError("inlet:\n  flow:\n    inputs:\n      - {decoder: ipfix}\n");
  EXPECT_NE(e.find("valid choices: netflow, sflow"), std::string::npos) << e;
  e = loadError("demo-exporter:\n  enabled: maybe\n");
  EXPECT_NE(e.find("expected true or false"), std::string::npos) << e;
  e = loadError("clickhouse:\n  resolutions:\n    - {interval: 1m, ttl: 1d}\n");
  EXPECT_NE(e.find("interval: 0"), std::string::npos) << e;
  e = loadError("schema:\n  disabled: [Bytes]\n");
  EXPECT_NE(e.find("cannot be disabled"), std::string::npos) << e;
  e = loadError("schema:\n  disabled: [SrcGeoCity, InIfName]\n");  // the raw table sorts by it
  EXPECT_NE(e.find("column InIfName is in the primary key"), std::string::npos) << e;
  e = loadError("http: [1, 2\n");
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
  // A value yaml-cpp cannot convert: file, line and section, not a bare library message.
  e = loadError("clickhouse:\n  asns:\n    64501: {name: x}\n");
  EXPECT_NE(e.find(":3:12: clickhouse: invalid value"), std::string::npos) << e;
  e = loadError("outlet:\n  metadata:\n    cache-duration: 1.5.3h\n");
  EXPECT_NE(e.find("bad duration \"1.5.3h\""), std::string::npos) << e;
  e = loadError("clickhouse:\n  resolutions:\n    - {interval: 0, ttl: 999999999999999d}\n");
  EXPECT_NE(e.find("too long"), std::string::npos) << e;
  e = loadError("? [a, b]\n: 1\n");
  EXPECT_NE(e.find("a key must be a plain string"), std::string::npos) << e;
  EXPECT_THROW(AppConfig::load(std::filesystem::temp_directory_path().string()), ConfigError);
}

// schema.indexes and schema.no-indexes as Akvorado's: a bad index or column names the key, the
// file and the line, and the valid forms; `config check` shows the indexes in force.
TEST(Config, SchemaIndexes) {
  AppConfig c = AppConfig::load(writeTemp(R"(schema:
  indexes:
    SrcAddr: bloom(0.01)
    SrcNetName: bloom(0.001)
  no-indexes:
    - DstAddr
)"));
  EXPECT_EQ(c.schema.indexes.at("SrcAddr"), "bloom(0.01)");
  EXPECT_EQ(c.schema.indexes.at("SrcNetName"), "bloom(0.001)");
  EXPECT_EQ(c.schema.no_indexes, std::vector<std::string>{"DstAddr"});
  EXPECT_EQ(c.resolved["schema"]["indexes"]["SrcAddr"].as<std::string>(), "bloom(0.01)");
  EXPECT_EQ(c.resolved["schema"]["indexes"]["DstPort"].as<std::string>(), "bloom(0.001)");
  EXPECT_EQ(c.resolved["schema"]["indexes"]["InIfBoundary"].as<std::string>(), "set(0)");
  EXPECT_FALSE(c.resolved["schema"]["indexes"]["DstAddr"].IsDefined());
  std::string e = loadError("schema:\n  indexes:\n    SrcAddr: bloom(1.5)\n");
  EXPECT_NE(e.find(":3:14: schema.indexes.SrcAddr: invalid index \"bloom(1.5)\""),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("valid forms: bloom(P) with 0 < P < 1"), std::string::npos) << e;
  e = loadError("schema:\n  indexes:\n    DstPort: hash\n");
  EXPECT_NE(e.find(":3:14: schema.indexes.DstPort: invalid index \"hash\""),
            std::string::npos)
      << e;
  e = loadError("schema:\n  indexes:\n    SrcAdr: minmax\n");
  EXPECT_NE(e.find(":3:13: schema.indexes.SrcAdr: unknown column"), std::string::npos) << e;
  e = loadError("schema:\n  no-indexes: [DstAddr, Nope]\n");
  EXPECT_NE(e.find(":2:15: schema.no-indexes: unknown column \"Nope\""), std::string::npos) << e;
  e = loadError("schema:\n  indexes:\n    SrcAddr: minmax\n  no-indexes: [SrcAddr]\n");
  EXPECT_NE(e.find("also in schema.indexes"), std::string::npos) << e;
}

// clickhouse.tls as Akvorado's TLS block: keys, defaults (skip-verify false), and errors that
// name the key, the file and why; the HTTP store gets https and the certificates.
TEST(Config, ClickHouseTls) {
  AppConfig plain = AppConfig::load(writeTemp("clickhouse:\n  servers: [ch1:8123]\n"));
  EXPECT_FALSE(plain.clickhouse.tls.enable);
  EXPECT_FALSE(plain.clickhouse.tls.skip_verify);
  EXPECT_EQ(plain.resolved["clickhouse"]["tls"]["skip-verify"].as<std::string>(), "false");
  HttpStore::Config hc = httpStoreConfig(plain.clickhouse);
  EXPECT_FALSE(hc.tls);
  EXPECT_TRUE(hc.tls_verify);
  EXPECT_EQ(HttpStore(hc).describe(), "http://ch1:8123/");

  std::string ca = writeTemp("CA"), cert = writeTemp("CERT"), key = writeTemp("KEY");
  AppConfig c = AppConfig::load(writeTemp(fmt::format(R"(clickhouse:
  servers: [ch1:8443, "https://ch2:9443"]
  tls:
    enable: true
    skip-verify: true
    ca-file: {}
    cert-file: {}
    key-file: {}
)",
                                                      ca, cert, key)));
  hc = httpStoreConfig(c.clickhouse);
  EXPECT_TRUE(hc.tls);
  EXPECT_FALSE(hc.tls_verify);
  EXPECT_EQ(hc.ca_file, ca);
  EXPECT_EQ(hc.cert_file, cert);
  EXPECT_EQ(hc.key_file, key);
  EXPECT_EQ(HttpStore(hc).describe(), "https://ch1:8443/,https://ch2:9443/");

  std::string e = loadError(
      "clickhouse:\n  servers: [ch1:8443]\n  tls:\n    enable: true\n    ca-file: /nope/ca.pem\n");
  EXPECT_NE(e.find(":5:14: clickhouse.tls.ca-file: cannot read \"/nope/ca.pem\": No such file or "
                   "directory"),
            std::string::npos)
      << e;
  e = loadError(fmt::format(
      "clickhouse:\n  servers: [ch1:8443]\n  tls:\n    enable: true\n    key-file: {}\n", key));
  EXPECT_NE(e.find("clickhouse.tls.key-file: needs cert-file"), std::string::npos) << e;
  e = loadError(fmt::format(
      "clickhouse:\n  servers: [ch1:8443]\n  tls:\n    cert-file: {}\n", cert));
  EXPECT_NE(e.find(":4:16: clickhouse.tls.cert-file: set while tls.enable is false"),
            std::string::npos)
      << e;
  e = loadError("clickhouse:\n  tls: {enable: true}\n");
  EXPECT_NE(e.find("clickhouse.tls.enable: TLS is for clickhouse.servers"), std::string::npos) << e;
  e = loadError("clickhouse:\n  servers: [\"http://ch1:8123\"]\n  tls: {enable: true}\n");
  EXPECT_NE(e.find("clickhouse.servers: http://ch1:8123 says http:// while tls.enable is true"),
            std::string::npos)
      << e;
  e = loadError("clickhouse:\n  servers: [ch1:8443]\n  tls: {enable: true, verify: false}\n");
  EXPECT_NE(e.find("valid keys: enable, skip-verify, ca-file, cert-file, key-file"),
            std::string::npos)
      << e;
}

// A repeated key is an error (yaml-cpp would keep the first and drop the second silently).
// An input's decapsulation-protocol: one of Akvorado's five values; anything else names the
// file, the line, the key and the valid choices.
TEST(Config, DecapsulationProtocol) {
  auto path = writeTemp(
      "inlet:\n  flow:\n    inputs:\n"
      "      - {decoder: sflow, listen: 127.0.0.1:6343, decapsulation-protocol: vxlan}\n"
      "      - {decoder: netflow, listen: 127.0.0.1:2055}\n");
  auto c = AppConfig::load(path);
  ASSERT_EQ(c.inlet.inputs.size(), 2u);
  EXPECT_EQ(c.inlet.inputs[0].decapsulation(), Decapsulation::kVxlan);
  EXPECT_EQ(c.inlet.inputs[1].decapsulation(), Decapsulation::kNone);  // the default
  EXPECT_EQ(c.resolved["inlet"]["flow"]["inputs"][1]["decapsulation-protocol"].as<std::string>(),
            "none");
  std::string e = loadError(
      "inlet:\n  flow:\n    inputs:\n      - {decoder: netflow}\n"
      "      - {decoder: sflow, listen: 0.0.0.0:6343, decapsulation-protocol: mpls}\n");
  EXPECT_NE(e.find(".yaml:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("inlet.flow.inputs[1].decapsulation-protocol"), std::string::npos) << e;
  EXPECT_NE(e.find("\"mpls\" is not a valid choice; valid choices: none, ipip, gre, vxlan, srv6"),
            std::string::npos)
      << e;
}

TEST(Config, DuplicateKeys) {
  std::string e = loadError("outlet:\n  workers: 3\noutlet:\n  workers: 5\n");
  EXPECT_NE(e.find(":3:1: duplicate key \"outlet\" (first at line 1)"), std::string::npos) << e;
  e = loadError("inlet:\n  flow:\n    inputs:\n      - {decoder: netflow, decoder: sflow}\n");
  EXPECT_NE(e.find("duplicate key \"inlet.flow.inputs[0].decoder\""), std::string::npos) << e;
}

// What Akvorado's loader accepts: merge keys and hidden keys holding anchors. Older keys are
// refused with where they went.
TEST(Config, AkvoradoFileFeatures) {
  AppConfig c = AppConfig::load(writeTemp(R"(.defaults: &d
  workers: 3
  clickhouse: {maximum-wait-time: 2s}
outlet:
  <<: *d
  workers: 4
)"));
  EXPECT_EQ(c.outlet.workers, 4);  // the mapping's own key wins over the merged one
  EXPECT_EQ(c.outlet.clickhouse.maximum_wait_time, std::chrono::seconds(2));
  // What a merge key pulls in twice is printed twice by config check, not as YAML aliases.
  c = AppConfig::load(writeTemp(R"(.site: &site {site: paris, region: eu}
outlet:
  networks:
    networks:
      192.0.2.0/24: {<<: *site, name: a}
      198.51.100.0/24: {<<: *site, name: b}
)"));
  YAML::Emitter out;
  out << c.resolved;
  EXPECT_EQ(std::string(out.c_str()).find_first_of("&*"), std::string::npos) << out.c_str();
  EXPECT_EQ(c.resolved["outlet"]["networks"]["networks"]["198.51.100.0/24"]["site"].as<std::string>(),
            "paris");
  std::string e = loadError("geoip:\n  asn-database: []\n");
  EXPECT_NE(e.find("an older Akvorado key: now outlet.geoip"), std::string::npos) << e;
  e = loadError("outlet:\n  core:\n    ignore-asn-from-flow: true\n");
  EXPECT_NE(e.find("now outlet.core.asn-providers"), std::string::npos) << e;
}

// Environment overrides as Akvorado's: the path in capitals, dashes removed, _ between levels
// and list indexes, commas for lists; they win over the file.
TEST(Config, EnvironmentOverrides) {
  setenv("AKVORADO_CFG_OUTLET_CLICKHOUSE_MAXIMUMBATCHSIZE", "1000", 1);
  setenv("AKVO_CFG_INLET_FLOW_INPUTS_1_WORKERS", "3", 1);
  setenv("AKVO_CFG_OUTLET_CORE_ASNPROVIDERS", "flow,networks", 1);
  AppConfig c = AppConfig::load(writeTemp("outlet:\n  clickhouse:\n    maximum-batch-size: 5000\n"));
  unsetenv("AKVORADO_CFG_OUTLET_CLICKHOUSE_MAXIMUMBATCHSIZE");
  unsetenv("AKVO_CFG_INLET_FLOW_INPUTS_1_WORKERS");
  unsetenv("AKVO_CFG_OUTLET_CORE_ASNPROVIDERS");
  EXPECT_EQ(c.outlet.clickhouse.maximum_batch_size, 1000);
  EXPECT_EQ(c.inlet.inputs[1].workers, 3);
  EXPECT_EQ(c.inlet.inputs[0].workers, 1);
  EXPECT_EQ(c.core.asn_providers, (std::vector<std::string>{"flow", "networks"}));
  setenv("AKVO_CFG_HTTP_MAXCONNECTIONS", "many", 1);
  std::string e = loadError("");
  unsetenv("AKVO_CFG_HTTP_MAXCONNECTIONS");
  EXPECT_NE(e.find("http.max-connections: expected an integer, got \"many\""), std::string::npos) << e;
}

// !include as Akvorado's (common/helpers/yaml/unmarshal.go): the node is replaced by the
// document of the file, whatever it holds; the orchestrator serves it resolved.
TEST(ConfigInclude, Mapping) {
  ConfigDir d;
  d.write("akvo.yaml", "http: {listen: 127.0.0.1:9000}\noutlet: !include \"outlet.yaml\"\n");
  d.write("outlet.yaml", "workers: 3\nclickhouse:\n  maximum-batch-size: 777\n");
  AppConfig c = AppConfig::load(d.path("akvo.yaml"));
  EXPECT_EQ(c.outlet.workers, 3);
  EXPECT_EQ(c.outlet.clickhouse.maximum_batch_size, 777);
  EXPECT_EQ(c.http.listen, "127.0.0.1:9000");
  YAML::Node served = serviceConfiguration(c, "outlet", "orch:8080");
  EXPECT_EQ(served["outlet"]["workers"].as<int>(), 3);
  EXPECT_EQ(served["outlet"]["clickhouse"]["maximum-batch-size"].as<int>(), 777);
}

TEST(ConfigInclude, ListElementAndList) {
  ConfigDir d;
  d.write("akvo.yaml", R"(inlet:
  flow:
    inputs:
      - !include "sflow.yaml"
      - {decoder: netflow, listen: "0.0.0.0:2055"}
outlet:
  core:
    asn-providers: !include asn.yaml
)");
  d.write("sflow.yaml", "decoder: sflow\nlisten: 0.0.0.0:6343\nworkers: 2\n");
  // Akvorado's way to keep anchors in a file holding a list: hidden keys, then "".
  d.write("asn.yaml", ".providers:\n  - &first routing\n\"\":\n  - *first\n  - flow\n");
  AppConfig c = AppConfig::load(d.path("akvo.yaml"));
  ASSERT_EQ(c.inlet.inputs.size(), 2u);
  EXPECT_EQ(c.inlet.inputs[0].decoder, "sflow");
  EXPECT_EQ(c.inlet.inputs[0].workers, 2);
  EXPECT_EQ(c.inlet.inputs[1].decoder, "netflow");
  EXPECT_EQ(c.core.asn_providers, (std::vector<std::string>{"routing", "flow"}));
}

// Every name is relative to the main file's directory, also in an included file of a
// subfolder (Akvorado reads them all through os.DirFS of that directory).
TEST(ConfigInclude, NestedFromSubfolder) {
  ConfigDir d;
  d.write("akvo.yaml", "outlet: !include \"conf/outlet.yaml\"\n");
  d.write("conf/outlet.yaml", "workers: 5\ncore: !include conf/core.yaml\n");
  d.write("conf/core.yaml", "asn-providers: [flow]\n");
  AppConfig c = AppConfig::load(d.path("akvo.yaml"));
  EXPECT_EQ(c.outlet.workers, 5);
  EXPECT_EQ(c.core.asn_providers, std::vector<std::string>{"flow"});
  EXPECT_EQ(loadYamlFile(d.path("akvo.yaml")).files->files(),
            (std::vector<std::string>{d.path("akvo.yaml"), d.path("conf/outlet.yaml"),
                                      d.path("conf/core.yaml")}));
  // Relative to the including file's folder is not how Akvorado reads it.
  d.write("conf/outlet.yaml", "workers: 5\ncore: !include core.yaml\n");
  std::string e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("conf/outlet.yaml") + ":2:7: !include \"core.yaml\": cannot read " +
                   d.path("core.yaml")),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("(included from " + d.path("akvo.yaml") + ":1:9)"), std::string::npos) << e;
  // Nor above it or absolute (Go's fs.ValidPath).
  for (const char* name : {"../x.yaml", "/etc/hosts", "./conf/core.yaml", "conf//core.yaml"}) {
    d.write("akvo.yaml", std::string("outlet: !include \"") + name + "\"\n");
    e = d.error("akvo.yaml");
    EXPECT_NE(e.find("relative to the directory of the main configuration file"),
              std::string::npos)
        << name << ": " << e;
  }
}

// The main file's symbolic links are followed first: its includes are beside the real file.
// An included file may be a symbolic link.
TEST(ConfigInclude, Symlinks) {
  ConfigDir d;
  d.write("real/akvo.yaml", "outlet: !include outlet.yaml\n");
  d.write("real/outlet.yaml", "workers: 7\ncore: !include core.yaml\n");
  d.write("elsewhere/core.yaml", "asn-providers: [routing]\n");
  std::filesystem::create_symlink(d.path("elsewhere/core.yaml"), d.path("real/core.yaml"));
  std::filesystem::create_directories(d.path("etc"));
  std::filesystem::create_symlink(d.path("real/akvo.yaml"), d.path("etc/akvo.yaml"));
  AppConfig c = AppConfig::load(d.path("etc/akvo.yaml"));
  EXPECT_EQ(c.outlet.workers, 7);
  EXPECT_EQ(c.core.asn_providers, std::vector<std::string>{"routing"});
}

TEST(ConfigInclude, CycleAndMissingFile) {
  ConfigDir d;
  d.write("akvo.yaml", "outlet: !include a.yaml\n");
  d.write("a.yaml", "core: !include b.yaml\n");
  d.write("b.yaml", "x: !include a.yaml\n");
  std::string e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("b.yaml") + ":1:4: !include cycle: " + d.path("akvo.yaml") + " -> " +
                   d.path("a.yaml") + " -> " + d.path("b.yaml") + " -> " + d.path("a.yaml")),
            std::string::npos)
      << e;
  d.write("self.yaml", "http: !include self.yaml\n");
  e = d.error("self.yaml");
  EXPECT_NE(e.find("!include cycle"), std::string::npos) << e;

  d.write("akvo.yaml", "http: {listen: 127.0.0.1:9000}\noutlet:\n  core: !include \"missing.yaml\"\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("akvo.yaml") + ":3:9: !include \"missing.yaml\": cannot read " +
                   d.path("missing.yaml") + ": No such file or directory"),
            std::string::npos)
      << e;
  d.write("akvo.yaml", "outlet: !include [a.yaml]\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(":1:9: !include takes a file name, not a list"), std::string::npos) << e;
  d.write("akvo.yaml", "outlet: !include bad.yaml\n");
  d.write("bad.yaml", "workers: [1\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("bad.yaml") + ":2:1: invalid YAML"), std::string::npos) << e;
}

// Errors found while decoding name the included file and its line, not the main file's.
TEST(ConfigInclude, ErrorsNameTheIncludedFile) {
  ConfigDir d;
  d.write("akvo.yaml", "http: {listen: 127.0.0.1:9000}\noutlet: !include outlet.yaml\n");
  d.write("outlet.yaml", "workers: 3\n\ncore:\n  asn-providers: [flow]\n  bogus: 1\n");
  std::string e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("outlet.yaml") + ":5:3: unknown key \"outlet.core.bogus\""),
            std::string::npos)
      << e;
  d.write("outlet.yaml", "workers: many\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("outlet.yaml") + ":1:10: outlet.workers: expected an integer"),
            std::string::npos)
      << e;
  d.write("outlet.yaml", "workers: 3\nworkers: 4\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("outlet.yaml") + ":2:1: duplicate key \"outlet.workers\""),
            std::string::npos)
      << e;
  // A value yaml-cpp cannot convert (reported from its exception's position).
  d.write("akvo.yaml", "clickhouse: !include ch.yaml\n");
  d.write("ch.yaml", "asns:\n  64501: {name: x}\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("ch.yaml") + ":2:10: clickhouse: invalid value"), std::string::npos)
      << e;
  // The list element of an included list, and a key merged in from an included file.
  d.write("akvo.yaml", "inlet: {flow: {inputs: !include inputs.yaml}}\n");
  d.write("inputs.yaml", "- {decoder: netflow}\n- {decoder: sflow, port: 3}\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("inputs.yaml") + ":2:20: unknown key \"inlet.flow.inputs[1].port\""),
            std::string::npos)
      << e;
  d.write("akvo.yaml", "outlet:\n  <<: !include base.yaml\n  workers: 2\n");
  d.write("base.yaml", ".anchors: {}\nworkers: 9\nwrkers: 1\n");
  e = d.error("akvo.yaml");
  EXPECT_NE(e.find(d.path("base.yaml") + ":3:1: unknown key \"outlet.wrkers\""), std::string::npos)
      << e;
  d.write("base.yaml", ".anchors: {}\nworkers: 9\n");
  EXPECT_EQ(AppConfig::load(d.path("akvo.yaml")).outlet.workers, 2);  // the mapping's own wins
}

TEST(ConfigInclude, EnvironmentOverridesIncludedValues) {
  ConfigDir d;
  d.write("akvo.yaml", "outlet: !include outlet.yaml\n");
  d.write("outlet.yaml", "workers: 3\nclickhouse: {maximum-batch-size: 5000}\n");
  setenv("AKVO_CFG_OUTLET_CLICKHOUSE_MAXIMUMBATCHSIZE", "1000", 1);
  AppConfig c = AppConfig::load(d.path("akvo.yaml"));
  unsetenv("AKVO_CFG_OUTLET_CLICKHOUSE_MAXIMUMBATCHSIZE");
  EXPECT_EQ(c.outlet.clickhouse.maximum_batch_size, 1000);
  EXPECT_EQ(c.outlet.workers, 3);
}

// Keys match as in Akvorado (helpers.MapStructureMatchName): case and dashes do not count,
// in hand-read mappings too (exporters, interfaces, networks, SNMP credentials).
TEST(Config, KeysIgnoreCaseAndDashesAsAkvorado) {
  AppConfig c = AppConfig::load(writeTemp(R"(HTTP:
  Listen: 127.0.0.1:9999
outlet:
  Workers: 3
  clickhouse: {MaximumBatchSize: 777, Maximum-Wait-Time: 2s}
  metadata:
    providers:
      - Type: static
        exporters:
          192.0.2.1: {Name: edge1, SkipMissingInterfaces: true, IfIndexes: {10: {Name: xe-0/0/0, Speed: 1000}}}
      - type: snmp
        credentials: {::/0: {UserName: u, AuthenticationProtocol: SHA, AuthenticationPassphrase: passphrase}}
  networks:
    networks:
      192.0.2.0/24: {Name: office, ROLE: internal}
)"));
  EXPECT_EQ(c.http.listen, "127.0.0.1:9999");
  EXPECT_EQ(c.outlet.workers, 3);
  EXPECT_EQ(c.outlet.clickhouse.maximum_batch_size, 777);
  EXPECT_EQ(c.outlet.clickhouse.maximum_wait_time, std::chrono::seconds(2));
  // config check and the orchestrator show the keys as documented.
  EXPECT_EQ(c.resolved["outlet"]["clickhouse"]["maximum-batch-size"].as<int>(), 777);
  EXPECT_FALSE(c.resolved["outlet"]["Workers"]);
  ASSERT_EQ(c.metadata.providers.size(), 2u);
  const auto* e = c.metadata.providers[0].static_.exporters.lookup(*IPv6Addr::parse("192.0.2.1"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->info.name, "edge1");
  EXPECT_TRUE(e->skip_missing_interfaces);
  EXPECT_EQ(e->ifindexes.at(10).name, "xe-0/0/0");
  EXPECT_EQ(e->ifindexes.at(10).speed, 1000u);
  const auto* cred = c.metadata.providers[1].snmp.credentials.lookup(*IPv6Addr::parse("::1"));
  ASSERT_NE(cred, nullptr);
  EXPECT_EQ(cred->user_name, "u");
  EXPECT_EQ(cred->authentication_passphrase, "passphrase");
  ASSERT_EQ(c.networks.networks.size(), 1u);
  EXPECT_EQ(c.networks.networks[0].second.name, "office");
  EXPECT_EQ(c.networks.networks[0].second.role, "internal");
  // Unknown keys stay unknown, named as written; two spellings of one key are that key twice
  // (Akvorado reports the one it did not use as an invalid key).
  std::string err = loadError("http:\n  Lisen: x\n");
  EXPECT_NE(err.find(":2:3: unknown key \"http.Lisen\"; valid keys: listen,"), std::string::npos)
      << err;
  err = loadError("outlet:\n  workers: 3\n  Workers: 4\n");
  EXPECT_NE(err.find(":3:3: duplicate key \"outlet.Workers\" (first at line 2)"), std::string::npos)
      << err;
  err = loadError("Inlet:\n  Metadata: {}\n");
  EXPECT_NE(err.find("unknown key \"inlet.Metadata\" (an older Akvorado key: now outlet.metadata)"),
            std::string::npos)
      << err;
}

TEST(Config, InputsSnmpCredentialsAndBmp) {
  std::string e = loadError(
      "inlet:\n  flow:\n    inputs:\n      - {decoder: netflow, listen: \"0.0.0.0:2055\"}\n"
      "      - {decoder: sflow, listen: \"0.0.0.0:2055\"}\n");
  EXPECT_NE(e.find("inputs 0 and 1 both listen on 0.0.0.0:2055"), std::string::npos) << e;
  auto snmp = [](const char* credentials) {
    return std::string("outlet:\n  metadata:\n    providers:\n      - type: snmp\n        credentials: ") +
           credentials + "\n";
  };
  e = loadError(snmp("{::/0: {communities: []}}"));
  EXPECT_NE(e.find("communities is empty"), std::string::npos) << e;
  e = loadError(snmp("{::/0: {communities: [a], user-name: u}}"));
  EXPECT_NE(e.find("not both"), std::string::npos) << e;
  EXPECT_EQ(loadError(snmp("{::/0: private}")), "");  // Akvorado's shorthand
  // The resolved configuration (config check, the orchestrator's copies) shows the defaults.
  AppConfig d = AppConfig::load(writeTemp("outlet:\n  metadata:\n    providers:\n      - type: snmp\n"));
  const YAML::Node& p = d.resolved["outlet"]["metadata"]["providers"][0];
  EXPECT_EQ(p["credentials"]["::/0"]["communities"][0].as<std::string>(), "public");
  EXPECT_EQ(p["ports"]["::/0"].as<int>(), 161);
  AppConfig c = AppConfig::load(
      writeTemp("outlet: {routing: {provider: {listen: \"127.0.0.1:11019\", collect-communities: false}}}\n"));
  EXPECT_EQ(c.routing.type, "bmp");  // BMP settings without a type
}

}  // namespace akvo
