#include "common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app/app.h"

namespace akvo {
namespace {

std::string writeTemp(const std::string& content) {
  static int n = 0;
  auto p = std::filesystem::temp_directory_path() / ("akvo-config-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".yaml");
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
  EXPECT_EQ(c.demo.target, "0.0.0.0:2055");
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
  e = loadError("http: [1, 2\n");
  EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
}

}  // namespace akvo
