#pragma once
/// The demo exporter's BMP speaker (DEMO-4): BMP (RFC 7854) messages for a fake router with
/// one BGP peer, and a client that connects to a BMP collector, sends Initiation, Peer Up with
/// both OPEN messages, the configured routes as Route Monitoring, then a Statistics Report
/// every `stats-delay`, reconnecting after `retry-after` when the connection fails.
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/flow.h"
#include "common/ip.h"
#include "common/metrics.h"

namespace akvo::demo {

/// A set of prefixes sharing attributes.
struct BmpRoute {
  std::vector<IPv6Prefix> prefixes;  ///< IPv4 prefixes mapped (length + 96)
  std::vector<uint32_t> as_path;
  std::vector<uint32_t> communities;  ///< asn << 16 | value
  std::vector<LargeCommunity> large_communities;
};

/// The monitored BGP session of the fake router.
struct BmpSession {
  uint32_t local_asn = 64496, peer_asn = 64497;
  IPv6Addr local_ip = *IPv6Addr::parse("2001:db8::1");
  IPv6Addr peer_ip = *IPv6Addr::parse("2001:db8::2");
};

/// Message encoders (each returns one complete BMP message).
std::vector<uint8_t> bmpInitiation(std::string_view sys_name, std::string_view sys_descr);
std::vector<uint8_t> bmpPeerUp(const BmpSession& s);
std::vector<uint8_t> bmpPeerDown(const BmpSession& s);
std::vector<uint8_t> bmpStatistics(const BmpSession& s, uint64_t routes);
std::vector<uint8_t> bmpTermination();
/// Route Monitoring messages announcing `r` (IPv4 prefixes in the UPDATE's NLRI, IPv6 ones in
/// MP_REACH_NLRI), next hop the peer's address; at most ~4000 bytes each.
std::vector<std::vector<uint8_t>> bmpRouteMonitoring(const BmpSession& s, const BmpRoute& r);
/// Route Monitoring withdrawing the prefixes of `r`.
std::vector<std::vector<uint8_t>> bmpWithdraw(const BmpSession& s, const BmpRoute& r);

class BmpSpeaker {
 public:
  struct Config {
    std::string target;  ///< host:port of the BMP collector; empty: disabled
    std::vector<BmpRoute> routes;
    BmpSession session;
    Duration retry_after = std::chrono::seconds(5);
    Duration stats_delay = std::chrono::minutes(1);
    std::string sys_name = "akvo-demo";
    void read(ConfigReader& r);
  };
  BmpSpeaker(Config config, Metrics& metrics);
  ~BmpSpeaker();
  void start();
  void stop();

 private:
  void run(std::stop_token st);
  Config config_;
  Counter& sessions_;
  Counter& messages_;
  std::jthread thread_;
};

}  // namespace akvo::demo
