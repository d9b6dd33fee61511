#pragma once
/// SNMP for the demo routers: one Debian `snmpd` per fake router, listening on the router's
/// loopback address, with a generated configuration answering sysName, ifName, ifDescr,
/// ifAlias and ifHighSpeed as a real router would (community `public`). The outlet's SNMP
/// provider then names the demo's exporters and interfaces, and the classifiers find their
/// providers in the descriptions ("Transit: Cogent").
#include <string>
#include <sys/types.h>
#include <vector>

#include "demo/demo.h"

namespace akvo::demo {

class SnmpAgents {
 public:
  SnmpAgents(std::vector<DemoRouter> routers, uint16_t port, std::string snmpd = "");
  ~SnmpAgents();
  /// Starts the agents; logs and returns false when snmpd is missing or fails to start.
  bool start();
  void stop();
  /// The snmpd.conf for one router (tests and docs).
  static std::string configFor(const DemoRouter& router, uint16_t port, const std::string& dir);

 private:
  std::vector<DemoRouter> routers_;
  uint16_t port_;
  std::string snmpd_;
  std::string dir_;
  std::vector<pid_t> pids_;
};

}  // namespace akvo::demo
