#include "outlet/metadata/gnmi.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "outlet/metadata/gnmi_device_fixture.h"
#include "outlet/metadata/metadata.h"
#include "testing/config.h"

namespace akvo::metadata {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

Metadata::Config readConfig(const std::string& yaml) {
  return testing::readSection<Metadata::Config>(yaml, "metadata");
}

std::string errorOf(const std::string& yaml) {
  try {
    readConfig(yaml);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

/// `auth`: the value of authentication-parameters for every exporter.
Metadata::Config gnmiConfig(uint16_t port, const std::string& auth,
                            const std::string& refresh = "1m") {
  return readConfig(fmt::format(R"(
max-in-flight: 2
providers:
  - type: gnmi
    timeout: 2s
    minimal-refresh-interval: {}
    ports: {{::/0: {}}}
    targets: {{192.0.2.1: 127.0.0.1}}
    authentication-parameters:
      ::/0: {}
)",
                                refresh, port, auth));
}

#define SKIP_WITHOUT_DEVICE()                                                                  \
  if (!testing::GnmiDevice::available())                                                       \
  GTEST_SKIP() << "no grpcio/grpc_tools in /usr/bin/python3 (scripts/deps.sh --test)"

/// A self-signed certificate for 127.0.0.1, made with openssl in a temporary folder.
struct Certificate {
  std::filesystem::path dir;
  Certificate() {
    dir = std::filesystem::temp_directory_path() / fmt::format("akvo-gnmi-tls-{}", ::getpid());
    std::filesystem::create_directories(dir);
    std::string cmd = fmt::format(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout {0}/key.pem -out {0}/cert.pem "
        ">/dev/null 2>&1",
        dir.string());
    ok = std::system(cmd.c_str()) == 0;
  }
  ~Certificate() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string cert() const { return (dir / "cert.pem").string(); }
  std::string key() const { return (dir / "key.pem").string(); }
  bool ok = false;
};

// An OpenConfig device over TLS (checked against its CA) with a username and password: names,
// descriptions and speeds (OpenConfig SPEED_xxx identities; a subinterface takes its parent's
// speed), json_ietf, one collection for the whole device.
TEST(GnmiMetadata, OpenConfigOverTlsWithPassword) {
  SKIP_WITHOUT_DEVICE();
  Certificate tls;
  ASSERT_TRUE(tls.ok);
  testing::GnmiDevice device({"--model", "openconfig", "--tls-cert", tls.cert(), "--tls-key",
                              tls.key(), "--username", "akvo", "--password", "s3cret"});
  ASSERT_TRUE(device.running());
  Metrics m;
  Metadata md(gnmiConfig(device.port(), fmt::format("{{username: akvo, password: s3cret, tls: "
                                                    "{{ca-file: {}}}}}",
                                                    tls.cert())),
              m);
  md.start();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 5}, 1000), nullptr);  // a miss: the flow goes on
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
  auto e = md.lookup({ip("192.0.2.1"), 5}, 1000);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->answer.found);
  EXPECT_EQ(e->answer.exporter.name, "oc-router.example.net");
  EXPECT_EQ(e->answer.iface.name, "Ethernet1");
  EXPECT_EQ(e->answer.iface.description, "Transit: Cogent");
  EXPECT_EQ(e->answer.iface.speed, 10000u);
  for (uint32_t i : {6u, 501u, 77u}) md.lookup({ip("192.0.2.1"), i}, 1000);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
  auto e2 = md.lookup({ip("192.0.2.1"), 6}, 1000);
  ASSERT_NE(e2, nullptr);
  EXPECT_EQ(e2->answer.iface.name, "Ethernet2");
  EXPECT_EQ(e2->answer.iface.description, "PNI: Netflix");
  EXPECT_EQ(e2->answer.iface.speed, 100000u);  // negotiated-port-speed SPEED_100GB
  auto sub = md.lookup({ip("192.0.2.1"), 501}, 1000);
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->answer.iface.name, "Ethernet1.0");  // subinterface state/name
  EXPECT_EQ(sub->answer.iface.description, "Transit: Cogent (v4)");
  EXPECT_EQ(sub->answer.iface.speed, 10000u);  // its parent's
  auto unknown = md.lookup({ip("192.0.2.1"), 77}, 1000);  // not on the device: skipped
  ASSERT_NE(unknown, nullptr);
  EXPECT_FALSE(unknown->answer.found);
  // OpenConfig is the third built-in model: the SR OS and SR Linux ones were refused first
  // (NOT_FOUND), then one request found it; the other lookups used that one collection.
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 1u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_requests_total"), 5u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), 0u);
  const std::string page = m.render();
  EXPECT_NE(page.find("akvo_outlet_metadata_gnmi_ready{exporter=\"192.0.2.1\"} 1"),
            std::string::npos) << page;
  EXPECT_NE(page.find("akvo_outlet_metadata_gnmi_model{exporter=\"192.0.2.1\",model=\"OpenConfig\","
                      "encoding=\"json_ietf\"} 1"),
            std::string::npos) << page;
  md.stop();
}

// An IETF device that refuses json_ietf: the fourth model is detected, with json.
TEST(GnmiMetadata, IetfModelDetectedWithJsonFallback) {
  SKIP_WITHOUT_DEVICE();
  testing::GnmiDevice device({"--model", "ietf", "--refuse-json-ietf"});
  ASSERT_TRUE(device.running());
  Metrics m;
  Metadata md(gnmiConfig(device.port(), "{tls: {enable: false}}", "1s"), m);
  md.start();
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 3}, 1000), nullptr);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
  auto e = md.lookup({ip("192.0.2.1"), 3}, 1000);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->answer.found);
  EXPECT_EQ(e->answer.exporter.name, "ietf-router.example.net");
  EXPECT_EQ(e->answer.iface.name, "eth0");
  EXPECT_EQ(e->answer.iface.description, "Core: par-2");
  EXPECT_EQ(e->answer.iface.speed, 10000u);  // 10000000000 bps
  // 3 models x 2 encodings refused, then IETF json_ietf refused, IETF json answered.
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_requests_total"), 8u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 1u);
  // Once minimal-refresh-interval (1s) has passed, an unknown ifIndex reads the device again,
  // with the model and encoding found: one request.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  md.lookup({ip("192.0.2.1"), 99}, 1001);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 2u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_requests_total"), 9u);
  md.stop();
}

// Nokia's two built-in models, each detected in its turn (SR OS is the first model, SR Linux
// the second) and read as Akvorado's definitions say: names from the list keys (port-id,
// lag-name; SR Linux's interface name, a subinterface's own name leaf), SR OS's descriptions
// from /configure joined to /state by those keys, speeds in Mbps, bps and "100G".
TEST(GnmiMetadata, NokiaModels) {
  SKIP_WITHOUT_DEVICE();
  struct Want {
    uint32_t ifindex;
    const char *name, *description;
    uint32_t speed;
  };
  struct Case {
    const char* model;
    const char* system;
    uint64_t requests;  // to detect the model: each one before it refused in both encodings
    std::vector<Want> interfaces;
  } cases[] = {
      {"sros", "sr-pe1", 1,
       {{1610899520, "1/1/c1/1", "Transit: Lumen", 100000},
        {1342177281, "lag-1", "PNI: Netflix", 400000}}},
      {"srlinux", "srl-leaf1", 3,
       {{16382, "ethernet-1/1", "Transit: Cogent", 100000},
        {16383, "ethernet-1/1.0", "Transit: Cogent (v4)", 100000},
        {1081343, "lag1", "PNI: Google", 200000}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.model);
    testing::GnmiDevice device({"--model", c.model});
    ASSERT_TRUE(device.running());
    Metrics m;
    Metadata md(gnmiConfig(device.port(), "{tls: {enable: false}}"), m);
    md.start();
    for (const auto& w : c.interfaces) md.lookup({ip("192.0.2.1"), w.ifindex}, 1000);
    ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
    for (const auto& w : c.interfaces) {
      SCOPED_TRACE(w.name);
      auto e = md.lookup({ip("192.0.2.1"), w.ifindex}, 1000);
      ASSERT_NE(e, nullptr);
      ASSERT_TRUE(e->answer.found);
      EXPECT_EQ(e->answer.exporter.name, c.system);
      EXPECT_EQ(e->answer.iface.name, w.name);
      EXPECT_EQ(e->answer.iface.description, w.description);
      EXPECT_EQ(e->answer.iface.speed, w.speed);
    }
    EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 1u);
    EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_requests_total"), c.requests);
    md.stop();
  }
}

// A gateway (set-target): the request names the exporter in its prefix's target, and is sent to
// the address `targets` gives. Without set-target, the gateway knows no device: no answer.
TEST(GnmiMetadata, SetTargetNamesTheExporterForAGateway) {
  SKIP_WITHOUT_DEVICE();
  testing::GnmiDevice device({"--model", "openconfig", "--require-target", "192.0.2.1"});
  ASSERT_TRUE(device.running());
  for (bool set_target : {true, false}) {
    SCOPED_TRACE(set_target ? "set-target" : "no set-target");
    Metrics m;
    Metadata md(readConfig(fmt::format(R"(
providers:
  - type: gnmi
    timeout: 2s
    ports: {{::/0: {}}}
    targets: {{192.0.2.1: 127.0.0.1}}
    set-target: {{192.0.2.1: {}}}
    authentication-parameters: {{::/0: {{tls: {{enable: false}}}}}}
)",
                                       device.port(), set_target)),
                m);
    md.start();
    md.lookup({ip("192.0.2.1"), 5}, 1000);
    ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
    auto e = md.lookup({ip("192.0.2.1"), 5}, 1000);
    if (set_target) {
      ASSERT_NE(e, nullptr);
      ASSERT_TRUE(e->answer.found);
      EXPECT_EQ(e->answer.exporter.name, "oc-router.example.net");
      EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 1u);
    } else {
      EXPECT_TRUE(e == nullptr || !e->answer.found);
      EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 0u);
      EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), 1u);
      EXPECT_NE(m.render().find("akvo_outlet_metadata_gnmi_ready{exporter=\"192.0.2.1\"} 0"),
                std::string::npos);
    }
    md.stop();
  }
}

// A self-signed device certificate: refused without its CA, taken with skip-verify.
TEST(GnmiMetadata, SkipVerifyTakesAnUnknownCertificate) {
  SKIP_WITHOUT_DEVICE();
  Certificate tls;
  ASSERT_TRUE(tls.ok);
  testing::GnmiDevice device({"--model", "openconfig", "--tls-cert", tls.cert(), "--tls-key",
                              tls.key()});
  ASSERT_TRUE(device.running());
  for (bool skip : {false, true}) {
    SCOPED_TRACE(skip ? "skip-verify" : "verified");
    Metrics m;
    Metadata md(gnmiConfig(device.port(), fmt::format("{{tls: {{skip-verify: {}}}}}", skip)), m);
    md.start();
    md.lookup({ip("192.0.2.1"), 5}, 1000);
    ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
    auto e = md.lookup({ip("192.0.2.1"), 5}, 1000);
    EXPECT_EQ(e != nullptr && e->answer.found, skip);
    EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), skip ? 1u : 0u);
    EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), skip ? 0u : 1u);
    md.stop();
  }
}

// A device that requires a client certificate (here its own, self-signed, which it trusts):
// refused without cert-file, taken with it, with the device's certificate checked against
// ca-file or not checked at all (skip-verify: another gRPC credentials path).
TEST(GnmiMetadata, ClientCertificate) {
  SKIP_WITHOUT_DEVICE();
  Certificate tls;
  ASSERT_TRUE(tls.ok);
  testing::GnmiDevice device({"--model", "openconfig", "--tls-cert", tls.cert(), "--tls-key",
                              tls.key(), "--tls-client-ca", tls.cert()});
  ASSERT_TRUE(device.running());
  const std::string with_cert = fmt::format("cert-file: {}, key-file: {}", tls.cert(), tls.key());
  struct Case {
    std::string tls;
    bool found;
  } cases[] = {
      {fmt::format("{{ca-file: {}}}", tls.cert()), false},
      {fmt::format("{{ca-file: {}, {}}}", tls.cert(), with_cert), true},
      {fmt::format("{{skip-verify: true, {}}}", with_cert), true},
      {"{skip-verify: true}", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.tls);
    Metrics m;
    Metadata md(gnmiConfig(device.port(), "{tls: " + c.tls + "}"), m);
    md.start();
    md.lookup({ip("192.0.2.1"), 5}, 1000);
    ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
    auto e = md.lookup({ip("192.0.2.1"), 5}, 1000);
    EXPECT_EQ(e != nullptr && e->answer.found, c.found);
    if (c.found) {
      EXPECT_EQ(e->answer.iface.name, "Ethernet1");
    }
    EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), c.found ? 0u : 1u);
    md.stop();
  }
}

// A wrong password: counted as a failure, no answer, and no other model tried.
TEST(GnmiMetadata, WrongPasswordIsAFailure) {
  SKIP_WITHOUT_DEVICE();
  testing::GnmiDevice device({"--model", "openconfig", "--username", "akvo", "--password", "ok"});
  ASSERT_TRUE(device.running());
  Metrics m;
  Metadata md(gnmiConfig(device.port(), "{username: akvo, password: wrong, tls: {enable: false}}"),
              m);
  md.start();
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 5}, 1000), nullptr);
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(20)));
  auto e = md.lookup({ip("192.0.2.1"), 5}, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->answer.found);
  EXPECT_TRUE(e->failed);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), 1u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_requests_total"), 1u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_collections_total"), 0u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_provider_failures_total"), 1u);
  md.stop();
}

// Nothing listens: the lookup does not wait, the poll fails and is counted.
TEST(GnmiMetadata, DeviceDownIsAMissNotABlock) {
  Metrics m;
  Metadata md(gnmiConfig(testing::freeLoopbackPort(), "{tls: {enable: false}}"), m);
  md.start();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(md.lookup({ip("192.0.2.1"), 5}, 1000), nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(50));
  ASSERT_TRUE(md.waitIdle(std::chrono::seconds(10)));
  auto e = md.lookup({ip("192.0.2.1"), 5}, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->answer.found);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), 1u);
  md.stop();
}

// A bound on the devices read: past it, a new exporter is refused at once (counted), without a
// connection; the known ones are still asked.
TEST(GnmiMetadata, DevicesAreBounded) {
  GnmiProvider::Config c;
  c.ports = PrefixTree<uint16_t>();
  c.ports.insert(*IPv6Prefix::parse("::/0"), testing::freeLoopbackPort());  // nothing listens
  c.targets.insert(*IPv6Prefix::parse("::/0"), ip("127.0.0.1"));
  GnmiProvider::Authentication plain;
  plain.tls.enable = false;
  c.authentication_parameters.insert(*IPv6Prefix::parse("::/0"), plain);
  Metrics m;
  GnmiProvider p(c, m);
  p.setMaxDevices(2);
  Answer a;
  EXPECT_EQ(p.query({ip("192.0.2.1"), 1}, a), Provider::Result::kFailed);
  EXPECT_EQ(p.query({ip("192.0.2.2"), 1}, a), Provider::Result::kFailed);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), 2u);  // both were asked
  EXPECT_EQ(p.query({ip("192.0.2.3"), 1}, a), Provider::Result::kFailed);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_devices_refused_total"), 1u);
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_errors_total"), 2u);  // the third was not
  EXPECT_EQ(m.sum("akvo_outlet_metadata_gnmi_requests_total"), 2u);
}

TEST(GnmiMetadata, Speeds) {
  using U = GnmiProvider::SpeedUnit;
  EXPECT_EQ(GnmiProvider::speedMbps("10000000000", U::kBps), 10000u);
  EXPECT_EQ(GnmiProvider::speedMbps("400000", U::kMbps), 400000u);
  EXPECT_EQ(GnmiProvider::speedMbps("SPEED_100MB", U::kEthernet), 100u);
  EXPECT_EQ(GnmiProvider::speedMbps("openconfig-if-ethernet:SPEED_2500MB", U::kEthernet), 2500u);
  EXPECT_EQ(GnmiProvider::speedMbps("SPEED_400GB", U::kEthernet), 400000u);
  EXPECT_EQ(GnmiProvider::speedMbps("SPEED_UNKNOWN", U::kEthernet), std::nullopt);
  EXPECT_EQ(GnmiProvider::speedMbps("25G", U::kHuman), 25000u);
  EXPECT_EQ(GnmiProvider::speedMbps("100M", U::kHuman), 100u);
  EXPECT_EQ(GnmiProvider::speedMbps("1T", U::kHuman), 1000000u);
  EXPECT_EQ(GnmiProvider::speedMbps("fast", U::kHuman), std::nullopt);
  EXPECT_EQ(GnmiProvider::speedMbps("10G", U::kBps), std::nullopt);
}

TEST(GnmiMetadata, Config) {
  auto c = readConfig("providers: [{type: gnmi}]");
  ASSERT_EQ(c.providers.size(), 1u);
  const auto& g = c.providers[0].gnmi;
  ASSERT_EQ(g.models.size(), 4u);
  EXPECT_EQ(g.models[0].name, "Nokia SR OS");
  EXPECT_EQ(g.models[3].name, "IETF");
  EXPECT_EQ(*g.ports.lookup(ip("192.0.2.1")), 9339);
  EXPECT_EQ(g.timeout, Duration(1000));
  EXPECT_EQ(g.minimal_refresh_interval, Duration(60000));
  c = readConfig(R"(
providers:
  - type: gnmi
    minimal-refresh-interval: 5m
    set-target: {192.0.2.0/24: true}
    authentication-parameters: {username: u, password: p, tls: {skip-verify: true}}
    models:
      - name: Mine
        system-name-paths: [/system/name]
        if-index-paths: [/ifs/if/index]
        if-name-keys: [name]
        if-description-paths: [/ifs/if/descr]
        if-speed-paths: [{path: /ifs/if/speed, unit: human}]
      - defaults
)");
  const auto& g2 = c.providers[0].gnmi;
  ASSERT_EQ(g2.models.size(), 5u);
  EXPECT_EQ(g2.models[0].name, "Mine");
  EXPECT_EQ(g2.models[0].if_speed_paths[0].unit, GnmiProvider::SpeedUnit::kHuman);
  EXPECT_EQ(g2.models[1].name, "Nokia SR OS");
  EXPECT_EQ(g2.minimal_refresh_interval, Duration(300000));
  EXPECT_EQ(*g2.set_target.lookup(ip("192.0.2.7")), 1);
  EXPECT_EQ(g2.set_target.lookup(ip("198.51.100.1")), nullptr);
  const auto* auth = g2.authentication_parameters.lookup(ip("198.51.100.1"));
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->username, "u");
  EXPECT_TRUE(auth->tls.enable);  // on unless disabled
  EXPECT_TRUE(auth->tls.skip_verify);
}

TEST(GnmiMetadata, ConfigErrors) {
  std::string e = errorOf(
      "providers:\n"
      "  - type: gnmi\n"
      "    models:\n"
      "      - name: Mine\n"
      "        system-name-paths: [/system/name]\n"
      "        if-index-paths: [/ifs/if/index]\n"
      "        if-name-keys: [name]\n"
      "        if-description-paths: [/ifs/if/descr]\n"
      "        if-speed-paths:\n"
      "          - {path: /ifs/if/speed, unit: gbps}\n");
  EXPECT_NE(e.find("test.yaml:10:"), std::string::npos) << e;
  EXPECT_NE(e.find("providers[0].models[0].if-speed-paths[0].unit: \"gbps\" is not a valid "
                   "choice; valid choices: bps, mbps, ethernet, human"),
            std::string::npos)
      << e;
  e = errorOf("providers:\n  - type: gnmi\n    models:\n      - name: Mine\n        colour: red\n");
  EXPECT_NE(e.find("test.yaml:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("colour"), std::string::npos) << e;
  EXPECT_NE(e.find("valid keys"), std::string::npos) << e;
  e = errorOf("providers:\n  - type: gnmi\n    port: 9339\n");
  EXPECT_NE(e.find("test.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("providers[0].port\""), std::string::npos) << e;
  EXPECT_NE(e.find("ports"), std::string::npos) << e;  // among the valid keys
  e = errorOf("providers: [{type: gnmi, models: [default]}]");
  EXPECT_NE(e.find("\"default\" is not a model"), std::string::npos) << e;
  e = errorOf("providers: [{type: gnmi, models: [{name: x, system-name-paths: [/a]}]}]");
  EXPECT_NE(e.find("if-index-paths: at least one path"), std::string::npos) << e;
  e = errorOf("providers: [{type: gnmi, authentication-parameters: {::/0: {username: u}}}]");
  EXPECT_NE(e.find("password: required with username"), std::string::npos) << e;
  e = errorOf("providers: [{type: gnmi, authentication-parameters: {::/0: {user: u}}}]");
  EXPECT_NE(e.find("authentication-parameters.user\""), std::string::npos) << e;
  e = errorOf("providers: [{type: gnmi, ports: {::/0: x}}]");
  EXPECT_NE(e.find("\"x\" is not a port"), std::string::npos) << e;
  e = errorOf("providers: [{type: gmni}]");
  EXPECT_NE(e.find("valid choices: snmp, static, gnmi"), std::string::npos) << e;
}

}  // namespace
}  // namespace akvo::metadata
