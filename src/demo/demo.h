#pragma once
/// The demo exporter: fake routers that send realistic NetFlow to an inlet, so that a fresh
/// install shows traffic at once. Each router sends from its own loopback address
/// (127.0.0.10, .11, ...), with named interfaces (transit, PNI, IX, customers) and traffic
/// from a few hundred ASNs with a Zipf-like popularity, a diurnal curve, TCP/UDP/ICMP.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "demo/bmp.h"
#include "demo/recipes.h"

namespace akvo::demo {

struct DemoInterface {
  uint32_t index;
  std::string name;
  std::string description;
  uint32_t speed_mbps;
};

struct DemoRouter {
  std::string name;
  std::string address;  ///< loopback source address
  std::vector<DemoInterface> interfaces;
};

/// A router of `routers` given as a list (Akvorado's demo exporter entries): its SNMP name
/// and interfaces, and the flows it sends.
struct DemoRouterConfig {
  std::string name;  ///< sysName
  /// ifIndex -> description (ifAlias); ifName and ifDescr are Gi0/0/0/<ifIndex>, 10 Gbps.
  std::map<uint32_t, std::string> interfaces;
  std::vector<FlowRecipe> flows;  ///< at least one
  int64_t sampling_rate = 0;      ///< 0: the demo's sampling-rate
  int64_t seed = -1;              ///< -1: the demo's seed
  void read(ConfigReader& r);
};

class DemoExporter {
 public:
  struct Config {
    bool enabled = false;
    std::string target = "127.0.0.1:2055";
    int64_t flows_per_second = 2000;  ///< at the daily peak, all routers together
    int64_t sampling_rate = 1000;
    int64_t seed = 0;
    int64_t routers = 4;  ///< built-in routers, or the size of router_list when given
    /// `routers` given as a list: these routers and their recipes instead of the built-in
    /// ones and their traffic mix (flows-per-second does not apply to them).
    std::vector<DemoRouterConfig> router_list;
    int64_t snmp_port = 1161;  ///< the routers answer SNMP on this port (snmpd); 0: no SNMP
    BmpSpeaker::Config bmp;  ///< BMP speaker (DEMO-4); routes default to the demo networks
    /// netflow-v5, or ipfix (templates in every message, a fifth of the flows over IPv6).
    std::string protocol = "netflow-v5";
    void read(ConfigReader& r);
  };

  DemoExporter(Config config, Metrics& metrics);
  ~DemoExporter();
  void start();
  void stop();

  /// The fake routers (names, interfaces): what SNMP or static metadata would say of them.
  static std::vector<DemoRouter> routers(size_t count);
  /// The routers of a configuration: the built-in ones, or those of its list.
  static std::vector<DemoRouter> routers(const Config& config);

 private:
  void run(std::stop_token st);
  Config config_;
  Metrics& metrics_;
  std::jthread thread_;
  std::unique_ptr<class SnmpAgents> snmp_;
  std::unique_ptr<BmpSpeaker> bmp_;
};

}  // namespace akvo::demo
