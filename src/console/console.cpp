#include "console/console.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <set>
#include <strings.h>
#include <ctime>

#include "common/embedded.h"
#include "console/filter.h"
#include "store/store.h"

namespace akvo::console {

using nlohmann::json;

void ConsoleConfig::read(ConfigReader& r, const Schema& schema) {
  r.section("default-visualize-options", [&](ConfigReader& s) {
    auto& o = default_visualize_options;
    s.choice("graph-type", o.graph_type, {"stacked", "stacked100", "lines", "grid", "heatmap", "sankey"});
    s.field("start", o.start);
    s.field("end", o.end);
    s.field("filter", o.filter);
    s.field("dimensions", o.dimensions);
    s.field("limit", o.limit, 1, 1000);  // and at most dimensions-limit, checked below
    s.choice("limit-type", o.limit_type, {"avg", "max", "last"});
    s.field("bidirectional", o.bidirectional);
    s.field("previous-period", o.previous_period);
    for (const auto& d : o.dimensions) {
      const ColumnDef* c = schema.find(d);
      if (!c || !schema.enabled(c->key) || !c->dimension)
        s.fail("dimensions", fmt::format("unknown dimension \"{}\"", d));
    }
    CompiledFilter f;
    FilterError e;
    if (!compileFilter(o.filter, schema, f, e))
      s.fail("filter", fmt::format("column {}: {}", e.column, e.message));
  });
  r.field("homepage-top-widgets", homepage_top_widgets);
  static const std::vector<std::string> kWidgets = {"src-as", "dst-as", "src-country", "dst-country",
                                                    "src-port", "dst-port", "protocol", "etype",
                                                    "exporter"};
  for (const auto& w : homepage_top_widgets)
    if (std::find(kWidgets.begin(), kWidgets.end(), w) == kWidgets.end())
      r.fail("homepage-top-widgets",
             fmt::format("unknown widget \"{}\"; valid: {}", w, fmt::join(kWidgets, ", ")));
  r.field("homepage-graph-filter", homepage_graph_filter);
  r.field("homepage-graph-timerange", homepage_graph_timerange);
  r.field("dimensions-limit", dimensions_limit, 10, 1000);
  // The API refuses a limit above dimensions-limit: a default above it would fail every graph.
  if (default_visualize_options.limit > dimensions_limit)
    r.fail("dimensions-limit",
           fmt::format("{} is below default-visualize-options.limit ({}): the default graph "
                       "would be refused",
                       dimensions_limit, default_visualize_options.limit));
  r.field("cache-ttl", cache_ttl);
  r.field("cache-size", cache_size, 0, 1000000);
  r.field("cache-max-bytes", cache_max_bytes, 0, int64_t(1) << 40);
  r.field("max-request-size", max_request_size, 1024, 16 << 20);
  r.field("query-timeout", query_timeout);
  if (query_timeout.count() < 1000) r.fail("query-timeout", "must be at least 1s");
  r.field("branding", branding);
  r.section("auth", [&](ConfigReader& a) {
    a.section("headers", [&](ConfigReader& h) {
      h.field("login", auth.header_login);
      h.field("name", auth.header_name);
      h.field("email", auth.header_email);
      h.field("logout-url", auth.header_logout_url);
      h.field("avatar-url", auth.header_avatar_url);
    });
    a.section("default-user", [&](ConfigReader& d) {
      d.field("login", auth.default_login);
      d.field("name", auth.default_name);
    });
    a.field("logout-url", auth.logout_url);
    a.field("avatar-url", auth.avatar_url);
    for (const auto& [key, tmpl] : {std::pair<const char*, const std::string*>{"logout-url", &auth.logout_url},
                                    {"avatar-url", &auth.avatar_url}}) {
      std::string error;
      renderUserTemplate(*tmpl, {}, &error);
      if (!error.empty()) a.fail(key, error);
    }
  });
  r.section("database", [&](ConfigReader& d) {
    d.choice("driver", database_driver, {"sqlite", "mysql", "postgresql"});
    d.field("dsn", database_dsn);
    d.field("path", database_path);
    if (database_driver == "sqlite") {
      if (!database_dsn.empty() && !database_path.empty())
        d.fail("dsn", "the SQLite file is given twice (dsn and path): keep one");
      if (!database_dsn.empty()) database_path = database_dsn;
    } else {
      if (!database_path.empty())
        d.fail("path", fmt::format("the SQLite file, not for driver {}: give dsn", database_driver));
      if (database_dsn.empty())
        d.fail("dsn", database_driver == "mysql"
                          ? "required with driver mysql, e.g. akvo:secret@tcp(db.example.net:3306)/akvo"
                          : "required with driver postgresql, e.g. host=db.example.net user=akvo "
                            "dbname=akvo (or a postgres:// URL)");
      MysqlDsn parsed;
      std::string error;
      if (database_driver == "mysql" && !parseMysqlDsn(database_dsn, parsed, error)) d.fail("dsn", error);
      if (database_driver == "postgresql" && !checkPostgresDsn(database_dsn, error)) d.fail("dsn", error);
    }
    d.list("saved-filters", [&](ConfigReader& f, size_t) {
      SavedFilter sf;
      f.field("description", sf.description);
      f.field("content", sf.content);
      CompiledFilter c;
      FilterError e;
      if (!compileFilter(sf.content, schema, c, e))
        f.fail("content", fmt::format("column {}: {}", e.column, e.message));
      saved_filters.push_back(sf);
    });
  });
}

// ---- cache ----

ResponseCache::ResponseCache(size_t max_entries, size_t max_bytes, Metrics& metrics)
    : max_entries_(max_entries),
      max_bytes_(max_bytes),
      evictions_(metrics.counter("akvo_console_cache_evictions_total",
                                 "Console responses evicted (least recently used first) to keep "
                                 "the cache within cache-size and cache-max-bytes.")),
      too_large_(cacheTooLargeCounter(metrics)) {}

size_t ResponseCache::entryBytes(const std::string& key, const HttpResponse& r) {
  // The key once (order_ points at the map's copy), the response and its headers, and the
  // map node, the list node and the header vector around them.
  size_t n = key.size() + r.body.size() + r.content_type.size() + sizeof(Entry) +
             sizeof(std::string) + 4 * sizeof(void*);
  for (const auto& [name, value] : r.headers) n += sizeof(name) * 2 + name.size() + value.size();
  return n;
}

void ResponseCache::evict(std::unordered_map<std::string, Entry>::iterator it) {
  bytes_ -= it->second.bytes;
  order_.erase(it->second.order);
  entries_.erase(it);
}

bool ResponseCache::get(const std::string& key, HttpResponse& out) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  if (it->second.expires < std::chrono::steady_clock::now()) {
    evict(it);
    return false;
  }
  order_.splice(order_.end(), order_, it->second.order);  // now the most recently used
  out = it->second.response;
  return true;
}

void ResponseCache::put(const std::string& key, const HttpResponse& r, std::chrono::milliseconds ttl) {
  if (max_entries_ == 0 || max_bytes_ == 0) return;
  const size_t bytes = entryBytes(key, r);
  std::lock_guard lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) evict(it);
  if (bytes > max_bytes_) {
    too_large_.inc();
    return;
  }
  while (!order_.empty() && (entries_.size() >= max_entries_ || bytes_ + bytes > max_bytes_)) {
    evict(entries_.find(*order_.front()));
    evictions_.inc();
  }
  auto it =
      entries_.emplace(key, Entry{r, std::chrono::steady_clock::now() + ttl, bytes, {}}).first;
  it->second.order = order_.insert(order_.end(), &it->first);
  bytes_ += bytes;
}

size_t ResponseCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t ResponseCache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

// ---- avatar: a 5x5 mirrored pattern, PNG with stored (uncompressed) deflate blocks ----

namespace {

uint32_t crc32(const std::string& data, size_t from) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; n++) {
      uint32_t c = n;
      for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (size_t i = from; i < data.size(); i++) c = table[(c ^ uint8_t(data[i])) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

void be32(std::string& s, uint32_t v) {
  s += char(v >> 24);
  s += char(v >> 16);
  s += char(v >> 8);
  s += char(v);
}

void chunk(std::string& png, const char* type, const std::string& data) {
  be32(png, uint32_t(data.size()));
  size_t start = png.size();
  png += type;
  png += data;
  be32(png, crc32(png, start));
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  return h;
}

}  // namespace

std::string avatarPng(const std::string& login) {
  constexpr int kCells = 5, kCell = 16, kSize = kCells * kCell;
  uint64_t h = fnv1a(login);
  uint8_t fg[3] = {uint8_t(64 + (h >> 40) % 160), uint8_t(64 + (h >> 48) % 160),
                   uint8_t(64 + (h >> 56) % 160)};
  uint8_t bg[3] = {240, 240, 240};
  bool on[kCells][kCells];
  for (int y = 0; y < kCells; y++)
    for (int x = 0; x < 3; x++) on[y][x] = on[y][kCells - 1 - x] = (h >> (y * 3 + x)) & 1;
  std::string raw;
  for (int y = 0; y < kSize; y++) {
    raw += char(0);  // filter: none
    for (int x = 0; x < kSize; x++) {
      const uint8_t* c = on[y / kCell][x / kCell] ? fg : bg;
      raw.append(reinterpret_cast<const char*>(c), 3);
    }
  }
  // zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 section 3.2.4).
  std::string z = "\x78\x01";
  for (size_t pos = 0; pos < raw.size();) {
    size_t n = std::min<size_t>(65535, raw.size() - pos);
    z += char(pos + n == raw.size() ? 1 : 0);
    z += char(n & 0xff);
    z += char(n >> 8);
    z += char(~n & 0xff);
    z += char((~n >> 8) & 0xff);
    z.append(raw, pos, n);
    pos += n;
  }
  uint32_t a = 1, b = 0;
  for (unsigned char c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  be32(z, (b << 16) | a);
  std::string png = "\x89PNG\r\n\x1a\n";
  std::string ihdr;
  be32(ihdr, kSize);
  be32(ihdr, kSize);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", "");
  return png;
}

// ---- the component ----

Console::Console(ConsoleConfig config, const Schema& schema, const ClickHouseConfig& clickhouse,
                 QueryFn query, Metrics& metrics)
    : config_(std::move(config)),
      schema_(schema),
      clickhouse_(clickhouse),
      query_(std::move(query)),
      metrics_(metrics),
      builder_(
          schema, [this](const std::string& sql, const std::string& f) { return runQuery(sql, f); },
          [this] { return tables(); }),
      cache_(size_t(config_.cache_size), size_t(config_.cache_max_bytes), metrics),
      now_([] { return int64_t(time(nullptr)); }),
      cache_hits_(metrics.counter("akvo_console_cache_hits_total", "Console responses served from the cache.")),
      cache_misses_(metrics.counter("akvo_console_cache_misses_total", "Console responses computed.")) {
  for (const auto& r : clickhouse_.resolutions) table_names_.push_back(flowsTableName(r.interval));
}

void Console::start() {
  SqlDriver driver = sqlDriver(config_.database_driver);  // one of them: read() checked
  std::string dsn = driver != SqlDriver::kSqlite ? config_.database_dsn
                    : config_.database_path.empty() ? ":memory:"
                                                    : config_.database_path;
  if (config_.cache_backend.type == "redis") {
    // Shared by the consoles; the memory cache stays empty. Unreachable now is not fatal: the
    // console answers without a cache until Redis does.
    redis_ = std::make_unique<RedisCache>(config_.cache_backend, size_t(config_.cache_max_bytes), metrics_);
    if (std::string why = redis_->check(); !why.empty())
      spdlog::warn("console: cache in redis {} (database {}), not answering now: {}",
                   config_.cache_backend.server, config_.cache_backend.db, why);
    else
      spdlog::info("console: cache in redis {} (database {})", config_.cache_backend.server,
                   config_.cache_backend.db);
  }
  saved_ = std::make_unique<SavedFilters>(driver, dsn);
  saved_->seed(config_.saved_filters);
  spdlog::info("console: saved filters in {}", saved_->name());
}

void Console::registerRoutes(HttpServer& http) {
  http.prefix("*", kPrefix, [this](const HttpRequest& req) { return handle(req); });
}

std::string Console::runQuery(const std::string& sql, const std::string& format) {
  // Per table, as Akvorado's console: which resolutions the graphs use, which are slow.
  const Labels table{{"table", queriedTable(sql, table_names_)}};
  metrics_.counter("akvo_console_store_queries_total", "Queries the console ran on the store, by table.",
                   table).inc();
  auto t0 = std::chrono::steady_clock::now();
  try {
    std::string out = query_(fmt::format("{} SETTINGS max_execution_time = {}, timeout_overflow_mode = 'throw'",
                                         sql, std::max<int64_t>(1, config_.query_timeout.count() / 1000)),
                             format);
    metrics_.observe("akvo_console_store_query_duration_seconds",
                     "Time of the console's store queries, by table.",
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30}, table);
    return out;
  } catch (const StoreError& e) {
    metrics_.counter("akvo_console_store_query_errors_total",
                     "Console queries that failed (timeouts included), by table.", table).inc();
    std::string msg = e.what();
    if (msg.find("TIMEOUT_EXCEEDED") != std::string::npos || msg.find("Timeout exceeded") != std::string::npos)
      throw HttpError(504, fmt::format("the query took longer than {} and was cancelled",
                                       formatDuration(config_.query_timeout)));
    throw HttpError(500, fmt::format("store error: {}", msg));
  }
}

std::vector<TableInfo> Console::tables() {
  std::lock_guard lock(tables_mutex_);
  auto now = std::chrono::steady_clock::now();
  if (tables_cache_.empty() || now >= tables_expiry_) {
    tables_cache_ = readTables(clickhouse_.resolutions,
                               [this](const std::string& sql, const std::string& f) { return runQuery(sql, f); });
    tables_expiry_ = now + std::chrono::seconds(30);
  }
  return tables_cache_;
}

User Console::user(const HttpRequest& req) const {
  auto header = [&](const std::string& name) {
    std::string lower = name;
    for (auto& c : lower) c = char(tolower(c));
    return req.header(lower);
  };
  User u;
  u.login = header(config_.auth.header_login);
  if (!u.login.empty()) {
    u.name = header(config_.auth.header_name);
    u.email = header(config_.auth.header_email);
    u.logout_url = header(config_.auth.header_logout_url);
    u.avatar_url = header(config_.auth.header_avatar_url);
  } else {
    if (config_.auth.default_login.empty()) throw HttpError(401, "authentication required");
    u.login = config_.auth.default_login;
    u.name = config_.auth.default_name;
  }
  // A configured template wins; it sees the headers' URLs as .LogoutURL and .AvatarURL.
  const User from_headers = u;
  if (!config_.auth.logout_url.empty())
    u.logout_url = renderUserTemplate(config_.auth.logout_url, from_headers);
  if (!config_.auth.avatar_url.empty())
    u.avatar_url = renderUserTemplate(config_.auth.avatar_url, from_headers);
  if (u.avatar_url.empty()) u.avatar_url = std::string(kPrefix) + "user/avatar";
  return u;
}

std::string renderUserTemplate(const std::string& tmpl, const User& u, std::string* error) {
  std::string out;
  for (size_t i = 0; i < tmpl.size();) {
    if (tmpl.compare(i, 2, "{{") == 0) {
      size_t end = tmpl.find("}}", i + 2);
      std::string_view action = std::string_view(tmpl).substr(i + 2, end == std::string::npos
                                                                        ? std::string::npos
                                                                        : end - i - 2);
      while (!action.empty() && action.front() == ' ') action.remove_prefix(1);
      while (!action.empty() && action.back() == ' ') action.remove_suffix(1);
      const std::string* v = action == ".Login"       ? &u.login
                             : action == ".Name"      ? &u.name
                             : action == ".Email"     ? &u.email
                             : action == ".LogoutURL" ? &u.logout_url
                             : action == ".AvatarURL" ? &u.avatar_url
                                                      : nullptr;
      if (end == std::string::npos || !v) {
        if (error && error->empty())
          *error = end == std::string::npos
                       ? "unclosed {{ in template"
                       : fmt::format("unknown template field \"{}\"; valid: .Login, .Name, .Email, "
                                     ".LogoutURL, .AvatarURL", action);
        out += tmpl.substr(i, end == std::string::npos ? std::string::npos : end + 2 - i);
        if (end == std::string::npos) break;
      } else {
        out += *v;
      }
      i = end + 2;
      continue;
    }
    bool replaced = false;
    for (auto [k, v] : {std::pair<std::string_view, const std::string*>{"{login}", &u.login},
                        {"{name}", &u.name}, {"{email}", &u.email}}) {
      if (tmpl.compare(i, k.size(), k) == 0) {
        out += *v;
        i += k.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out += tmpl[i++];
  }
  return out;
}

json Console::parseBody(const HttpRequest& req) const {
  try {
    return json::parse(req.body.empty() ? std::string("{}") : req.body);
  } catch (const std::exception& e) {
    throw HttpError(400, fmt::format("invalid JSON: {}", e.what()));
  }
}

HttpResponse Console::handle(const HttpRequest& req) {
  if (int64_t(req.body.size()) > config_.max_request_size)
    throw HttpError(413, fmt::format("request body larger than {} bytes", config_.max_request_size));
  User u = user(req);
  std::string route = req.path.substr(std::min(req.path.size(), std::string(kPrefix).size()));
  // Cached routes: graphs, completions and widgets (not per-user data).
  std::chrono::milliseconds ttl{0};
  if (req.method == "POST" && (route == "graph/line" || route == "graph/sankey"))
    ttl = config_.cache_ttl;
  else if (req.method == "POST" && route == "filter/complete")
    ttl = std::chrono::minutes(1);
  else if (req.method == "GET" && (route == "widget/flow-last" || route == "widget/flow-rate"))
    ttl = std::chrono::seconds(5);
  else if (req.method == "GET" && (route == "widget/exporters" || route.starts_with("widget/top/")))
    ttl = std::chrono::seconds(30);
  else if (req.method == "GET" && route == "widget/graph")
    ttl = std::chrono::minutes(5);
  if (ttl.count() == 0) return dispatch(req, route, u);
  std::string key = req.method + " " + route + "?";
  for (const auto& [k, v] : req.query) key += k + "=" + v + "&";
  key += "\n" + req.body;
  HttpResponse r;
  if (redis_ ? redis_->get(key, r) : cache_.get(key, r)) {
    cache_hits_.inc();
    return r;
  }
  cache_misses_.inc();
  r = dispatch(req, route, u);
  if (r.status == 200) {
    if (redis_) redis_->put(key, r, ttl);
    else cache_.put(key, r, ttl);
  }
  return r;
}

HttpResponse Console::dispatch(const HttpRequest& req, const std::string& route, const User& u) {
  auto only = [&](const char* method) {
    if (req.method != method)
      throw HttpError(405, fmt::format("{} {}{} not allowed (use {})", req.method, kPrefix, route, method));
  };
  if (route == "configuration") return only("GET"), configuration();
  if (route == "docs" || route.starts_with("docs/"))
    return only("GET"), docs(req, route == "docs" ? "" : route.substr(5));
  if (route == "graph/line") return only("POST"), graphLine(req);
  if (route == "graph/sankey") return only("POST"), graphSankey(req);
  if (route == "graph/table-interval") return only("POST"), tableInterval(req);
  if (route == "filter/validate") return only("POST"), filterValidate(req);
  if (route == "filter/complete") return only("POST"), filterComplete(req);
  if (route == "filter/saved" || route.starts_with("filter/saved/"))
    return savedFilters(req, u, route.substr(std::string("filter/saved").size()));
  if (route.starts_with("widget/")) return only("GET"), widget(req, route.substr(7));
  if (route == "user/info") return only("GET"), userInfo(u);
  if (route == "user/avatar") return only("GET"), userAvatar(req, u);
  throw HttpError(404, fmt::format("no route for {} {}{}", req.method, kPrefix, route));
}

HttpResponse Console::configuration() {
  json dims = json::array(), trunc = json::array(), res = json::array(), kinds = json::object();
  for (ColumnKey k : schema_.columns()) {
    const ColumnDef& c = schema_.column(k);
    if (!c.dimension) continue;
    dims.push_back(c.name);
    if (c.truncatable) trunc.push_back(c.name);
    // How the console writes a value of the column in a filter (a clicked table cell): a
    // quoted string, a number, an address; the others have their own syntax.
    switch (c.filter) {
      case FilterType::kString: kinds[std::string(c.name)] = "string"; break;
      case FilterType::kUInt: kinds[std::string(c.name)] = "uint"; break;
      case FilterType::kIP: kinds[std::string(c.name)] = "ip"; break;
      default: break;
    }
  }
  for (const auto& r : clickhouse_.resolutions)
    res.push_back(json{{"table", flowsTableName(r.interval)},
                       {"interval", r.interval.count() / 1000},
                       {"ttl", r.ttl.count() / 1000}});
  const auto& o = config_.default_visualize_options;
  json body = {
      {"version", AKVO_VERSION},
      {"defaultVisualizeOptions",
       {{"graphType", o.graph_type}, {"start", o.start}, {"end", o.end}, {"filter", o.filter},
        {"dimensions", o.dimensions}, {"limit", o.limit}, {"limitType", o.limit_type},
        {"bidirectional", o.bidirectional}, {"previousPeriod", o.previous_period}}},
      {"dimensionsLimit", config_.dimensions_limit},
      {"dimensions", dims},
      {"truncatable", trunc},
      {"dimensionKinds", kinds},
      {"homepageTopWidgets", config_.homepage_top_widgets},
      {"branding", config_.branding},
      {"resolutions", res},
  };
  return HttpResponse::fromJson(body);
}

namespace {

struct Doc {
  std::string name, title;
  std::string_view content;
};

std::vector<Doc> allDocs() {
  std::vector<Doc> out;
  std::string_view content;
  for (size_t i = 0;; i++) {
    std::string_view path = embeddedFileList(i, &content);
    if (path.empty()) break;
    if (!path.starts_with("docs/") || !path.ends_with(".md")) continue;
    std::string base(path.substr(5, path.size() - 8));
    if (base.size() > 3 && isdigit(static_cast<unsigned char>(base[0])) &&
        isdigit(static_cast<unsigned char>(base[1])) && base[2] == '-')
      base = base.substr(3);
    std::string title = base;
    if (content.starts_with("# ")) title = std::string(content.substr(2, content.find('\n') - 2));
    out.push_back(Doc{base, title, content});
  }
  std::sort(out.begin(), out.end(), [](const Doc& a, const Doc& b) { return a.name < b.name; });
  return out;
}

std::string slug(const std::string& title) {
  std::string s;
  for (char c : title) {
    if (isalnum(static_cast<unsigned char>(c))) s += char(tolower(c));
    else if ((c == ' ' || c == '-') && !s.empty() && s.back() != '-') s += '-';
  }
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s;
}

}  // namespace

HttpResponse Console::docs(const HttpRequest& req, const std::string& name) {
  auto docs = allDocs();
  if (name.empty()) {
    json list = json::array();
    for (const auto& d : docs) list.push_back(json{{"name", d.name}, {"title", d.title}});
    return HttpResponse::fromJson(json{{"docs", list}});
  }
  for (const auto& d : docs) {
    if (d.name != name) continue;
    if (req.header("accept").find("application/json") != std::string::npos) {
      json toc = json::array();
      bool code = false;
      size_t pos = 0;
      while (pos < d.content.size()) {
        size_t eol = d.content.find('\n', pos);
        if (eol == std::string_view::npos) eol = d.content.size();
        std::string_view line = d.content.substr(pos, eol - pos);
        if (line.starts_with("```")) code = !code;
        if (!code && line.starts_with("##")) {
          size_t level = line.find_first_not_of('#');
          if (level != std::string_view::npos && line[level] == ' ') {
            std::string title(line.substr(level + 1));
            toc.push_back(json{{"level", level}, {"id", slug(title)}, {"title", title}});
          }
        }
        pos = eol + 1;
      }
      return HttpResponse::fromJson(json{{"markdown", std::string(d.content)}, {"toc", toc}});
    }
    HttpResponse r{200, "text/markdown; charset=utf-8", std::string(d.content), {}};
    return r;
  }
  throw HttpError(404, fmt::format("no documentation page \"{}\"", name));
}

namespace {
HttpResponse withSql(json body, const std::vector<std::string>& sql) {
  HttpResponse r = HttpResponse::fromJson(body);
  std::string joined = fmt::format("{}", fmt::join(sql, "; "));
  for (auto& c : joined)
    if (c == '\n' || c == '\r') c = ' ';
  r.headers.emplace_back("X-SQL-Query", joined);
  return r;
}
}  // namespace

HttpResponse Console::graphLine(const HttpRequest& req) {
  auto r = GraphRequest::fromJson(parseBody(req), schema_, config_.dimensions_limit, true);
  auto res = builder_.line(r, now_());
  return withSql(std::move(res.body), res.sql);
}

HttpResponse Console::graphSankey(const HttpRequest& req) {
  auto r = GraphRequest::fromJson(parseBody(req), schema_, config_.dimensions_limit, false);
  auto res = builder_.sankey(r, now_());
  return withSql(std::move(res.body), res.sql);
}

HttpResponse Console::tableInterval(const HttpRequest& req) {
  auto r = GraphRequest::fromJson(parseBody(req), schema_, config_.dimensions_limit, true);
  TableChoice c = builder_.tableFor(r, now_());
  return HttpResponse::fromJson(json{{"table", c.table}, {"interval", c.interval}});
}

HttpResponse Console::filterValidate(const HttpRequest& req) {
  json body = parseBody(req);
  if (!body.is_object() || (body.contains("filter") && !body["filter"].is_string()))
    throw HttpError(400, "\"filter\" must be a string");
  std::string filter = body.value("filter", "");
  CompiledFilter c;
  FilterError e;
  if (compileFilter(filter, schema_, c, e))
    return HttpResponse::fromJson(json{{"message", "ok"}, {"parsed", c.sql}});
  json err = {{"message", e.message}, {"line", e.line}, {"column", e.column}, {"offset", e.offset}};
  return HttpResponse::fromJson(
      json{{"message", fmt::format("at line {}, column {}: {}", e.line, e.column, e.message)},
           {"errors", json::array({err})}});
}

HttpResponse Console::filterComplete(const HttpRequest& req) {
  json body = parseBody(req);
  if (!body.is_object()) throw HttpError(400, "the request body must be a JSON object");
  auto text = [&](const char* key) {
    if (!body.contains(key)) return std::string();
    if (!body[key].is_string()) throw HttpError(400, fmt::format("\"{}\" must be a string", key));
    return body[key].get<std::string>();
  };
  std::string what = text("what");
  std::string column = text("column");
  std::string prefix = text("prefix");
  std::string op = text("operator");  // optional: the operator before the value
  int64_t limit = 20;
  if (body.contains("limit")) {
    if (!body["limit"].is_number_integer()) throw HttpError(400, "\"limit\" must be an integer");
    limit = body["limit"].get<int64_t>();
  }
  limit = std::clamp<int64_t>(limit, 1, 100);
  json out = json::array();
  std::set<std::string> labels;  // a value found both in flows and in a dictionary comes once
  auto add = [&](const std::string& label, const std::string& detail, bool quoted) {
    if (int64_t(out.size()) < limit && labels.insert(label).second)
      out.push_back(json{{"label", label}, {"detail", detail}, {"quoted", quoted}});
  };
  auto starts = [](const std::string& s, const std::string& p) {
    return s.size() >= p.size() && strncasecmp(s.data(), p.data(), p.size()) == 0;
  };
  const ColumnDef* col = nullptr;
  if (what == "operator" || what == "value") {
    col = schema_.find(column);
    if (!col || !schema_.enabled(col->key) || col->filter == FilterType::kNone)
      throw HttpError(400, fmt::format("unknown column \"{}\"", column));
  }
  if (what == "column") {
    for (ColumnKey k : schema_.columns()) {
      const ColumnDef& c = schema_.column(k);
      if (c.filter != FilterType::kNone && starts(std::string(c.name), prefix))
        add(std::string(c.name), "column name", false);
    }
  } else if (what == "operator") {
    for (const auto& op : filterOperators(col->filter)) add(op, "comparison operator", false);
  } else if (what == "value") {
    auto constants = [&](std::vector<std::string> values, const std::string& detail) {
      for (const auto& v : values)
        if (starts(v, prefix)) add(v, detail, false);
    };
    // What was typed, matched literally: % and _ are not wildcards here.
    auto literal = [](const std::string& s) {
      std::string o;
      for (char c : s) {
        if (c == '%' || c == '_' || c == '\\') o += '\\';
        o += c;
      }
      return o;
    };
    std::string like = sqlQuote(literal(prefix) + "%");
    auto fromStore = [&](const std::string& sql, const std::string& detail, bool quoted) {
      std::string rows = runQuery(sql, "TSVRaw");
      size_t pos = 0;
      while (pos < rows.size()) {
        size_t eol = rows.find('\n', pos);
        if (eol == std::string::npos) eol = rows.size();
        std::string line = rows.substr(pos, eol - pos);
        size_t tab = line.find('\t');
        if (!line.empty()) add(line.substr(0, tab), tab == std::string::npos ? detail : line.substr(tab + 1), quoted);
        pos = eol + 1;
      }
    };
    std::string recent = fmt::format("TimeReceived > toDateTime({})", now_() - 86400);
    std::string table = schema_.mainOnly(col->key) ? "flows" : flowsTableName(clickhouse_.resolutions.size() > 1 ? clickhouse_.resolutions[1].interval : Duration(0));
    // The most frequent recent values of the column whose text matches what was typed.
    auto topValues = [&](const std::string& value, const char* match, bool quoted) {
      fromStore(fmt::format("SELECT {0} AS v FROM {1} WHERE {2} AND {3} {4} GROUP BY v "
                            "ORDER BY count() DESC LIMIT {5}",
                            value, table, recent, match, like, limit),
                std::string(col->name), quoted);
    };
    switch (col->filter) {
      case FilterType::kBoundary:
        constants({"external", "internal", "undefined"}, "network boundary");
        break;
      case FilterType::kDirection:
        constants({"ingress", "egress", "undefined"}, "flow direction");
        break;
      case FilterType::kEType:
        constants({"IPv4", "IPv6"}, "ethernet type");
        break;
      case FilterType::kProto:
        constants({"TCP", "UDP", "SCTP", "ICMP", "IPv6-ICMP", "GRE", "ESP", "AH", "IPIP", "VRRP",
                   "L2TP", "IGMP", "PIM", "IPv4", "IPv6"},
                  "protocol");
        break;
      case FilterType::kASN:
      case FilterType::kASPath: {  // an AS path is completed with the AS numbers it holds
        std::string p = prefix;
        if (starts(p, "AS")) p = p.substr(2);
        std::string num_like = sqlQuote(literal(p) + "%");
        std::string as = col->filter == FilterType::kASPath
                             ? fmt::format("arrayJoin(`{}`)", col->name)
                             : fmt::format("`{}`", col->name);
        fromStore(fmt::format("SELECT concat('AS', toString(a)), dictGetOrDefault('asns', 'name', toUInt64(a), '') "
                              "FROM (SELECT {0} AS a, Bytes FROM {1} WHERE {2}) WHERE toString(a) LIKE {3} "
                              "GROUP BY a ORDER BY sum(Bytes) DESC LIMIT {4}",
                              as, table, recent, num_like, limit),
                  "AS", false);
        if (!p.empty())
          fromStore(fmt::format("SELECT concat('AS', toString(asn)), name FROM asns_data WHERE "
                                "name ILIKE {} OR toString(asn) LIKE {} ORDER BY asn LIMIT {}",
                                sqlQuote("%" + literal(p) + "%"), num_like, limit),
                    "AS", false);
        break;
      }
      case FilterType::kString:
        topValues(fmt::format("toString(`{}`)", col->name), "v != '' AND v ILIKE", true);
        if (col->key == ColumnKey::kICMPv4 || col->key == ColumnKey::kICMPv6)
          // Then the names of the icmp dictionary (Akvorado's list), for types not seen lately.
          fromStore(fmt::format("SELECT name, 'ICMP type' FROM icmp_data WHERE proto = {} AND "
                                "name ILIKE {} ORDER BY type, code LIMIT {}",
                                col->key == ColumnKey::kICMPv4 ? 1 : 58,
                                sqlQuote("%" + literal(prefix) + "%"), limit),
                    "ICMP type", true);
        break;
      case FilterType::kMAC:
        topValues(fmt::format("MACNumToString(`{}`)", col->name),
                  "v != '00:00:00:00:00:00' AND v ILIKE", false);
        break;
      case FilterType::kCommunity:  // the communities flows carried lately, as asn:value
        topValues(fmt::format("arrayJoin(arrayMap(c -> concat(toString(bitShiftRight(c, 16)), ':', "
                              "toString(bitAnd(c, 65535))), `{}`))",
                              col->name),
                  "v LIKE", false);
        break;
      case FilterType::kArrayUInt:  // MPLS labels
        topValues(fmt::format("toString(arrayJoin(`{}`))", col->name), "v LIKE", false);
        break;
      case FilterType::kUInt:
        if (col->key == ColumnKey::kSrcPort || col->key == ColumnKey::kDstPort) {
          // As Akvorado: the port number, its service name as detail; recent ports first, then
          // the tcp and udp dictionaries. What was typed is the start of a number or a part of
          // a name ("ht" finds 80 http, 443 https...).
          std::string p = sqlQuote(prefix);
          std::string name = fmt::format(
              "multiIf(Proto = 6, dictGetOrDefault('tcp', 'name', toUInt64(`{0}`), ''), Proto = 17, "
              "dictGetOrDefault('udp', 'name', toUInt64(`{0}`), ''), '')",
              col->name);
          // Counted per (port, protocol) first: the names are looked up once per pair.
          fromStore(fmt::format("SELECT v, if(n = '', 'port', n) FROM (SELECT toString(`{0}`) AS v, max({1}) AS n "
                                "FROM (SELECT `{0}`, Proto, count() AS c FROM flows WHERE {2} GROUP BY `{0}`, Proto) "
                                "GROUP BY `{0}` HAVING v LIKE {3} OR ({4} != '' AND positionCaseInsensitive(n, {4}) > 0) "
                                "ORDER BY sum(c) DESC, `{0}` LIMIT {5})",
                                col->name, name, recent, like, p, limit),
                    "port", false);
          if (!prefix.empty())
            fromStore(fmt::format("SELECT toString(port) AS v, name FROM (SELECT port, name FROM tcp_data UNION "
                                  "DISTINCT SELECT port, name FROM udp_data) WHERE v LIKE {0} OR "
                                  "positionCaseInsensitive(name, {1}) > 0 ORDER BY v LIKE {0} DESC, "
                                  "positionCaseInsensitive(name, {1}), port, name LIMIT {2}",
                                  like, p, limit),
                      "port", false);
          break;
        }
        topValues(fmt::format("toString(`{}`)", col->name), "v LIKE", false);
        break;
      case FilterType::kIP:
        topValues(fmt::format("replaceRegexpOne(IPv6NumToString(`{}`), '^::ffff:', '')", col->name),
                  "v LIKE", false);
        break;
      default:
        break;
    }
    // Other columns of the same kind, for column-to-column comparisons: strings compare with
    // = and != only, numbers with the comparison operators (not IN, LIKE...). Without an
    // operator in the request, every one.
    static const std::set<std::string> kEquality = {"=", "!="};
    static const std::set<std::string> kComparison = {"=", "!=", "<", "<=", ">", ">="};
    const bool columns_fit = op.empty() || (col->filter == FilterType::kString ? kEquality : kComparison).count(op);
    if (columns_fit && (col->filter == FilterType::kString || col->filter == FilterType::kUInt ||
                        col->filter == FilterType::kASN))
      for (ColumnKey k : schema_.columns()) {
        const ColumnDef& c = schema_.column(k);
        if (c.key != col->key && c.filter == col->filter && starts(std::string(c.name), prefix))
          add(std::string(c.name), "column name", false);
      }
  } else {
    throw HttpError(400, "\"what\" must be column, operator or value");
  }
  return HttpResponse::fromJson(json{{"completions", out}});
}

HttpResponse Console::savedFilters(const HttpRequest& req, const User& u, const std::string& rest) {
  if (!saved_) throw HttpError(500, "saved filters are not available (console not started)");
  if (rest.empty() && req.method == "GET") {
    json list = json::array();
    for (const auto& f : saved_->list(u.login))
      list.push_back(json{{"id", f.id}, {"user", f.user}, {"shared", f.shared},
                          {"description", f.description}, {"content", f.content}});
    return HttpResponse::fromJson(json{{"filters", list}});
  }
  if (rest.empty() && req.method == "POST") {
    json body = parseBody(req);
    if (!body.is_object() || !body.contains("description") || !body["description"].is_string() ||
        !body.contains("content") || !body["content"].is_string())
      throw HttpError(400, "expecting {\"description\": string, \"content\": string, \"shared\": bool}");
    std::string description = body["description"], content = body["content"];
    if (description.empty()) throw HttpError(400, "\"description\" must not be empty");
    if (body.contains("shared") && !body["shared"].is_boolean())
      throw HttpError(400, "\"shared\" must be true or false");
    CompiledFilter c;
    FilterError e;
    if (!compileFilter(content, schema_, c, e))
      throw HttpError(400, fmt::format("invalid filter: at line {}, column {}: {}", e.line, e.column, e.message));
    saved_->add(u.login, description, content, body.value("shared", false));
    return HttpResponse{204, "application/json", "", {}};
  }
  if (rest.size() > 1 && req.method == "DELETE") {
    std::string id = rest.substr(1);
    int64_t n = 0;
    auto [p, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
    if (ec != std::errc() || p != id.data() + id.size()) throw HttpError(400, "the id must be a number");
    if (!saved_->remove(u.login, n)) throw HttpError(404, fmt::format("no saved filter {} of yours", n));
    return HttpResponse{204, "application/json", "", {}};
  }
  throw HttpError(405, fmt::format("{} not allowed here", req.method));
}

HttpResponse Console::widget(const HttpRequest& req, const std::string& name) {
  int64_t now = now_();
  if (name == "flow-last") {
    // As Akvorado: MACs as text, communities as "asn:value" and large communities as
    // "asn:local1:local2" strings, not the numbers they are stored as.
    std::vector<std::string> replace;
    for (ColumnKey k : schema_.columns()) {
      const ColumnDef& c = schema_.column(k);
      if (c.alias) continue;
      if (c.filter == FilterType::kMAC) {
        replace.push_back(fmt::format("MACNumToString(`{0}`) AS `{0}`", c.name));
      } else if (c.filter == FilterType::kCommunity) {
        replace.push_back(fmt::format(
            "arrayMap(c -> concat(toString(bitShiftRight(c, 16)), ':', toString(bitAnd(c, 65535))), "
            "`{0}`) AS `{0}`",
            c.name));
      } else if (k == ColumnKey::kSrcLargeCommunities || k == ColumnKey::kDstLargeCommunities) {
        replace.push_back(fmt::format(
            "arrayMap(c -> concat(toString(bitShiftRight(c, 64)), ':', "
            "toString(bitAnd(bitShiftRight(c, 32), 4294967295)), ':', toString(bitAnd(c, 4294967295))), "
            "`{0}`) AS `{0}`",
            c.name));
      }
    }
    std::string out = runQuery(
        fmt::format("SELECT *{} FROM flows WHERE TimeReceived = (SELECT max(TimeReceived) FROM "
                    "flows) LIMIT 1",
                    replace.empty() ? "" : fmt::format(" REPLACE ({})", fmt::join(replace, ", "))),
        "JSONEachRow");
    if (out.empty()) return HttpResponse::json("{}");
    json row = json::parse(validUtf8(out.substr(0, out.find('\n'))));
    for (auto& [k, v] : row.items()) {
      if (!v.is_string()) continue;
      std::string t = v.get<std::string>();
      if (t.starts_with("::ffff:")) t = t.substr(7);
      while (!t.empty() && t.back() == '\0') t.pop_back();  // FixedString padding (countries)
      v = t;
    }
    return HttpResponse::fromJson(row);
  }
  if (name == "flow-rate") {
    std::string out = runQuery(
        fmt::format("SELECT count() / 300 FROM flows WHERE TimeReceived > toDateTime({})", now - 300), "TSV");
    return HttpResponse::fromJson(json{{"rate", std::stod(out)}, {"period", "second"}});
  }
  if (name == "exporters") {
    std::string out = runQuery(
        fmt::format("SELECT DISTINCT ExporterName FROM flows WHERE TimeReceived > toDateTime({}) "
                    "ORDER BY ExporterName",
                    now - 3600),
        "TSVRaw");
    json list = json::array();
    size_t pos = 0;
    while (pos < out.size()) {
      size_t eol = out.find('\n', pos);
      if (eol == std::string::npos) eol = out.size();
      if (eol > pos) list.push_back(out.substr(pos, eol - pos));
      pos = eol + 1;
    }
    return HttpResponse::fromJson(json{{"exporters", list}});
  }
  if (name.starts_with("top/")) {
    std::string w = name.substr(4);
    std::string expr, filter = "1";
    if (w == "src-as" || w == "dst-as") {
      std::string c = w == "src-as" ? "SrcAS" : "DstAS";
      expr = fmt::format("concat(toString({0}), ': ', dictGetOrDefault('asns', 'name', toUInt64({0}), '?\?\?'))", c);
    } else if (w == "src-country" || w == "dst-country") {
      expr = fmt::format("replaceAll(toString({}), '\\0', '')", w == "src-country" ? "SrcCountry" : "DstCountry");
    } else if (w == "src-port" || w == "dst-port") {
      expr = fmt::format("concat(dictGetOrDefault('protocols', 'name', toUInt64(Proto), toString(Proto)), '/', toString({}))",
                         w == "src-port" ? "SrcPort" : "DstPort");
    } else if (w == "protocol") {
      expr = "dictGetOrDefault('protocols', 'name', toUInt64(Proto), toString(Proto))";
    } else if (w == "etype") {
      expr = "multiIf(EType = 2048, 'IPv4', EType = 34525, 'IPv6', toString(EType))";
    } else if (w == "exporter") {
      expr = "ExporterName";
    } else {
      throw HttpError(404, fmt::format("no widget top/{}", w));
    }
    if (w.starts_with("src-")) filter = "InIfBoundary = 'external'";
    if (w.starts_with("dst-")) filter = "OutIfBoundary = 'external'";
    std::string where = fmt::format("TimeReceived > toDateTime({}) AND {}", now - 300, filter);
    std::string out = runQuery(
        fmt::format("SELECT if(n = '', 'Unknown', n), toFloat64(v * 100 / (SELECT sum(Bytes * SamplingRate) FROM flows WHERE {0})) "
                    "FROM (SELECT {1} AS n, sum(Bytes * SamplingRate) AS v FROM flows WHERE {0} "
                    "GROUP BY n ORDER BY v DESC LIMIT 5)",
                    where, expr),
        "JSONCompactEachRow");
    json top = json::array();
    size_t pos = 0;
    while (pos < out.size()) {
      size_t eol = out.find('\n', pos);
      if (eol == std::string::npos) eol = out.size();
      if (eol > pos) {
        json row = json::parse(validUtf8(out.substr(pos, eol - pos)));
        top.push_back(json{{"name", row[0]}, {"percent", row[1]}});
      }
      pos = eol + 1;
    }
    return HttpResponse::fromJson(json{{"top", top}});
  }
  if (name == "graph") {
    int64_t points = 200;
    if (auto it = req.query.find("points"); it != req.query.end()) {
      try {
        points = std::stoll(it->second);
      } catch (...) {
        throw HttpError(400, "\"points\" must be a number");
      }
      if (points < 5 || points > 1000) throw HttpError(400, "\"points\" must be between 5 and 1000");
    }
    int64_t end = now, start = now - config_.homepage_graph_timerange.count() / 1000;
    TableChoice c = chooseTable(tables(), start, end, points, false, now);
    start = start / c.resolution * c.resolution;
    int64_t buckets = (end - start + c.interval - 1) / c.interval;
    std::string filter = config_.homepage_graph_filter.empty() ? "1" : config_.homepage_graph_filter;
    std::string out = runQuery(
        fmt::format("SELECT intDiv(toUInt32(TimeReceived) - {0}, {1}) AS b, toFloat64(sum(Bytes * SamplingRate * 8) / {1} / 1e9) "
                    "FROM {2} WHERE TimeReceived >= toDateTime({0}) AND TimeReceived < toDateTime({3}) AND ({4}) "
                    "GROUP BY b ORDER BY b",
                    start, c.interval, c.table, end, filter),
        "JSONCompactEachRow");
    std::vector<double> values(size_t(buckets), 0.0);
    size_t pos = 0;
    while (pos < out.size()) {
      size_t eol = out.find('\n', pos);
      if (eol == std::string::npos) eol = out.size();
      if (eol > pos) {
        json row = json::parse(validUtf8(out.substr(pos, eol - pos)));
        int64_t b = row[0].get<int64_t>();
        if (b >= 0 && b < buckets) values[size_t(b)] = row[1].get<double>();
      }
      pos = eol + 1;
    }
    json data = json::array();
    for (int64_t i = 0; i < buckets; i++)
      data.push_back(json{{"t", formatRfc3339(start + i * c.interval)}, {"gbps", values[size_t(i)]}});
    return HttpResponse::fromJson(json{{"data", data}});
  }
  throw HttpError(404, fmt::format("no widget {}", name));
}

HttpResponse Console::userInfo(const User& u) {
  json j = {{"login", u.login}};
  if (!u.name.empty()) j["name"] = u.name;
  if (!u.email.empty()) j["email"] = u.email;
  if (!u.logout_url.empty()) j["logout-url"] = u.logout_url;
  if (!u.avatar_url.empty()) j["avatar-url"] = u.avatar_url;
  return HttpResponse::fromJson(j);
}

HttpResponse Console::userAvatar(const HttpRequest& req, const User& u) {
  std::string etag = fmt::format("\"{:016x}\"", fnv1a("avatar-v1:" + u.login));
  if (req.header("if-none-match") == etag) {
    HttpResponse r{304, "image/png", "", {}};
    r.headers.emplace_back("ETag", etag);
    return r;
  }
  HttpResponse r{200, "image/png", avatarPng(u.login), {}};
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "max-age=3600");
  return r;
}

}  // namespace akvo::console
