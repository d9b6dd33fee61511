#pragma once
/// The SNMP metadata provider (Akvorado's `snmp`), with net-snmp: one GET per (exporter,
/// ifIndex) asking sysName.0 (1.3.6.1.2.1.1.5.0), ifDescr (1.3.6.1.2.1.2.2.1.2.i), ifName
/// (1.3.6.1.2.1.31.1.1.1.1.i), ifAlias (1.3.6.1.2.1.31.1.1.1.18.i) and ifHighSpeed
/// (1.3.6.1.2.1.31.1.1.1.15.i, Mbps; ifSpeed 1.3.6.1.2.1.2.2.1.5.i in bps as a fallback).
/// SNMPv2c (RFC 3416) with one or several communities (partial answers are merged) or SNMPv3
/// with USM (RFC 3414: authentication and privacy), chosen per exporter subnet.
#include <map>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "outlet/metadata/provider.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo::metadata {

class SnmpProvider : public Provider {
 public:
  struct Credentials {
    std::vector<std::string> communities{"public"};  ///< v2c, used when user-name is empty
    std::string user_name;                           ///< v3 when set
    std::string authentication_protocol = "none";    ///< none, MD5, SHA, SHA224...SHA512
    std::string authentication_passphrase;
    std::string privacy_protocol = "none";  ///< none, DES, AES, AES192, AES256, AES192-C...
    std::string privacy_passphrase;
    std::string context_name;
  };
  struct Config {
    PrefixTree<Credentials> credentials;           ///< default ::/0 → public
    PrefixTree<uint16_t> ports;                    ///< default ::/0 → 161
    std::map<IPv6Addr, IPv6Addr> agents;           ///< exporter → address actually polled
    int64_t poller_retries = 1;
    Duration poller_timeout{1000};
    Config();
    void read(ConfigReader& r);
  };

  SnmpProvider(Config config, Metrics& metrics);
  std::string_view name() const override { return "snmp"; }
  bool synchronous() const override { return false; }
  Result query(const Query& q, Answer& out) override;

 private:
  Config config_;
  Counter &requests_, &errors_, &timeouts_;
};

}  // namespace akvo::metadata
