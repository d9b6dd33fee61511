#include "outlet/decoder/sampling.h"

#include <yaml-cpp/yaml.h>

namespace akvo::decoder {

namespace {
void readRates(ConfigReader& r, const std::string& key,
               std::vector<std::pair<IPv6Prefix, uint64_t>>& out) {
  YAML::Node n = r.raw(key);
  if (!n.IsDefined() || n.IsNull()) return;
  auto rate = [&](const YAML::Node& v) -> uint64_t {
    uint64_t x = 0;
    try {
      x = v.as<uint64_t>();
    } catch (const YAML::Exception&) {
      r.fail(key, "expected a sampling rate (a positive integer) or a map of prefixes to rates");
    }
    if (x == 0) r.fail(key, "a sampling rate must be at least 1");
    return x;
  };
  if (n.IsScalar()) {
    out.emplace_back(*IPv6Prefix::parse("::/0"), rate(n));
    return;
  }
  if (!n.IsMap()) r.fail(key, "expected a sampling rate or a map of prefixes to rates");
  for (const auto& kv : n) {
    auto prefix = IPv6Prefix::parse(kv.first.as<std::string>());
    if (!prefix) r.fail(key, "'" + kv.first.as<std::string>() + "' is not a prefix");
    out.emplace_back(*prefix, rate(kv.second));
  }
}
}  // namespace

void SamplingRates::Config::read(ConfigReader& r) {
  readRates(r, "default-sampling-rate", default_rate);
  readRates(r, "override-sampling-rate", override_rate);
}

}  // namespace akvo::decoder
