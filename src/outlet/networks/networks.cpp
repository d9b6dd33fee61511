#include "outlet/networks/networks.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "outlet/networks/subnet_map.h"

namespace akvo {

void NetworkAttributes::inherit(const NetworkAttributes& p) {
  auto fill = [](std::string& a, const std::string& b) {
    if (a.empty()) a = b;
  };
  fill(name, p.name);
  fill(role, p.role);
  fill(site, p.site);
  fill(region, p.region);
  fill(tenant, p.tenant);
  fill(city, p.city);
  fill(state, p.state);
  fill(country, p.country);
  if (asn == 0) asn = p.asn;
}

NetworkAttributes parseNetworkAttributes(const YAML::Node& n) {
  NetworkAttributes a;
  if (n.IsScalar()) {
    a.name = n.Scalar();
    return a;
  }
  if (!n.IsMap()) throw std::invalid_argument("expected a name or a mapping of attributes");
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) throw std::invalid_argument(fmt::format("{}: expected a scalar", k));
    std::string v = kv.second.Scalar();
    if (k == "name") a.name = v;
    else if (k == "role") a.role = v;
    else if (k == "site") a.site = v;
    else if (k == "region") a.region = v;
    else if (k == "tenant") a.tenant = v;
    else if (k == "city") a.city = v;
    else if (k == "state") a.state = v;
    else if (k == "country") a.country = v;
    else if (k == "asn") {
      std::string digits = v;
      if (digits.size() > 2 && (digits[0] == 'A' || digits[0] == 'a')) digits = digits.substr(2);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), a.asn);
      if (ec != std::errc() || p != digits.data() + digits.size())
        throw std::invalid_argument(fmt::format("asn: \"{}\" is not an AS number", v));
    } else {
      throw std::invalid_argument(fmt::format(
          "unknown attribute \"{}\"; valid attributes: name, role, site, region, tenant, city, "
          "state, country, asn",
          k));
    }
  }
  return a;
}

void Networks::Config::read(ConfigReader& r) {
  YAML::Node n = r.raw("networks");
  networks.clear();
  if (!n.IsDefined() || n.IsNull()) return;
  if (!n.IsMap()) r.fail("networks", "expected a mapping from subnets to attributes");
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    auto p = IPv6Prefix::parse(k);
    if (!p)
      r.fail("networks", fmt::format("\"{}\" is not a subnet (expected 192.0.2.0/24 or "
                                     "2001:db8::/32)",
                                     k));
    try {
      networks.emplace_back(*p, parseNetworkAttributes(kv.second));
    } catch (const std::exception& e) {
      r.fail("networks", fmt::format("{}: {}", k, e.what()));
    }
  }
}

Networks::Networks(const Config& config) {
  // Shortest prefixes first: each one then inherits from the longest already inserted prefix
  // containing it. Identical prefixes: the last one in the configuration wins.
  auto sorted = config.networks;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first.len < b.first.len; });
  for (auto& [prefix, attrs] : sorted) {
    NetworkAttributes merged = attrs;
    if (const NetworkAttributes* parent = tree_.lookup(prefix.addr);
        parent && prefix.len > 0) {
      // The lookup may return an identical prefix inserted earlier: inherit from it as well.
      merged.inherit(*parent);
    }
    tree_.insert(prefix, std::move(merged));
  }
}

}  // namespace akvo
