#include "common/config.h"

#include <fmt/format.h>

#include <charconv>

namespace akvo {

namespace {
// yaml-cpp: a default Node is a defined null, and operator[] on a non-const node inserts.
bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }
}  // namespace

Duration parseDuration(const std::string& text) {
  if (text == "0") return Duration(0);
  int64_t total_ms = 0;
  size_t i = 0;
  if (text.empty()) throw std::invalid_argument("empty duration");
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (isdigit(uint8_t(text[i])) || text[i] == '.')) i++;
    if (start == i) throw std::invalid_argument(fmt::format("bad duration \"{}\"", text));
    double v = std::stod(text.substr(start, i - start));
    size_t us = i;
    while (i < text.size() && isalpha(uint8_t(text[i]))) i++;
    std::string unit = text.substr(us, i - us);
    double mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s") mult = 1000;
    else if (unit == "m") mult = 60e3;
    else if (unit == "h") mult = 3600e3;
    else if (unit == "d") mult = 86400e3;
    else if (unit == "w") mult = 7 * 86400e3;
    else
      throw std::invalid_argument(
          fmt::format("bad duration \"{}\": unit must be one of ms, s, m, h, d, w", text));
    total_ms += int64_t(v * mult);
  }
  return Duration(total_ms);
}

std::string formatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  auto part = [&](int64_t unit, const char* name) {
    if (ms >= unit) {
      out += fmt::format("{}{}", ms / unit, name);
      ms %= unit;
    }
  };
  part(86400000, "d");
  part(3600000, "h");
  part(60000, "m");
  part(1000, "s");
  part(1, "ms");
  return out;
}

ConfigReader::ConfigReader(const YAML::Node& node, std::string file, std::string path)
    : node_(node), file_(std::move(file)), path_(std::move(path)), resolved_(YAML::NodeType::Map) {
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    fail("", "expected a mapping of keys");
}

std::string ConfigReader::where(const YAML::Node& n) const {
  std::string f = file_.empty() ? "<defaults>" : file_;
  if (present(n) && n.Mark().line >= 0)
    return fmt::format("{}:{}:{}", f, n.Mark().line + 1, n.Mark().column + 1);
  if (node_.IsDefined() && node_.Mark().line >= 0)
    return fmt::format("{}:{}:{}", f, node_.Mark().line + 1, node_.Mark().column + 1);
  return f;
}

void ConfigReader::fail(const std::string& key, const std::string& message) const {
  YAML::Node n(YAML::NodeType::Undefined);
  const YAML::Node& cn = node_;
  // An absent key (e.g. a required one) reports at the section: cn[key] would be invalid.
  if (!key.empty() && node_.IsMap() && present(cn[key])) n.reset(cn[key]);
  std::string k = path_.empty() ? key : (key.empty() ? path_ : path_ + "." + key);
  throw ConfigError(fmt::format("{}: {}: {}", where(n), k, message));
}

bool ConfigReader::has(const std::string& key) const {
  const YAML::Node& cn = node_;
  return node_.IsMap() && present(cn[key]);
}

YAML::Node ConfigReader::child(const std::string& key) {
  known_.push_back(key);
  if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node& cn = node_;
  YAML::Node n = cn[key];
  if (!present(n)) return YAML::Node(YAML::NodeType::Undefined);
  return n;
}

void ConfigReader::field(const std::string& key, std::string& out) {
  YAML::Node n = child(key);
  if (present(n)) {
    if (!n.IsScalar()) fail(key, "expected a string");
    out = n.Scalar();
  }
  resolved_[key] = out;
}

void ConfigReader::field(const std::string& key, bool& out) {
  YAML::Node n = child(key);
  if (present(n)) {
    bool v;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v))
      fail(key, fmt::format("expected true or false, got \"{}\"", n.IsScalar() ? n.Scalar() : "?"));
    out = v;
  }
  resolved_[key] = out;
}

void ConfigReader::field(const std::string& key, Duration& out) {
  YAML::Node n = child(key);
  if (present(n)) {
    if (!n.IsScalar()) fail(key, "expected a duration such as 30s, 5m, 1h or 15d");
    try {
      out = parseDuration(n.Scalar());
    } catch (const std::exception& e) {
      fail(key, std::string(e.what()) + " (expected a duration such as 30s, 5m, 1h or 15d)");
    }
  }
  resolved_[key] = formatDuration(out);
}

void ConfigReader::field(const std::string& key, std::vector<std::string>& out) {
  YAML::Node n = child(key);
  if (present(n)) {
    out.clear();
    if (n.IsScalar()) {
      out.push_back(n.Scalar());
    } else if (n.IsSequence()) {
      for (const auto& e : n) {
        if (!e.IsScalar()) fail(key, "expected a list of strings");
        out.push_back(e.Scalar());
      }
    } else {
      fail(key, "expected a list of strings");
    }
  }
  YAML::Node list(YAML::NodeType::Sequence);
  for (const auto& s : out) list.push_back(s);
  resolved_[key] = list;
}

void ConfigReader::field(const std::string& key, int64_t& out, int64_t min, int64_t max) {
  YAML::Node n = child(key);
  if (present(n)) {
    int64_t v = 0;
    bool ok = n.IsScalar();
    if (ok) {
      const std::string& s = n.Scalar();
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      ok = ec == std::errc() && p == s.data() + s.size();
    }
    if (!ok) fail(key, fmt::format("expected an integer, got \"{}\"", n.IsScalar() ? n.Scalar() : "?"));
    if (v < min || v > max) fail(key, fmt::format("{} is out of range [{}, {}]", v, min, max));
    out = v;
  }
  resolved_[key] = out;
}

void ConfigReader::choice(const std::string& key, std::string& out,
                          const std::vector<std::string>& choices) {
  field(key, out);
  for (const auto& c : choices)
    if (c == out) return;
  fail(key, fmt::format("\"{}\" is not a valid choice; valid choices: {}", out,
                        fmt::join(choices, ", ")));
}

void ConfigReader::section(const std::string& key, const std::function<void(ConfigReader&)>& fn) {
  YAML::Node n = child(key);
  ConfigReader sub(n, file_, path_.empty() ? key : path_ + "." + key);
  fn(sub);
  sub.finish();
  resolved_[key] = sub.resolved();
}

void ConfigReader::list(const std::string& key,
                        const std::function<void(ConfigReader&, size_t)>& fn, size_t defaults) {
  YAML::Node n = child(key);
  YAML::Node out(YAML::NodeType::Sequence);
  std::string base = path_.empty() ? key : path_ + "." + key;
  if (present(n)) {
    if (!n.IsSequence()) fail(key, "expected a list");
    size_t i = 0;
    for (const auto& e : n) {
      ConfigReader sub(e, file_, fmt::format("{}[{}]", base, i));
      fn(sub, i);
      sub.finish();
      out.push_back(sub.resolved());
      i++;
    }
  } else {
    for (size_t i = 0; i < defaults; i++) {
      ConfigReader sub(YAML::Node(), file_, fmt::format("{}[{}]", base, i));
      fn(sub, i);
      sub.finish();
      out.push_back(sub.resolved());
    }
  }
  resolved_[key] = out;
}

YAML::Node ConfigReader::raw(const std::string& key) {
  YAML::Node n = child(key);
  if (present(n)) resolved_[key] = YAML::Clone(n);
  return n;
}

void ConfigReader::finish() {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    std::string k = kv.first.as<std::string>();
    bool found = false;
    for (const auto& known : known_) found = found || known == k;
    if (!found) {
      std::string full = path_.empty() ? k : path_ + "." + k;
      throw ConfigError(fmt::format("{}: unknown key \"{}\"; valid keys: {}", where(kv.first), full,
                                    known_.empty() ? "(none)" : fmt::format("{}", fmt::join(known_, ", "))));
    }
  }
}

YAML::Node loadYamlFile(const std::string& path) {
  if (path.empty()) return YAML::Node(YAML::NodeType::Map);
  try {
    YAML::Node n = YAML::LoadFile(path);
    if (n.IsNull()) return YAML::Node(YAML::NodeType::Map);
    return n;
  } catch (const YAML::BadFile&) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file", path));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}:{}: invalid YAML: {}", path, e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
}

}  // namespace akvo
