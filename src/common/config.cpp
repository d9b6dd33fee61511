#include "common/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>

namespace akvo {

namespace {
// yaml-cpp: a default Node is a defined null, and operator[] on a non-const node inserts.
bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

// A key as Akvorado compares it: lower case, without dashes.
std::string canonicalKey(std::string_view key) {
  std::string out;
  for (char c : key)
    if (c != '-') out += char(tolower(uint8_t(c)));
  return out;
}

// "file:line:column", as errors start.
std::string at(const std::string& file, const YAML::Mark& m) {
  return fmt::format("{}:{}:{}", file.empty() ? "<defaults>" : file, m.line + 1, m.column + 1);
}
}  // namespace

bool keyMatches(std::string_view written, std::string_view name) {
  return canonicalKey(written) == canonicalKey(name);
}

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

void ConfigFiles::record(const YAML::Node& node, const std::string& file) {
  size_t i = std::find(files_.begin(), files_.end(), file) - files_.begin();
  if (i == files_.size()) files_.push_back(file);
  if (!node.IsDefined() || fileOf(node)) return;
  YAML::Mark m = node.Mark();
  if (m.is_null()) return;
  nodes_.emplace(std::tuple(m.pos, m.line, m.column), std::pair(node, i));
}

const std::string* ConfigFiles::fileOf(const YAML::Node& node) const {
  if (!node.IsDefined()) return nullptr;
  YAML::Mark m = node.Mark();
  auto [b, e] = nodes_.equal_range(std::tuple(m.pos, m.line, m.column));
  for (auto it = b; it != e; ++it)
    if (it->second.first.is(node)) return &files_[it->second.second];
  return nullptr;
}

ConfigReader::ConfigReader(const YAML::Node& node, std::string file, std::string path,
                           std::shared_ptr<const ConfigFiles> files)
    : node_(node),
      file_(std::move(file)),
      path_(std::move(path)),
      files_(std::move(files)),
      resolved_(YAML::NodeType::Map) {
  file_ = fileOf(node_);
  if (node_.IsDefined() && !node_.IsNull() && !node_.IsMap())
    fail("", "expected a mapping of keys");
}

ConfigReader::ConfigReader(const ConfigReader& parent, const YAML::Node& node, std::string path)
    : ConfigReader(node, parent.file_, std::move(path), parent.files_) {}

std::string ConfigReader::fileOf(const YAML::Node& n) const {
  if (files_)
    if (const std::string* f = files_->fileOf(n)) return *f;
  return file_;
}

std::string ConfigReader::where(const YAML::Node& n) const {
  if (present(n) && n.Mark().line >= 0) return at(fileOf(n), n.Mark());
  if (node_.IsDefined() && node_.Mark().line >= 0) return at(file_, node_.Mark());
  return file_.empty() ? "<defaults>" : file_;
}

namespace {
// The node at `mark` under `n` (depth-first; bounded, in case of a recursive alias).
std::optional<YAML::Node> findAt(const YAML::Node& n, const YAML::Mark& mark, int depth = 0) {
  if (!n.IsDefined() || depth > 100) return std::nullopt;
  YAML::Mark m = n.Mark();
  if (m.pos == mark.pos && m.line == mark.line && m.column == mark.column) return n;
  if (n.IsSequence()) {
    for (const auto& e : n)
      if (auto f = findAt(e, mark, depth + 1)) return f;
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      if (auto f = findAt(kv.first, mark, depth + 1)) return f;
      if (auto f = findAt(kv.second, mark, depth + 1)) return f;
    }
  }
  return std::nullopt;
}
}  // namespace

std::string ConfigReader::where(const YAML::Mark& mark) const {
  std::optional<YAML::Node> n = findAt(node_, mark);
  return at(n ? fileOf(*n) : file_, mark);
}

void ConfigReader::fail(const std::string& key, const std::string& message) const {
  YAML::Node n(YAML::NodeType::Undefined);
  // An absent key (e.g. a required one) reports at the section.
  if (!key.empty())
    if (YAML::Node v = lookup(key); present(v)) n.reset(v);
  std::string k = path_.empty() ? key : (key.empty() ? path_ : path_ + "." + key);
  throw ConfigError(fmt::format("{}: {}: {}", where(n), k, message));
}

void ConfigReader::failAt(const YAML::Node& n, const std::string& key_path,
                          const std::string& message) const {
  std::string k = path_.empty() ? key_path : path_ + "." + key_path;
  throw ConfigError(fmt::format("{}: {}: {}", where(n), k, message));
}

bool ConfigReader::has(const std::string& key) const { return present(lookup(key)); }

YAML::Node ConfigReader::lookup(const std::string& key) const {
  if (node_.IsMap()) {
    const YAML::Node& cn = node_;
    for (const auto& kv : cn)
      if (kv.first.IsScalar() && keyMatches(kv.first.Scalar(), key)) return kv.second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
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
  YAML::Node n = lookup(key);
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
    throw ConfigError(
        fmt::format("{}: {}: invalid value: {}", sub.where(e.mark), sub.path(), e.msg));
  }
  sub.finish();
}
}  // namespace

void ConfigReader::section(const std::string& key, const std::function<void(ConfigReader&)>& fn) {
  YAML::Node n = child(key);
  ConfigReader sub(*this, n, path_.empty() ? key : path_ + "." + key);
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
      ConfigReader sub(*this, e, fmt::format("{}[{}]", base, i));
      readSection(sub, [&](ConfigReader& r) { fn(r, i); });
      out.push_back(sub.resolved());
      i++;
    }
  } else {
    for (size_t i = 0; i < defaults; i++) {
      ConfigReader sub(*this, YAML::Node(), fmt::format("{}[{}]", base, i));
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

namespace {
// A copy of `n` that shares no node, even within itself. YAML::Clone keeps the sharing of a
// node reached twice (an alias, the keys and values a merge key pulls in twice), which the
// emitter writes as anchors and aliases: `config check` would print `*1 : *2`.
YAML::Node unsharedCopy(const YAML::Node& n) {
  YAML::Node out;
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      out = YAML::Node(n.Scalar());
      break;
    case YAML::NodeType::Sequence:
      out = YAML::Node(YAML::NodeType::Sequence);
      for (const auto& e : n) out.push_back(unsharedCopy(e));
      break;
    case YAML::NodeType::Map:
      out = YAML::Node(YAML::NodeType::Map);
      for (const auto& kv : n) out.force_insert(unsharedCopy(kv.first), unsharedCopy(kv.second));
      break;
    case YAML::NodeType::Null:
      return YAML::Node(YAML::NodeType::Null);
    case YAML::NodeType::Undefined:
      return YAML::Node(YAML::NodeType::Undefined);
  }
  out.SetTag(n.Tag());
  out.SetStyle(n.Style());
  return out;
}
}  // namespace

YAML::Node ConfigReader::raw(const std::string& key, const char* shown_default) {
  YAML::Node n = child(key);
  if (present(n)) resolved_[key] = unsharedCopy(n);
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
  for (const auto& [key, hint] : kMoved)
    if (keyMatches(full, key)) return " (an older Akvorado key: " + hint + ")";
  std::string last = full.substr(full.rfind('.') + 1);
  if (keyMatches(last, "system-log-ttl") || keyMatches(last, "prometheus-endpoint"))
    return " (removed from Akvorado: delete it)";
  return "";
}
}  // namespace

void ConfigReader::finish() {
  if (!node_.IsMap()) return;
  std::map<std::string, int> seen;  // canonical key -> line
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar())
      throw ConfigError(fmt::format("{}: {}: a key must be a plain string", where(kv.first),
                                    path_.empty() ? "(top level)" : path_));
    std::string k = kv.first.Scalar();
    // yaml-cpp keeps both entries of a repeated key and lookups see the first one only: the
    // second would be dropped without a word (Akvorado's YAML library refuses it too). Two
    // spellings of one key (`workers`, `Workers`) are one key twice: Akvorado reports the
    // spelling it did not use as an invalid key.
    auto [it, fresh] = seen.emplace(canonicalKey(k), kv.first.Mark().line + 1);
    if (!fresh) {
      std::string full = path_.empty() ? k : path_ + "." + k;
      throw ConfigError(fmt::format("{}: duplicate key \"{}\" (first at line {})", where(kv.first),
                                    full, it->second));
    }
    bool found = false;
    for (const auto& known : known_) found = found || keyMatches(k, known);
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
// dropped: Akvorado's shipped files keep anchors there). Runs once the includes are replaced,
// so that a merge key may pull an included mapping in (`<<: !include base.yaml`).
void prepareYaml(YAML::Node n, const ConfigFiles& files, const std::string& fallback) {
  if (n.IsSequence()) {
    for (auto e : n) prepareYaml(e, files, fallback);
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
      if (!src.IsMap()) {
        const std::string* f = files.fileOf(src);
        throw ConfigError(fmt::format("{}: a merge key (<<) needs a mapping or a list of mappings",
                                      at(f ? *f : fallback, src.Mark())));
      }
      const YAML::Node& cn = n;
      // The key node itself, not a copy of its text: errors about it keep its file and line.
      for (const auto& kv : src)
        if (kv.first.IsScalar() && !cn[kv.first.Scalar()]) n.force_insert(kv.first, kv.second);
    }
  }
  for (auto kv : n) prepareYaml(kv.second, files, fallback);
}

// Akvorado reads an included file through Go's os.DirFS, rooted at the main file's directory:
// the name must be a valid io/fs path (fs.ValidPath: relative, "/"-separated, no empty, "." or
// ".." element).
bool validIncludeName(const std::string& name) {
  if (name.empty() || name.front() == '/' || name.back() == '/') return false;
  for (size_t b = 0, e; b <= name.size(); b = e + 1) {
    e = name.find('/', b);
    if (e == std::string::npos) e = name.size();
    std::string_view element(name.data() + b, e - b);
    if (element.empty() || element == "." || element == "..") return false;
  }
  return true;
}

// The text of a file; throws std::runtime_error with the system's reason.
std::string readText(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) throw std::runtime_error("is a directory");
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error(std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw std::runtime_error(std::strerror(errno));
  return text.str();
}

// Reads a file and, depth first, the files it includes (Akvorado's
// common/helpers/yaml.UnmarshalWithInclude): each `!include "name"` node is replaced by the
// document of `name`, relative to `base` whatever file includes it. Every node read is recorded
// in `files` with its file.
class IncludeReader {
 public:
  IncludeReader(std::filesystem::path base, ConfigFiles& files)
      : base_(std::move(base)), files_(files) {}

  /// Reads `text`, the content of file `name` (`real`: its canonical path, for cycles).
  YAML::Node read(const std::string& name, const std::filesystem::path& real,
                  const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      throw ConfigError(fmt::format("{}: invalid YAML: {}", at(name, e.mark), e.msg));
    }
    // As Akvorado, at the top of each file: hidden keys go, then a mapping left with the
    // single key "" stands for its value (so that a file holding a list can keep anchors in
    // hidden keys).
    if (root.IsMap()) {
      std::vector<YAML::Node> hidden;
      for (const auto& kv : root)
        if (kv.first.IsScalar() && kv.first.Scalar().starts_with(".")) hidden.push_back(kv.first);
      for (const auto& k : hidden) root.remove(k);
      if (root.size() == 1) {
        auto kv = *root.begin();
        if (kv.first.IsScalar() && kv.first.Scalar().empty()) root = YAML::Node(kv.second);
      }
    }
    chain_.emplace_back(name, real);
    files_.record(YAML::Node(YAML::NodeType::Undefined), name);  // in files(), even if empty
    walk(root, name);
    chain_.pop_back();
    return root;
  }

 private:
  void walk(YAML::Node n, const std::string& file) {
    if (!n.IsDefined()) return;
    if (n.Tag() == "!include") return include(n, file);
    // Seen already: an alias, or an included document in place of an !include node.
    if (files_.fileOf(n)) return;
    files_.record(n, file);
    if (n.IsSequence()) {
      for (auto e : n) walk(e, file);
    } else if (n.IsMap()) {
      for (auto kv : n) {
        walk(kv.first, file);
        walk(kv.second, file);
      }
    }
  }

  void include(YAML::Node n, const std::string& file) {
    std::string where = at(file, n.Mark());
    if (!n.IsScalar())
      throw ConfigError(fmt::format("{}: !include takes a file name{}", where,
                                    n.IsMap()        ? ", not a mapping"
                                    : n.IsSequence() ? ", not a list"
                                                     : ""));
    const std::string name = n.Scalar();
    std::filesystem::path p = base_.empty() ? std::filesystem::path(name) : base_ / name;
    if (!validIncludeName(name))
      throw ConfigError(fmt::format(
          "{}: !include \"{}\": an included file is named relative to the directory of the main "
          "configuration file ({}), without \".\" or \"..\", as in Akvorado",
          where, name, base_.empty() ? "." : base_.string()));
    auto cannotRead = [&](const std::string& reason) {
      return ConfigError(
          fmt::format("{}: !include \"{}\": cannot read {}: {}", where, name, p.string(), reason));
    };
    std::error_code ec;
    std::filesystem::path real = std::filesystem::canonical(p, ec);
    if (ec) throw cannotRead(ec.message());
    for (const auto& [shown, seen] : chain_)
      if (seen == real) {
        std::string cycle;
        for (const auto& c : chain_) cycle += c.first + " -> ";
        throw ConfigError(fmt::format("{}: !include cycle: {}{}", where, cycle, p.string()));
      }
    std::string text;
    try {
      text = readText(real);
    } catch (const std::runtime_error& e) {
      throw cannotRead(e.what());
    }
    YAML::Node doc;
    try {
      doc = read(p.string(), real, text);
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{} (included from {})", e.what(), where));
    }
    n = doc;  // the node, wherever it is (a mapping's value, a list's element, an alias)
  }

  std::filesystem::path base_;
  ConfigFiles& files_;
  std::vector<std::pair<std::string, std::filesystem::path>> chain_;  // files being read
};
}  // namespace

YamlDocument loadYamlFile(const std::string& path) {
  auto files = std::make_shared<ConfigFiles>();
  if (path.empty()) return {YAML::Node(YAML::NodeType::Map), files};
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError(fmt::format("{}: is a directory, not a configuration file", path));
  std::filesystem::path given(path), real;
  std::string text;
  try {
    real = std::filesystem::canonical(given, ec);
    if (ec) throw std::runtime_error(ec.message());
    text = readText(real);
  } catch (const std::runtime_error& e) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file: {}", path, e.what()));
  }
  // Includes are relative to the main file's directory once its symbolic links are followed
  // (Akvorado: filepath.EvalSymlinks, then os.DirFS of its directory). The directory as given
  // when it is the same one, for shorter names in errors.
  std::filesystem::path base = given.parent_path();
  if (!std::filesystem::equivalent(base.empty() ? "." : base, real.parent_path(), ec))
    base = real.parent_path();
  YAML::Node root = IncludeReader(base, *files).read(path, real, text);
  prepareYaml(root, *files, path);
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  return {root, files};
}

}  // namespace akvo
