// The kafka section: defaults, values, and errors naming file, line, key and choices. The
// transport itself runs on a real broker in tests/integration/kafka_*.sh.
#include "transport/kafka.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/app.h"
#include "testing/temp_dir.h"

namespace akvo {
namespace {

AppConfig load(const std::string& content) {
  auto p = testing::tempDir() / "kafka.yaml";
  std::ofstream(p) << content;
  AppConfig c = AppConfig::load(p.string());
  std::filesystem::remove(p);
  return c;
}

std::string error(const std::string& content) {
  try {
    load(content);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(KafkaConfig, DefaultsAndValues) {
  AppConfig d = load("");
  EXPECT_EQ(d.kafka.fullTopic(), "flows-v1");
  EXPECT_EQ(d.kafka.partitioning, "random");
  EXPECT_TRUE(d.kafka.manage_topic);
  EXPECT_FALSE(load("kafka: {manage-topic: false}\n").kafka.manage_topic);
  // Topic properties: retention is retention.ms unless config-entries gives it.
  EXPECT_EQ(d.kafka.topicConfig(), (std::map<std::string, std::string>{{"retention.ms", "21600000"}}));
  AppConfig e = load("kafka: {topic-configuration: {config-entries: {segment.bytes: 1073741824, "
                     "retention.ms: 86400000}, config-entries-strict-sync: false}}\n");
  EXPECT_EQ(e.kafka.topicConfig(), (std::map<std::string, std::string>{
                                       {"retention.ms", "86400000"}, {"segment.bytes", "1073741824"}}));
  EXPECT_FALSE(e.kafka.config_entries_strict_sync);
  // The enriched output's topic, as Akvorado's kafka-output, on its own brokers and options.
  AppConfig o = load("kafka: {brokers: [a:1], options: {client.id: x}}\noutlet:\n  kafka-output: {enabled: true, "
                     "brokers: [b:2], num-partitions: 3, config-entries: {retention.ms: 60000}}\n");
  EXPECT_EQ(o.kafka_output.num_partitions, 3);
  EXPECT_EQ(o.kafka_output.config_entries.at("retention.ms"), "60000");
  EXPECT_TRUE(o.kafka_output.manage_topic);
  KafkaConfig conn = o.kafka_output.connection(o.kafka);
  EXPECT_EQ(conn.bootstrap(), "b:2");
  EXPECT_TRUE(conn.options.empty());  // the kafka section's options are for its brokers
  EXPECT_EQ(AppConfig::load("").kafka_output.connection(o.kafka).bootstrap(), "a:1");
  AppConfig c = load(
      "kafka:\n  brokers: [a:9092, b:9093]\n  topic: netflows\n"
      "  topic-configuration: {num-partitions: 16, replication-factor: 3, retention: 12h}\n"
      "  compression-codec: lz4\n  partitioning: random\n  max-workers: 4\n"
      "  options: {security.protocol: ssl}\n");
  EXPECT_EQ(c.kafka.bootstrap(), "a:9092,b:9093");
  EXPECT_EQ(c.kafka.fullTopic(), "netflows-v1");
  EXPECT_EQ(c.kafka.num_partitions, 16);
  EXPECT_EQ(c.kafka.replication_factor, 3);
  EXPECT_EQ(c.kafka.retention, std::chrono::hours(12));
  EXPECT_EQ(c.kafka.compression_codec, "lz4");
  EXPECT_EQ(c.kafka.max_workers, 4);
  EXPECT_EQ(c.kafka.options.at("security.protocol"), "ssl");
}

TEST(KafkaConfig, ClearErrors) {
  std::string e = error("kafka:\n  compression-codec: brotli\n");
  EXPECT_NE(e.find(":2:"), std::string::npos) << e;
  EXPECT_NE(e.find("compression-codec"), std::string::npos) << e;
  EXPECT_NE(e.find("zstd"), std::string::npos) << e;
  e = error("kafka:\n  partitioning: sticky\n");
  EXPECT_NE(e.find("random"), std::string::npos) << e;
  e = error("kafka:\n  brokers: []\n");
  EXPECT_NE(e.find("at least one broker"), std::string::npos) << e;
  e = error("kafka: {topic-configuration: {retention: 1h, config-entries: {retention.ms: 5}}}\n");
  EXPECT_NE(e.find("retention.ms and retention both set"), std::string::npos) << e;
  e = error("kafka: {topic-configuration: {config-entries: [a]}}\n");
  EXPECT_NE(e.find("expected a mapping of topic property to value"), std::string::npos) << e;
  e = error("kafka:\n  topic-configuration: {num-partitions: 0}\n");
  EXPECT_NE(e.find("num-partitions"), std::string::npos) << e;
  e = error("kafka:\n  max-worker: 3\n");
  EXPECT_NE(e.find("max-workers"), std::string::npos) << e;  // listed among the valid keys
  e = error("clickhouse:\n  compression: lz5\n");
  EXPECT_NE(e.find("gzip"), std::string::npos) << e;
  // tls and sasl, as Akvorado's.
  e = error("kafka:\n  sasl:\n    mechanism: scram-sha1\n");
  EXPECT_NE(e.find(":3:"), std::string::npos) << e;
  EXPECT_NE(e.find("scram-sha512"), std::string::npos) << e;
  e = error("kafka:\n  sasl: {mechanism: plain}\n");
  EXPECT_NE(e.find("plain needs a username and a password"), std::string::npos) << e;
  e = error("kafka:\n  sasl: {mechanism: oauth, username: id, password: s}\n");
  EXPECT_NE(e.find("oauth-token-url"), std::string::npos) << e;
  e = error("kafka:\n  tls:\n    enable: true\n    ca-file: /nonexistent/ca.pem\n");
  EXPECT_NE(e.find(":4:"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot read \"/nonexistent/ca.pem\""), std::string::npos) << e;
}

// What tls and sasl set in librdkafka: security.protocol from both, then each block's
// properties; nothing at all when neither is on (librdkafka's plaintext).
TEST(KafkaConfig, SecurityProperties) {
  std::string e;
  auto props = [](const std::string& yaml) {
    AppConfig c = load(yaml);
    auto p = kafkaSecurityProperties(c.kafka.tls, c.kafka.sasl);
    return std::map<std::string, std::string>(p.begin(), p.end());
  };
  EXPECT_TRUE(props("").empty());
  EXPECT_TRUE(props("kafka: {tls: {enable: false}, sasl: {mechanism: none}}\n").empty());
  auto p = props("kafka: {tls: {enable: true}}\n");
  EXPECT_EQ(p, (std::map<std::string, std::string>{
                   {"security.protocol", "ssl"}, {"ssl.endpoint.identification.algorithm", "https"}}));
  p = props("kafka: {tls: {enable: true, skip-verify: true}, sasl: {mechanism: plain, username: "
            "u, password: p}}\n");
  EXPECT_EQ(p.at("security.protocol"), "sasl_ssl");
  EXPECT_EQ(p.at("enable.ssl.certificate.verification"), "false");
  EXPECT_EQ(p.at("ssl.endpoint.identification.algorithm"), "none");
  EXPECT_EQ(p.at("sasl.mechanisms"), "PLAIN");
  EXPECT_EQ(p.at("sasl.username"), "u");
  EXPECT_EQ(p.at("sasl.password"), "p");
  p = props("kafka: {sasl: {mechanism: scram-sha256, username: u, password: p}}\n");
  EXPECT_EQ(p.at("security.protocol"), "sasl_plaintext");
  EXPECT_EQ(p.at("sasl.mechanisms"), "SCRAM-SHA-256");
  EXPECT_EQ(p.count("ssl.endpoint.identification.algorithm"), 0u);
  // A client certificate whose key is in the same file.
  auto pem = std::filesystem::temp_directory_path() / ("akvo-kafka-test-" + std::to_string(getpid()) + ".pem");
  std::ofstream(pem) << "not checked here\n";
  p = props("kafka: {tls: {enable: true, ca-file: " + pem.string() + ", cert-file: " +
            pem.string() + "}}\n");
  std::filesystem::remove(pem);
  EXPECT_EQ(p.at("ssl.ca.location"), pem.string());
  EXPECT_EQ(p.at("ssl.certificate.location"), pem.string());
  EXPECT_EQ(p.at("ssl.key.location"), pem.string());
  // OAuth (client credentials) is librdkafka's OIDC, which the librdkafka akvo links has (the
  // one scripts/deps.sh builds: 2.6.1 or later, which SCRAM against Kafka 4 needs too).
  EXPECT_GE(rd_kafka_version(), 0x02060100) << rd_kafka_version_str();
  // As `akvo version` says it: the version and the features the tests above rely on.
  const std::string lib = kafka::library();
  EXPECT_EQ(lib.rfind(std::string("librdkafka ") + rd_kafka_version_str() + " (", 0), 0u) << lib;
  const std::string features = lib.substr(lib.find('(') + 1);  // "a, b, c)"
  for (const char* feature : {"ssl", "sasl_plain", "sasl_scram", "sasl_oauthbearer", "oidc", "zstd"})
    EXPECT_TRUE(features.find(std::string(feature) + ",") == 0 ||
                features.find(std::string(" ") + feature + ",") != std::string::npos ||
                features.find(std::string(" ") + feature + ")") != std::string::npos)
        << feature << ": " << lib;
  p = props("kafka:\n  sasl: {mechanism: oauth, username: id, password: s, "
            "oauth-token-url: \"https://idp.example/token\", oauth-scopes: [a, b]}\n");
  EXPECT_EQ(p.at("sasl.mechanisms"), "OAUTHBEARER");
  EXPECT_EQ(p.at("sasl.oauthbearer.method"), "oidc");
  EXPECT_EQ(p.at("sasl.oauthbearer.client.id"), "id");
  EXPECT_EQ(p.at("sasl.oauthbearer.client.secret"), "s");
  EXPECT_EQ(p.at("sasl.oauthbearer.token.endpoint.url"), "https://idp.example/token");
  EXPECT_EQ(p.at("sasl.oauthbearer.scope"), "a b");
  // Every property goes through librdkafka, which takes them all (this build has SSL and SASL).
  AppConfig c = load("kafka: {tls: {enable: true, skip-verify: true}, sasl: {mechanism: "
                     "scram-sha512, username: u, password: p}}\n");
  rd_kafka_conf_s* conf = kafka::baseConf(c.kafka);
  EXPECT_NE(conf, nullptr);
  rd_kafka_conf_destroy(conf);
}

}  // namespace
}  // namespace akvo
