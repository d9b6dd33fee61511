#pragma once
/// The demo exporter: fake routers that send realistic NetFlow to an inlet, so that a fresh
/// install shows traffic at once. Each router sends from its own loopback address
/// (127.0.0.10, .11, ...), with named interfaces (transit, PNI, IX, customers) and traffic
/// from a few hundred ASNs with a Zipf-like popularity, a diurnal curve, TCP/UDP/ICMP.
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "demo/bmp.h"

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

class DemoExporter {
 public:
  struct Config {
    bool enabled = false;
    std::string target = "127.0.0.1:2055";
    int64_t flows_per_second = 2000;  ///< at the daily peak, all routers together
    int64_t sampling_rate = 1000;
    int64_t seed = 0;
    int64_t routers = 4;
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

 private:
  void run(std::stop_token st);
  Config config_;
  Metrics& metrics_;
  std::jthread thread_;
  std::unique_ptr<class SnmpAgents> snmp_;
  std::unique_ptr<BmpSpeaker> bmp_;
};

}  // namespace akvo::demo
