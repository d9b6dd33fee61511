#include "console/query.h"

#include <fmt/format.h>

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <ctime>
#include <map>

#include "common/http_server.h"
#include "console/filter.h"

namespace akvo::console {

using nlohmann::json;

int64_t parseRfc3339(const std::string& text) {
  int y, mo, d, h, mi, s;
  char tail[64] = {0};
  int n = 0;
  if (sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 &&
      sscanf(text.c_str(), "%4d-%2d-%2dt%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6)
    throw std::invalid_argument("not an RFC 3339 time: \"" + text + "\"");
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 ||
      s > 60)
    throw std::invalid_argument("not an RFC 3339 time: \"" + text + "\"");
  // The store's DateTime spans 1970 to 2106.
  if (y < 1970 || y > 2105)
    throw std::invalid_argument("time out of range (1970 to 2105): \"" + text + "\"");
  std::string rest = text.substr(size_t(n));
  if (!rest.empty() && rest[0] == '.') {
    size_t i = 1;
    while (i < rest.size() && isdigit(static_cast<unsigned char>(rest[i]))) i++;
    rest = rest.substr(i);
  }
  int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    if (sscanf(rest.c_str() + 1, "%2d:%2d%63s", &oh, &om, tail) != 2)
      throw std::invalid_argument("not an RFC 3339 time: \"" + text + "\"");
    offset = (oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    throw std::invalid_argument("not an RFC 3339 time: \"" + text + "\"");
  }
  struct tm tm {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return int64_t(timegm(&tm)) - offset;
}

std::string formatRfc3339(int64_t t) {
  time_t tt = time_t(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

GraphRequest GraphRequest::fromJson(const json& body, const Schema& schema,
                                    int64_t dimensions_limit, bool line) {
  if (!body.is_object()) throw HttpError(400, "the request body must be a JSON object");
  GraphRequest r;
  auto str = [&](const char* key, std::string& out, bool required) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
      if (required) throw HttpError(400, fmt::format("missing \"{}\"", key));
      return;
    }
    if (!it->is_string()) throw HttpError(400, fmt::format("\"{}\" must be a string", key));
    out = it->get<std::string>();
  };
  auto integer = [&](const char* key, int64_t& out, int64_t min, int64_t max) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return;
    if (!it->is_number_integer())
      throw HttpError(400, fmt::format("\"{}\" must be an integer", key));
    out = it->get<int64_t>();
    if (out < min || out > max)
      throw HttpError(400, fmt::format("\"{}\" must be between {} and {}", key, min, max));
  };
  auto boolean = [&](const char* key, bool& out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return;
    if (!it->is_boolean()) throw HttpError(400, fmt::format("\"{}\" must be true or false", key));
    out = it->get<bool>();
  };
  std::string start, end;
  str("start", start, true);
  str("end", end, true);
  try {
    r.start = parseRfc3339(start);
  } catch (const std::invalid_argument& e) {
    throw HttpError(400, fmt::format("\"start\": {}", e.what()));
  }
  try {
    r.end = parseRfc3339(end);
  } catch (const std::invalid_argument& e) {
    throw HttpError(400, fmt::format("\"end\": {}", e.what()));
  }
  if (r.end <= r.start) throw HttpError(400, "\"end\" must be after \"start\"");
  auto dims = body.find("dimensions");
  if (dims != body.end() && !dims->is_null()) {
    if (!dims->is_array()) throw HttpError(400, "\"dimensions\" must be a list of column names");
    for (const auto& d : *dims) {
      if (!d.is_string()) throw HttpError(400, "\"dimensions\" must be a list of column names");
      const ColumnDef* c = schema.find(d.get<std::string>());
      if (!c || !schema.enabled(c->key) || !c->dimension)
        throw HttpError(400, fmt::format("unknown dimension \"{}\"", d.get<std::string>()));
      if (std::find(r.dimensions.begin(), r.dimensions.end(), c->key) != r.dimensions.end())
        throw HttpError(400, fmt::format("dimension \"{}\" given twice", c->name));
      r.dimensions.push_back(c->key);
    }
  }
  integer("limit", r.limit, 1, dimensions_limit);
  std::string limit_type = "avg";
  str("limitType", limit_type, false);
  if (limit_type == "avg") r.limit_type = LimitType::kAvg;
  else if (limit_type == "max") r.limit_type = LimitType::kMax;
  else if (limit_type == "last") r.limit_type = LimitType::kLast;
  else throw HttpError(400, "\"limitType\" must be avg, max or last");
  str("filter", r.filter, false);
  str("units", r.units, false);
  static const char* kUnits[] = {"l3bps", "l2bps", "pps", "fps", "inl2%", "outl2%"};
  if (std::find(std::begin(kUnits), std::end(kUnits), r.units) == std::end(kUnits))
    throw HttpError(400, "\"units\" must be one of l3bps, l2bps, pps, fps, inl2%, outl2%");
  boolean("bidirectional", r.bidirectional);
  integer("truncate-v4", r.truncate_v4, 0, 32);
  integer("truncate-v6", r.truncate_v6, 0, 128);
  if (line) {
    integer("points", r.points, 5, 2000);
    boolean("previous-period", r.previous_period);
  }
  return r;
}

std::vector<TableInfo> readTables(const std::vector<Resolution>& resolutions, const QueryFn& query) {
  std::vector<TableInfo> out;
  for (const auto& r : resolutions) {
    TableInfo t;
    t.name = flowsTableName(r.interval);
    t.resolution = r.interval.count() / 1000;
    t.ttl = r.ttl.count() / 1000;
    std::string v = query(fmt::format("SELECT count() > 0, toUInt32(min(TimeReceived)) FROM {}", t.name), "TSV");
    t.oldest = v.starts_with("1\t") ? std::stoll(v.substr(2)) : INT64_MAX;
    out.push_back(t);
  }
  return out;
}

std::string queriedTable(std::string_view sql, const std::vector<std::string>& tables) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t i = 0; i + 4 <= sql.size(); i++) {
    if ((i > 0 && word(sql[i - 1])) || strncasecmp(sql.data() + i, "FROM", 4) != 0) continue;
    size_t j = i + 4;
    if (j < sql.size() && word(sql[j])) continue;  // FROMage
    while (j < sql.size() && std::isspace(static_cast<unsigned char>(sql[j]))) j++;
    const bool quoted = j < sql.size() && sql[j] == '`';
    if (quoted) j++;
    size_t end = j;
    while (end < sql.size() && word(sql[end])) end++;
    std::string_view name = sql.substr(j, end - j);
    if (quoted && (end >= sql.size() || sql[end] != '`')) continue;
    if (!quoted && end < sql.size() && sql[end] == '.') continue;  // system.tables, db.table
    for (const auto& t : tables)
      if (name == t) return t;
  }
  return "other";
}

TableChoice chooseTable(const std::vector<TableInfo>& tables, int64_t start, int64_t end,
                        int64_t points, bool main_only, int64_t now) {
  TableChoice c{"flows", 1, 1};
  const TableInfo* chosen = nullptr;
  if (main_only) {
    for (const auto& t : tables)
      if (t.resolution == 0) chosen = &t;
  } else {
    // A consolidated table's oldest bucket may hold only its last minutes: a store started at
    // 01:28 has an hourly bucket at 01:00, which does not make the hourly table cover 01:18 to
    // 01:28 (that one point was all a new user saw). When the raw table's first flow falls
    // inside that bucket, the table covers from that flow.
    int64_t first_flow = INT64_MAX;
    for (const auto& t : tables)
      if (t.resolution == 0) first_flow = t.oldest;
    auto coverage = [&](const TableInfo& t) {
      int64_t from = t.oldest;
      if (t.resolution > 0 && first_flow != INT64_MAX && first_flow > t.oldest &&
          first_flow < t.oldest + t.resolution)
        from = first_flow;
      if (t.ttl > 0) from = std::max(from, now - t.ttl);
      return from;
    };
    std::vector<const TableInfo*> candidates;
    for (const auto& t : tables)
      if (coverage(t) <= start) candidates.push_back(&t);
    if (candidates.empty()) {
      // Nothing reaches back to `start` (a young store): every table holds the same recent
      // flows, so choose by resolution among all of them. Rounding makes a coarse table's
      // oldest bucket look older than the raw table's first row; that is no reason to draw a
      // one-hour graph with two hourly points.
      for (const auto& t : tables) candidates.push_back(&t);
    }
    int64_t wanted = (end - start) / std::max<int64_t>(points, 1);
    for (const auto* t : candidates)
      if (t->resolution <= wanted && (!chosen || t->resolution > chosen->resolution)) chosen = t;
    if (!chosen)
      for (const auto* t : candidates)
        if (!chosen || t->resolution < chosen->resolution) chosen = t;
  }
  if (chosen) {
    c.table = chosen->name;
    c.resolution = std::max<int64_t>(chosen->resolution, 1);
  }
  int64_t wanted = (end - start + points - 1) / std::max<int64_t>(points, 1);
  c.interval = std::max<int64_t>(c.resolution, (wanted + c.resolution - 1) / c.resolution * c.resolution);
  return c;
}

SeriesStats seriesStats(const std::vector<double>& points) {
  SeriesStats s;
  if (points.empty()) return s;
  double mn = 0;
  bool have_min = false;
  s.max = points[0];
  for (double p : points) {
    s.sum += p;
    s.max = std::max(s.max, p);
    if (p > 0 && (!have_min || p < mn)) {
      mn = p;
      have_min = true;
    }
  }
  s.min = mn;
  s.average = s.sum / double(points.size());
  s.last = points.size() >= 2 ? points[points.size() - 2] : points.back();
  std::vector<double> sorted = points;
  std::sort(sorted.begin(), sorted.end());
  double rank = 0.95 * double(sorted.size() - 1);
  size_t lo = size_t(std::floor(rank));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  s.p95 = sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - double(lo));
  return s;
}

GraphBuilder::GraphBuilder(const Schema& schema, QueryFn query,
                           std::function<std::vector<TableInfo>()> tables)
    : schema_(schema), query_(std::move(query)), tables_(std::move(tables)) {}

std::string GraphBuilder::displayExpr(const ColumnDef& col, const std::string& v) {
  std::string_view type = col.type;
  if (col.key == ColumnKey::kTCPFlags) {
    // As Akvorado (tcpdump's letters, "." for ACK): 18 is "S.".
    static constexpr char kLetters[] = "FSRP.UECN";
    std::vector<std::string> bits;
    for (int i = 0; i < 9; i++)
      bits.push_back(fmt::format("if(bitTest({}, {}) = 1, '{}', '')", v, i, kLetters[i]));
    return fmt::format("arrayStringConcat([{}], '')", fmt::join(bits, ", "));
  }
  switch (col.filter) {
    case FilterType::kASN:
      return fmt::format("concat(toString({0}), ': ', dictGetOrDefault('asns', 'name', toUInt64({0}), '?\?\?'))", v);
    case FilterType::kProto:
      return fmt::format("dictGetOrDefault('protocols', 'name', toUInt64({0}), toString({0}))", v);
    case FilterType::kEType:
      return fmt::format("multiIf({0} = 2048, 'IPv4', {0} = 34525, 'IPv6', toString({0}))", v);
    case FilterType::kIP:
      return fmt::format("replaceRegexpOne(IPv6NumToString({}), '^::ffff:', '')", v);
    case FilterType::kMAC:
      return fmt::format("MACNumToString({})", v);
    case FilterType::kCommunity:
      return fmt::format(
          "arrayStringConcat(arrayMap(c -> concat(toString(bitShiftRight(c, 16)), ':', "
          "toString(bitAnd(c, 65535))), {}), ' ')",
          v);
    case FilterType::kASPath:
    case FilterType::kArrayUInt:
      return fmt::format("arrayStringConcat(arrayMap(x -> toString(x), {}), ' ')", v);
    default:
      break;
  }
  if (type.starts_with("FixedString")) return fmt::format("replaceAll(toString({}), '\\0', '')", v);
  return fmt::format("toString({})", v);
}

std::string GraphBuilder::dimensionExpr(ColumnKey k, const GraphRequest& req) const {
  const ColumnDef& c = schema_.column(k);
  std::string name = fmt::format("`{}`", c.name);
  if (k == ColumnKey::kSrcPort || k == ColumnKey::kDstPort) return portExpr(name);
  if (c.truncatable && (req.truncate_v4 < 32 || req.truncate_v6 < 128))
    return fmt::format(
        "if(startsWith(IPv6NumToString({0}), '::ffff:'), IPv6CIDRToRange({0}, {1}).1, "
        "IPv6CIDRToRange({0}, {2}).1)",
        name, 96 + req.truncate_v4, req.truncate_v6);
  return name;
}

std::string portExpr(const std::string& port) {
  return fmt::format(
      "replaceRegexpOne(multiIf(Proto = 6, concat(toString({0}), '/', "
      "dictGetOrDefault('tcp', 'name', toUInt64({0}), '')), Proto = 17, concat(toString({0}), '/', "
      "dictGetOrDefault('udp', 'name', toUInt64({0}), '')), toString({0})), '/$', '')",
      port);
}

std::string GraphBuilder::unitExpr(const std::string& units) {
  if (units == "l3bps") return "Bytes * SamplingRate * 8";
  if (units == "pps") return "Packets * SamplingRate";
  if (units == "fps") return "1";
  return "(Bytes + 38 * Packets) * SamplingRate * 8";  // l2bps, inl2%, outl2%
}

/// A filter that does not compile, as the API reports it everywhere (filter/validate too): the
/// position and what was expected.
static HttpError filterError(const FilterError& e) {
  return HttpError(400, fmt::format("invalid filter: at line {}, column {}: {}", e.line, e.column,
                                    e.message));
}

std::pair<int64_t, std::string> previousPeriod(int64_t start, int64_t end) {
  int64_t d = end - start;
  // Akvorado's nearestPeriod: under 2 hours the hour before, under 2 days the day, under 2 weeks
  // the week, under 8 weeks 4 weeks ("month"), else the year.
  if (d < 2 * 3600) return {3600, "hour"};
  if (d < 2 * 86400) return {86400, "day"};
  if (d < 14 * 86400) return {7 * 86400, "week"};
  if (d < 56 * 86400) return {28 * 86400, "month"};
  time_t t = time_t(start);
  struct tm tm {};
  gmtime_r(&t, &tm);
  tm.tm_year -= 1;
  return {start - int64_t(timegm(&tm)), "year"};
}

namespace {

std::string reverseUnits(const std::string& u) {
  if (u == "inl2%") return "outl2%";
  if (u == "outl2%") return "inl2%";
  return u;
}

bool percentUnits(const std::string& u) { return u == "inl2%" || u == "outl2%"; }

/// Splits a JSONCompactEachRow answer into rows.
std::vector<json> rowsOf(const std::string& out) {
  std::vector<json> rows;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t eol = out.find('\n', pos);
    if (eol == std::string::npos) eol = out.size();
    if (eol > pos) rows.push_back(json::parse(validUtf8(out.substr(pos, eol - pos))));
    pos = eol + 1;
  }
  return rows;
}

double number(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) return std::stod(j.get<std::string>());
  return 0;
}

std::string axisName(int axis, const std::string& period) {
  switch (axis) {
    case 1: return "Direct";
    case 2: return "Reverse";
    case 3: return "Previous " + period;
    default: return "Previous " + period + " (reverse)";
  }
}

/// The comparison period for a range: the smallest of hour, day, week, 4 weeks that holds it,
/// else a calendar year.

}  // namespace

std::vector<GraphBuilder::Series> GraphBuilder::lineAxis(const GraphRequest& req, bool reverse,
                                                         int64_t shift, const TableChoice& choice,
                                                         int64_t start, int64_t buckets,
                                                         std::vector<std::string>& sqls) {
  CompiledFilter f;
  FilterError err;
  if (!compileFilter(req.filter, schema_, f, err)) throw filterError(err);
  std::string where = reverse ? f.reverse_sql : f.sql;
  std::string units = reverse ? reverseUnits(req.units) : req.units;
  bool pct = percentUnits(units);
  std::vector<ColumnKey> dims;
  if (shift == 0)
    for (ColumnKey k : req.dimensions) {
      ColumnKey r = reverse && schema_.column(k).reverse != ColumnKey::kNone && schema_.enabled(schema_.column(k).reverse)
                        ? schema_.column(k).reverse
                        : k;
      dims.push_back(r);
    }
  int64_t s = start - shift, e = start - shift + buckets * choice.interval;
  e = std::min(e, req.end - shift);
  int64_t interval = choice.interval;
  std::string bucket = fmt::format("intDiv(toUInt32(TimeReceived) - {}, {})", s, interval);

  std::vector<std::string> src_cols = {"TimeReceived", fmt::format("{} AS v", unitExpr(units))};
  if (pct) {
    bool in = units == "inl2%";
    src_cols.push_back(fmt::format("(ExporterAddress, {}, {}) AS iface", in ? "InIfName" : "OutIfName",
                                   in ? "InIfSpeed" : "OutIfSpeed"));
  }
  std::vector<std::string> dn, dx, disp;
  for (size_t i = 0; i < dims.size(); i++) {
    src_cols.push_back(fmt::format("{} AS d{}", dimensionExpr(dims[i], req), i));
    dn.push_back(fmt::format("d{}", i));
    dx.push_back(fmt::format("if(in_top, d{0}, defaultValueOfArgumentType(d{0})) AS d{0}x", i));
    disp.push_back(displayExpr(schema_.column(dims[i]), fmt::format("d{}x", i)));
  }
  std::string source = fmt::format(
      "(SELECT {} FROM {} WHERE TimeReceived >= toDateTime({}) AND TimeReceived < toDateTime({}){})",
      fmt::join(src_cols, ", "), choice.table, s, e, where.empty() ? "" : " AND (" + where + ")");
  std::string xps = pct ? fmt::format(
                              "ifNotFinite(s / {} / (arraySum(x -> toFloat64(x.3), ifaces) * 1000000) * 100, 0)",
                              interval)
                        : fmt::format("s / {}", interval);
  std::string aggs = pct ? "sum(v) AS s, groupUniqArray(iface) AS ifaces" : "sum(v) AS s";
  std::string sql;
  if (dims.empty()) {
    sql = fmt::format(
        "SELECT b, 1 AS in_top, CAST([], 'Array(String)') AS dims, toFloat64({}) AS xps FROM "
        "(SELECT {} AS b, {} FROM {} GROUP BY b) ORDER BY b",
        xps, bucket, aggs, source);
  } else {
    std::string tuple = dims.size() == 1 ? "d0" : fmt::format("({})", fmt::join(dn, ", "));
    std::string order_dims = fmt::format("{}", fmt::join(dn, ", "));
    std::string top;
    switch (req.limit_type) {
      case LimitType::kAvg:
        if (choice.table == "flows" && req.limit > 0) {
          // On the raw table an exact ranking keeps one entry per value (millions of source
          // addresses): as Akvorado, topKWeighted keeps 20 candidates per row asked instead.
          std::vector<std::string> elems;
          for (size_t i = 0; i < dims.size(); i++) elems.push_back(fmt::format("tupleElement(tk, {}) AS d{}", i + 1, i));
          top = fmt::format("SELECT {} FROM (SELECT arrayJoin(topKWeighted({}, 20)(tuple({}), toUInt64(v))) AS tk FROM {})",
                            fmt::join(elems, ", "), req.limit, order_dims, source);
          break;
        }
        top = fmt::format("SELECT {0} FROM {1} GROUP BY {0} ORDER BY sum(v) DESC, {0} LIMIT {2}",
                          order_dims, source, req.limit);
        break;
      case LimitType::kMax:
        top = fmt::format(
            "SELECT {0} FROM (SELECT {0}, sum(v) AS s FROM {1} GROUP BY {3} AS b, {0}) GROUP BY {0} "
            "ORDER BY max(s) DESC, {0} LIMIT {2}",
            order_dims, source, req.limit, bucket);
        break;
      case LimitType::kLast:
        top = fmt::format(
            "SELECT {0} FROM {1} GROUP BY {0} ORDER BY sumIf(v, {3} = {4}) DESC, sum(v) DESC, {0} "
            "LIMIT {2}",
            order_dims, source, req.limit, bucket, std::max<int64_t>(buckets - 1, 0));
        break;
    }
    // GROUP BY the "dNx" aliases.
    std::vector<std::string> dxn;
    for (size_t i = 0; i < dims.size(); i++) dxn.push_back(fmt::format("d{}x", i));
    sql = fmt::format(
        "WITH top AS ({}) SELECT b, in_top, [{}] AS dims, toFloat64({}) AS xps FROM (SELECT {} AS b, "
        "{} IN top AS in_top, {}, {} FROM {} GROUP BY b, in_top, {}) ORDER BY b",
        top, fmt::join(disp, ", "), xps, bucket, tuple, fmt::join(dx, ", "), aggs, source,
        fmt::join(dxn, ", "));
  }
  sqls.push_back(sql);
  auto rows = rowsOf(query_(sql, "JSONCompactEachRow"));
  std::map<std::vector<std::string>, size_t> index;
  std::vector<Series> out;
  for (const auto& r : rows) {
    int64_t b = r[0].get<int64_t>();
    if (b < 0 || b >= buckets) continue;
    std::vector<std::string> row;
    if (number(r[1]) != 0) {
      for (const auto& d : r[2]) row.push_back(d.get<std::string>());
    } else {
      row.assign(dims.size(), "Other");
    }
    auto [it, added] = index.try_emplace(row, out.size());
    if (added) out.push_back(Series{row, std::vector<double>(size_t(buckets), 0.0), 1});
    out[it->second].points[size_t(b)] += number(r[3]);
  }
  if (out.empty()) {
    // No flow at all: one empty series so that the graph has an axis.
    out.push_back(Series{dims.empty() ? std::vector<std::string>{} : std::vector<std::string>(dims.size(), "Other"),
                         std::vector<double>(size_t(buckets), 0.0), 1});
  }
  for (auto& se : out)
    for (auto& p : se.points) p = pct ? std::round(p * 100) / 100 : std::round(p);
  auto rank = [&](const Series& se) {
    SeriesStats st = seriesStats(se.points);
    switch (req.limit_type) {
      case LimitType::kMax: return st.max;
      case LimitType::kLast: return se.points.empty() ? 0.0 : se.points.back();  // as the top query
      default: return st.sum;
    }
  };
  auto is_other = [&](const Series& se) {
    return !dims.empty() && std::all_of(se.row.begin(), se.row.end(), [](auto& x) { return x == "Other"; });
  };
  std::stable_sort(out.begin(), out.end(), [&](const Series& a, const Series& b) {
    bool oa = is_other(a), ob = is_other(b);
    if (oa != ob) return ob;
    return rank(a) > rank(b);
  });
  return out;
}

TableChoice GraphBuilder::tableFor(const GraphRequest& req, int64_t now) {
  CompiledFilter f;
  FilterError err;
  if (!compileFilter(req.filter, schema_, f, err)) throw filterError(err);
  bool main_only = f.main_only;
  for (ColumnKey k : req.dimensions) {
    if (schema_.mainOnly(k)) main_only = true;
    if (req.bidirectional && schema_.column(k).reverse != ColumnKey::kNone &&
        schema_.mainOnly(schema_.column(k).reverse))
      main_only = true;
  }
  return chooseTable(tables_(), req.start, req.end, req.points, main_only, now);
}

GraphBuilder::Result GraphBuilder::line(const GraphRequest& req, int64_t now) {
  Result res;
  TableChoice choice = tableFor(req, now);
  int64_t start = req.start / choice.resolution * choice.resolution;
  int64_t buckets = (req.end - start + choice.interval - 1) / choice.interval;
  std::vector<Series> all;
  auto add = [&](std::vector<Series> s, int axis) {
    for (auto& x : s) {
      x.axis = axis;
      all.push_back(std::move(x));
    }
  };
  add(lineAxis(req, false, 0, choice, start, buckets, res.sql), 1);
  if (req.bidirectional) add(lineAxis(req, true, 0, choice, start, buckets, res.sql), 2);
  json names = json::object();
  names["1"] = axisName(1, "");
  if (req.bidirectional) names["2"] = axisName(2, "");
  if (req.previous_period) {
    auto [shift, period] = previousPeriod(req.start, req.end);
    GraphRequest prev = req;
    prev.start -= shift;
    prev.end -= shift;
    TableChoice pc = tableFor(prev, now);
    if (pc.resolution > choice.interval || choice.interval % pc.resolution != 0) pc = choice;
    pc.interval = choice.interval;
    add(lineAxis(req, false, shift, pc, start, buckets, res.sql), 3);
    names["3"] = axisName(3, period);
    if (req.bidirectional) {
      add(lineAxis(req, true, shift, pc, start, buckets, res.sql), 4);
      names["4"] = axisName(4, period);
    }
  }
  json t = json::array();
  for (int64_t i = 0; i < buckets; i++) t.push_back(formatRfc3339(start + i * choice.interval));
  json rows = json::array(), points = json::array(), axis = json::array(), avg = json::array(),
       mn = json::array(), mx = json::array(), last = json::array(), p95 = json::array(),
       total = json::array();
  bool pct = percentUnits(req.units);
  double to_total = double(choice.interval) /
                    ((req.units == "l3bps" || req.units == "l2bps") ? 8.0 : 1.0);
  auto num = [&](double v) -> json {
    if (pct) return std::round(v * 100) / 100;
    return int64_t(std::llround(v));
  };
  for (const auto& s : all) {
    rows.push_back(s.row);
    json p = json::array();
    for (double v : s.points) p.push_back(num(v));
    points.push_back(std::move(p));
    axis.push_back(s.axis);
    SeriesStats st = seriesStats(s.points);
    avg.push_back(num(st.average));
    mn.push_back(num(st.min));
    mx.push_back(num(st.max));
    last.push_back(num(st.last));
    p95.push_back(num(st.p95));
    total.push_back(int64_t(std::llround(st.sum * to_total)));
  }
  res.body = json{{"t", t},           {"rows", rows},  {"points", points},
                  {"axis", axis},     {"axis-names", names}, {"average", avg},
                  {"min", mn},        {"max", mx},     {"last", last},
                  {"95th", p95}};
  if (!pct) res.body["total"] = total;
  res.body["table"] = choice.table;
  res.body["interval"] = choice.interval;
  return res;
}

GraphBuilder::Result GraphBuilder::sankey(const GraphRequest& req, int64_t now) {
  if (req.dimensions.size() < 2) throw HttpError(400, "a sankey graph needs at least 2 dimensions");
  Result res;
  GraphRequest r = req;
  r.points = 20;
  TableChoice choice = tableFor(r, now);
  int64_t s = req.start / choice.resolution * choice.resolution;
  CompiledFilter f;
  FilterError err;
  if (!compileFilter(req.filter, schema_, f, err)) throw filterError(err);
  json rows = json::array(), xps = json::array(), axis = json::array(), nodes = json::array(),
       links = json::array();
  json names = json::object();
  std::map<std::pair<int, std::string>, bool> seen_nodes;
  struct Link {
    int axis;
    std::string source, target;
    double xps;
  };
  std::vector<Link> all_links;
  for (int ax = 1; ax <= (req.bidirectional ? 2 : 1); ax++) {
    bool reverse = ax == 2;
    names[std::to_string(ax)] = axisName(ax, "");
    std::string units = reverse ? reverseUnits(req.units) : req.units;
    bool pct = percentUnits(units);
    std::string where = reverse ? f.reverse_sql : f.sql;
    std::vector<std::string> src_cols = {fmt::format("{} AS v", unitExpr(units))};
    if (pct) {
      bool in = units == "inl2%";
      src_cols.push_back(fmt::format("(ExporterAddress, {}, {}) AS iface", in ? "InIfName" : "OutIfName",
                                     in ? "InIfSpeed" : "OutIfSpeed"));
    }
    std::vector<std::string> tops, ins, xs, keys, disp, flags;
    for (size_t i = 0; i < req.dimensions.size(); i++) {
      ColumnKey k = req.dimensions[i];
      if (reverse && schema_.column(k).reverse != ColumnKey::kNone && schema_.enabled(schema_.column(k).reverse))
        k = schema_.column(k).reverse;
      src_cols.push_back(fmt::format("{} AS d{}", dimensionExpr(k, req), i));
      disp.push_back(displayExpr(schema_.column(k), fmt::format("d{}x", i)));
      flags.push_back(fmt::format("in{}", i));
      keys.push_back(fmt::format("in{0}, d{0}x", i));
    }
    std::string source = fmt::format(
        "(SELECT {} FROM {} WHERE TimeReceived >= toDateTime({}) AND TimeReceived < toDateTime({}){})",
        fmt::join(src_cols, ", "), choice.table, s, req.end,
        where.empty() ? "" : " AND (" + where + ")");
    const bool approximate = choice.table == "flows" && req.limit > 0;  // as in lineAxis()
    for (size_t i = 0; i < req.dimensions.size(); i++) {
      tops.push_back(approximate
                         ? fmt::format("top{0} AS (SELECT arrayJoin(topKWeighted({2}, 20)(d{0}, "
                                       "toUInt64(v))) AS d{0} FROM {1})",
                                       i, source, req.limit)
                         : fmt::format("top{0} AS (SELECT d{0} FROM {1} GROUP BY d{0} ORDER BY "
                                       "sum(v) DESC, d{0} LIMIT {2})",
                                       i, source, req.limit));
      xs.push_back(fmt::format("d{0} IN top{0} AS in{0}, if(in{0}, d{0}, defaultValueOfArgumentType(d{0})) AS d{0}x", i));
    }
    double seconds = double(req.end - s);
    std::string value = pct ? fmt::format(
                                  "ifNotFinite(s / {} / (arraySum(x -> toFloat64(x.3), ifaces) * 1000000) * 100, 0)",
                                  seconds)
                            : fmt::format("s / {}", seconds);
    std::string sql = fmt::format(
        "WITH {} SELECT [{}] AS ins, [{}] AS dims, toFloat64({}) AS xps FROM (SELECT {}, {} FROM {} "
        "GROUP BY {}) ORDER BY xps DESC",
        fmt::join(tops, ", "), fmt::join(flags, ", "), fmt::join(disp, ", "), value,
        fmt::join(xs, ", "), pct ? "sum(v) AS s, groupUniqArray(iface) AS ifaces" : "sum(v) AS s",
        source, fmt::join(keys, ", "));
    res.sql.push_back(sql);
    std::map<std::vector<std::string>, double> merged;
    std::vector<std::vector<std::string>> order;
    for (const auto& row : rowsOf(query_(sql, "JSONCompactEachRow"))) {
      std::vector<std::string> values;
      for (size_t i = 0; i < req.dimensions.size(); i++)
        values.push_back(number(row[0][i]) != 0 ? row[1][i].get<std::string>() : "Other");
      auto [it, added] = merged.try_emplace(values, 0.0);
      if (added) order.push_back(values);
      it->second += number(row[2]);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](const auto& a, const auto& b) { return merged[a] > merged[b]; });
    std::map<std::pair<std::string, std::string>, double> link_sums;
    std::vector<std::pair<std::string, std::string>> link_order;
    for (const auto& values : order) {
      double v = std::round(pct ? merged[values] * 100 : merged[values]) / (pct ? 100 : 1);
      rows.push_back(values);
      xps.push_back(pct ? json(v) : json(int64_t(v)));  // integers, as Akvorado, but for %
      axis.push_back(ax);
      std::vector<std::string> node_names;
      for (size_t i = 0; i < values.size(); i++) {
        std::string n = fmt::format("{}: {}", schema_.column(req.dimensions[i]).name, values[i]);
        node_names.push_back(n);
        if (!seen_nodes[{ax, n}]) {
          seen_nodes[{ax, n}] = true;
          nodes.push_back(json{{"name", n}, {"axis", ax}});
        }
      }
      for (size_t i = 0; i + 1 < node_names.size(); i++) {
        auto key = std::make_pair(node_names[i], node_names[i + 1]);
        if (!link_sums.contains(key)) link_order.push_back(key);
        link_sums[key] += v;
      }
    }
    for (const auto& k : link_order) all_links.push_back(Link{ax, k.first, k.second, link_sums[k]});
  }
  std::stable_sort(all_links.begin(), all_links.end(), [](const Link& a, const Link& b) {
    if (a.axis != b.axis) return a.axis < b.axis;
    return a.xps > b.xps;
  });
  for (const auto& l : all_links)
    links.push_back(json{{"source", l.source}, {"target", l.target},
                         {"xps", percentUnits(req.units) ? json(l.xps) : json(int64_t(std::round(l.xps)))},
                         {"axis", l.axis}});
  res.body = json{{"rows", rows},   {"xps", xps},     {"axis", axis},
                  {"axis-names", names}, {"nodes", nodes}, {"links", links}};
  return res;
}

}  // namespace akvo::console
