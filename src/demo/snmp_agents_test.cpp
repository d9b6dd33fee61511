#include "demo/snmp_agents.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/metrics.h"
#include "outlet/metadata/metadata.h"
#include "testing/config.h"
#include "testing/ports.h"

namespace akvo::demo {
namespace {

/// Whether something listens on UDP `address`:`port` (binding it fails).
bool udpTaken(const char* address, uint16_t port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, address, &a.sin_addr);
  a.sin_port = htons(port);
  bool taken = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0;
  close(fd);
  return taken;
}

// Configured routers: snmpd answers their names and interfaces as Akvorado's demo agent does
// (sysName, ifDescr Gi0/0/0/<ifIndex>, ifAlias the description, ifHighSpeed 10000), on each
// router's loopback address; the outlet's SNMP provider reads them.
TEST(DemoSnmpAgents, ConfiguredRoutersAnswerTheirNamesAndInterfaces) {
  if (access("/usr/sbin/snmpd", X_OK) != 0) GTEST_SKIP() << "no snmpd";
  auto demo = testing::readSection<DemoExporter::Config>(R"(
routers:
  - name: th2-edge1.example.com
    interfaces: {10: "Transit: Telia", 11: "IX: AMSIX", 20: core}
    flows: [{per-second: 1, in-if-index: 10, out-if-index: 20, peak-hour: 16h, multiplier: 1,
             src-net: 192.0.2.0/24, dst-net: 198.51.100.0/24, src-as: 1, dst-as: 2,
             protocol: tcp}]
  - name: dc3-edge1.example.com
    interfaces: {10: "Transit: Tata"}
    flows: [{per-second: 1, in-if-index: 10, out-if-index: 10, peak-hour: 16h, multiplier: 1,
             src-net: 192.0.2.0/24, dst-net: 198.51.100.0/24, src-as: 1, dst-as: 2,
             protocol: tcp}]
)",
                                                                       "demo-exporter");
  uint16_t port = testing::freeLoopbackPort(SOCK_DGRAM);
  SnmpAgents agents(DemoExporter::routers(demo), port);
  ASSERT_TRUE(agents.start());
  for (int i = 0; i < 100 && !(udpTaken("127.0.0.10", port) && udpTaken("127.0.0.11", port)); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(udpTaken("127.0.0.10", port) && udpTaken("127.0.0.11", port));

  Metrics m;
  metadata::Metadata md(testing::readSection<metadata::Metadata::Config>(
                            fmt::format(R"(
providers:
  - type: snmp
    poller-timeout: 500ms
    poller-retries: 2
    ports: {{127.0.0.0/8: {}}}
)",
                                        port),
                            "metadata"),
                        m);
  md.start();
  auto ask = [&](const char* router, uint32_t ifindex) {
    metadata::Query q{*IPv6Addr::parse(router), ifindex};
    md.lookup(q, 1000);
    EXPECT_TRUE(md.waitIdle(std::chrono::seconds(5)));
    return md.lookup(q, 1000);
  };
  auto e = ask("127.0.0.10", 11);
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->answer.found);
  EXPECT_EQ(e->answer.exporter.name, "th2-edge1.example.com");
  EXPECT_EQ(e->answer.iface.name, "Gi0/0/0/11");
  EXPECT_EQ(e->answer.iface.description, "IX: AMSIX");
  EXPECT_EQ(e->answer.iface.speed, 10000u);
  auto core = ask("127.0.0.10", 20);
  ASSERT_NE(core, nullptr);
  EXPECT_EQ(core->answer.iface.description, "core");
  auto other = ask("127.0.0.11", 10);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(other->answer.found);
  EXPECT_EQ(other->answer.exporter.name, "dc3-edge1.example.com");
  EXPECT_EQ(other->answer.iface.name, "Gi0/0/0/10");
  EXPECT_EQ(other->answer.iface.description, "Transit: Tata");
  md.stop();
  agents.stop();
}

}  // namespace
}  // namespace akvo::demo
