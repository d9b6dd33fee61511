#include "orchestrator/clickhouse.h"

#include "common/embedded.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

namespace akvo {

namespace {
std::string settingsSQL(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : settings) parts.push_back(k + " = " + v);
  return fmt::format("{}", fmt::join(parts, ", "));
}

// A setting's value as SQL: a number as written, anything else a quoted string.
std::string settingLiteral(const std::string& v) {
  bool number = !v.empty();
  for (size_t i = 0; i < v.size(); i++)
    number = number && (std::isdigit(static_cast<unsigned char>(v[i])) || (v[i] == '.' && i > 0) ||
                        (v[i] == '-' && i == 0 && v.size() > 1));
  if (number) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

// The table's settings: akvo's, with the configuration's over them, in order.
std::vector<std::pair<std::string, std::string>> tableSettings(const Resolution& r) {
  std::vector<std::pair<std::string, std::string>> out = {{"index_granularity", "8192"},
                                                          {"ttl_only_drop_parts", "1"}};
  for (const auto& [k, v] : r.table_settings) {
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == k; });
    if (it != out.end()) it->second = v;
    else out.emplace_back(k, v);
  }
  return out;
}
}  // namespace

void ClickHouseConfig::read(ConfigReader& r) {
  r.field("path", path);
  r.field("library", library);
  r.field("servers", servers);
  r.field("database", database);
  r.field("username", username);
  r.field("password", password);
  r.field("cluster", cluster);
  r.choice("compression", compression, {"none", "gzip", "zstd"});
  r.section("tls", [&](ConfigReader& s) {
    tls.read(s);
    if (tls.enable && servers.empty())
      s.fail("enable", "TLS is for clickhouse.servers; the embedded store (no servers) has none");
  });
  if (tls.enable)
    for (const auto& s : servers)
      if (s.rfind("http://", 0) == 0)
        r.fail("servers", fmt::format("{} says http:// while tls.enable is true (write "
                                      "https:// or host:port)",
                                      s));
  bool resolutions_given = r.has("resolutions");
  std::vector<Resolution> res;
  r.list(
      "resolutions",
      [&](ConfigReader& s, size_t i) {
        Resolution x = resolutions_given ? Resolution{} : resolutions[i];
        s.field("interval", x.interval);
        s.field("ttl", x.ttl);
        if (x.interval.count() % 1000 != 0) s.fail("interval", "must be a whole number of seconds");
        YAML::Node ts = s.raw("table-settings", "{}");
        if (ts.IsDefined() && !ts.IsNull()) {
          if (!ts.IsMap()) s.fail("table-settings", "expected a mapping of MergeTree setting to value");
          x.table_settings.clear();
          for (const auto& kv : ts) {
            const std::string name = kv.first.as<std::string>();
            bool ok_name = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0]));
            for (char ch : name) ok_name = ok_name && (std::islower(static_cast<unsigned char>(ch)) ||
                                                     std::isdigit(static_cast<unsigned char>(ch)) || ch == '_');
            if (!ok_name)
              s.fail("table-settings", fmt::format("\"{}\" is not a setting name (lower case, digits, _)", name));
            if (!kv.second.IsScalar())
              s.fail("table-settings", fmt::format("{}: expected a number or a string", name));
            x.table_settings.emplace_back(name, settingLiteral(kv.second.Scalar()));
          }
        }
        res.push_back(x);
      },
      resolutions.size());
  std::sort(res.begin(), res.end(),
            [](const Resolution& a, const Resolution& b) { return a.interval < b.interval; });
  if (res.empty() || res[0].interval.count() != 0)
    r.fail("resolutions", "the list must hold the raw resolution (interval: 0)");
  for (size_t i = 1; i < res.size(); i++)
    if (res[i].interval == res[i - 1].interval)
      r.fail("resolutions", "two resolutions with the same interval");
  resolutions = res;
  r.intField("max-partitions", max_partitions, 1, 10000);
  r.field("skip-migrations", skip_migrations);
  YAML::Node a = r.raw("asns", "{}");
  if (a.IsDefined()) {
    if (!a.IsMap()) r.fail("asns", "expected a mapping of ASN to name");
    for (const auto& kv : a) {
      uint32_t asn;
      try {
        asn = kv.first.as<uint32_t>();
      } catch (...) {
        r.fail("asns", fmt::format("\"{}\" is not an AS number", kv.first.Scalar()));
      }
      asns[asn] = kv.second.as<std::string>();
    }
  }
}

HttpStore::Config httpStoreConfig(const ClickHouseConfig& c) {
  HttpStore::Config hc;
  hc.servers = c.servers;
  hc.database = c.database;
  hc.username = c.username;
  hc.password = c.password;
  hc.compression = c.compression == "none"   ? HttpStore::Compression::kNone
                   : c.compression == "gzip" ? HttpStore::Compression::kGzip
                                             : HttpStore::Compression::kZstd;
  hc.tls = c.tls.enable;
  hc.tls_verify = !c.tls.skip_verify;
  hc.ca_file = c.tls.ca_file;
  hc.cert_file = c.tls.cert_file;
  hc.key_file = c.tls.key_file;
  return hc;
}

namespace {
/// "24.8.4.13", "23.8.11.29.altinitystable", "18.16.1" -> {24, 8, 4, 13}...; empty when the
/// string does not start with a number.
std::vector<int64_t> versionNumbers(std::string_view v) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < v.size() && isdigit(uint8_t(v[i]))) {
    int64_t n = 0;
    while (i < v.size() && isdigit(uint8_t(v[i])) && n < 1000000000) n = n * 10 + (v[i++] - '0');
    out.push_back(n);
    if (i + 1 < v.size() && v[i] == '.' && isdigit(uint8_t(v[i + 1]))) i++;
    else break;
  }
  return out;
}
}  // namespace

ServerVersionCheck checkClickHouseVersion(std::string_view version) {
  ServerVersionCheck out;
  std::vector<int64_t> have = versionNumbers(version);
  if (have.empty()) {
    out.ok = false;
    out.error = fmt::format("cannot read the ClickHouse version \"{}\" (akvo needs {} or later)",
                            version, kMinimumClickHouse);
    return out;
  }
  // Lexicographic on the numbers: 23.10 is after 23.2.
  auto before = [&](std::string_view other) { return have < versionNumbers(other); };
  // The orchestrator loads its lookup tables with format(CSVWithNames, structure, data): the
  // table function takes a structure since 23.2 (ClickHouse #45873). Nothing else akvo sends
  // is known to need more (the rest is older: Native inserts, skip indexes, views with a
  // COMMENT since 22.1, SummingMergeTree, ttl_only_drop_parts).
  if (before(kMinimumClickHouse)) {
    out.ok = false;
    out.error = fmt::format("ClickHouse {} is too old: akvo needs {} or later", version,
                            kMinimumClickHouse);
    return out;
  }
  // akvo's queries are written and tested on the engine's new query analyzer (the default
  // since 24.3); older servers run them with the old one.
  if (before(kAnalyzerClickHouse))
    out.warnings.push_back(fmt::format(
        "ClickHouse {} is older than {}: it runs akvo's queries with its old query analyzer, "
        "while they are tested with the new one (the default since {}): upgrade if a console "
        "query fails",
        version, kAnalyzerClickHouse, kAnalyzerClickHouse));
  // Akvorado's other refusals do not apply to akvo: the IPv6 bug of 23.1-23.5 is in the
  // Protobuf format (its Kafka engine; akvo inserts Native), and the 24.3-24.5 analyzer bug is
  // with INTERPOLATE (akvo puts the zeros of missing points itself).
  return out;
}

std::string flowsTableName(Duration interval) {
  int64_t s = interval.count() / 1000;
  if (s == 0) return "flows";
  int64_t h = s / 3600, m = (s % 3600) / 60, sec = s % 60;
  if (h) return fmt::format("flows_{}h{}m{}s", h, m, sec);
  if (m) return fmt::format("flows_{}m{}s", m, sec);
  return fmt::format("flows_{}s", sec);
}

namespace {
constexpr std::string_view kDefaultCodec = "ZSTD(1)";

std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

/// The codec a stored column gets: the registry's, else ZSTD(1). Measured on demo traffic
/// (docs/09-performance.md, "Disk per flow"): ZSTD(1) instead of the engine's default LZ4 takes
/// the raw table from 16.9 to 12.6 bytes per flow (AS numbers, ports, protocol, arrays gain most).
std::string codecOf(const ColumnDef& c) {
  return c.codec.empty() ? std::string(kDefaultCodec) : std::string(c.codec);
}

std::string indexDefinition(const SkipIndex& x) {
  return fmt::format("INDEX {} `{}` TYPE {} GRANULARITY {}", x.name(), x.column_name,
                     x.type, kSkipIndexGranularity);
}

/// An index as the engine shows it in `create_table_query`.
struct ExistingIndex {
  std::string expr, type;
  int64_t granularity = 0;
};

/// The indexes of a table from its `create_table_query` ("..., INDEX idx_srcaddr SrcAddr TYPE
/// bloom_filter(0.001) GRANULARITY 4, ..."): read there rather than from
/// system.data_skipping_indices, whose column with the type's arguments (type_full) older
/// servers lack.
std::map<std::string, ExistingIndex> existingIndexes(const std::string& create) {
  std::map<std::string, ExistingIndex> out;
  for (size_t pos = 0; (pos = create.find(", INDEX ", pos)) != std::string::npos;) {
    pos += 8;
    size_t type = create.find(" TYPE ", pos);
    size_t gran = type == std::string::npos ? type : create.find(" GRANULARITY ", type);
    if (gran == std::string::npos) break;
    size_t space = create.find(' ', pos);
    ExistingIndex x;
    std::string name = create.substr(pos, space - pos);
    x.expr = create.substr(space + 1, type - space - 1);
    x.type = create.substr(type + 6, gran - type - 6);
    x.granularity = std::strtoll(create.c_str() + gran + 13, nullptr, 10);
    std::erase(name, '`');
    std::erase(x.expr, '`');
    out[name] = x;
  }
  return out;
}

/// "bloom_filter(0.001)" and "bloom_filter(1e-3)" are the same index; spaces do not count.
bool sameIndexType(std::string a, std::string b) {
  std::erase(a, ' ');
  std::erase(b, ' ');
  if (a == b) return true;
  auto argument = [](const std::string& t, double& v) {
    size_t open = t.find('(');
    if (open == std::string::npos || t.back() != ')') return false;
    char* end = nullptr;
    v = std::strtod(t.c_str() + open + 1, &end);
    return end == t.c_str() + t.size() - 1;
  };
  double x, y;
  return a.substr(0, a.find('(')) == b.substr(0, b.find('(')) && argument(a, x) &&
         argument(b, y) && x == y;
}

/// "CODEC(Delta(4), ZSTD(1))" and "Delta(4),ZSTD(1)" compare equal.
std::string normalizeCodec(std::string s) {
  if (s.rfind("CODEC(", 0) == 0 && s.back() == ')') s = s.substr(6, s.size() - 7);
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}
}  // namespace

std::string_view embeddedData(std::string_view name) {
  return embeddedFile("data/" + std::string(name));
}

Migrations::Migrations(const ClickHouseConfig& config, const Schema& schema, StoreConnection& conn,
                       Metrics& metrics)
    : config_(config),
      schema_(schema),
      conn_(conn),
      applied_counter_(metrics.counter("akvo_orchestrator_clickhouse_migrations_applied_total",
                                       "Schema migration steps applied.")),
      not_applied_counter_(metrics.counter(
          "akvo_orchestrator_clickhouse_migrations_not_applied_total",
          "Schema migration steps found done already (nothing to apply).")),
      running_(metrics.gauge("akvo_orchestrator_clickhouse_migrations_running",
                             "1 while the schema migrations run.")) {}

void Migrations::notApplied(const std::string& step) {
  spdlog::debug("migration: {}: done already", step);
  not_applied_counter_.inc();
}

void Migrations::exec(const std::string& step, const std::string& sql) {
  try {
    conn_.query(sql, "TSV");
  } catch (const StoreError& e) {
    throw StoreError(fmt::format("migration step \"{}\" failed: {}", step, e.what()));
  }
  spdlog::info("migration: {}", step);
  applied_.push_back(step);
  applied_counter_.inc();
}

std::string Migrations::scalar(const std::string& sql) {
  std::string out = conn_.query(sql, "TSVRaw");
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

std::string Migrations::partitionBy(const Resolution& r) const {
  int64_t ttl_s = r.ttl.count() / 1000;
  int64_t width = ttl_s > 0 ? std::max<int64_t>(ttl_s / config_.max_partitions, 3600) : 7 * 86400;
  // Round the width to whole hours so partitions align with expiry.
  width = (width + 3599) / 3600 * 3600;
  return fmt::format("toYYYYMMDDhhmmss(toStartOfInterval(TimeReceived, toIntervalSecond({})))",
                     width);
}

std::string Migrations::ttlClause(const Resolution& r) const {
  int64_t ttl_s = r.ttl.count() / 1000;
  if (ttl_s == 0) return "";
  return fmt::format("TimeReceived + toIntervalSecond({})", ttl_s);
}

std::string Migrations::onCluster() const {
  return config_.cluster.empty() ? "" : fmt::format(" ON CLUSTER `{}`", config_.cluster);
}

std::string Migrations::local(const std::string& name) const {
  return config_.cluster.empty() ? name : name + "_local";
}

std::string Migrations::replicated(const std::string& engine, bool per_shard) const {
  if (config_.cluster.empty()) return engine;
  // "SummingMergeTree((Bytes, Packets))" -> "ReplicatedSummingMergeTree('path', '{replica}', ...)".
  // Lookup tables use one path for the whole cluster: every node holds all their rows.
  std::string path = per_shard ? "/clickhouse/tables/{shard}/{database}/{table}"
                               : "/clickhouse/tables/all/{database}/{table}";
  size_t paren = engine.find('(');
  std::string base = engine.substr(0, paren);
  std::string args = paren == std::string::npos ? "" : engine.substr(paren + 1, engine.size() - paren - 2);
  return fmt::format("Replicated{}('{}', '{{replica}}'{}{})", base, path, args.empty() ? "" : ", ",
                     args);
}

std::string Migrations::distributedTableSQL(size_t i) const {
  std::string name = flowsTableName(config_.resolutions[i].interval);
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {}{} AS {} ENGINE = Distributed(`{}`, currentDatabase(), {}, rand())",
      name, onCluster(), local(name), config_.cluster, local(name));
}

std::string Migrations::createTableSQL(size_t i) const {
  const Resolution& r = config_.resolutions[i];
  bool raw = r.interval.count() == 0;
  std::string name = flowsTableName(r.interval);
  std::vector<std::string> cols;
  std::vector<std::string> pk, order;
  for (ColumnKey k : raw ? schema_.columns() : schema_.consolidatedColumns()) {
    const ColumnDef& c = schema_.column(k);
    std::string def = fmt::format("`{}` {}", c.name, c.type);
    if (c.alias) {
      def += " ALIAS " + std::string(c.expression);
    } else if (c.generated && raw) {
      def += " DEFAULT " + std::string(c.expression);
    }
    if (!c.alias) def += fmt::format(" CODEC({})", codecOf(c));
    cols.push_back(def);
    if (!raw && !c.alias && c.consolidated_pk) pk.push_back(std::string(c.name));
  }
  std::string engine, key;
  if (raw) {
    engine = "MergeTree";
    // Akvorado's primary key; the rows sort further by SrcAS and DstAS, which groups the AS
    // numbers, the AS paths and communities, and the source addresses: 12.4 -> 9.9 bytes per
    // flow on disk on demo traffic (docs/09-performance.md). Tables created before keep their
    // order (a sorting key cannot be changed in place); both read the same.
    std::string order = "toStartOfFiveMinutes(TimeReceived), ExporterAddress, InIfName, OutIfName";
    key = "PRIMARY KEY (" + order + ")\n";
    for (ColumnKey k : {ColumnKey::kSrcAS, ColumnKey::kDstAS})
      if (schema_.enabled(k)) order += ", " + std::string(schema_.column(k).name);
    key += "ORDER BY (" + order + ")";
  } else {
    engine = "SummingMergeTree((Bytes, Packets))";
    // Primary key in Akvorado's order, then every other stored column that sorts.
    static const ColumnKey kPk[] = {ColumnKey::kTimeReceived, ColumnKey::kExporterAddress,
                                    ColumnKey::kEType,        ColumnKey::kProto,
                                    ColumnKey::kInIfName,     ColumnKey::kSrcAS,
                                    ColumnKey::kForwardingStatus, ColumnKey::kOutIfName,
                                    ColumnKey::kDstAS,        ColumnKey::kSamplingRate};
    pk.clear();
    for (ColumnKey k : kPk)
      if (schema_.enabled(k)) pk.push_back(std::string(schema_.column(k).name));
    order = pk;
    for (ColumnKey k : schema_.consolidatedColumns()) {
      const ColumnDef& c = schema_.column(k);
      if (c.alias || c.not_sorting_key) continue;
      if (std::find(order.begin(), order.end(), c.name) != order.end()) continue;
      order.push_back(std::string(c.name));
    }
    key = fmt::format("PRIMARY KEY ({})\nORDER BY ({})", fmt::join(pk, ", "),
                      fmt::join(order, ", "));
  }
  for (const auto& x : skipIndexes(i)) cols.push_back(indexDefinition(x));
  std::string ttl = ttlClause(r);
  return fmt::format(
      "CREATE TABLE IF NOT EXISTS {}{} (\n  {}\n)\nENGINE = {}\nPARTITION BY {}\n{}\n{}"
      "SETTINGS {}",
      local(name), onCluster(), fmt::join(cols, ",\n  "), replicated(engine), partitionBy(r), key,
      ttl.empty() ? "" : "TTL " + ttl + "\n", settingsSQL(tableSettings(r)));
}

std::vector<SkipIndex> Migrations::skipIndexes(size_t i) const {
  const bool raw = config_.resolutions[i].interval.count() == 0;
  std::vector<SkipIndex> out;
  for (const auto& x : schema_.skipIndexes())
    if (raw || !schema_.mainOnly(x.column)) out.push_back(x);
  return out;
}

void Migrations::reconcileSkipIndexes(size_t i) {
  const std::string name = local(flowsTableName(config_.resolutions[i].interval));
  auto have = existingIndexes(scalar(fmt::format(
      "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND "
      "name = {}",
      quote(name))));
  std::vector<std::string> drop, drop_names, add, add_names;
  std::set<std::string> wanted;
  for (const auto& x : skipIndexes(i)) {
    wanted.insert(x.name());
    auto it = have.find(x.name());
    if (it != have.end() && it->second.expr == schema_.column(x.column).name &&
        it->second.granularity == kSkipIndexGranularity && sameIndexType(it->second.type, x.type))
      continue;
    if (it != have.end()) {
      drop.push_back(fmt::format("DROP INDEX IF EXISTS {}", x.name()));
      drop_names.push_back(x.name());
    }
    add.push_back("ADD " + indexDefinition(x));
    add_names.push_back(fmt::format("{} {}", x.name(), x.type));
  }
  // Ours are named idx_*, as Akvorado's: one no longer wanted goes (a column disabled, an index
  // removed with no-indexes); other indexes are someone else's.
  for (const auto& [n, x] : have)
    if (n.rfind("idx_", 0) == 0 && !wanted.contains(n)) {
      drop.push_back(fmt::format("DROP INDEX IF EXISTS {}", n));
      drop_names.push_back(n);
    }
  // Only metadata and new parts: data already stored is indexed as merges rewrite it (or by
  // hand with ALTER TABLE ... MATERIALIZE INDEX), as Akvorado leaves it.
  if (drop.empty() && add.empty()) notApplied("indexes of " + name);
  if (!drop.empty())
    exec(fmt::format("drop index {} of {}", fmt::join(drop_names, ", "), name),
         fmt::format("ALTER TABLE {}{} {}", name, onCluster(), fmt::join(drop, ", ")));
  if (!add.empty())
    exec(fmt::format("add index {} to {}", fmt::join(add_names, ", "), name),
         fmt::format("ALTER TABLE {}{} {}", name, onCluster(), fmt::join(add, ", ")));
}

std::vector<std::string> Migrations::consolidatedKey() const {
  std::vector<std::string> key;
  for (ColumnKey k : schema_.consolidatedColumns()) {
    const ColumnDef& c = schema_.column(k);
    if (c.alias || k == ColumnKey::kTimeReceived || k == ColumnKey::kBytes ||
        k == ColumnKey::kPackets)
      continue;
    key.push_back(fmt::format("`{}`", c.name));
  }
  return key;
}

std::string Migrations::consumerSelectSQL(size_t i) const {
  const Resolution& r = config_.resolutions[i];
  std::string source = local(flowsTableName(config_.resolutions[i - 1].interval));
  std::vector<std::string> sel, group = consolidatedKey();
  sel.push_back(fmt::format("toStartOfInterval(TimeReceived, toIntervalSecond({})) AS TimeReceived",
                            r.interval.count() / 1000));
  sel.insert(sel.end(), group.begin(), group.end());
  sel.push_back("sum(Bytes) AS Bytes");
  sel.push_back("sum(Packets) AS Packets");
  group.insert(group.begin(), "TimeReceived");
  return fmt::format("SELECT {} FROM {} GROUP BY {}", fmt::join(sel, ", "), source,
                     fmt::join(group, ", "));
}

void Migrations::consolidateFromRaw(const std::string& where) {
  if (config_.resolutions.size() < 2) return;
  std::string select = consumerSelectSQL(1);
  if (!where.empty()) {
    size_t group = select.rfind(" GROUP BY ");
    select.insert(group, " WHERE " + where);
  }
  conn_.query(fmt::format("INSERT INTO {} (TimeReceived, {}, Bytes, Packets) {}",
                          flowsTableName(config_.resolutions[1].interval),
                          fmt::join(consolidatedKey(), ", "), select));
}

size_t Migrations::repairConsolidated(Duration window, std::pair<uint32_t, uint32_t> inflight) {
  if (!config_.cluster.empty() || config_.skip_migrations || config_.resolutions.size() < 2) return 0;
  // The newest flow in any table: a kill leaves at most the last inserts unfinished.
  std::vector<std::string> maxes;
  for (const auto& r : config_.resolutions)
    maxes.push_back(fmt::format("(SELECT toUInt32(max(TimeReceived)) FROM {})",
                                flowsTableName(r.interval)));
  int64_t newest = std::stoll(scalar(fmt::format("SELECT greatest({})", fmt::join(maxes, ", "))));
  if (newest == 0) return 0;
  int64_t from = newest - window.count() / 1000;
  std::vector<std::string> key = consolidatedKey();
  size_t repaired = 0;
  for (size_t i = 1; i < config_.resolutions.size(); i++) {
    int64_t iv = config_.resolutions[i].interval.count() / 1000;
    std::string source = flowsTableName(config_.resolutions[i - 1].interval);
    std::string target = flowsTableName(config_.resolutions[i].interval);
    int64_t start = from / iv * iv;
    std::string bucket = fmt::format("toUInt32(toStartOfInterval(TimeReceived, toIntervalSecond({})))", iv);
    // The window before the newest flow, and the in-flight batch's range (whole buckets).
    std::string where = fmt::format("TimeReceived >= toDateTime({})", start);
    if (inflight.second >= inflight.first && inflight.second > 0 && inflight.first / iv * iv < start)
      where = fmt::format("({} OR TimeReceived BETWEEN toDateTime({}) AND toDateTime({}))", where,
                          inflight.first / iv * iv, int64_t(inflight.second) / iv * iv + iv - 1);
    // Buckets whose totals differ: three columns read, cheap even on a busy raw table.
    std::string differ = conn_.query(fmt::format(
        "SELECT t FROM (SELECT {0} AS t, toInt128(sum(Bytes)) AS b, toInt128(sum(Packets)) AS p "
        "FROM {1} WHERE {3} GROUP BY t UNION ALL "
        "SELECT {0} AS t, -toInt128(sum(Bytes)), -toInt128(sum(Packets)) "
        "FROM {2} WHERE {3} GROUP BY t) "
        "GROUP BY t HAVING sum(b) != 0 OR sum(p) != 0 ORDER BY t",
        bucket, source, target, where), "TSVRaw");
    std::vector<std::string> buckets;
    for (size_t pos = 0; pos < differ.size();) {
      size_t eol = differ.find('\n', pos);
      if (eol == std::string::npos) eol = differ.size();
      if (eol > pos) buckets.push_back(differ.substr(pos, eol - pos));
      pos = eol + 1;
    }
    if (buckets.empty()) continue;
    std::string in = fmt::format("{} IN ({})", bucket, fmt::join(buckets, ", "));
    std::string k = fmt::format("{}", fmt::join(key, ", "));
    // The difference per key, source minus table, wrapped to UInt64 (sums are modulo 2^64).
    std::string sql = fmt::format(
        "INSERT INTO {0} (TimeReceived, {1}, Bytes, Packets) "
        "SELECT toDateTime(t) AS TimeReceived, {1}, toUInt64(sum(b)), toUInt64(sum(p)) FROM ("
        "SELECT {2} AS t, {1}, toInt128(Bytes) AS b, toInt128(Packets) AS p FROM {3} WHERE {4} "
        "UNION ALL "
        "SELECT {2} AS t, {1}, -toInt128(Bytes), -toInt128(Packets) FROM {0} WHERE {4}) "
        "GROUP BY t, {1} HAVING sum(b) != 0 OR sum(p) != 0",
        target, k, bucket, source, in);
    exec(fmt::format("repair {} ({} buckets differ from {})", target, buckets.size(), source), sql);
    spdlog::warn("{}: {} bucket(s) of {} s differed from {} after an unclean stop: repaired",
                 target, buckets.size(), iv, source);
    repaired += buckets.size();
  }
  return repaired;
}

void Migrations::lookupTables() {
  struct Lookup {
    std::string name, columns, key, csv;
    std::string layout;
  };
  std::string asns_csv(embeddedData("asns.csv"));
  for (const auto& [asn, name] : config_.asns) asns_csv += fmt::format("{},\"{}\"\n", asn, name);
  std::vector<Lookup> lookups = {
      {"protocols", "proto UInt8, name String, description String", "proto",
       std::string(embeddedData("protocols.csv")), "HASHED()"},
      {"icmp", "proto UInt8, type UInt8, code UInt8, name String", "proto, type, code",
       std::string(embeddedData("icmp.csv")), "COMPLEX_KEY_HASHED()"},
      {"asns", "asn UInt32, name String", "asn", asns_csv, "HASHED()"},
      // Service names of well-known ports, as Akvorado's tcp and udp dictionaries: the console
      // shows ports as "443/https".
      {"tcp", "port UInt16, name String", "port", std::string(embeddedData("tcp.csv")), "HASHED()"},
      {"udp", "port UInt16, name String", "port", std::string(embeddedData("udp.csv")), "HASHED()"},
  };
  for (const auto& l : lookups) {
    std::string source = l.name + "_data";
    std::string fingerprint = fmt::format("{:x}", std::hash<std::string>{}(l.columns + l.csv));
    std::string comment = scalar(fmt::format(
        "SELECT comment FROM system.tables WHERE database = currentDatabase() AND name = {}",
        quote(source)));
    if (comment == fingerprint) {
      notApplied("lookup table " + l.name);
      continue;
    }
    exec("drop dictionary " + l.name, "DROP DICTIONARY IF EXISTS " + l.name + onCluster());
    exec("drop table " + source, "DROP TABLE IF EXISTS " + source + onCluster());
    exec("create table " + source,
         fmt::format("CREATE TABLE {}{} ({}) ENGINE = {} ORDER BY ({}) COMMENT {}", source,
                     onCluster(), l.columns, replicated("MergeTree", false), l.key,
                     quote(fingerprint)));
    // Our own data (and ASN names from the configuration), escaped as a string literal.
    exec("load " + source,
         fmt::format("INSERT INTO {} SELECT * FROM format(CSVWithNames, {}, {})", source,
                     quote(l.columns), quote(l.csv)));
    exec("create dictionary " + l.name,
         fmt::format("CREATE DICTIONARY {}{} ({}) PRIMARY KEY {} SOURCE(CLICKHOUSE(TABLE {})) "
                     "LIFETIME(0) LAYOUT({})",
                     l.name, onCluster(), l.columns, l.key, quote(source), l.layout));
  }
}

void Migrations::flowsTable(size_t i) {
  const Resolution& r = config_.resolutions[i];
  std::string name = flowsTableName(r.interval);
  std::string exists = scalar(fmt::format(
      "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {}",
      quote(local(name))));
  if (exists == "0") {
    exec("create table " + local(name), createTableSQL(i));
    if (!config_.cluster.empty()) exec("create table " + name, distributedTableSQL(i));
    return;
  }
  notApplied("create table " + local(name));
  const size_t applied_before = applied_.size();
  // Add the columns that are missing (a column enabled in the configuration since).
  std::string have = conn_.query(
      fmt::format("SELECT name, type, if(default_kind = 'ALIAS', '-', compression_codec) FROM "
                  "system.columns WHERE database = currentDatabase() AND table = {} FORMAT TSVRaw",
                  quote(local(name))),
      "TSVRaw");
  std::set<std::string> present;
  std::map<std::string, std::string> codecs;  // column -> its codec, normalized
  for (size_t pos = 0; pos < have.size();) {
    size_t eol = have.find('\n', pos);
    if (eol == std::string::npos) eol = have.size();
    std::string line = have.substr(pos, eol - pos);
    std::string col = line.substr(0, line.find('\t'));
    present.insert(col);
    size_t tab = line.rfind('\t');
    if (tab != std::string::npos && tab != line.find('\t'))
      codecs[col] = normalizeCodec(line.substr(tab + 1));
    pos = eol + 1;
  }
  std::string previous = "TimeReceived";
  // A consolidated table sums the rows of equal sorting key: a column added to it joins the key
  // in the same ALTER (ClickHouse allows a new column there, and only then), else rows that
  // differ only by it would be merged into one, keeping either value.
  const bool summing = r.interval.count() != 0;
  std::string sorting_key;
  if (summing)
    sorting_key = scalar(fmt::format(
        "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = {}",
        quote(local(name))));
  for (ColumnKey k : r.interval.count() == 0 ? schema_.columns() : schema_.consolidatedColumns()) {
    const ColumnDef& c = schema_.column(k);
    if (!present.contains(std::string(c.name))) {
      std::string def = fmt::format("`{}` {}", c.name, c.type);
      if (c.alias) def += " ALIAS " + std::string(c.expression);
      else if (c.generated && r.interval.count() == 0) def += " DEFAULT " + std::string(c.expression);
      if (!c.alias) def += fmt::format(" CODEC({})", codecOf(c));
      const bool to_key = summing && !c.alias && !c.not_sorting_key && !sorting_key.empty();
      for (const auto& t : config_.cluster.empty() ? std::vector{name} : std::vector{local(name), name}) {
        std::string sql = fmt::format("ALTER TABLE {}{} ADD COLUMN IF NOT EXISTS {} AFTER `{}`", t,
                                      onCluster(), def, previous);
        if (to_key && t == local(name))
          sql += fmt::format(", MODIFY ORDER BY ({}, `{}`)", sorting_key, c.name);
        exec(fmt::format("add column {}.{}", t, c.name), sql);
      }
      if (to_key) sorting_key += fmt::format(", `{}`", c.name);
    } else if (summing && !c.alias && !c.not_sorting_key && !sorting_key.empty() &&
               (", " + sorting_key + ",").find(fmt::format(", {},", c.name)) == std::string::npos &&
               (", " + sorting_key + ",").find(fmt::format(", `{}`,", c.name)) == std::string::npos) {
      // Added by a version that did not extend the key: it cannot join it now.
      spdlog::warn("{}: column {} is not in the sorting key (it was added by an earlier akvo): "
                   "rows that differ only by it are summed into one; recreate the table to fix",
                   name, c.name);
    }
    else if (!c.alias && codecs.contains(std::string(c.name)) &&
             codecs[std::string(c.name)] != normalizeCodec(codecOf(c))) {
      // A new codec applies to new parts and to merged ones: no rewrite of the data now.
      for (const auto& t : config_.cluster.empty() ? std::vector{name} : std::vector{local(name)})
        exec(fmt::format("codec of {}.{}", t, c.name),
             fmt::format("ALTER TABLE {}{} MODIFY COLUMN `{}` CODEC({})", t, onCluster(), c.name,
                         codecOf(c)));
    }
    previous = std::string(c.name);
  }
  if (applied_.size() == applied_before) notApplied("columns of " + name);
  // TTL follows the configuration.
  std::string engine_full = scalar(fmt::format(
      "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {}",
      quote(local(name))));
  std::string ttl = ttlClause(r);
  bool has_ttl = engine_full.find(" TTL ") != std::string::npos;
  bool same = ttl.empty() ? !has_ttl : engine_full.find("TTL " + ttl + " ") != std::string::npos;
  if (same) notApplied("ttl of " + name);
  if (!same) {
    if (ttl.empty())
      exec("remove ttl of " + name, fmt::format("ALTER TABLE {}{} REMOVE TTL", local(name), onCluster()));
    else
      exec(fmt::format("set ttl of {} to {}", name, formatDuration(r.ttl)),
           fmt::format("ALTER TABLE {}{} MODIFY TTL {} SETTINGS materialize_ttl_after_modify = 0",
                       local(name), onCluster(), ttl));
  }
  // Table settings follow the configuration (Akvorado: merged with the defaults, altered when
  // different); one the engine shows another way or not at all is set again, which is harmless.
  const size_t at = engine_full.rfind(" SETTINGS ");
  const std::string shown = at == std::string::npos ? "" : engine_full.substr(at + 10) + ",";
  const size_t applied_before_settings = applied_.size();
  for (const auto& [k, v] : tableSettings(r)) {
    if ((" " + shown).find(fmt::format(" {} = {},", k, v)) != std::string::npos) continue;
    if (k == "index_granularity") {
      spdlog::warn("{}: index_granularity cannot change on an existing table (asked {}): "
                   "it applies to new tables only", name, v);
      continue;
    }
    exec(fmt::format("set {} of {}", k, name),
         fmt::format("ALTER TABLE {}{} MODIFY SETTING {} = {}", local(name), onCluster(), k, v));
  }
  if (applied_.size() == applied_before_settings) notApplied("settings of " + name);
  reconcileSkipIndexes(i);
}

void Migrations::consumer(size_t i) {
  std::string target = flowsTableName(config_.resolutions[i].interval);
  std::string name = target + "_consumer";
  std::string select = consumerSelectSQL(i);
  std::string fingerprint = fmt::format("{:x}", std::hash<std::string>{}(select));
  std::string comment = scalar(fmt::format(
      "SELECT comment FROM system.tables WHERE database = currentDatabase() AND name = {}",
      quote(name)));
  if (comment == fingerprint) {
    notApplied("view " + name);
    return;
  }
  exec("drop view " + name, "DROP VIEW IF EXISTS " + name + onCluster());
  exec("create view " + name,
       fmt::format("CREATE MATERIALIZED VIEW {}{} TO {} AS {} COMMENT {}", name, onCluster(),
                   local(target), select, quote(fingerprint)));
}

void Migrations::run() {
  applied_.clear();
  running_.add(1);
  struct Done {
    Gauge& g;
    ~Done() { g.add(-1); }
  } done{running_};
  // Even when someone else manages the schema: akvo's inserts and queries need the version.
  std::string version = scalar("SELECT version()");
  ServerVersionCheck check = checkClickHouseVersion(version);
  if (!check.ok) throw StoreError(check.error);
  for (const auto& w : check.warnings) spdlog::warn("{}", w);
  spdlog::info("ClickHouse {}", version);
  if (config_.skip_migrations) {
    spdlog::info("migrations skipped (clickhouse.skip-migrations)");
    return;
  }
  lookupTables();
  for (size_t i = 0; i < config_.resolutions.size(); i++) flowsTable(i);
  // The first consolidated table is fed by the outlet, which groups each batch itself (a view
  // on the raw table made every insert five times slower; earlier versions had one): views
  // feed each coarser table from the previous one.
  if (config_.resolutions.size() >= 2) {
    std::string legacy = flowsTableName(config_.resolutions[1].interval) + "_consumer";
    std::string exists = scalar(fmt::format(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {}",
        quote(legacy)));
    if (exists != "0") exec("drop view " + legacy, "DROP VIEW IF EXISTS " + legacy + onCluster());
  }
  for (size_t i = 2; i < config_.resolutions.size(); i++) consumer(i);
  // Views of resolutions removed from the configuration stop being fed (tables are kept).
  if (applied_.empty()) spdlog::info("migrations: schema up to date");
}

}  // namespace akvo
