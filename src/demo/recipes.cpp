#include "demo/recipes.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>

namespace akvo::demo {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  size_t b = s.find_first_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b);
}

/// The items of a list key as Akvorado decodes them: a YAML list, a scalar, or "a,b".
std::optional<std::vector<std::string>> items(ConfigReader& r, const std::string& key,
                                              const char* shown_default) {
  YAML::Node n = r.raw(key, shown_default);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  std::vector<std::string> out;
  auto split = [&](const std::string& s) {
    for (size_t b = 0, e; b <= s.size(); b = e + 1) {
      e = s.find(',', b);
      if (e == std::string::npos) e = s.size();
      std::string item = trim(s.substr(b, e - b));
      if (!item.empty()) out.push_back(item);
    }
  };
  if (n.IsScalar()) {
    split(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& e : n) {
      if (!e.IsScalar()) r.fail(key, "expected a list of values, got a list of lists or mappings");
      split(e.Scalar());
    }
  } else {
    r.fail(key, "expected a list (or one value)");
  }
  return out;
}

/// A list of integers in [min, max]; `required`: at least one.
template <class T>
void intList(ConfigReader& r, const std::string& key, std::vector<T>& out, int64_t min,
             int64_t max, bool required, const char* what) {
  auto list = items(r, key, "[]");
  if (list)
    for (const auto& s : *list) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || p != s.data() + s.size() || v < min || v > max)
        r.fail(key, fmt::format("\"{}\" is not a valid {} ({} to {})", s, what, min, max));
      out.push_back(T(v));
    }
  if (required && out.empty())
    r.fail(key, fmt::format("required: at least one {} ({} to {}), as a list or one value", what,
                            min, max));
}

/// A number > min (or >= min when !exclusive); `required`: the key must be given.
void number(ConfigReader& r, const std::string& key, double& out, double min, bool exclusive,
            bool required) {
  std::string shown = fmt::format("{}", out);
  YAML::Node n = r.raw(key, required ? nullptr : shown.c_str());
  if (!n.IsDefined() || n.IsNull()) {
    if (required) r.fail(key, fmt::format("required: a number {} {}", exclusive ? ">" : ">=", min));
    return;
  }
  std::string s = n.IsScalar() ? trim(n.Scalar()) : "";
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!n.IsScalar() || s.empty() || ec != std::errc() || p != s.data() + s.size() ||
      !std::isfinite(v) || (exclusive ? v <= min : v < min))
    r.fail(key, fmt::format("expected a number {} {}, got \"{}\"", exclusive ? ">" : ">=", min,
                            n.IsScalar() ? n.Scalar() : "?"));
  out = v;
}

IPv6Prefix network(ConfigReader& r, const std::string& key) {
  std::string s;
  if (!r.has(key)) {
    r.field(key, s);
    r.fail(key, "required: a network such as 192.0.2.0/24 or 2001:db8::/64");
  }
  r.field(key, s);
  auto p = s.find('/') == std::string::npos ? std::nullopt : IPv6Prefix::parse(trim(s));
  if (!p) r.fail(key, fmt::format("\"{}\" is not a network such as 192.0.2.0/24 or 2001:db8::/64", s));
  return *p;
}

bool isV4(const IPv6Prefix& p) { return p.len >= 96 && p.addr.isV4Mapped(); }

/// A random address inside `p`.
IPv6Addr randomAddress(const IPv6Prefix& p, std::mt19937_64& rng) {
  IPv6Addr a = p.addr;
  uint64_t hi = rng(), lo = isV4(p) ? 0 : rng();
  for (unsigned i = isV4(p) ? 96 : 0; i < 128; i++) {
    if (i < p.len) continue;
    bool bit = i < 64 ? (hi >> (63 - i)) & 1 : (i >= 96 && isV4(p)) ? (hi >> (127 - i)) & 1
                                                                     : (lo >> (127 - i)) & 1;
    if (bit) a.bytes[i / 8] |= uint8_t(0x80 >> (i % 8));
  }
  return a;
}

template <class T>
T pick(const std::vector<T>& v, std::mt19937_64& rng) {
  if (v.empty()) return T{};
  if (v.size() == 1) return v[0];
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

/// FNV-1a, 64 bits: the per-second seed from the second and the router's seed.
uint64_t secondSeed(uint32_t unix_secs, int64_t seed) {
  std::string text = fmt::format("{} {}", unix_secs, seed);
  uint64_t h = 14695981039346656037ull;
  for (char c : text) h = (h ^ uint8_t(c)) * 1099511628211ull;
  return h;
}

}  // namespace

void FlowRecipe::read(ConfigReader& r) {
  number(r, "per-second", per_second, 0, true, true);
  intList(r, "in-if-index", in_if_index, 1, UINT32_MAX, true, "interface index");
  intList(r, "out-if-index", out_if_index, 1, UINT32_MAX, true, "interface index");
  if (!r.has("peak-hour")) {
    r.field("peak-hour", peak_hour);
    r.fail("peak-hour", "required: the time of day of the peak, such as 16h or 21h30m");
  }
  r.field("peak-hour", peak_hour);
  if (peak_hour.count() < 0 || peak_hour > std::chrono::hours(24))
    r.fail("peak-hour", "expected a time of day from 0h to 24h, such as 16h or 21h30m");
  number(r, "multiplier", multiplier, 0, true, true);
  src_net = network(r, "src-net");
  dst_net = network(r, "dst-net");
  if (isV4(src_net) != isV4(dst_net))
    r.fail("dst-net", "src-net and dst-net must be both IPv4 or both IPv6");
  intList(r, "src-as", src_as, 0, UINT32_MAX, true, "AS number");
  intList(r, "dst-as", dst_as, 0, UINT32_MAX, true, "AS number");
  intList(r, "src-port", src_port, 0, 65535, false, "port");
  intList(r, "dst-port", dst_port, 0, 65535, false, "port");
  auto protos = items(r, "protocol", nullptr);
  if (!protos || protos->empty())
    r.fail("protocol", "required: at least one of tcp, udp, icmp, as a list or one value");
  for (const auto& p : *protos) {
    if (p == "tcp") protocol.push_back(6);
    else if (p == "udp") protocol.push_back(17);
    else if (p == "icmp") protocol.push_back(1);
    else r.fail("protocol", fmt::format("\"{}\" is not a valid protocol; valid: tcp, udp, icmp", p));
  }
  int64_t sz = size;
  r.field("size", sz, 0, 9000);
  if (sz != 0 && sz < 64) r.fail("size", fmt::format("{} is out of range: 0 (random) or 64 to 9000", sz));
  size = uint32_t(sz);
  number(r, "reverse-direction-ratio", reverse_direction_ratio, 0, false, false);
}

double recipeRate(const FlowRecipe& recipe, uint32_t unix_secs) {
  // How close to the peak hour, from 0 (12 hours away) to 1 (at it).
  double now_h = double(unix_secs % 86400) / 3600.0;
  double peak_h = double(recipe.peak_hour.count()) / 3'600'000.0;
  double delta = std::fmod(std::fabs(now_h - peak_h), 24.0);
  if (24 - delta < delta) delta = 24 - delta;
  double d = (12 - delta) / 12, sq = d * d;
  // d²/(2(d²-d)+1): 0 at d = 0, 1 at d = 1, flat at both ends.
  return recipe.per_second * (1 + (recipe.multiplier - 1) * sq / (2 * (sq - d) + 1));
}

void generateFlows(std::span<const FlowRecipe> recipes, int64_t seed, uint32_t unix_secs,
                   std::vector<FlowRecord>& out) {
  std::mt19937_64 rng(secondSeed(unix_secs, seed));
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> normal(0, 1);
  // Fractional rates: the flows of second s are the integers crossed from s×rate to (s+1)×rate,
  // counted from a fixed origin, so that 0.2 a second is one flow every 5 seconds.
  double s = double(unix_secs % (86400u * 360));
  for (const auto& recipe : recipes) {
    double rate = recipeRate(recipe, unix_secs) * (0.9 + u(rng) / 5);
    int64_t count = int64_t(std::trunc((s + 1) * rate) - std::trunc(s * rate));
    bool v4 = isV4(recipe.src_net);
    for (; count > 0; count--) {
      FlowRecord f;
      f.packets = 1;
      f.in_if = pick(recipe.in_if_index, rng);
      f.out_if = pick(recipe.out_if_index, rng);
      f.src_as = pick(recipe.src_as, rng);
      f.dst_as = pick(recipe.dst_as, rng);
      f.forwarding_status = 64;  // forwarded
      if (recipe.size == 0) {
        f.bytes = 300 + std::uniform_int_distribution<uint32_t>(0, 1199)(rng);
      } else {
        double b = double(recipe.size) * (normal(rng) * 0.3 + 1);
        // Clamped: at most a jumbo frame, or 1500 bytes when the recipe's size fits in one.
        if (b > 9000) b = 9000;
        if (b > 1500 && recipe.size <= 1500) b = 1500;
        if (b < 64) b = 64;
        f.bytes = uint64_t(b);
      }
      f.src_addr = randomAddress(recipe.src_net, rng);
      f.dst_addr = randomAddress(recipe.dst_net, rng);
      f.src_net_mask = uint8_t(v4 ? recipe.src_net.len - 96 : recipe.src_net.len);
      f.dst_net_mask = uint8_t(v4 ? recipe.dst_net.len - 96 : recipe.dst_net.len);
      f.etype = v4 ? 0x800 : 0x86dd;
      uint8_t proto = pick(recipe.protocol, rng);
      if (proto == 6 || proto == 17) {
        uint16_t sp = pick(recipe.src_port, rng), dp = pick(recipe.dst_port, rng);
        f.src_port = sp ? sp : uint16_t(33000 + std::uniform_int_distribution<int>(0, 1999)(rng));
        f.dst_port = dp ? dp : uint16_t(33000 + std::uniform_int_distribution<int>(0, 1999)(rng));
      }
      f.proto = proto == 1 && !v4 ? 58 : proto;
      f.first_switched = unix_secs;
      out.push_back(f);
      if (recipe.reverse_direction_ratio > 0) {
        FlowRecord back = f;
        back.bytes = std::max<uint64_t>(1, uint64_t(double(f.bytes) * recipe.reverse_direction_ratio));
        std::swap(back.src_as, back.dst_as);
        std::swap(back.src_addr, back.dst_addr);
        std::swap(back.src_net_mask, back.dst_net_mask);
        std::swap(back.src_port, back.dst_port);
        std::swap(back.in_if, back.out_if);
        out.push_back(back);
      }
    }
  }
}

}  // namespace akvo::demo
