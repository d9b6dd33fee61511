// What the orchestrator serves to each role, and a local file laid over it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/app.h"

namespace akvo {
namespace {

AppConfig load(const std::string& content) {
  auto p = std::filesystem::temp_directory_path() /
           ("akvo-service-config-test-" + std::to_string(getpid()) + ".yaml");
  std::ofstream(p) << content;
  AppConfig c = AppConfig::load(p.string());
  std::filesystem::remove(p);
  return c;
}

const char* kFile =
    "clickhouse: {path: /var/lib/akvo, password: secret}\n"
    "http: {listen: 127.0.0.1:9000}\n"
    "kafka: {brokers: [k1:9092], max-workers: 5}\n"
    "inlet: {flow: {inputs: [{decoder: sflow, listen: ':6343'}]}}\n"
    "outlet: {workers: 3}\n";

TEST(ServiceConfiguration, EachRoleGetsItsSectionsAndReadsThem) {
  AppConfig orch = load(kFile);
  YAML::Node inlet = serviceConfiguration(orch, "inlet", "orch:8080");
  EXPECT_TRUE(inlet["inlet"]);
  EXPECT_TRUE(inlet["kafka"]);
  EXPECT_FALSE(inlet["clickhouse"]) << "the inlet does not need the store's password";
  EXPECT_FALSE(inlet["http"]);
  EXPECT_FALSE(inlet["outlet"]);
  AppConfig i = AppConfig::fromYaml(inlet, "served");
  EXPECT_EQ(i.kafka.brokers, std::vector<std::string>{"k1:9092"});
  ASSERT_EQ(i.inlet.inputs.size(), 1u);
  EXPECT_EQ(i.inlet.inputs[0].decoder, "sflow");
  EXPECT_EQ(i.http.listen, HttpServer::Config{}.listen);

  // The embedded store is reached through the orchestrator's endpoint.
  AppConfig o = AppConfig::fromYaml(serviceConfiguration(orch, "outlet", "orch:8080"), "served");
  EXPECT_EQ(o.clickhouse.servers, std::vector<std::string>{"orch:8080/clickhouse"});
  EXPECT_EQ(o.clickhouse.password, "secret");
  EXPECT_EQ(o.outlet.workers, 3);
  EXPECT_EQ(o.kafka.max_workers, 5);
  EXPECT_TRUE(serviceConfiguration(orch, "orchestrator", "x").IsNull());
}

TEST(ServiceConfiguration, LocalFileWins) {
  YAML::Node base = YAML::Load("kafka: {brokers: [a:1], max-workers: 5}\nhttp: {listen: x:1}");
  YAML::Node over = YAML::Load("kafka: {max-workers: 2}\nhttp: {listen: y:2}");
  YAML::Node m = mergeYaml(base, over);
  EXPECT_EQ(m["kafka"]["brokers"][0].as<std::string>(), "a:1");
  EXPECT_EQ(m["kafka"]["max-workers"].as<int>(), 2);
  EXPECT_EQ(m["http"]["listen"].as<std::string>(), "y:2");
  EXPECT_EQ(base["kafka"]["max-workers"].as<int>(), 5) << "the base is not modified";
}

// The local file may spell a key another way (keyMatches()): it still replaces the served one.
TEST(ServiceConfiguration, LocalKeysMatchAsAkvorado) {
  YAML::Node base = YAML::Load("kafka: {brokers: [a:1], max-workers: 5}");
  YAML::Node over = YAML::Load("Kafka: {MaxWorkers: 2}");
  AppConfig c = AppConfig::fromYaml(mergeYaml(base, over), "served");
  EXPECT_EQ(c.kafka.max_workers, 2);
  EXPECT_EQ(c.kafka.brokers, std::vector<std::string>{"a:1"});
}

// The local file keeps its nodes once laid over what the orchestrator serves: an error in it
// (or in a file it includes) names that file and line, not the orchestrator's URL.
TEST(ServiceConfiguration, LocalFileErrorsNameTheirFile) {
  auto dir = std::filesystem::temp_directory_path() /
             ("akvo-service-config-local-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "local.yaml") << "http: {listen: 127.0.0.1:9000}\noutlet: !include o.yaml\n";
  std::ofstream(dir / "o.yaml") << "workers: 2\nwrkers: 3\n";
  YamlDocument local = loadYamlFile((dir / "local.yaml").string());
  YAML::Node served = YAML::Load("outlet: {workers: 4}\nkafka: {brokers: [k:9092]}\n");
  std::string e;
  try {
    AppConfig::fromYaml(mergeYaml(served, local.root), "http://orch/ + local.yaml", false,
                        local.files);
  } catch (const ConfigError& x) {
    e = x.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_NE(e.find((dir / "o.yaml").string() + ":2:1: unknown key \"outlet.wrkers\""),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace akvo

namespace akvo {
namespace {

// The demo's targets default to the first NetFlow input and the BMP listener (on loopback when
// they listen on every address); the defaults are part of the configuration served to a
// demo-exporter role, and a `bmp` section that does not name a target keeps the default one.
TEST(ServiceConfiguration, DemoTargetsDefaultToTheInputsAndAreServed) {
  AppConfig c = load(
      "inlet: {flow: {inputs: [{decoder: sflow, listen: ':6343'},"
      " {decoder: netflow, listen: '0.0.0.0:9999'}]}}\n"
      "outlet: {routing: {provider: {type: bmp, listen: ':11179'}}}\n"
      "demo-exporter: {enabled: true, bmp: {local-asn: 65000}}\n");
  EXPECT_EQ(c.demo.target, "127.0.0.1:9999");
  EXPECT_EQ(c.demo.bmp.target, "127.0.0.1:11179");
  YAML::Node served = serviceConfiguration(c, "demo-exporter", "orch:8080");
  ASSERT_TRUE(served["demo-exporter"]) << YAML::Dump(served);
  EXPECT_EQ(served["demo-exporter"]["target"].as<std::string>(), "127.0.0.1:9999");
  AppConfig d = AppConfig::fromYaml(served, "served");
  EXPECT_EQ(d.demo.target, "127.0.0.1:9999");

  // A target given wins; no BMP routing, no BMP target.
  AppConfig e = load(
      "inlet: {flow: {inputs: [{decoder: netflow, listen: '0.0.0.0:9999'}]}}\n"
      "demo-exporter: {target: '127.0.0.2:2055'}\n");
  EXPECT_EQ(e.demo.target, "127.0.0.2:2055");
  EXPECT_EQ(e.demo.bmp.target, "");
}

}  // namespace
}  // namespace akvo
