#include "outlet/metadata/static_provider.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/http_server.h"
#include "outlet/metadata/metadata.h"
#include "testing/config.h"

namespace akvo::metadata {
namespace {

using namespace std::chrono_literals;

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

Metadata::Config readConfig(const std::string& yaml) {
  return testing::readSection<Metadata::Config>(yaml, "metadata");
}

TEST(StaticExporterSources, FromRemoteObjects) {
  auto list = StaticProvider::fromRemote({jq::Value::parse(R"({
    "exportersubnet": "192.0.2.0/24", "name": "edge1", "region": "eu", "role": "edge",
    "tenant": "t", "site": "par", "group": "g", "unknown": [1], "SkipMissingInterfaces": false,
    "default": {"name": "unknown", "speed": 1000},
    "interfaces": [
      {"ifindex": 10, "name": "Gi0/10", "description": "Transit", "speed": 10000,
       "provider": "lumen", "connectivity": "transit", "boundary": "external"},
      {"IfIndex": "11", "name": "Gi0/11", "boundary": null}]})")});
  ASSERT_EQ(list.size(), 1u);
  const auto& [prefix, e] = list[0];
  EXPECT_EQ(prefix.toString(), "192.0.2.0/24");
  EXPECT_EQ(e.info.name, "edge1");
  EXPECT_EQ(e.info.group, "g");
  ASSERT_TRUE(e.default_interface);
  EXPECT_EQ(e.default_interface->speed, 1000u);
  ASSERT_EQ(e.ifindexes.size(), 2u);
  EXPECT_EQ(e.ifindexes.at(10).boundary, Boundary::kExternal);
  EXPECT_EQ(e.ifindexes.at(10).provider, "lumen");
  EXPECT_EQ(e.ifindexes.at(11).name, "Gi0/11");
  auto error = [](const char* json) -> std::string {
    try {
      StaticProvider::fromRemote({jq::Value::parse(json)});
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(error(R"({"name": "x"})"), R"(exporter 1 ({"name":"x"}): no exportersubnet)");
  EXPECT_EQ(
      error(R"({"exportersubnet": "192.0.2.300", "name": "x"})"),
      R"(exporter 1 ({"exportersubnet":"192.0.2.300","name":"x"}): exportersubnet: "192.0.2.300" is not a subnet)");
  EXPECT_NE(error(R"({"exportersubnet": "192.0.2.1"})").find("an exporter needs a name"),
            std::string::npos);
  EXPECT_NE(error(R"({"exportersubnet": "192.0.2.1", "name": "x", "interfaces": [{"name": "a"}]})")
                .find("interfaces[0]: an interface needs an ifindex"),
            std::string::npos);
  EXPECT_NE(error(R"({"exportersubnet": "192.0.2.1", "name": "x", "default": {"boundary": "up"}})")
                .find("valid choices: external, internal, undefined"),
            std::string::npos);
}

/// A NetBox-like device list behind a real HTTP server, failing (503) until `up`.
struct DeviceServer {
  Metrics metrics;
  HttpServer http;
  std::atomic<bool> up{false};
  DeviceServer() : http(config(), metrics) {
    http.route("GET", "/devices", [this](const HttpRequest&) {
      if (!up) return HttpResponse::json("{}", 503);
      return HttpResponse::json(R"({"results": [
        {"ip": "192.0.2.0/24", "name": "remote-edge", "site": "ams",
         "ifaces": [{"index": 1, "name": "et-0/0/1", "speed": 100000}]},
        {"ip": "198.51.100.0/24", "name": "remote-core", "site": "fra", "ifaces": []},
        {"ip": "198.51.100.128/25", "name": "remote-specific", "site": "fra", "ifaces": [],
         "skip": true}]})");
    });
    http.start();
  }
  static HttpServer::Config config() {
    HttpServer::Config c;
    c.listen = "127.0.0.1:0";
    return c;
  }
};

// exporter-sources with a transform, static entries overriding the remote ones for the same
// subnet, and no answer (nothing cached) until the sources have loaded once.
TEST(StaticExporterSources, OverHttpStaticOverridesAndNotReadyFirst) {
  DeviceServer server;
  auto c = readConfig(fmt::format(R"(
failure-retry: 0s
cache-check-interval: 50ms
providers:
  - type: static
    exporters:
      198.51.100.0/24: {{name: static-core, default: {{name: static-if}}}}
      0.0.0.0/0: {{name: catch-all}}
    exporter-sources:
      netbox:
        url: http://127.0.0.1:{}/devices
        interval: 1m
        headers: {{Authorization: "Token x"}}
        transform: |
          .results[] | {{
            exportersubnet: .ip, name, site,
            default: {{name: "unknown", speed: 1}},
            interfaces: [.ifaces[] | {{ifindex: .index, name, speed}}],
            skipmissinginterfaces: (.skip // false)
          }}
)",
                                  server.http.port()));
  c.providers[0].static_.exporter_sources["netbox"].interval = 400ms;  // below 1m for the test
  Metrics m;
  Metadata md(c, m);
  md.start();
  // Not ready: what is known answers provisionally (the static catch-all), counted; asked
  // again (failure-retry) until the sources have loaded.
  auto unixNow = [] {
    return int64_t(std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count());
  };
  const int64_t now = unixNow();
  auto early = md.lookup({ip("192.0.2.1"), 1}, now);
  ASSERT_NE(early, nullptr);
  EXPECT_EQ(early->answer.exporter.name, "catch-all");
  EXPECT_TRUE(early->failed);  // asked again
  EXPECT_GE(m.sum("akvo_outlet_metadata_static_not_ready_total"), 1u);
  for (int i = 0; i < 100 && m.sum("akvo_outlet_metadata_static_remote_errors_total") == 0; i++)
    std::this_thread::sleep_for(20ms);
  EXPECT_GE(m.sum("akvo_outlet_metadata_static_remote_errors_total"), 1u);
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 1}, now)->answer.exporter.name, "catch-all");  // still
  server.up = true;
  // Once loaded, the next refresh puts the remote entry, more specific, in place.
  std::shared_ptr<const Entry> e;
  for (int i = 0; i < 100; i++) {
    e = md.lookup({ip("192.0.2.1"), 1}, unixNow());
    if (e && e->answer.exporter.name == "remote-edge") break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->answer.exporter.name, "remote-edge");
  EXPECT_FALSE(e->failed);
  EXPECT_EQ(e->answer.exporter.site, "ams");
  EXPECT_EQ(e->answer.iface.name, "et-0/0/1");
  EXPECT_EQ(e->answer.iface.speed, 100000u);
  auto d = md.lookup({ip("192.0.2.1"), 99}, unixNow());  // the remote default interface
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->answer.iface.name, "unknown");
  auto s = md.lookup({ip("198.51.100.1"), 5}, unixNow());  // static wins on the same subnet
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->answer.exporter.name, "static-core");
  EXPECT_EQ(s->answer.iface.name, "static-if");
  auto specific = md.lookup({ip("198.51.100.200"), 0}, unixNow());  // a more specific remote one
  ASSERT_NE(specific, nullptr);
  EXPECT_EQ(specific->answer.exporter.name, "remote-specific");
  auto skipped = md.lookup({ip("198.51.100.200"), 3}, unixNow());  // skipmissinginterfaces
  ASSERT_NE(skipped, nullptr);
  EXPECT_FALSE(skipped->answer.found);
  auto other = md.lookup({ip("203.0.113.1"), 1}, unixNow());
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->answer.exporter.name, "catch-all");
  EXPECT_NE(m.render().find(R"(akvo_outlet_metadata_static_remote_data_total{source="netbox"} 3)"),
            std::string::npos);
  md.stop();
}

TEST(StaticExporterSources, ConfigErrors) {
  try {
    readConfig(R"(
providers:
  - type: static
    exporter-sources:
      x: {url: "http://192.0.2.1/", interval: 1m, parser: yaml}
)");
    FAIL() << "accepted parser: yaml";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("test.yaml:5:"), std::string::npos) << e.what();
    EXPECT_NE(
        std::string(e.what()).find("exporter-sources.x.parser: \"yaml\" is not a valid choice"),
        std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace akvo::metadata
