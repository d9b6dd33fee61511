#pragma once
/// Network attributes (Akvorado's `networks`): CIDR prefixes mapped to a name, role, site,
/// region, tenant, city, state, country and ASN. The most specific prefix wins per attribute;
/// a prefix inherits from its enclosing prefixes the attributes it does not set. The result is
/// one immutable prefix tree, read concurrently by every worker.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/config.h"
#include "common/intern.h"
#include "common/metrics.h"
#include "common/remote_source.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo {

struct NetworkAttributes {
  IStr name, role, site, region, tenant, city, state;  // interned: flows carry them as they are
  std::string country;
  uint32_t asn = 0;
  /// Length (IPv6 form) of the prefix that set each attribute GeoIP also gives (set by
  /// Networks::build(): this prefix's for its own attributes, the parent's for inherited ones):
  /// against GeoIP, the most specific prefix wins, and the network for equal ones.
  uint8_t country_len = 0, city_len = 0, state_len = 0, asn_len = 0;
  /// Fills the attributes this one does not set from `parent`.
  void inherit(const NetworkAttributes& parent);
};

using NetworkTree = PrefixTree<NetworkAttributes>;
using NetworkList = std::vector<std::pair<IPv6Prefix, NetworkAttributes>>;

class Networks {
 public:
  struct Config {
    /// prefix → attributes, in configuration order (a bare string is the name).
    NetworkList networks;
    /// Remote lists (Akvorado's network-sources): the transform emits objects with a `prefix`
    /// and attributes.
    std::map<std::string, RemoteSource> network_sources;
    Duration network_sources_timeout{10000};  ///< how long start() waits for the first fetch
    void read(ConfigReader& r);
  };

  /// `metrics` (may be null) gets the remote sources' counters
  /// (akvo_outlet_networks_remote_{updates,errors,data}_total).
  explicit Networks(const Config& config, Metrics* metrics = nullptr);
  ~Networks();
  /// Fetches the remote sources (waiting up to network-sources-timeout for the first time),
  /// then keeps refreshing them in the background. Static networks apply meanwhile.
  void start();
  void stop();

  /// The current tree: immutable, shared; a reader keeps the snapshot it took.
  std::shared_ptr<const NetworkTree> snapshot() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  /// Attributes of the most specific prefix containing `a` in the current tree. The pointer is
  /// valid until the tree is replaced: the flow path uses snapshot() instead.
  const NetworkAttributes* lookup(const IPv6Addr& a) const { return snapshot()->lookup(a); }
  size_t size() const { return snapshot()->size(); }

  /// Builds a merged tree (most specific wins per attribute; for equal prefixes the later
  /// entry of `list` wins).
  static std::shared_ptr<const NetworkTree> build(const NetworkList& list);
  /// The networks a source's transform emitted: objects with a `prefix` (a subnet or an
  /// address) and attributes (strings, or numbers for `asn`; unknown keys and nulls are
  /// ignored, as Akvorado). Throws std::runtime_error naming the bad object.
  static NetworkList fromRemote(const std::vector<jq::Value>& values);

 private:
  void rebuild();
  Config config_;
  mutable std::mutex mutex_;  // guards current_ and remote_
  std::shared_ptr<const NetworkTree> current_;
  std::map<std::string, NetworkList> remote_;
  std::atomic<uint64_t> generation_{1};
  std::unique_ptr<RemoteSources> sources_;
};

/// Decodes one attribute set (a mapping, or a string for the name). Throws std::exception.
NetworkAttributes parseNetworkAttributes(const YAML::Node& n);

}  // namespace akvo
