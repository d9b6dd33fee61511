#include "app/akvorado_import.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>
#include <tuple>

#include "app/app.h"

namespace akvo {

std::string ImportDiagnostic::format() const {
  if (line > 0) return fmt::format("{}:{}: {}: {}", file, line, key, why);
  return fmt::format("{}: {}: {}", file, key, why);
}

namespace {

/// Where a value of the converted configuration comes from.
struct Origin {
  std::string file;
  int line = 0;
  std::string key;  ///< Akvorado path; empty for a value the import writes itself
};

/// The akvo configuration being written: YAML with comments, and for each value the Akvorado
/// key it came from, so that akvo's validation errors can be traced back to it.
struct Tree {
  enum class Kind { kNone, kScalar, kMap, kSeq };
  Kind kind = Kind::kNone;
  std::string scalar;
  std::vector<std::string> keys;  // kMap, with values: in insertion order
  std::vector<Tree> values;       // kMap values, or kSeq elements
  bool given = false;             // a value, written even when empty ([] or {})
  std::optional<Origin> origin;
  std::vector<std::string> comments;  // lines written before it
  std::string note;                   // after it, on its line

  static Tree of(std::string s) {
    Tree t;
    t.kind = Kind::kScalar;
    t.scalar = std::move(s);
    t.given = true;
    return t;
  }
  static Tree list(const std::vector<std::string>& items) {
    Tree t;
    t.kind = Kind::kSeq;
    t.given = true;
    for (const auto& i : items) t.values.push_back(of(i));
    return t;
  }
  Tree* find(const std::string& key) {
    for (size_t i = 0; i < keys.size(); i++)
      if (keys[i] == key) return &values[i];
    return nullptr;
  }
  Tree& at(const std::string& key) {
    if (kind == Kind::kNone) kind = Kind::kMap;
    if (Tree* t = find(key)) return *t;
    keys.push_back(key);
    values.emplace_back();
    return values.back();
  }
  Tree& push() {
    if (kind == Kind::kNone) kind = Kind::kSeq;
    values.emplace_back();
    return values.back();
  }
  /// Whether there is something to write.
  bool written() const {
    if (given) return true;
    for (const auto& v : values)
      if (v.written()) return true;
    return false;
  }
};

/// A copy of a YAML value as a Tree.
Tree treeOf(const YAML::Node& n) {
  Tree t;
  t.given = true;
  if (n.IsScalar()) {
    t.kind = Tree::Kind::kScalar;
    t.scalar = n.Scalar();
  } else if (n.IsSequence()) {
    t.kind = Tree::Kind::kSeq;
    for (const auto& e : n) t.values.push_back(treeOf(e));
  } else if (n.IsMap()) {
    t.kind = Tree::Kind::kMap;
    for (const auto& kv : n) {
      t.keys.push_back(kv.first.IsScalar() ? kv.first.Scalar() : "?");
      t.values.push_back(treeOf(kv.second));
    }
  } else {
    t.given = false;  // null: as if absent (Akvorado's zero value)
  }
  return t;
}

// ---- Writing YAML with comments ----

std::string scalarText(const std::string& s) {
  YAML::Emitter e;
  e << s;
  return e.c_str();
}

/// Multi-line text that reads back the same as a literal block (`|` or `|-`).
bool literalBlock(const std::string& s) {
  if (s.find('\n') == std::string::npos || s.empty() || s[0] == ' ' || s[0] == '\t' || s[0] == '\n')
    return false;
  if (s.size() >= 2 && s.ends_with("\n\n")) return false;
  for (char c : s)
    if ((uint8_t(c) < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return false;
  return true;
}

void renderMap(const Tree& t, int indent, std::string& out);
void renderSeq(const Tree& t, int indent, std::string& out);

void renderComments(const Tree& t, int indent, std::string& out) {
  for (const auto& c : t.comments) out += std::string(indent, ' ') + "# " + c + "\n";
}

std::string noteText(const Tree& t) { return t.note.empty() ? "" : "  # " + t.note; }

/// The value after "key:" or "-".
void renderValue(const Tree& v, int indent, std::string& out) {
  switch (v.kind) {
    case Tree::Kind::kScalar:
      if (literalBlock(v.scalar)) {
        bool clip = v.scalar.back() == '\n';
        out += clip ? " |" : " |-";
        out += noteText(v) + "\n";
        std::string body = clip ? v.scalar.substr(0, v.scalar.size() - 1) : v.scalar;
        std::istringstream lines(body);
        for (std::string line; std::getline(lines, line);)
          out += line.empty() ? "\n" : std::string(indent + 2, ' ') + line + "\n";
      } else {
        out += " " + scalarText(v.scalar) + noteText(v) + "\n";
      }
      return;
    case Tree::Kind::kMap:
    case Tree::Kind::kSeq:
    case Tree::Kind::kNone: {
      bool any = false;
      for (const auto& e : v.values) any = any || e.written();
      if (!any) {
        out += (v.kind == Tree::Kind::kSeq ? " []" : " {}") + noteText(v) + "\n";
        return;
      }
      out += noteText(v) + "\n";
      if (v.kind == Tree::Kind::kMap)
        renderMap(v, indent + 2, out);
      else
        renderSeq(v, indent + 2, out);
      return;
    }
  }
}

void renderMap(const Tree& t, int indent, std::string& out) {
  for (size_t i = 0; i < t.keys.size(); i++) {
    const Tree& v = t.values[i];
    if (!v.written()) continue;
    renderComments(v, indent, out);
    out += std::string(indent, ' ') + scalarText(t.keys[i]) + ":";
    renderValue(v, indent, out);
  }
}

void renderSeq(const Tree& t, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  for (const auto& e : t.values) {
    if (!e.written()) continue;
    renderComments(e, indent, out);
    bool nested_map =
        e.kind == Tree::Kind::kMap &&
        std::any_of(e.values.begin(), e.values.end(), [](const Tree& x) { return x.written(); });
    if (nested_map) {
      // "- " then the mapping's first line; its other lines indented under it.
      std::string body;
      renderMap(e, indent + 2, body);
      out += pad + "- " + body.substr(size_t(indent) + 2);
    } else {
      out += pad + "-";
      renderValue(e, indent, out);
    }
  }
}

// ---- Reading Akvorado's configuration ----

class Converter;

/// One Akvorado mapping being converted: keys are looked up as Akvorado does (case and dashes
/// do not count), and each key taken is remembered so that finish() reports the others.
class Src {
 public:
  Src(Converter* c, YAML::Node node, std::string path)
      : c_(c), node_(node), path_(std::move(path)) {}
  bool valid() const { return node_.IsMap(); }
  const std::string& path() const { return path_; }
  bool has(const std::string& key) const {
    YAML::Node v = value(key);
    return v.IsDefined() && !v.IsNull();
  }
  /// The value of `key` (undefined when absent), now taken.
  YAML::Node take(const std::string& key) {
    if (YAML::Node k = keyNode(key); k.IsDefined()) taken_.insert(k.Scalar());
    return value(key);
  }
  /// The file, line and path of `key` (of this mapping when absent).
  Origin origin(const std::string& key) const;
  Origin self() const;
  /// Reports `key` (when present) as left out.
  void leftOut(const std::string& key, const std::string& why);
  /// The mapping under `key`, taken (invalid when absent; reported when not a mapping).
  Src child(const std::string& key);
  /// Reports every key not taken.
  void finish(const std::string& why = "");
  /// Takes every key: settings without effect (TLS options while TLS is off...).
  void takeAll() {
    if (node_.IsMap())
      for (const auto& kv : node_)
        if (kv.first.IsScalar()) taken_.insert(kv.first.Scalar());
  }
  std::string keyPath(const std::string& key) const {
    YAML::Node k = keyNode(key);
    std::string written = k.IsDefined() ? k.Scalar() : key;
    return path_.empty() ? written : path_ + "." + written;
  }

 private:
  YAML::Node keyNode(const std::string& key) const {
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (const auto& kv : node_)
      if (kv.first.IsScalar() && keyMatches(kv.first.Scalar(), key)) return kv.first;
    return YAML::Node(YAML::NodeType::Undefined);
  }
  YAML::Node value(const std::string& key) const {
    if (!node_.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    for (const auto& kv : node_)
      if (kv.first.IsScalar() && keyMatches(kv.first.Scalar(), key)) return kv.second;
    return YAML::Node(YAML::NodeType::Undefined);
  }
  friend class Converter;
  Converter* c_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> taken_;  // keys as written
};

/// Why a key is left out, for keys Akvorado has and akvo does not (last path element, or a
/// longer suffix of the path without list indexes).
const char* knownReason(const std::string& path) {
  static const std::vector<std::pair<std::string, const char*>> kReasons = {
      {"reporting", "akvo's logs and metrics have no settings"},
      {"http", "akvo runs one HTTP server per process, set by the top-level http section"},
      {"http.profiler", "akvo has no Go profiler"},
      {"schema", "the schema is the top-level schema section"},
      {"workers", "removed from Akvorado; akvo sizes its workers with outlet.workers"},
      {"prometheus-endpoint", "removed from Akvorado"},
      {"system-log-ttl", "removed from Akvorado"},
      {"version", "removed from Akvorado"},
      {"max-open-conns", "akvo opens its own connections to the HTTP interface"},
      {"dial-timeout", "akvo's HTTP store has its own timeouts"},
      {"zookeeper-path", "akvo's cluster tables use their own Keeper path"},
      {"orchestrator-url",
       "akvo fills its lookup tables itself: ClickHouse never calls the orchestrator"},
      {"orchestrator-basic-auth",
       "akvo fills its lookup tables itself: ClickHouse never calls the orchestrator"},
      {"materialize", "akvo computes every column at insertion; nothing to materialize"},
      {"min-workers", "akvo's outlet runs kafka.max-workers workers, without autoscaling"},
      {"worker-increase-rate-limit", "akvo's outlet does not autoscale its workers"},
      {"worker-decrease-rate-limit", "akvo's outlet does not autoscale its workers"},
      {"load-balance", "not for the enriched output"},
      {"shutdown-timeout", "akvo flushes the enriched output at stop"},
      {"rib-shards", "akvo's RIB is not sharded"},
      {"homepage-graph-filter-sql", "not an akvo setting"},
  };
  std::string clean;  // without list indexes
  for (size_t i = 0; i < path.size(); i++) {
    if (path[i] == '[') {
      i = path.find(']', i);
      if (i == std::string::npos) break;
      continue;
    }
    clean += path[i];
  }
  for (const auto& [suffix, why] : kReasons) {
    if (clean.size() < suffix.size()) continue;
    std::string tail = clean.substr(clean.size() - suffix.size());
    bool boundary = clean.size() == suffix.size() || clean[clean.size() - suffix.size() - 1] == '.';
    if (boundary && keyMatches(tail, suffix)) return why;
  }
  return nullptr;
}

/// A ClickHouse server of Akvorado (native protocol) as akvo reaches it (HTTP interface):
/// port 9000 becomes 8123, 9440 (TLS) 8443; `changed` says whether the port was one of them.
std::string canonicalServer(const std::string& s, bool tls, bool* changed) {
  *changed = false;
  if (s.find("://") != std::string::npos) return s;
  auto colon = s.rfind(':');
  if (colon == std::string::npos || (s.find(']') != std::string::npos && colon < s.find(']')))
    return s + (tls ? ":8443" : ":8123");
  std::string port = s.substr(colon + 1), host = s.substr(0, colon);
  if (port == "9000") {
    *changed = true;
    return host + (tls ? ":8443" : ":8123");
  }
  if (port == "9440") {
    *changed = true;
    return host + ":8443";
  }
  return s;
}

class Converter {
 public:
  Converter(const YamlDocument& doc, const AkvoradoImportOptions& options,
            const std::map<std::string, std::string>& refused)
      : doc_(doc), options_(options), refused_(refused) {
    // The sections in akvo's order; the empty ones are not written.
    for (const char* s : {"automatic-restart", "clickhouse", "schema", "http", "inlet", "outlet",
                          "console", "kafka", "demo-exporter"})
      out.at(s);
  }

  void run();
  std::string render() const;

  Tree out;
  std::vector<ImportDiagnostic> diags;

  Origin originOf(const YAML::Node& key_node, const std::string& path) const {
    Origin o;
    o.key = path;
    const std::string* f = doc_.files ? doc_.files->fileOf(key_node) : nullptr;
    if (f)
      o.file = *f;
    else if (doc_.files && !doc_.files->files().empty())
      o.file = doc_.files->files().front();
    else
      o.file = options_.source;
    if (key_node.IsDefined() && !key_node.Mark().is_null()) o.line = key_node.Mark().line + 1;
    return o;
  }
  void report(const Origin& o, const std::string& why) {
    for (const auto& d : diags)
      if (d.key == o.key && d.why == why) return;
    diags.push_back({o.file, o.line, o.key, why});
  }

  /// Sets parent[key] = value, from `o`; nothing when the value is absent or akvo refused it.
  Tree* set(Tree& parent, const std::string& key, Tree value, const Origin& o) {
    if (!value.given) return nullptr;
    if (auto it = refused_.find(o.key); !o.key.empty() && it != refused_.end()) {
      report(o, "akvo refuses the value: " + it->second);
      return nullptr;
    }
    Tree& slot = parent.at(key);
    std::vector<std::string> comments = std::move(slot.comments);
    slot = std::move(value);
    slot.origin = o;
    slot.comments.insert(slot.comments.begin(), comments.begin(), comments.end());
    return &slot;
  }
  /// A new mapping element of list `seq`, from `o`; nullptr when akvo refused it.
  Tree* pushTo(Tree& seq, const Origin& o) {
    if (auto it = refused_.find(o.key); !o.key.empty() && it != refused_.end()) {
      report(o, "akvo refuses the value: " + it->second);
      return nullptr;
    }
    Tree& t = seq.push();
    t.kind = Tree::Kind::kMap;
    t.given = true;
    t.origin = o;
    return &t;
  }
  /// Copies Akvorado's `akey` of `s` to `parent[okey]` as it is.
  Tree* copy(Src& s, const std::string& akey, Tree& parent, const std::string& okey = "") {
    Origin o = s.origin(akey);
    YAML::Node v = s.take(akey);
    if (!v.IsDefined() || v.IsNull()) return nullptr;
    return set(parent, okey.empty() ? akey : okey, copiedTree(v, o), o);
  }
  /// treeOf(), with each value inside `n` given its own origin (`o`'s key, then ".key" or
  /// "[i]"), so that a value akvo refuses deep inside a copied block (an interface's speed in
  /// a static exporters map) is left out alone, not the whole block.
  Tree copiedTree(const YAML::Node& n, const Origin& o) {
    if (!n.IsMap() && !n.IsSequence()) return treeOf(n);
    Tree t;
    t.given = true;
    t.kind = n.IsMap() ? Tree::Kind::kMap : Tree::Kind::kSeq;
    size_t i = 0;
    for (auto it = n.begin(); it != n.end(); ++it, i++) {
      const YAML::Node key = n.IsMap() ? it->first : *it;
      const YAML::Node value = n.IsMap() ? it->second : *it;
      std::string name = n.IsMap() ? (key.IsScalar() ? key.Scalar() : "?") : "";
      Origin co = originOf(key, n.IsMap() ? o.key + "." + name : fmt::format("{}[{}]", o.key, i));
      if (auto r = refused_.find(co.key); r != refused_.end()) {
        report(co, "akvo refuses the value: " + r->second);
        continue;
      }
      Tree child = copiedTree(value, co);
      if (!child.given && n.IsMap()) continue;  // null: as if absent
      child.origin = co;
      if (n.IsMap()) t.keys.push_back(name);
      t.values.push_back(std::move(child));
    }
    return t;
  }
  /// Copies `keys` of `s`'s section `name`, when present, to `out`; its other keys are
  /// reported.
  void copySection(Src& s, const char* name, std::initializer_list<const char*> keys, Tree& out) {
    Src child = s.child(name);
    if (!child.valid()) return;
    for (const char* key : keys) copy(child, key, out);
    child.finish();
  }
  /// Converts `s`'s section `name`, when present, with `convert` into `parent[name]`; its other
  /// keys are reported.
  void convertSection(Src& s, const char* name, void (Converter::*convert)(Src&, Tree&),
                      Tree& parent) {
    Src child = s.child(name);
    if (!child.valid()) return;
    (this->*convert)(child, parent.at(name));
    child.finish();
  }

 private:
  /// The entry of service list `key` to convert (a single mapping is a list of one).
  Src service(Src& root, const std::string& key);
  void top(Src& root);
  void kafkaConnection(Src& s, Tree& section, bool claims);
  /// Akvorado's shared TLS block into `out` (only when enabled; else taken, without effect in
  /// Akvorado too). Whether TLS is on.
  bool tlsBlock(Src& tls, Tree& out);
  void kafkaTopicConfiguration(Src& s);
  void clickhouseConnection(Src& s);
  void clickhouseOrchestrator(Src& s);
  void schema(Src& s);
  void inlet(Src& s);
  void input(Src& s, Tree& inputs);
  void outlet(Src& s);
  void metadata(Src& s, Tree& out);
  void snmpProvider(Src& p, Tree& out);
  void routing(Src& s, Tree& out);
  void geoip(Src& s, Tree& out);
  void networks(Src& s, Tree& out);
  void core(Src& s, Tree& out);
  void console(Src& s);
  void demoExporter(Src& root);
  /// Whether akvo key `akvo_key` of a shared section (one Kafka, one ClickHouse for every
  /// role) may take the value of Akvorado's `key` in `s`: the first one given wins, another
  /// one differing is reported.
  bool claim(const std::string& akvo_key, Src& s, const std::string& key, const std::string& what);

  const YamlDocument& doc_;
  AkvoradoImportOptions options_;
  const std::map<std::string, std::string>& refused_;
  std::map<std::string, std::pair<std::string, Origin>> claims_;
  std::vector<std::string> header_;
  bool routing_seen_ = false, resolutions_seen_ = false, clickhouse_servers_seen_ = false;
  YAML::Node legacy_geoip_, legacy_networks_;  // top-level (older Akvorado): to the outlet
  std::string legacy_geoip_path_, legacy_networks_path_;
};

Origin Src::origin(const std::string& key) const {
  YAML::Node k = keyNode(key);
  if (!k.IsDefined()) return self();
  return c_->originOf(k, keyPath(key));
}

Origin Src::self() const { return c_->originOf(node_, path_); }

/// Whether a value carries something (not null, not an empty mapping or list).
bool meaningful(const YAML::Node& n) {
  return n.IsDefined() && !n.IsNull() && !((n.IsMap() || n.IsSequence()) && n.size() == 0);
}

void Src::leftOut(const std::string& key, const std::string& why) {
  if (!meaningful(value(key))) {
    take(key);
    return;
  }
  Origin o = origin(key);
  take(key);
  c_->report(o, why);
}

Src Src::child(const std::string& key) {
  Origin o = origin(key);
  YAML::Node v = take(key);
  if (!meaningful(v)) return Src(c_, YAML::Node(YAML::NodeType::Undefined), keyPath(key));
  if (!v.IsMap()) {
    c_->report(o, "expected a mapping: left out");
    return Src(c_, YAML::Node(YAML::NodeType::Undefined), keyPath(key));
  }
  return Src(c_, v, keyPath(key));
}

void Src::finish(const std::string& why) {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar() || taken_.count(kv.first.Scalar())) continue;
    std::string path = path_.empty() ? kv.first.Scalar() : path_ + "." + kv.first.Scalar();
    if (!meaningful(kv.second)) continue;  // nothing to carry
    const char* known = knownReason(path);
    c_->report(c_->originOf(kv.first, path),
               known ? known : (why.empty() ? "no akvo equivalent" : why));
  }
}

bool Converter::claim(const std::string& akvo_key, Src& s, const std::string& key,
                      const std::string& what) {
  if (!s.has(key)) return false;
  YAML::Emitter e;
  e << s.take(key);
  Origin o = s.origin(key);
  auto it = claims_.find(akvo_key);
  if (it == claims_.end()) {
    claims_[akvo_key] = {e.c_str(), o};
    return true;
  }
  if (it->second.first != e.c_str())
    report(o, fmt::format("akvo has one {} for every role: the value of {} ({}:{}) is kept", what,
                          it->second.second.key, it->second.second.file, it->second.second.line));
  return false;
}

Src Converter::service(Src& root, const std::string& key) {
  Origin o = root.origin(key);
  YAML::Node v = root.take(key);
  std::string path = root.keyPath(key);
  if (!v.IsDefined() || v.IsNull()) return Src(this, YAML::Node(YAML::NodeType::Undefined), path);
  if (v.IsMap()) {
    header_.push_back(fmt::format("{}: a single mapping (one {})", key, key));
    return Src(this, v, path);
  }
  if (!v.IsSequence()) {
    report(o, "expected a list of configurations: left out");
    return Src(this, YAML::Node(YAML::NodeType::Undefined), path);
  }
  if (v.size() == 0) {
    header_.push_back(fmt::format("{}: an empty list", key));
    return Src(this, YAML::Node(YAML::NodeType::Undefined), path);
  }
  size_t i = options_.index < v.size() ? options_.index : 0;
  header_.push_back(
      fmt::format("{}: entry {} of {}{}{}", key, i, v.size(),
                  options_.index >= v.size()
                      ? fmt::format(" (no entry {}: entry 0, as Akvorado)", options_.index)
                      : "",
                  v.size() > 1 ? " (--index N converts another)" : ""));
  YAML::Node e = v[i];
  std::string epath = fmt::format("{}[{}]", path, i);
  if (!e.IsMap() && !e.IsNull()) {
    report(originOf(e, epath), "expected a mapping: left out");
    return Src(this, YAML::Node(YAML::NodeType::Undefined), epath);
  }
  return Src(this, e, epath);
}

void Converter::run() {
  if (!doc_.root.IsMap())
    throw ConfigError("not an Akvorado configuration: expected a mapping at the top of the file");
  Src root(this, doc_.root, "");
  top(root);
  root.finish();
  // File by file (the main one, then the included ones as read), line by line.
  auto rank = [&](const ImportDiagnostic& d) {
    size_t f = 0;
    if (doc_.files) {
      const auto& files = doc_.files->files();
      f = std::find(files.begin(), files.end(), d.file) - files.begin();
    }
    return std::pair(f, d.line);
  };
  std::stable_sort(diags.begin(), diags.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
}

void Converter::top(Src& root) {
  copy(root, "automatic-restart", out);
  root.leftOut("reporting", "akvo's logs and metrics have no settings");

  // The connections first: the per-service sections are compared with them.
  Src ch = root.child("clickhousedb");
  clickhouseConnection(ch);
  ch.finish();
  Src orch = root.child("clickhouse");
  clickhouseOrchestrator(orch);
  orch.finish();

  Src k = root.child("kafka");
  kafkaConnection(k, out.at("kafka"), true);
  kafkaTopicConfiguration(k);
  copy(k, "manage-topic", out.at("kafka"));
  k.finish();
  if (k.valid())
    out.at("kafka").comments = {
        "Only for separate roles (akvo inlet / akvo outlet); all-in-one needs no Kafka. akvo's",
        "topic is <topic>-v1 (Akvorado's <topic>-v5): they do not share messages."};

  Src ko = root.child("kafka-output");
  if (ko.valid()) {
    Tree& kout = out.at("outlet").at("kafka-output");
    copy(ko, "topic", kout);
    copy(ko, "brokers", kout);
    kafkaConnection(ko, kout, false);
    for (const char* key :
         {"num-partitions", "replication-factor", "config-entries", "config-entries-strict-sync"})
      copy(ko, key, kout);
    ko.finish();
  }

  Src http = root.child("http");
  copy(http, "listen", out.at("http"));
  http.finish();

  Src sch = root.child("schema");
  schema(sch);
  sch.finish();

  // Older Akvorado: geoip and networks at the top (Akvorado moves them to the outlet).
  if (root.has("geoip")) {
    legacy_geoip_path_ = root.keyPath("geoip");
    legacy_geoip_ = root.take("geoip");
  }
  if (root.has("networks")) {
    legacy_networks_path_ = root.keyPath("networks");
    legacy_networks_ = root.take("networks");
  }

  Src in = service(root, "inlet");
  inlet(in);
  in.finish();
  Src ou = service(root, "outlet");
  outlet(ou);
  ou.finish();
  // Older top-level geoip and networks, when the outlet has none of its own.
  Tree& o = out.at("outlet");
  for (auto [node, path, key] :
       {std::tuple{&legacy_geoip_, &legacy_geoip_path_, "geoip"},
        std::tuple{&legacy_networks_, &legacy_networks_path_, "networks"}}) {
    if (!node->IsDefined() || node->IsNull()) continue;
    Src legacy(this, *node, *path);
    if (o.at(key).written()) {
      report(originOf(*node, *path), fmt::format("also in the outlet, whose {} is kept (Akvorado "
                                                 "refuses both)",
                                                 key));
      continue;
    }
    if (std::string(key) == "geoip")
      geoip(legacy, o.at(key));
    else
      networks(legacy, o.at(key));
    legacy.finish();
  }
  Src co = service(root, "console");
  console(co);
  co.finish();
  demoExporter(root);

  // Akvorado's defaults that decide what is stored, where akvo's differ.
  if (!resolutions_seen_) {
    Tree& res = out.at("clickhouse").at("resolutions");
    res.kind = Tree::Kind::kSeq;
    res.given = true;
    res.origin = Origin{};
    for (auto [iv, ttl] : std::vector<std::pair<const char*, const char*>>{
             {"0", "15d"}, {"1m", "7d"}, {"5m", "90d"}, {"1h", "360d"}}) {
      Tree& r = res.push();
      r.at("interval") = Tree::of(iv);
      r.at("ttl") = Tree::of(ttl);
    }
    res.comments.push_back(
        "Akvorado's default resolutions (akvo's own keep the hourly table 5 years, not 360 days)");
  }
  if (!clickhouse_servers_seen_) {
    Tree* s = set(out.at("clickhouse"), "servers", Tree::list({"127.0.0.1:8123"}), Origin{});
    s->comments.push_back(
        "Akvorado's default ClickHouse server (127.0.0.1:9000, native protocol); akvo speaks");
    s->comments.push_back(
        "HTTP (8123). Without servers, akvo stores flows in its embedded engine.");
  }
  if (!routing_seen_) {
    Tree& p = out.at("outlet").at("routing").at("provider");
    p.comments.push_back("Akvorado's default: routes from BMP (akvo's default is none)");
    set(p, "type", Tree::of("bmp"), Origin{});
    set(p, "listen", Tree::of(":10179"), Origin{});
  }
}

void Converter::kafkaConnection(Src& s, Tree& section, bool claims) {
  if (!s.valid()) return;
  auto shared = [&](const std::string& key) {
    return !claims || claim("kafka." + key, s, key, "Kafka cluster and topic");
  };
  if (s.has("brokers") && shared("brokers"))
    set(section, "brokers", treeOf(s.take("brokers")), s.origin("brokers"));
  if (s.has("topic") && shared("topic"))
    set(section, "topic", treeOf(s.take("topic")), s.origin("topic"));
  // TLS and SASL: akvo's `tls` and `sasl` keys are Akvorado's (librdkafka properties under
  // them, options still win).
  if (s.has("tls") && shared("tls")) {
    Src tls = s.child("tls");
    tlsBlock(tls, section);
  }
  if (s.has("sasl") && shared("sasl")) {
    Src sasl = s.child("sasl");
    std::string mechanism;
    YAML::Node m = sasl.take("mechanism");
    if (m.IsDefined() && m.IsScalar()) mechanism = m.Scalar();
    std::transform(mechanism.begin(), mechanism.end(), mechanism.begin(), ::tolower);
    static const std::set<std::string> kMechanisms = {"plain", "scram-sha256", "scram-sha512",
                                                      "oauth"};
    if (mechanism.empty() || mechanism == "none") {
      sasl.takeAll();  // without effect in Akvorado too
    } else if (!kMechanisms.count(mechanism)) {
      report(sasl.origin("mechanism"), fmt::format("unknown SASL mechanism \"{}\"", mechanism));
      sasl.finish("SASL left out with its mechanism");
    } else {
      Tree& t = section.at("sasl");
      set(t, "mechanism", Tree::of(mechanism), sasl.origin("mechanism"));
      copy(sasl, "username", t);
      copy(sasl, "password", t);
      copy(sasl, "oauth-token-url", t);
      if (sasl.has("oauth-scopes")) {
        Origin so = sasl.origin("oauth-scopes");
        YAML::Node sc = sasl.take("oauth-scopes");
        std::vector<std::string> scopes;
        if (sc.IsScalar())
          scopes.push_back(sc.Scalar());
        else
          for (const auto& x : sc) scopes.push_back(x.as<std::string>());
        set(t, "oauth-scopes", Tree::list(scopes), so);
      }
      sasl.finish();
    }
  }
}

void Converter::kafkaTopicConfiguration(Src& s) {
  Src tc = s.child("topic-configuration");
  if (!tc.valid()) return;
  Tree& out_tc = out.at("kafka").at("topic-configuration");
  copy(tc, "num-partitions", out_tc);
  copy(tc, "replication-factor", out_tc);
  // The topic's properties, retention.ms included, as they are: akvo keeps them on the topic.
  copy(tc, "config-entries", out_tc);
  copy(tc, "config-entries-strict-sync", out_tc);
  tc.finish();
}

bool Converter::tlsBlock(Src& tls, Tree& out) {
  YAML::Node en = tls.take("enable");
  const bool on =
      en.IsDefined() && en.IsScalar() && (en.Scalar() == "true" || en.Scalar() == "True");
  if (on) {
    Tree& t = out.at("tls");
    set(t, "enable", Tree::of("true"), tls.origin("enable"));
    copy(tls, "skip-verify", t);
    copy(tls, "ca-file", t);
    copy(tls, "cert-file", t);
    copy(tls, "key-file", t);
    YAML::Node verify = tls.take("verify");  // older key, the other way round
    if (verify.IsDefined() && verify.IsScalar() && verify.Scalar() == "false")
      set(t, "skip-verify", Tree::of("true"), tls.origin("verify"));
  } else {
    tls.takeAll();  // without effect in Akvorado too
  }
  tls.finish();
  return on;
}

void Converter::clickhouseConnection(Src& s) {
  if (!s.valid()) return;
  Tree& ch = out.at("clickhouse");
  const std::string what = "ClickHouse connection";
  bool tls_on = false;
  if (s.has("tls") && claim("clickhouse.tls", s, "tls", what)) {
    Src tls = s.child("tls");
    tls_on = tlsBlock(tls, ch);
  }
  if (s.has("servers") && claim("clickhouse.servers", s, "servers", what)) {
    Origin o = s.origin("servers");
    YAML::Node v = s.take("servers");
    std::vector<std::string> servers;
    bool changed = false, other = false;
    if (v.IsScalar())
      servers.push_back(v.Scalar());
    else
      for (const auto& x : v) servers.push_back(x.as<std::string>());
    for (auto& srv : servers) {
      bool c = false;
      srv = canonicalServer(srv, tls_on, &c);
      changed = changed || c;
      other = other || !c;
    }
    if (Tree* t = set(ch, "servers", Tree::list(servers), o)) {
      clickhouse_servers_seen_ = true;
      if (changed)
        t->comments.push_back(
            "Akvorado speaks ClickHouse's native protocol (9000, 9440 with TLS); "
            "akvo its HTTP interface (8123, 8443)");
      if (other)
        t->comments.push_back(
            "akvo speaks ClickHouse's HTTP interface: check these are HTTP ports");
    }
  }
  for (const char* key : {"database", "username", "password", "cluster"})
    if (s.has(key) && claim(std::string("clickhouse.") + key, s, key, what)) {
      Origin o = s.origin(key);
      set(ch, key, treeOf(s.take(key)), o);
    }
}

void Converter::clickhouseOrchestrator(Src& s) {
  if (!s.valid()) return;
  Tree& ch = out.at("clickhouse");
  // Older Akvorado had the connection here (it moves it to clickhousedb by itself).
  clickhouseConnection(s);
  if (s.has("resolutions")) {
    resolutions_seen_ = true;
    Origin o = s.origin("resolutions");
    YAML::Node v = s.take("resolutions");
    Tree res;
    res.kind = Tree::Kind::kSeq;
    res.given = true;
    if (v.IsSequence()) {
      size_t i = 0;
      for (const auto& e : v) {
        Src r(this, e, fmt::format("{}[{}]", o.key, i++));
        Tree* t = pushTo(res, r.self());
        if (!t) continue;
        copy(r, "interval", *t);
        copy(r, "ttl", *t);
        copy(r, "table-settings", *t);
        r.finish();
      }
    }
    set(ch, "resolutions", std::move(res), o);
  }
  copy(s, "max-partitions", ch);
  copy(s, "asns", ch);
  copy(s, "skip-migrations", ch);
  // Older Akvorado: networks were a ClickHouse dictionary; now an outlet setting.
  if (s.has("networks") || s.has("network-sources") || s.has("network-sources-timeout")) {
    Tree& n = out.at("outlet").at("networks");
    networks(s, n);
  }
}

void Converter::schema(Src& s) {
  if (!s.valid()) return;
  Tree& out_s = out.at("schema");
  for (const char* key :
       {"enabled", "disabled", "main-table-only", "not-main-table-only", "indexes", "no-indexes",
        "custom-dictionaries"})
    copy(s, key, out_s);  // custom dictionaries: the same keys (akvo fills them in the outlet)
}

void Converter::inlet(Src& s) {
  if (!s.valid()) return;
  Src flow = s.child("flow");
  if (flow.valid()) {
    if (flow.has("inputs")) {
      Origin o = flow.origin("inputs");
      YAML::Node v = flow.take("inputs");
      Tree inputs;
      inputs.kind = Tree::Kind::kSeq;
      inputs.given = true;
      size_t i = 0;
      if (v.IsSequence())
        for (const auto& e : v) {
          Src in(this, e, fmt::format("{}[{}]", o.key, i++));
          input(in, inputs);
        }
      set(out.at("inlet").at("flow"), "inputs", std::move(inputs), o);
    }
    flow.finish();
  }
  if (!flow.valid() || !out.at("inlet").at("flow").find("inputs"))
    out.at("inlet").comments.push_back(
        "No inputs in Akvorado's file: Akvorado listens on random ports; akvo's defaults apply "
        "(netflow 0.0.0.0:2055, sflow 0.0.0.0:6343)");

  Src k = s.child("kafka");
  if (k.valid()) {
    Tree& kt = out.at("kafka");
    kafkaConnection(k, kt, true);
    copy(k, "compression-codec", kt);
    copy(k, "queue-size", kt);
    if (k.has("load-balance")) {
      Origin o = k.origin("load-balance");
      std::string lb = k.take("load-balance").Scalar();
      if (lb == "random" || lb == "by-exporter")
        set(kt, "partitioning", Tree::of(lb == "random" ? "random" : "exporter"), o);
      else
        report(o, fmt::format("unknown load-balance \"{}\" (random or by-exporter)", lb));
    }
    k.finish();
  }
  // Older Akvorado: enrichment in the inlet (Akvorado moves it to the outlet).
  for (const char* key : {"metadata", "routing", "core", "geoip"})
    s.leftOut(key, fmt::format("an older Akvorado key: {} belongs to the outlet now; move it "
                               "there in Akvorado's file and convert again",
                               key));
}

void Converter::input(Src& s, Tree& inputs) {
  if (!s.valid()) return;
  std::string type = s.has("type") ? s.take("type").Scalar() : "udp";
  std::string decoder = s.has("decoder") ? s.take("decoder").Scalar() : "";
  if (type != "udp") {
    report(s.self(), fmt::format("akvo has no \"{}\" input (akvo replay sends captures to a UDP "
                                 "input): the whole input is left out",
                                 type));
    return;
  }
  if (decoder != "netflow" && decoder != "sflow") {
    report(s.self(), fmt::format("akvo has no \"{}\" decoder (netflow or sflow): the whole input "
                                 "is left out",
                                 decoder));
    return;
  }
  Tree* slot = pushTo(inputs, s.self());
  if (!slot) {
    s.takeAll();
    return;
  }
  Tree& t = *slot;
  t.at("type") = Tree::of("udp");
  t.at("decoder") = Tree::of(decoder);
  if (!copy(s, "listen", t)) {
    // Akvorado listens on a random port (":0"); a port is needed to receive anything.
    Tree* l =
        set(t, "listen", Tree::of(decoder == "sflow" ? "0.0.0.0:6343" : "0.0.0.0:2055"), Origin{});
    l->note = "no listen in Akvorado's file (a random port there): akvo's default";
  }
  for (const char* key : {"workers", "receive-buffer", "use-src-addr-for-exporter-addr",
                          "timestamp-source", "decapsulation-protocol", "rate-limit"})
    copy(s, key, t);
  s.finish();
}

void Converter::outlet(Src& s) {
  if (!s.valid()) return;
  Tree& o = out.at("outlet");

  Src ki = s.child(s.has("kafka-input") ? "kafka-input" : "kafka");
  if (ki.valid()) {
    Tree& kt = out.at("kafka");
    kafkaConnection(ki, kt, true);
    copy(ki, "consumer-group", kt);
    copy(ki, "max-workers", kt);
    if (ki.has("fetch-min-bytes")) {
      Origin fo = ki.origin("fetch-min-bytes");
      set(kt.at("options"), "fetch.min.bytes", Tree::of(ki.take("fetch-min-bytes").Scalar()), fo);
    }
    if (ki.has("fetch-max-wait-time")) {
      Origin fo = ki.origin("fetch-max-wait-time");
      std::string v = ki.take("fetch-max-wait-time").Scalar();
      try {
        set(kt.at("options"), "fetch.wait.max.ms",
            Tree::of(std::to_string(parseDuration(v).count())), fo);
      } catch (const std::exception& e) {
        report(fo, std::string("not a duration akvo reads: ") + e.what());
      }
    }
    ki.finish();
  }
  Src ko = s.child("kafka-output");
  if (ko.valid()) {
    Tree& kt = o.at("kafka-output");
    for (const char* key : {"enabled", "topic", "brokers", "compression-codec", "queue-size"})
      copy(ko, key, kt);
    kafkaConnection(ko, kt, false);
    ko.finish();
  }
  Src cdb = s.child("clickhousedb");
  clickhouseConnection(cdb);
  cdb.finish();
  copySection(s, "clickhouse", {"maximum-batch-size", "maximum-wait-time", "grace-period"},
              o.at("clickhouse"));
  copySection(s, "flow", {"state-persist-file"}, o.at("flow"));
  Src md = s.child("metadata");
  metadata(md, o.at("metadata"));
  md.finish();
  convertSection(s, "routing", &Converter::routing, o);
  convertSection(s, "geoip", &Converter::geoip, o);
  convertSection(s, "networks", &Converter::networks, o);
  Src cr = s.child("core");
  core(cr, o.at("core"));
  cr.finish();
  s.leftOut("schema", "the schema is the top-level schema section (Akvorado copies it)");
}

void Converter::metadata(Src& s, Tree& out_m) {
  if (!s.valid()) return;
  for (const char* key : {"cache-duration", "cache-refresh", "cache-check-interval",
                          "cache-persist-file", "query-timeout", "initial-delay"})
    copy(s, key, out_m);
  // `provider` (one, older Akvorado) or `providers` (a list).
  const char* key = s.has("providers") ? "providers" : "provider";
  if (!s.has(key)) return;
  Origin o = s.origin(key);
  YAML::Node v = s.take(key);
  std::vector<YAML::Node> list;
  if (v.IsSequence())
    for (const auto& e : v) list.push_back(e);
  else
    list.push_back(v);
  Tree providers;
  providers.kind = Tree::Kind::kSeq;
  providers.given = true;
  for (size_t i = 0; i < list.size(); i++) {
    Src p(this, list[i], v.IsSequence() ? fmt::format("{}[{}]", o.key, i) : o.key);
    if (!p.valid()) continue;
    std::string type = p.has("type") ? p.take("type").Scalar() : "snmp";
    if (type == "snmp" || type == "static" || type == "gnmi") {
      Tree* t = pushTo(providers, p.self());
      if (!t) continue;
      t->at("type") = Tree::of(type);
      if (type == "snmp")
        snmpProvider(p, *t);
      else if (type == "gnmi")
        // The same keys; akvo also reads the former authentication keys (insecure, tls-ca...).
        for (const char* k : {"targets", "ports", "set-target", "authentication-parameters",
                              "models", "timeout", "minimal-refresh-interval"})
          copy(p, k, *t);
      else
        for (const char* k : {"exporters", "exporter-sources", "exporter-sources-timeout"})
          copy(p, k, *t);
      p.finish();
    } else {
      report(p.self(), fmt::format("akvo has no \"{}\" metadata provider (snmp, static, gnmi): "
                                   "the whole provider is left out",
                                   type));
    }
  }
  if (providers.values.empty()) {
    out_m.comments.push_back("No metadata provider akvo has: akvo's default (snmp) applies");
    return;
  }
  set(out_m, "providers", std::move(providers), o);
}

void Converter::snmpProvider(Src& p, Tree& t) {
  for (const char* key : {"credentials", "ports", "agents", "poller-retries", "poller-timeout"})
    copy(p, key, t);
  // Older keys, which Akvorado turns into credentials.
  Tree* creds = t.find("credentials");
  auto credentials = [&]() -> Tree& {
    if (!creds) {
      creds = &t.at("credentials");
      creds->kind = Tree::Kind::kMap;
      creds->given = true;
      creds->origin = p.self();
    }
    return *creds;
  };
  if (p.has("default-community")) {
    Origin o = p.origin("default-community");
    Tree c;
    c.kind = Tree::Kind::kMap;
    c.given = true;
    c.at("communities") = Tree::list({p.take("default-community").Scalar()});
    if (!credentials().find("::/0")) set(credentials(), "::/0", std::move(c), o);
  }
  if (p.has("communities")) {
    Origin o = p.origin("communities");
    YAML::Node v = p.take("communities");
    auto add = [&](const std::string& subnet, const YAML::Node& comm) {
      Tree c;
      c.kind = Tree::Kind::kMap;
      c.given = true;
      c.at("communities") = comm.IsScalar() ? Tree::list({comm.Scalar()}) : treeOf(comm);
      set(credentials(), subnet, std::move(c), o);
    };
    if (v.IsMap())
      for (const auto& kv : v) add(kv.first.Scalar(), kv.second);
    else
      add("::/0", v);
  }
  if (p.has("security-parameters")) {
    Origin o = p.origin("security-parameters");
    YAML::Node v = p.take("security-parameters");
    if (v.IsMap()) {
      bool subnets = true;
      for (const auto& kv : v)
        subnets = subnets && kv.first.Scalar().find_first_of("/:.") != std::string::npos;
      if (subnets)
        for (const auto& kv : v) set(credentials(), kv.first.Scalar(), treeOf(kv.second), o);
      else
        set(credentials(), "::/0", treeOf(v), o);
    }
  }
}

void Converter::routing(Src& s, Tree& out_r) {
  Src p = s.child("provider");
  if (!p.valid()) return;  // Akvorado's default provider (BMP) is written by top()
  routing_seen_ = true;
  std::string type = p.has("type") ? p.take("type").Scalar() : "bmp";
  Tree& t = out_r.at("provider");
  if (type != "bmp") {
    report(p.self(),
           fmt::format("akvo has no \"{}\" routing provider (bmp): routing is off", type));
    set(t, "type", Tree::of("none"), Origin{});
    return;
  }
  set(t, "type", Tree::of("bmp"), p.origin("type"));
  for (const char* key : {"listen", "rds", "rts", "collect-asns", "collect-aspaths",
                          "collect-communities", "keep", "receive-buffer", "message-buffer"})
    copy(p, key, t);
  if (!t.find("listen")) {
    Tree* l = set(t, "listen", Tree::of(":10179"), Origin{});
    l->note = "Akvorado's default";
  }
  p.finish();
}

void Converter::geoip(Src& s, Tree& out_g) {
  copy(s, "asn-database", out_g);
  copy(s, "geo-database", out_g);
  if (s.has("country-database")) copy(s, "country-database", out_g, "geo-database");
  copy(s, "optional", out_g);
}

void Converter::networks(Src& s, Tree& out_n) {
  copy(s, "networks", out_n);
  copy(s, "network-sources-timeout", out_n);
  Src sources = s.child("network-sources");
  if (!sources.valid()) return;
  for (const auto& kv : sources.node_) {
    if (!kv.first.IsScalar()) continue;
    std::string name = kv.first.Scalar();
    Src src = sources.child(name);
    if (!src.valid()) continue;
    // akvo's remote data sources have Akvorado's keys (docs/06-enrichment.md). Both require a
    // url and an interval of at least 1m; a source without them does not load in Akvorado.
    if (!src.has("url") || !src.has("interval")) {
      report(src.self(), std::string("no ") + (src.has("url") ? "interval" : "url") +
                             " (required, in Akvorado too): the whole source is left out");
      src.taken_.clear();
      for (const auto& x : src.node_) src.taken_.insert(x.first.Scalar());
      continue;
    }
    Tree& t = out_n.at("network-sources").at(name);
    for (const char* key : {"url", "method", "headers", "proxy", "timeout", "interval", "tls",
                            "parser", "pagination", "transform"})
      copy(src, key, t);
    src.finish();
  }
}

void Converter::core(Src& s, Tree& out_c) {
  if (!s.valid()) return;
  for (const char* key :
       {"exporter-classifiers", "interface-classifiers", "classifier-cache-duration",
        "default-sampling-rate", "override-sampling-rate", "asn-providers", "net-providers",
        "startup-delay"})
    copy(s, key, out_c);
  s.leftOut("ignore-asn-from-flow",
            "an older Akvorado key: write asn-providers without flow in Akvorado's file");
}

void Converter::console(Src& s) {
  if (!s.valid()) return;
  Tree& c = out.at("console");
  Src dvo = s.child("default-visualize-options");
  if (dvo.valid()) {
    Tree& t = c.at("default-visualize-options");
    for (const char* key : {"graph-type", "start", "end", "filter", "dimensions", "limit",
                            "limit-type", "bidirectional", "previous-period"})
      copy(dvo, key, t);
    dvo.finish();
  }
  for (const char* key :
       {"homepage-top-widgets", "homepage-graph-filter", "homepage-graph-timerange",
        "dimensions-limit", "cache-ttl", "branding", "url-prefix"})
    copy(s, key, c);
  Src auth = s.child("auth");
  if (auth.valid()) {
    Tree& a = c.at("auth");
    for (const char* section : {"headers", "default-user"}) {
      Src sub = auth.child(section);
      if (!sub.valid()) continue;
      for (const char* key : {"login", "name", "email", "logout-url", "avatar-url"})
        if (std::string(section) == "headers" || std::string(key) == "login" ||
            std::string(key) == "name")
          copy(sub, key, a.at(section));
      sub.finish();
    }
    copy(auth, "logout-url", a);
    copy(auth, "avatar-url", a);
    auth.finish();
  }
  copySection(s, "database", {"driver", "dsn", "saved-filters"}, c.at("database"));
  // The console's HTTP settings: its cache (memory or Redis) is akvo's http.cache.
  Src h = s.child("http");
  if (h.valid()) {
    copySection(h, "cache", {"type", "protocol", "server", "username", "password", "db"},
                out.at("http").at("cache"));
    h.finish("akvo runs one HTTP server per process, set by the top-level http section");
  }
  Src ch = s.child("clickhouse");
  clickhouseConnection(ch);
  ch.finish();
}

namespace {
/// A value's text with mapping keys sorted: two entries merged from one anchor compare equal
/// whatever the order their keys were written in.
std::string canonicalText(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  std::string out;
  if (n.IsSequence()) {
    for (const auto& e : n) out += canonicalText(e) + ",";
    return "[" + out + "]";
  }
  if (n.IsMap()) {
    std::map<std::string, std::string> kv;
    for (const auto& e : n) kv[canonicalText(e.first)] = canonicalText(e.second);
    for (const auto& [k, v] : kv) out += k + ":" + v + ",";
    return "{" + out + "}";
  }
  return "~";
}
}  // namespace

void Converter::demoExporter(Src& root) {
  Origin o = root.origin("demo-exporter");
  YAML::Node v = root.take("demo-exporter");
  if (!v.IsDefined() || v.IsNull()) return;
  std::vector<YAML::Node> list;
  if (v.IsSequence())
    for (const auto& e : v) list.push_back(e);
  else
    list.push_back(v);
  if (list.empty()) return;
  Tree& d = out.at("demo-exporter");
  Tree* en = set(d, "enabled", Tree::of("true"), o);
  if (!en) return;
  // Unlike the other services' lists (one entry converted), each Akvorado demo exporter is one
  // router of akvo's `routers` list: its name, interfaces and flow recipes. What akvo's demo
  // has once (target, SNMP port, BMP speaker) comes from the first entry; the others' are
  // carried when they agree with it.
  d.comments.push_back(fmt::format(
      "{} Akvorado demo exporter(s), one router each (sending from 127.0.0.10, .11...)",
      list.size()));
  Tree* proto = set(d, "protocol", Tree::of("netflow-v9"), o);
  if (proto) proto->note = "what Akvorado's demo exporter sends";
  Tree routers;
  routers.kind = Tree::Kind::kSeq;
  routers.given = true;
  std::string target, listen, bmp_text;
  for (size_t i = 0; i < list.size(); i++) {
    Src e(this, list[i], v.IsSequence() ? fmt::format("{}[{}]", o.key, i) : o.key);
    if (!e.valid()) continue;
    Tree* r = pushTo(routers, e.self());
    if (!r) {
      e.takeAll();
      continue;
    }
    Src snmp = e.child("snmp");
    if (snmp.valid()) {
      copy(snmp, "name", *r);
      copy(snmp, "interfaces", *r);
      if (snmp.has("listen")) {
        Origin lo = snmp.origin("listen");
        std::string l = snmp.take("listen").Scalar();
        if (i == 0 || listen.empty()) {
          listen = l;
          set(d, "snmp-port", Tree::of(l.substr(l.rfind(':') + 1)), lo);
        } else if (l != listen) {
          report(lo, fmt::format("akvo's demo routers answer SNMP on one port, each on its own "
                                 "address: the first entry's ({})",
                                 listen));
        }
      }
      snmp.finish();
    }
    Src flows = e.child("flows");
    if (flows.valid()) {
      if (flows.has("target")) {
        Origin to = flows.origin("target");
        std::string t = flows.take("target").Scalar();
        if (target.empty()) {
          target = t;
          set(d, "target", Tree::of(t), to);
        } else if (t != target) {
          report(to, fmt::format("akvo's demo routers send to one target: the first entry's ({})",
                                 target));
        }
      }
      copy(flows, "samplingrate", *r, "sampling-rate");
      copy(flows, "seed", *r);
      if (flows.has("flows")) {
        Origin fo = flows.origin("flows");
        YAML::Node recipes = flows.take("flows");
        Tree seq;
        seq.kind = Tree::Kind::kSeq;
        seq.given = true;
        for (size_t k = 0; recipes.IsSequence() && k < recipes.size(); k++) {
          Src recipe(this, recipes[k], fmt::format("{}[{}]", fo.key, k));
          if (!recipe.valid()) continue;
          Tree* t = pushTo(seq, recipe.self());
          if (!t) {
            recipe.takeAll();
            continue;
          }
          // The same keys and values (akvo reads Akvorado's "a,b" lists and single values).
          for (const char* key :
               {"per-second", "in-if-index", "out-if-index", "peak-hour", "multiplier", "src-net",
                "dst-net", "src-as", "dst-as", "src-port", "dst-port", "protocol", "size",
                "reverse-direction-ratio"})
            copy(recipe, key, *t);
          recipe.finish("not a key of Akvorado's flow recipes (Akvorado refuses it too)");
        }
        set(*r, "flows", std::move(seq), fo);
      }
      flows.finish();
    }
    Src bmp = e.child("bmp");
    if (bmp.valid() && i > 0 && !bmp_text.empty() && canonicalText(list[i]["bmp"]) == bmp_text) {
      bmp.takeAll();  // the same speaker as the first entry's
    } else if (bmp.valid() && i > 0) {
      bmp.finish("akvo's demo has one BMP speaker: the first entry's");
    } else if (bmp.valid()) {
      bmp_text = canonicalText(list[i]["bmp"]);
      Tree& b = d.at("bmp");
      for (const char* key :
           {"target", "local-asn", "peer-asn", "local-ip", "peer-ip", "retry-after", "stats-delay"})
        copy(bmp, key, b);
      if (bmp.has("routes")) {
        // Akvorado writes lists as "a,b": akvo reads YAML lists.
        Origin ro = bmp.origin("routes");
        YAML::Node routes = bmp.take("routes");
        Tree rt;
        rt.kind = Tree::Kind::kSeq;
        rt.given = true;
        for (const auto& r : routes) {
          Tree& t = rt.push();
          t.kind = Tree::Kind::kMap;
          t.given = true;
          for (const auto& kv : r) {
            std::vector<std::string> items;
            auto split = [&](const std::string& s) {
              for (size_t b = 0, x; b <= s.size(); b = x + 1) {
                x = s.find(',', b);
                if (x == std::string::npos) x = s.size();
                if (x > b) items.push_back(s.substr(b, x - b));
              }
            };
            if (kv.second.IsScalar())
              split(kv.second.Scalar());
            else if (kv.second.IsSequence())
              for (const auto& x : kv.second) split(x.as<std::string>());
            t.at(kv.first.Scalar()) = Tree::list(items);
          }
        }
        set(b, "routes", std::move(rt), ro);
      }
      bmp.finish();
    }
    e.finish();
  }
  set(d, "routers", std::move(routers), o);
}

std::string Converter::render() const {
  std::string text;
  text += "# akvo configuration converted from Akvorado's by `akvo config import-akvorado`.\n";
  for (const auto& h : header_) text += "# " + h + "\n";
  if (!diags.empty()) {
    text += "#\n# Left out (no akvo equivalent, or a value akvo refuses):\n";
    for (const auto& d : diags) {
      std::string line = d.format();
      // One comment line per diagnostic, whatever its text.
      std::replace(line.begin(), line.end(), '\n', ' ');
      text += "#   " + line + "\n";
    }
  }
  text += "\n";
  renderMap(out, 0, text);
  return text;
}

/// The deepest value of `t` on akvo's error path `path` ("outlet.core.asn-providers",
/// "inlet.flow.inputs[1].listen") that came from an Akvorado key.
std::optional<Origin> traceError(const Tree& t, const std::string& path) {
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i < path.size(); i++) {
    char c = path[i];
    if (c == '.' || c == '[') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
      if (c == '[') cur.push_back('[');
    } else if (c == ']') {
      parts.push_back(cur + "]");
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  std::optional<Origin> found;
  const Tree* node = &t;
  for (size_t i = 0; i < parts.size() && node; i++) {
    const Tree* next = nullptr;
    if (parts[i].front() == '[') {
      size_t idx = std::stoul(parts[i].substr(1));
      // Elements not written (left out) do not count in akvo's indexes.
      size_t n = 0;
      for (const auto& e : node->values)
        if (e.written() && n++ == idx) {
          next = &e;
          break;
        }
    } else {
      // A data key may hold dots (a network source's name): the longest one that matches.
      for (size_t j = parts.size(); j > i && !next; j--) {
        std::string key = parts[i];
        for (size_t k = i + 1; k < j; k++) key += "." + parts[k];
        for (size_t k = 0; k < node->keys.size(); k++)
          if (keyMatches(node->keys[k], key) && node->values[k].written()) {
            next = &node->values[k];
            i = j - 1;
            break;
          }
      }
    }
    node = next;
    if (node && node->origin && !node->origin->key.empty()) found = node->origin;
  }
  return found;
}

}  // namespace

AkvoradoImport importAkvorado(const YamlDocument& doc, const AkvoradoImportOptions& options) {
  std::map<std::string, std::string> refused;  // Akvorado key -> akvo's reason
  static const std::regex kError(R"(^(?:.*?:\d+:\d+|[^ ]*): ([^ :]+): ([\s\S]*)$)");
  for (int attempt = 0;; attempt++) {
    Converter c(doc, options, refused);
    c.run();
    AkvoradoImport result{c.render(), c.diags};
    try {
      AppConfig::fromYaml(YAML::Load(result.yaml), "<converted>");
      return result;
    } catch (const YAML::Exception& e) {
      throw ConfigError(
          fmt::format("the converted configuration is not valid YAML (a bug): {}", e.what()));
    } catch (const ConfigError& e) {
      std::smatch m;
      std::string what = e.what();
      std::optional<Origin> o;
      if (std::regex_match(what, m, kError)) o = traceError(c.out, m[1].str());
      if (!o || refused.count(o->key) || attempt > 100)
        throw ConfigError("the converted configuration does not load in akvo: " + what);
      refused[o->key] = m[2].str();
    }
  }
}

int runImportAkvorado(const std::string& file, const std::string& output,
                      const AkvoradoImportOptions& options, std::ostream& out, std::ostream& err) {
  AkvoradoImport r;
  try {
    r = importAkvorado(loadYamlFile(file), options);
  } catch (const ConfigError& e) {
    err << "akvo: " << e.what() << "\n";
    return 1;
  }
  for (const auto& d : r.left_out) err << d.format() << "\n";
  if (output.empty()) {
    out << r.yaml;
    out.flush();
  } else {
    std::ofstream f(output, std::ios::trunc);
    f << r.yaml;
    f.close();
    if (!f) {
      err << "akvo: cannot write " << output << "\n";
      return 1;
    }
  }
  // What was written loads as `akvo config check` loads it.
  try {
    if (output.empty())
      AppConfig::fromYaml(YAML::Load(r.yaml), "<converted>");
    else
      AppConfig::load(output);
  } catch (const std::exception& e) {
    err << "akvo: the converted configuration does not load in akvo: " << e.what() << "\n";
    return 1;
  }
  if (r.left_out.empty()) return 0;
  err << fmt::format(
      "akvo: {} Akvorado setting{} left out (listed above and at the top of the "
      "converted configuration)\n",
      r.left_out.size(), r.left_out.size() > 1 ? "s" : "");
  return 2;
}

}  // namespace akvo
