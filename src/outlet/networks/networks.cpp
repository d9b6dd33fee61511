#include "outlet/networks/networks.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <sstream>

#include "common/http_server.h"

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
  if (!n.IsMap()) throw std::invalid_argument("expected a name or a mapping of attributes");
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) throw std::invalid_argument(fmt::format("{}: expected a scalar", k));
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
  YAML::Node src = r.raw("network-sources");
  if (src.IsDefined() && !src.IsNull()) {
    if (!src.IsMap()) r.fail("network-sources", "expected a mapping name → {url, interval}");
    for (const auto& kv : src) {
      std::string name = kv.first.as<std::string>();
      ConfigReader sr(r, kv.second, r.path() + ".network-sources." + name);
      Source s;
      sr.field("url", s.url);
      sr.field("interval", s.interval);
      sr.field("timeout", s.timeout);
      sr.finish();
      if (s.url.rfind("http://", 0) != 0)
        sr.fail("url", fmt::format("\"{}\" is not an http:// URL", s.url));
      network_sources[name] = s;
    }
  }
  r.field("network-sources-timeout", network_sources_timeout);
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

Networks::Networks(const Config& config) : config_(config), current_(build(config.networks)) {}

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

NetworkList Networks::parseSource(const std::string& body) {
  NetworkList out;
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return out;
  auto add = [&](const std::string& prefix, const YAML::Node& attrs) {
    auto p = IPv6Prefix::parse(prefix);
    if (!p) throw std::runtime_error(fmt::format("\"{}\" is not a subnet", prefix));
    out.emplace_back(*p, parseNetworkAttributes(attrs));
  };
  if (body[first] == '[' || body[first] == '{') {
    nlohmann::json j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("networks")) j = j["networks"];
    if (!j.is_array()) throw std::runtime_error("expected a JSON array of networks");
    for (const auto& e : j) {
      if (!e.is_object() || !e.contains("prefix"))
        throw std::runtime_error("each network needs a \"prefix\"");
      YAML::Node attrs(YAML::NodeType::Map);
      for (const auto& [k, v] : e.items()) {
        if (k == "prefix") continue;
        attrs[k] = v.is_string() ? v.get<std::string>() : v.dump();
      }
      add(e["prefix"].get<std::string>(), attrs);
    }
    return out;
  }
  // CSV: a header line, then one network per line (no quoting).
  std::istringstream in(body);
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& l) {
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream ls(l);
    while (std::getline(ls, cell, ',')) {
      while (!cell.empty() && (cell.back() == '\r' || cell.back() == ' ')) cell.pop_back();
      while (!cell.empty() && cell.front() == ' ') cell.erase(0, 1);
      cells.push_back(cell);
    }
    return cells;
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto cells = split(line);
    if (header.empty()) {
      header = cells;
      if (std::find(header.begin(), header.end(), "prefix") == header.end())
        throw std::runtime_error("the CSV header has no \"prefix\" column");
      continue;
    }
    YAML::Node attrs(YAML::NodeType::Map);
    std::string prefix;
    for (size_t i = 0; i < cells.size() && i < header.size(); i++) {
      if (header[i] == "prefix") prefix = cells[i];
      else if (!cells[i].empty()) attrs[header[i]] = cells[i];
    }
    add(prefix, attrs);
  }
  return out;
}

bool Networks::fetch(const std::string& name, const Source& s) {
  try {
    std::string rest = s.url.substr(7);
    size_t slash = rest.find('/');
    std::string host = rest.substr(0, slash), target = slash == std::string::npos ? "/" : rest.substr(slash);
    auto r = httpRequest(host, "GET", target, "", int(s.timeout.count()));
    if (r.status != 200) throw std::runtime_error(fmt::format("HTTP status {}", r.status));
    NetworkList list = parseSource(r.body);
    size_t n = list.size();
    {
      std::lock_guard lock(mutex_);
      remote_[name] = std::move(list);
    }
    rebuild();
    spdlog::info("networks: source {} loaded ({} networks)", name, n);
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("networks: source {} ({}): {} (keeping the previous networks)", name, s.url,
                 e.what());
    return false;
  }
}

void Networks::start() {
  if (config_.network_sources.empty()) return;
  auto first = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::jthread([this, first](std::stop_token st) {
    std::map<std::string, std::chrono::steady_clock::time_point> next;
    for (const auto& [name, s] : config_.network_sources) next[name] = {};
    bool initial = true;
    std::mutex wm;
    std::condition_variable_any wcv;
    while (!st.stop_requested()) {
      auto now = std::chrono::steady_clock::now();
      for (const auto& [name, s] : config_.network_sources) {
        if (now < next[name]) continue;
        // A failed fetch is retried sooner than the interval.
        bool ok = fetch(name, s);
        next[name] = now + (ok ? s.interval : std::min<Duration>(s.interval, Duration(10000)));
      }
      if (initial) {
        first->store(true);
        initial = false;
      }
      std::unique_lock lock(wm);
      wcv.wait_for(lock, st, std::chrono::milliseconds(200), [] { return false; });
    }
  });
  // Wait (bounded) for the first round so that the first flows see the remote networks.
  auto deadline = std::chrono::steady_clock::now() + config_.network_sources_timeout;
  while (!first->load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void Networks::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

}  // namespace akvo
