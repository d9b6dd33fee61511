#pragma once
/// Network attributes (Akvorado's `networks`): CIDR prefixes mapped to a name, role, site,
/// region, tenant, city, state, country and ASN. The most specific prefix wins per attribute;
/// a prefix inherits from its enclosing prefixes the attributes it does not set. The result is
/// one immutable prefix tree, read concurrently by every worker.
#include <memory>
#include <string>

#include "common/config.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo {

struct NetworkAttributes {
  std::string name, role, site, region, tenant, city, state, country;
  uint32_t asn = 0;
  /// Fills the attributes this one does not set from `parent`.
  void inherit(const NetworkAttributes& parent);
};

class Networks {
 public:
  struct Config {
    /// prefix → attributes, in configuration order (a bare string is the name).
    std::vector<std::pair<IPv6Prefix, NetworkAttributes>> networks;
    void read(ConfigReader& r);
  };

  explicit Networks(const Config& config);
  /// Attributes of the most specific prefix containing `a` (merged), or nullptr. Lock-free.
  const NetworkAttributes* lookup(const IPv6Addr& a) const { return tree_.lookup(a); }
  size_t size() const { return tree_.size(); }

 private:
  PrefixTree<NetworkAttributes> tree_;
};

/// Decodes one attribute set (a mapping, or a string for the name). Throws std::exception.
NetworkAttributes parseNetworkAttributes(const YAML::Node& n);

}  // namespace akvo
