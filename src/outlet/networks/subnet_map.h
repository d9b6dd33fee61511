#pragma once
/// Akvorado's "subnet maps": a configuration value that is either a scalar (it applies to every
/// address, ::/0) or a mapping from prefixes ("192.0.2.0/24", "2001:db8::/32", a bare address)
/// to values. Looked up by longest prefix.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <functional>

#include "common/config.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo {

/// True when `node` looks like a subnet map (a mapping whose keys all parse as prefixes).
inline bool isSubnetMap(const YAML::Node& node) {
  if (!node.IsMap() || node.size() == 0) return false;
  for (const auto& kv : node)
    if (!kv.first.IsScalar() || !IPv6Prefix::parse(kv.first.Scalar())) return false;
  return true;
}

/// A key meant as a subnet, valid or not: it has a '/' or ':', or is digits and dots
/// ("192.0.2.300").
inline bool looksLikeSubnet(const std::string& k) {
  if (k.find_first_of("/:") != std::string::npos) return true;
  return k.find('.') != std::string::npos &&
         k.find_first_not_of("0123456789.") == std::string::npos;
}

/// Parses a subnet map from `node` (undefined or null: empty). `value` decodes one value and
/// throws std::exception with a message on error; errors are reported with reader's file, line
/// and key. IPv4 prefixes are stored mapped into IPv6.
template <class T>
PrefixTree<T> readSubnetMap(ConfigReader& r, const std::string& key, const YAML::Node& node,
                            const std::function<T(const YAML::Node&)>& value) {
  PrefixTree<T> tree;
  // Undefined, null or {} (Akvorado's default for every subnet map): empty.
  if (!node.IsDefined() || node.IsNull() || (node.IsMap() && node.size() == 0)) return tree;
  // `where`: the subnet (empty for a single value).
  auto decode = [&](const YAML::Node& n, const std::string& where) {
    try {
      return value(n);
    } catch (const ConfigError&) {
      throw;
    } catch (const ValueError& e) {
      std::string path = where.empty() ? key : key + "." + where;
      for (const auto& k : e.keys) path += "." + k;
      r.failAt(e.node.IsDefined() ? e.node : n, path, e.what());
    } catch (const std::exception& e) {
      r.fail(key, where.empty() ? e.what() : fmt::format("{}: {}", where, e.what()));
    }
  };
  if (!isSubnetMap(node)) {
    // A single value for every address; a mapping whose keys look like subnets but one does
    // not parse is reported as such.
    if (node.IsMap())
      for (const auto& kv : node)
        if (kv.first.IsScalar() && looksLikeSubnet(kv.first.Scalar()) &&
            !IPv6Prefix::parse(kv.first.Scalar()))
          r.fail(key, fmt::format("\"{}\" is not a subnet (expected 192.0.2.0/24, "
                                  "2001:db8::/32 or an address)",
                                  kv.first.Scalar()));
    tree.insert(*IPv6Prefix::parse("::/0"), decode(node, ""));
    return tree;
  }
  for (const auto& kv : node) {
    std::string k = kv.first.as<std::string>();
    auto p = IPv6Prefix::parse(k);
    if (!p)
      r.fail(key, fmt::format("\"{}\" is not a subnet (expected 192.0.2.0/24, 2001:db8::/32 or "
                              "an address)",
                              k));
    tree.insert(*p, decode(kv.second, k));
  }
  return tree;
}

}  // namespace akvo
