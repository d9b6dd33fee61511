#include "common/config.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <filesystem>

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
    size_t start = i, dots = 0;
    while (i < text.size() && (isdigit(uint8_t(text[i])) || text[i] == '.')) dots += text[i++] == '.';
    if (start == i || dots > 1 || text[start] == '.' || text[i - 1] == '.')
      throw std::invalid_argument(fmt::format("bad duration \"{}\"", text));
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
    // Up to 100 years: longer is a typo, and would overflow the milliseconds.
    double ms = v * mult;
    if (ms > 100 * 365 * 86400e3 || double(total_ms) + ms > 100 * 365 * 86400e3)
      throw std::invalid_argument(fmt::format("duration \"{}\" is too long (100 years at most)", text));
    total_ms += int64_t(ms);
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

std::string ConfigReader::envName(const std::string& key) const {
  // outlet.clickhouse + maximum-batch-size -> OUTLET_CLICKHOUSE_MAXIMUMBATCHSIZE; inputs[0] ->
  // INPUTS_0.
  std::string full = path_.empty() ? key : path_ + "." + key, out;
  for (char c : full) {
    if (c == '-' || c == ']') continue;
    out += c == '.' || c == '[' ? '_' : char(toupper(uint8_t(c)));
  }
  return out;
}

YAML::Node ConfigReader::child(const std::string& key) {
  known_.push_back(key);
  // Environment overrides, as Akvorado's AKVORADO_CFG_<SECTION>_<KEY>...: a scalar (a comma
  // separated list for lists) that wins over the file.
  std::string env = envName(key);
  for (const char* prefix : {"AKVO_CFG_", "AKVORADO_CFG_"}) {
    if (const char* v = std::getenv((prefix + env).c_str())) {
      std::string value = v;
      if (value.find(',') != std::string::npos) {
        YAML::Node list(YAML::NodeType::Sequence);
        for (size_t b = 0, e; b <= value.size(); b = e + 1) {
          e = value.find(',', b);
          if (e == std::string::npos) e = value.size();
          list.push_back(value.substr(b, e - b));
        }
        return list;
      }
      return YAML::Node(value);
    }
  }
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

namespace {
// A value that yaml-cpp cannot convert (a mapping where a number was expected...) throws
// YAML::Exception from a component's decoder: report it as a configuration error, at its
// position, under the section's path.
void readSection(ConfigReader& sub, const std::function<void(ConfigReader&)>& fn) {
  try {
    fn(sub);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) sub.fail("", "invalid value: " + e.msg);
    throw ConfigError(fmt::format("{}:{}:{}: {}: invalid value: {}", sub.file(), e.mark.line + 1,
                                  e.mark.column + 1, sub.path(), e.msg));
  }
  sub.finish();
}
}  // namespace

void ConfigReader::section(const std::string& key, const std::function<void(ConfigReader&)>& fn) {
  YAML::Node n = child(key);
  ConfigReader sub(n, file_, path_.empty() ? key : path_ + "." + key);
  readSection(sub, fn);
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
      readSection(sub, [&](ConfigReader& r) { fn(r, i); });
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

std::vector<std::string> ConfigReader::keys() const {
  std::vector<std::string> out;
  if (!node_.IsMap()) return out;
  for (const auto& kv : node_)
    if (kv.first.IsScalar()) out.push_back(kv.first.Scalar());
  return out;
}

YAML::Node ConfigReader::raw(const std::string& key, const char* shown_default) {
  YAML::Node n = child(key);
  if (present(n)) resolved_[key] = YAML::Clone(n);
  else if (shown_default) resolved_[key] = YAML::Load(shown_default);
  return n;
}

namespace {
// Keys of older Akvorado configurations (AKVORADO.md 4.8) that Akvorado migrates silently and
// akvo refuses: the error says where the setting lives now. Paths without list indexes.
std::string legacyHint(std::string full) {
  for (size_t b; (b = full.find('[')) != std::string::npos;) full.erase(b, full.find(']', b) - b + 1);
  static const std::map<std::string, std::string> kMoved = {
      {"inlet.metadata", "now outlet.metadata"},
      {"inlet.routing", "now outlet.routing"},
      {"inlet.core", "now outlet.core"},
      {"inlet.geoip", "now outlet.geoip"},
      {"inlet.schema", "now the top-level schema"},
      {"geoip", "now outlet.geoip"},
      {"networks", "now outlet.networks"},
      {"clickhousedb", "akvo reads the ClickHouse connection from clickhouse (servers, "
                       "username, password: docs/08-scale-out.md)"},
      {"outlet.metadata.provider", "now outlet.metadata.providers, a list"},
      {"outlet.metadata.providers.default-community",
       "now credentials: {::/0: {communities: [public]}}"},
      {"outlet.metadata.providers.communities",
       "now credentials: {192.0.2.0/24: {communities: [...]}}"},
      {"outlet.metadata.providers.security-parameters",
       "now credentials: {192.0.2.0/24: {user-name: ..., authentication-protocol: ...}}"},
      {"outlet.core.ignore-asn-from-flow", "now outlet.core.asn-providers, without flow"},
      {"outlet.core.workers", "removed from Akvorado: delete it (akvo: outlet.workers)"},
  };
  if (auto it = kMoved.find(full); it != kMoved.end()) return " (an older Akvorado key: " + it->second + ")";
  std::string last = full.substr(full.rfind('.') + 1);
  if (last == "system-log-ttl" || last == "prometheus-endpoint")
    return " (removed from Akvorado: delete it)";
  return "";
}
}  // namespace

void ConfigReader::finish() {
  if (!node_.IsMap()) return;
  std::map<std::string, int> seen;  // key -> line
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar())
      throw ConfigError(fmt::format("{}: {}: a key must be a plain string", where(kv.first),
                                    path_.empty() ? "(top level)" : path_));
    std::string k = kv.first.Scalar();
    // yaml-cpp keeps both entries of a repeated key and lookups see the first one only: the
    // second would be dropped without a word (Akvorado's YAML library refuses it too).
    auto [it, fresh] = seen.emplace(k, kv.first.Mark().line + 1);
    if (!fresh) {
      std::string full = path_.empty() ? k : path_ + "." + k;
      throw ConfigError(fmt::format("{}: duplicate key \"{}\" (first at line {})", where(kv.first),
                                    full, it->second));
    }
    bool found = false;
    for (const auto& known : known_) found = found || known == k;
    if (!found) {
      std::string full = path_.empty() ? k : path_ + "." + k;
      throw ConfigError(fmt::format("{}: unknown key \"{}\"{}; valid keys: {}", where(kv.first), full,
                                    legacyHint(full),
                                    known_.empty() ? "(none)" : fmt::format("{}", fmt::join(known_, ", "))));
    }
  }
}

namespace {
// What Akvorado's loader does before decoding, that yaml-cpp does not: merge keys (`<<: *base`,
// or a list of them; keys already there win) and hidden keys (a key starting with "." is
// dropped: Akvorado's shipped files keep anchors there). `!include` is refused plainly.
void prepareYaml(YAML::Node n, const std::string& path) {
  if (n.Tag() == "!include")
    throw ConfigError(fmt::format("{}:{}:{}: !include is not supported by akvo: put the included "
                                  "section in this file",
                                  path, n.Mark().line + 1, n.Mark().column + 1));
  if (n.IsSequence()) {
    for (auto e : n) prepareYaml(e, path);
    return;
  }
  if (!n.IsMap()) return;
  std::vector<std::string> hidden;
  YAML::Node merge;
  bool merging = false;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) continue;  // reported by ConfigReader::finish()
    const std::string& k = kv.first.Scalar();
    if (k.starts_with(".")) hidden.push_back(k);
    if (k == "<<") merge = kv.second, merging = true;
  }
  for (const auto& k : hidden) n.remove(k);
  if (merging) {
    n.remove("<<");
    std::vector<YAML::Node> sources;
    if (merge.IsSequence()) {
      for (const auto& e : merge) sources.push_back(e);
    } else {
      sources.push_back(merge);
    }
    for (const auto& src : sources) {
      if (!src.IsMap())
        throw ConfigError(fmt::format("{}:{}:{}: a merge key (<<) needs a mapping or a list of "
                                      "mappings",
                                      path, src.Mark().line + 1, src.Mark().column + 1));
      const YAML::Node& cn = n;
      for (const auto& kv : src)
        if (kv.first.IsScalar() && !cn[kv.first.Scalar()]) n[kv.first.Scalar()] = kv.second;
    }
  }
  for (auto kv : n) prepareYaml(kv.second, path);
}
}  // namespace

YAML::Node loadYamlFile(const std::string& path) {
  if (path.empty()) return YAML::Node(YAML::NodeType::Map);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError(fmt::format("{}: is a directory, not a configuration file", path));
  try {
    YAML::Node n = YAML::LoadFile(path);
    if (n.IsNull()) return YAML::Node(YAML::NodeType::Map);
    prepareYaml(n, path);
    return n;
  } catch (const YAML::BadFile&) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file", path));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(fmt::format("{}:{}:{}: invalid YAML: {}", path, e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
}

}  // namespace akvo
