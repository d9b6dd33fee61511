#include "outlet/networks/networks.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "outlet/networks/subnet_map.h"

namespace akvo {

void NetworkAttributes::inherit(const NetworkAttributes& p) {
  auto fill = [](auto& a, const auto& b) {
    if (a.empty()) a = b;
  };
  fill(name, p.name);
  fill(role, p.role);
  fill(site, p.site);
  fill(region, p.region);
  fill(tenant, p.tenant);
  if (city.empty()) city = p.city, city_len = p.city_len;
  if (state.empty()) state = p.state, state_len = p.state_len;
  if (country.empty()) country = p.country, country_len = p.country_len;
  if (asn == 0) asn = p.asn, asn_len = p.asn_len;
}

NetworkAttributes parseNetworkAttributes(const YAML::Node& n) {
  NetworkAttributes a;
  if (n.IsScalar()) {
    a.name = IStr(n.Scalar());
    return a;
  }
  // ValueErrors: readSubnetMap reports them with the whole key and the value's line.
  if (!n.IsMap()) throw ValueError(n, "expected a name or a mapping of attributes");
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    if (!kv.second.IsScalar()) throw ValueError(kv.second, "expected a single value").under(k);
    std::string v = kv.second.Scalar();
    if (keyMatches(k, "name")) a.name = IStr(v);
    else if (keyMatches(k, "role")) a.role = IStr(v);
    else if (keyMatches(k, "site")) a.site = IStr(v);
    else if (keyMatches(k, "region")) a.region = IStr(v);
    else if (keyMatches(k, "tenant")) a.tenant = IStr(v);
    else if (keyMatches(k, "city")) a.city = IStr(v);
    else if (keyMatches(k, "state")) a.state = IStr(v);
    else if (keyMatches(k, "country")) a.country = v;
    else if (keyMatches(k, "asn")) {
      std::string digits = v;
      if (digits.size() > 2 && (digits[0] == 'A' || digits[0] == 'a')) digits = digits.substr(2);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), a.asn);
      if (ec != std::errc() || p != digits.data() + digits.size())
        throw ValueError(kv.second, fmt::format("\"{}\" is not an AS number", v)).under(k);
    } else {
      throw ValueError(kv.first, fmt::format(
          "unknown attribute \"{}\"; valid attributes: name, role, site, region, tenant, city, "
          "state, country, asn",
          k));
    }
  }
  return a;
}

void Networks::Config::read(ConfigReader& r) {
  YAML::Node src = r.raw("network-sources", "{}");
  network_sources.clear();
  if (src.IsDefined() && !src.IsNull()) {
    if (!src.IsMap()) r.fail("network-sources", "expected a mapping from names to sources");
    for (const auto& kv : src) {
      std::string name = kv.first.as<std::string>();
      ConfigReader sr(r, kv.second, r.path() + ".network-sources." + name);
      RemoteSource s;
      s.read(sr);
      sr.finish();
      network_sources[name] = std::move(s);
    }
  }
  r.field("network-sources-timeout", network_sources_timeout);
  YAML::Node n = r.raw("networks", "{}");
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
    } catch (const ValueError& e) {
      std::string path = "networks." + k;
      for (const auto& key : e.keys) path += "." + key;
      r.failAt(e.node, path, e.what());
    }
  }
}

std::shared_ptr<const NetworkTree> Networks::build(const NetworkList& list) {
  // Shortest prefixes first: each one then inherits from the longest already inserted prefix
  // containing it (which may be an identical one, listed earlier).
  auto sorted = list;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first.len < b.first.len; });
  auto tree = std::make_shared<NetworkTree>();
  for (auto& [prefix, attrs] : sorted) {
    NetworkAttributes merged = attrs;
    merged.country_len = merged.country.empty() ? 0 : prefix.len;
    merged.city_len = merged.city.empty() ? 0 : prefix.len;
    merged.state_len = merged.state.empty() ? 0 : prefix.len;
    merged.asn_len = merged.asn ? prefix.len : 0;
    if (const NetworkAttributes* parent = tree->lookup(prefix.addr); parent && prefix.len > 0)
      merged.inherit(*parent);
    tree->insert(prefix, std::move(merged));
  }
  return tree;
}

Networks::Networks(const Config& config, Metrics* metrics)
    : config_(config), current_(build(config.networks)) {
  if (config_.network_sources.empty()) return;
  sources_ = std::make_unique<RemoteSources>(
      config_.network_sources, metrics, "akvo_outlet_networks_remote", "networks",
      [this](const std::string& name, const std::vector<jq::Value>& values) {
        NetworkList list = fromRemote(values);
        size_t n = list.size();
        {
          std::lock_guard lock(mutex_);
          remote_[name] = std::move(list);
        }
        rebuild();
        return n;
      });
}

Networks::~Networks() { stop(); }

std::shared_ptr<const NetworkTree> Networks::snapshot() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void Networks::rebuild() {
  // Remote first, static last: for identical prefixes, static wins.
  NetworkList all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, list] : remote_) all.insert(all.end(), list.begin(), list.end());
  }
  all.insert(all.end(), config_.networks.begin(), config_.networks.end());
  auto tree = build(all);
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(tree);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

NetworkList Networks::fromRemote(const std::vector<jq::Value>& values) {
  NetworkList out;
  static const char* const kAttributes[] = {"name", "role",  "site",    "region", "tenant",
                                            "city", "state", "country", "asn"};
  for (size_t i = 0; i < values.size(); i++) {
    const jq::Value& v = values[i];
    auto fail = [&](const std::string& why) {
      throw std::runtime_error(fmt::format(
          "object {} ({}): {}", i + 1,
          v.dump(-1, ' ', false, jq::Value::error_handler_t::replace).substr(0, 120), why));
    };
    if (!v.is_object()) fail("expected an object with a prefix and attributes");
    std::optional<IPv6Prefix> prefix;
    YAML::Node attrs(YAML::NodeType::Map);
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& k = it.key();
      if (keyMatches(k, "prefix")) {
        if (!it->is_string()) fail("prefix: expected a string");
        prefix = IPv6Prefix::parse(it->get<std::string>());
        if (!prefix) fail(fmt::format("\"{}\" is not a subnet", it->get<std::string>()));
        continue;
      }
      bool known = false;
      for (const char* a : kAttributes) known = known || keyMatches(k, a);
      if (!known || it->is_null()) continue;
      if (it->is_string())
        attrs[k] = it->get<std::string>();
      else if (it->is_number())
        attrs[k] = it->dump();
      else
        fail(fmt::format("{}: expected a string", k));
    }
    if (!prefix) fail("no prefix");
    try {
      out.emplace_back(*prefix, parseNetworkAttributes(attrs));
    } catch (const ValueError& e) {
      fail(e.withKeys());
    }
  }
  return out;
}

void Networks::start() {
  if (!sources_) return;
  sources_->start();
  // Wait (bounded) for the first fetches so that the first flows see the remote networks.
  if (!sources_->waitReady(config_.network_sources_timeout))
    spdlog::warn("networks: not every source loaded within {}; static networks apply meanwhile",
                 formatDuration(config_.network_sources_timeout));
}

void Networks::stop() {
  if (sources_) sources_->stop();
}

}  // namespace akvo
