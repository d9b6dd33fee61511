#include "outlet/metadata/static_provider.h"

#include <charconv>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "outlet/networks/subnet_map.h"

namespace akvo::metadata {

namespace {

// Errors are ValueErrors: readSubnetMap reports them with the whole key and the value's line.
std::string scalarOf(const YAML::Node& v, const std::string& key) {
  if (!v.IsScalar()) throw ValueError(v, "expected a single value").under(key);
  return v.Scalar();
}

InterfaceInfo parseInterface(const YAML::Node& n) {
  if (!n.IsMap()) throw ValueError(n, "expected an interface (name, description, speed...)");
  InterfaceInfo i;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    std::string v = scalarOf(kv.second, k);
    if (keyMatches(k, "name")) i.name = v;
    else if (keyMatches(k, "description")) i.description = v;
    else if (keyMatches(k, "speed")) {
      uint32_t speed = 0;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), speed);
      if (ec != std::errc() || end != v.data() + v.size() || v.empty())
        throw ValueError(kv.second, fmt::format("\"{}\" is not a speed (a whole number of Mbps, "
                                                "up to 4294967295)", v)).under(k);
      i.speed = speed;
    } else if (keyMatches(k, "provider")) i.provider = v;
    else if (keyMatches(k, "connectivity")) i.connectivity = v;
    else if (keyMatches(k, "boundary")) {
      if (v == "external") i.boundary = Boundary::kExternal;
      else if (v == "internal") i.boundary = Boundary::kInternal;
      else if (v == "undefined" || v.empty()) i.boundary = Boundary::kUndefined;
      else
        throw ValueError(kv.second, fmt::format("\"{}\" is not a valid choice; valid choices: "
                                                "external, internal, undefined", v)).under(k);
    } else {
      throw ValueError(kv.first, fmt::format(
          "unknown key \"{}\"; valid keys: name, description, speed, provider, connectivity, "
          "boundary",
          k));
    }
  }
  return i;
}

StaticProvider::Exporter parseExporter(const YAML::Node& n) {
  if (!n.IsMap()) throw ValueError(n, "expected an exporter (name, ifindexes...)");
  StaticProvider::Exporter e;
  for (const auto& kv : n) {
    std::string k = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    if (keyMatches(k, "name")) e.info.name = scalarOf(v, k);
    else if (keyMatches(k, "region")) e.info.region = scalarOf(v, k);
    else if (keyMatches(k, "role")) e.info.role = scalarOf(v, k);
    else if (keyMatches(k, "tenant")) e.info.tenant = scalarOf(v, k);
    else if (keyMatches(k, "site")) e.info.site = scalarOf(v, k);
    else if (keyMatches(k, "group")) e.info.group = scalarOf(v, k);
    else if (keyMatches(k, "default")) {
      try {
        e.default_interface = parseInterface(v);
      } catch (ValueError& x) {
        throw std::move(x).under(k);
      }
    } else if (keyMatches(k, "skip-missing-interfaces")) {
      std::string b = scalarOf(v, k);
      if (b != "true" && b != "false")
        throw ValueError(v, fmt::format("\"{}\" is not a boolean (true, false)", b)).under(k);
      e.skip_missing_interfaces = b == "true";
    } else if (keyMatches(k, "ifindexes")) {
      if (!v.IsMap()) throw ValueError(v, "expected a mapping ifIndex → interface").under(k);
      for (const auto& i : v) {
        const std::string text = i.first.Scalar();
        uint32_t idx = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), idx);
        if (ec != std::errc() || end != text.data() + text.size() || text.empty())
          throw ValueError(i.first, fmt::format("\"{}\" is not an interface index", text)).under(k);
        try {
          e.ifindexes[idx] = parseInterface(i.second);
        } catch (ValueError& x) {
          throw std::move(x).under(text).under(k);
        }
      }
    } else {
      throw ValueError(kv.first, fmt::format(
          "unknown key \"{}\"; valid keys: name, region, role, tenant, site, group, default, "
          "ifindexes, skip-missing-interfaces",
          k));
    }
  }
  if (e.info.name.empty()) throw ValueError(n, "an exporter needs a name").under("name");
  if (e.default_interface && e.skip_missing_interfaces)
    throw ValueError(n, "default and skip-missing-interfaces are mutually exclusive");
  return e;
}

}  // namespace

void StaticProvider::Config::read(ConfigReader& r) {
  YAML::Node n = r.raw("exporters", "{}");
  exporters = readSubnetMap<Exporter>(r, "exporters", n, parseExporter);
  // The same entries with their prefixes (readSubnetMap has checked them).
  exporter_list.clear();
  if (isSubnetMap(n)) {
    for (const auto& kv : n)
      exporter_list.emplace_back(*IPv6Prefix::parse(kv.first.as<std::string>()),
                                 parseExporter(kv.second));
  } else if (n.IsDefined() && !n.IsNull() && !(n.IsMap() && n.size() == 0)) {
    exporter_list.emplace_back(*IPv6Prefix::parse("::/0"), parseExporter(n));
  }
  YAML::Node src = r.raw("exporter-sources", "{}");
  exporter_sources.clear();
  if (src.IsDefined() && !src.IsNull()) {
    if (!src.IsMap()) r.fail("exporter-sources", "expected a mapping from names to sources");
    for (const auto& kv : src) {
      std::string name = kv.first.as<std::string>();
      ConfigReader sr(r, kv.second, r.path() + ".exporter-sources." + name);
      RemoteSource s;
      s.read(sr);
      sr.finish();
      exporter_sources[name] = std::move(s);
    }
  }
  r.field("exporter-sources-timeout", exporter_sources_timeout);
}

namespace {

std::string remoteString(const jq::Value& v, const std::string& key) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  throw std::invalid_argument(fmt::format("{}: expected a string", key));
}

InterfaceInfo remoteInterface(const jq::Value& v, uint32_t* ifindex) {
  if (!v.is_object()) throw std::invalid_argument("expected an interface object");
  InterfaceInfo i;
  bool has_index = false;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& k = it.key();
    const jq::Value& x = *it;
    if (x.is_null()) continue;
    if (keyMatches(k, "name"))
      i.name = remoteString(x, k);
    else if (keyMatches(k, "description"))
      i.description = remoteString(x, k);
    else if (keyMatches(k, "provider"))
      i.provider = remoteString(x, k);
    else if (keyMatches(k, "connectivity"))
      i.connectivity = remoteString(x, k);
    else if (keyMatches(k, "speed") || (ifindex && keyMatches(k, "ifindex"))) {
      double d = x.is_number() ? x.get<double>() : -1;
      if (x.is_string()) {
        try {
          size_t used = 0;
          d = std::stod(x.get<std::string>(), &used);
          if (used != x.get<std::string>().size()) d = -1;
        } catch (const std::exception&) {
          d = -1;
        }
      }
      if (d < 0 || d > 4294967295.0 || d != double(uint64_t(d)))
        throw std::invalid_argument(
            fmt::format("{}: {} is not a non-negative integer", k, x.dump()));
      if (keyMatches(k, "speed"))
        i.speed = uint32_t(d);
      else
        *ifindex = uint32_t(d), has_index = true;
    } else if (keyMatches(k, "boundary")) {
      std::string b = remoteString(x, k);
      if (b == "external")
        i.boundary = Boundary::kExternal;
      else if (b == "internal")
        i.boundary = Boundary::kInternal;
      else if (b == "undefined" || b.empty())
        i.boundary = Boundary::kUndefined;
      else
        throw std::invalid_argument(fmt::format(
            "boundary: \"{}\" is not a valid choice; valid choices: external, internal, "
            "undefined",
            b));
    }
  }
  if (ifindex && !has_index) throw std::invalid_argument("an interface needs an ifindex");
  return i;
}

}  // namespace

StaticProvider::ExporterList StaticProvider::fromRemote(const std::vector<jq::Value>& values) {
  ExporterList out;
  for (size_t n = 0; n < values.size(); n++) {
    const jq::Value& v = values[n];
    try {
      if (!v.is_object()) throw std::invalid_argument("expected an object");
      Exporter e;
      std::optional<IPv6Prefix> subnet;
      for (auto it = v.begin(); it != v.end(); ++it) {
        const std::string& k = it.key();
        const jq::Value& x = *it;
        if (x.is_null()) continue;
        if (keyMatches(k, "exportersubnet")) {
          std::string text = remoteString(x, k);
          subnet = IPv6Prefix::parse(text);
          if (!subnet)
            throw std::invalid_argument(
                fmt::format("exportersubnet: \"{}\" is not a subnet", text));
        } else if (keyMatches(k, "name"))
          e.info.name = remoteString(x, k);
        else if (keyMatches(k, "region"))
          e.info.region = remoteString(x, k);
        else if (keyMatches(k, "role"))
          e.info.role = remoteString(x, k);
        else if (keyMatches(k, "tenant"))
          e.info.tenant = remoteString(x, k);
        else if (keyMatches(k, "site"))
          e.info.site = remoteString(x, k);
        else if (keyMatches(k, "group"))
          e.info.group = remoteString(x, k);
        else if (keyMatches(k, "default")) {
          try {
            e.default_interface = remoteInterface(x, nullptr);
          } catch (const std::exception& err) {
            throw std::invalid_argument(fmt::format("default: {}", err.what()));
          }
        } else if (keyMatches(k, "skipmissinginterfaces")) {
          if (!x.is_boolean())
            throw std::invalid_argument(fmt::format("{}: expected a boolean", k));
          e.skip_missing_interfaces = x.get<bool>();
        } else if (keyMatches(k, "interfaces")) {
          if (!x.is_array()) throw std::invalid_argument("interfaces: expected an array");
          for (size_t i = 0; i < x.size(); i++) {
            uint32_t idx = 0;
            try {
              InterfaceInfo iface = remoteInterface(x[i], &idx);
              e.ifindexes[idx] = std::move(iface);
            } catch (const std::exception& err) {
              throw std::invalid_argument(fmt::format("interfaces[{}]: {}", i, err.what()));
            }
          }
        }
      }
      if (!subnet) throw std::invalid_argument("no exportersubnet");
      if (e.info.name.empty()) throw std::invalid_argument("name: an exporter needs a name");
      out.emplace_back(*subnet, std::move(e));
    } catch (const std::exception& err) {
      throw std::runtime_error(fmt::format(
          "exporter {} ({}): {}", n + 1,
          v.dump(-1, ' ', false, jq::Value::error_handler_t::replace).substr(0, 120), err.what()));
    }
  }
  return out;
}

StaticProvider::StaticProvider(Config config, Metrics* metrics) : config_(std::move(config)) {
  rebuild();
  if (config_.exporter_sources.empty()) return;
  if (metrics)
    not_ready_ = &metrics->counter(
        "akvo_outlet_metadata_static_not_ready_total",
        "Static metadata queries asked before every exporter source loaded: answered "
        "provisionally from what is known, or failed when not found.");
  sources_ = std::make_unique<RemoteSources>(
      config_.exporter_sources, metrics, "akvo_outlet_metadata_static_remote", "metadata",
      [this](const std::string& name, const std::vector<jq::Value>& values) {
        ExporterList list = fromRemote(values);
        size_t n = list.size();
        {
          std::lock_guard lock(mutex_);
          remote_[name] = std::move(list);
        }
        rebuild();
        return n;
      });
}

StaticProvider::~StaticProvider() { stop(); }

void StaticProvider::rebuild() {
  // Remote entries first, static ones last: for the same subnet, the static entry wins; the
  // most specific subnet wins otherwise (Akvorado's merge).
  auto tree = std::make_shared<PrefixTree<Exporter>>();
  std::lock_guard lock(mutex_);
  for (const auto& [name, list] : remote_)
    for (const auto& [prefix, e] : list) tree->insert(prefix, e);
  for (const auto& [prefix, e] : config_.exporter_list) tree->insert(prefix, e);
  tree_ = std::move(tree);
}

void StaticProvider::start() {
  if (!sources_) return;
  sources_->start();
  if (config_.exporter_sources_timeout.count() > 0 &&
      !sources_->waitReady(config_.exporter_sources_timeout))
    spdlog::warn(
        "metadata: not every exporter source loaded within {}; exporters stay unnamed "
        "until they do",
        formatDuration(config_.exporter_sources_timeout));
}

void StaticProvider::stop() {
  if (sources_) sources_->stop();
}

// Until every exporter source has loaded once, an exporter found among what is known (the
// static entries, the sources loaded so far) is answered provisionally: named at once, and
// asked again after failure-retry, when a more specific remote entry may have come. One not
// found fails (not cached): it may be in a source still loading. Akvorado makes its queries
// wait and then fail, static exporters included; akvo's lookups never wait.
Provider::Result StaticProvider::query(const Query& q, Answer& out) {
  const bool ready = !sources_ || sources_->ready();
  if (!ready && not_ready_) not_ready_->inc();
  std::shared_ptr<const PrefixTree<Exporter>> tree;
  {
    std::lock_guard lock(mutex_);
    tree = tree_;
  }
  const Exporter* e = tree->lookup(q.exporter);
  if (!e) return ready ? Result::kSkip : Result::kFailed;
  const Result answered = ready ? Result::kAnswered : Result::kProvisional;
  auto it = e->ifindexes.find(q.ifindex);
  // As Akvorado: skip-missing-interfaces before the default (remote entries may set both).
  if (it != e->ifindexes.end()) {
    out.iface = it->second;
  } else if (e->skip_missing_interfaces && q.ifindex != 0) {
    return ready ? Result::kSkip : Result::kFailed;
  } else if (e->default_interface) {
    out.iface = *e->default_interface;
  }
  out.found = true;
  out.exporter = e->info;
  return answered;
}

}  // namespace akvo::metadata
