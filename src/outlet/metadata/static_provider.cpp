#include "outlet/metadata/static_provider.h"

#include <fmt/format.h>

#include "outlet/networks/subnet_map.h"

namespace akvo::metadata {

namespace {

InterfaceInfo parseInterface(const YAML::Node& n) {
  if (!n.IsMap()) throw std::invalid_argument("expected an interface (name, description, speed...)");
  InterfaceInfo i;
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    if (!kv.second.IsScalar()) throw std::invalid_argument(fmt::format("{}: expected a scalar", k));
    std::string v = kv.second.Scalar();
    if (keyMatches(k, "name")) i.name = v;
    else if (keyMatches(k, "description")) i.description = v;
    else if (keyMatches(k, "speed")) i.speed = kv.second.as<uint32_t>();
    else if (keyMatches(k, "provider")) i.provider = v;
    else if (keyMatches(k, "connectivity")) i.connectivity = v;
    else if (keyMatches(k, "boundary")) {
      if (v == "external") i.boundary = Boundary::kExternal;
      else if (v == "internal") i.boundary = Boundary::kInternal;
      else if (v == "undefined" || v.empty()) i.boundary = Boundary::kUndefined;
      else
        throw std::invalid_argument(fmt::format(
            "boundary: \"{}\" is not a valid choice; valid choices: external, internal, undefined",
            v));
    } else {
      throw std::invalid_argument(fmt::format(
          "unknown key \"{}\"; valid keys: name, description, speed, provider, connectivity, "
          "boundary",
          k));
    }
  }
  return i;
}

StaticProvider::Exporter parseExporter(const YAML::Node& n) {
  if (!n.IsMap()) throw std::invalid_argument("expected an exporter (name, ifindexes...)");
  StaticProvider::Exporter e;
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (keyMatches(k, "name")) e.info.name = v.as<std::string>();
    else if (keyMatches(k, "region")) e.info.region = v.as<std::string>();
    else if (keyMatches(k, "role")) e.info.role = v.as<std::string>();
    else if (keyMatches(k, "tenant")) e.info.tenant = v.as<std::string>();
    else if (keyMatches(k, "site")) e.info.site = v.as<std::string>();
    else if (keyMatches(k, "group")) e.info.group = v.as<std::string>();
    else if (keyMatches(k, "default")) e.default_interface = parseInterface(v);
    else if (keyMatches(k, "skip-missing-interfaces")) e.skip_missing_interfaces = v.as<bool>();
    else if (keyMatches(k, "ifindexes")) {
      if (!v.IsMap()) throw std::invalid_argument("ifindexes: expected a mapping ifIndex → interface");
      for (const auto& i : v) {
        uint32_t idx;
        try {
          idx = i.first.as<uint32_t>();
        } catch (const std::exception&) {
          throw std::invalid_argument(
              fmt::format("ifindexes: \"{}\" is not an interface index", i.first.Scalar()));
        }
        try {
          e.ifindexes[idx] = parseInterface(i.second);
        } catch (const std::exception& x) {
          throw std::invalid_argument(fmt::format("ifindexes: {}: {}", idx, x.what()));
        }
      }
    } else {
      throw std::invalid_argument(fmt::format(
          "unknown key \"{}\"; valid keys: name, region, role, tenant, site, group, default, "
          "ifindexes, skip-missing-interfaces",
          k));
    }
  }
  if (e.info.name.empty()) throw std::invalid_argument("name: an exporter needs a name");
  if (e.default_interface && e.skip_missing_interfaces)
    throw std::invalid_argument("default and skip-missing-interfaces are mutually exclusive");
  return e;
}

}  // namespace

void StaticProvider::Config::read(ConfigReader& r) {
  YAML::Node n = r.raw("exporters");
  exporters = readSubnetMap<Exporter>(r, "exporters", n, parseExporter);
}

Provider::Result StaticProvider::query(const Query& q, Answer& out) {
  const Exporter* e = config_.exporters.lookup(q.exporter);
  if (!e) return Result::kSkip;
  auto it = e->ifindexes.find(q.ifindex);
  if (it != e->ifindexes.end()) {
    out.iface = it->second;
  } else if (e->default_interface) {
    out.iface = *e->default_interface;
  } else if (e->skip_missing_interfaces && q.ifindex != 0) {
    return Result::kSkip;
  }
  out.found = true;
  out.exporter = e->info;
  return Result::kAnswered;
}

}  // namespace akvo::metadata
