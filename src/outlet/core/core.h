#pragma once
/// The outlet's enrichment core (Akvorado's `core`): turns a decoded flow into an answer. Per
/// flow, in Akvorado's order (AKVORADO.md OUT-5): rate limit, exporter and interface metadata,
/// drop rules, sampling-rate overrides and defaults, exporter classifiers, interface
/// classifiers (output then input), routing, ASN and net-mask provider selection, network
/// attributes and GeoIP.
///
/// `Core` is shared and immutable after construction; each outlet worker gets its own
/// `FlowEnricher` from `Core::makeEnricher()`, with private caches in front of the shared ones,
/// so that the flow path takes no lock, allocates nothing and throws nothing once warm.
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "outlet/classifier/classifier.h"
#include "outlet/dictionaries/dictionaries.h"
#include "outlet/geoip/geoip.h"
#include "outlet/metadata/metadata.h"
#include "outlet/networks/networks.h"
#include "outlet/outlet.h"

namespace akvo {

/// What a routing provider (BMP, later) knows of an address.
struct RouteInfo {
  uint32_t asn = 0;
  uint8_t net_mask = 0;  ///< prefix length on the IPv6 form (IPv4 /24 is 120)
  IPv6Addr next_hop;
  bool found = false;
};

/// The hook for routing (BMP RIB): looked up for the source (no next hop) and the destination
/// (with the flow's next hop). Must be thread-safe and must not block.
class RoutingProvider {
 public:
  virtual ~RoutingProvider() = default;
  virtual RouteInfo lookup(const IPv6Addr& addr, const IPv6Addr* next_hop,
                           const IPv6Addr& exporter) const = 0;
  /// The flow's source (`destination` false: no next hop) or destination; providers that need
  /// more of the flow than its exporter (the VRF of L3VPN routes) override it.
  virtual RouteInfo lookupFlow(const FlowRecord& f, bool destination) const {
    return destination ? lookup(f.dst_addr, &f.next_hop, f.exporter_address)
                       : lookup(f.src_addr, nullptr, f.exporter_address);
  }
};

class Core {
 public:
  enum class AsnProvider : uint8_t {
    kFlow, kFlowExceptPrivate, kFlowExceptDefaultRoute, kRouting, kRoutingExceptPrivate, kNetworks
  };
  enum class NetProvider : uint8_t { kFlow, kRouting };
  /// Exporters without a sampling rate logged by name; past them, one line says there are more.
  static constexpr size_t kMaxWarned = 1000;

  struct Config {
    std::vector<std::string> exporter_classifiers, interface_classifiers;
    Duration classifier_cache_duration{5 * 60 * 1000};
    /// `startup-delay`: flows wait this long after start before they are processed (e.g. for
    /// BMP to converge), in Kafka or in the embedded queue (read by the outlet).
    Duration startup_delay{0};
    PrefixTree<uint64_t> default_sampling_rate, override_sampling_rate;
    std::vector<std::string> asn_providers{"flow", "routing", "networks"};
    std::vector<std::string> net_providers{"flow", "routing"};
    int64_t rate_limit = 0;  ///< flows per second per exporter, 0: no limit
    void read(ConfigReader& r);
  };

  /// Compiles the classifiers (throws classifier::ParseError). The components may be null
  /// (disabled); they must outlive the Core.
  /// `dictionaries` (null when the schema has none) fills the custom dictionary columns, last.
  Core(Config config, Metrics& metrics, metadata::Metadata* metadata, const Networks* networks,
       const GeoIP* geoip, const RoutingProvider* routing = nullptr,
       const CustomDictionaries* dictionaries = nullptr);
  /// A new per-worker enricher.
  std::unique_ptr<FlowEnricher> makeEnricher();

  /// Private ASNs as Akvorado sees them: 0, 23456, 64496-65551, 4200000000 and up.
  static bool privateAsn(uint32_t asn) {
    return asn == 0 || asn == 23456 || (asn >= 64496 && asn <= 65551) || asn >= 4200000000u;
  }

 private:
  friend class CoreEnricher;
  /// Logs loudly, once per exporter, that its flows are dropped for lack of a sampling rate.
  void warnNoSamplingRate(const IPv6Addr& exporter);

  Config config_;
  Metrics& metrics_;
  metadata::Metadata* metadata_;
  const Networks* networks_;
  const GeoIP* geoip_;
  const RoutingProvider* routing_;
  const CustomDictionaries* dictionaries_;
  classifier::RuleSet exporter_rules_, interface_rules_;
  std::vector<AsnProvider> asn_providers_;
  std::vector<NetProvider> net_providers_;
  bool interface_rules_use_vlan_ = false;

  Counter &drop_rate_limit_, &drop_sampling_, &drop_no_interfaces_, &drop_rejected_,
      &classifier_errors_, &metadata_missing_;
  /// Enrichers made so far: the n-th one's random generator (rate limit) is seeded from n, so
  /// workers draw different streams and a run is reproducible (tests are not flaky).
  std::atomic<uint64_t> enrichers_made_{0};
  std::mutex warned_mutex_;  // guards warned_
  std::set<IPv6Addr> warned_;  // exporters without a sampling rate, logged (kMaxWarned at most)
  bool warned_more_ = false;   // the line saying there are more was logged
};

}  // namespace akvo
