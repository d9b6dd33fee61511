#pragma once
/// The console's HTTP API under /api/v0/console/ (Akvorado's routes and shapes, documented in
/// docs/03-console-api.md): graphs, filter validation and completion, saved filters, home
/// widgets, configuration, documentation and the user from reverse-proxy headers. Responses
/// are cached per request; store queries are bounded in time and cancelled by the store.
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/schema.h"
#include "console/query.h"
#include "console/redis_cache.h"
#include "console/saved_filters.h"
#include "orchestrator/clickhouse.h"

namespace akvo::console {

struct ConsoleConfig {
  struct VisualizeOptions {
    std::string graph_type = "stacked";
    std::string start = "6 hours ago";
    std::string end = "now";
    std::string filter = "InIfBoundary = external";
    std::vector<std::string> dimensions = {"SrcAS"};
    int64_t limit = 10;
    std::string limit_type = "avg";
    bool bidirectional = false;
    bool previous_period = false;
  } default_visualize_options;
  std::vector<std::string> homepage_top_widgets = {"src-as", "src-port", "protocol",
                                                   "src-country", "etype"};
  std::string homepage_graph_filter = "InIfBoundary = 'external'";  ///< raw SQL
  Duration homepage_graph_timerange = std::chrono::hours(24);
  int64_t dimensions_limit = 50;
  Duration cache_ttl = std::chrono::hours(3);
  int64_t cache_size = 1000;                    ///< responses kept at most (0: no cache)
  int64_t cache_max_bytes = int64_t(64) << 20;  ///< bytes the kept responses hold at most
  int64_t max_request_size = 65536;
  Duration query_timeout = std::chrono::seconds(30);
  bool branding = false;
  struct Auth {
    std::string header_login = "Remote-User";
    std::string header_name = "Remote-Name";
    std::string header_email = "Remote-Email";
    std::string header_logout_url = "X-Logout-URL";
    std::string header_avatar_url = "X-Avatar-URL";
    std::string default_login = "__default";
    std::string default_name = "Default User";
    /// Templates as Akvorado's (Go syntax: `{{ .Login }}`, `.Name`, `.Email`, `.LogoutURL`,
    /// `.AvatarURL`, the last two from the headers; akvo's `{login}`, `{name}`, `{email}` too).
    /// Set, they win over the headers.
    std::string logout_url;
    std::string avatar_url;  ///< empty, and no header: the generated avatar
  } auth;
  /// Saved filters database, as Akvorado's `database.driver` and `database.dsn`: "sqlite",
  /// "mysql" or "postgresql". SQLite's file is `dsn` or `path` (akvo's older key); both
  /// empty: `<clickhouse.path>/console.sqlite` with the embedded store (set by the role), in
  /// memory with servers.
  std::string database_driver = "sqlite";
  std::string database_dsn;
  std::string database_path;
  std::vector<SavedFilter> saved_filters;
  /// Where responses are cached: `http.cache` (set by the role).
  HttpServer::Config::Cache cache_backend;

  void read(ConfigReader& r, const Schema& schema);
};

/// The user of a request.
struct User {
  std::string login, name, email, logout_url, avatar_url;
};

/// `tmpl` with `{{ .Login }}`, `{{ .Name }}`, `{{ .Email }}`, `{{ .LogoutURL }}`,
/// `{{ .AvatarURL }}` (spaces optional) and `{login}`, `{name}`, `{email}` replaced by `u`'s
/// values. Another `{{ ... }}` is an error: `error` gets the reason (when given), the action
/// is left as is.
std::string renderUserTemplate(const std::string& tmpl, const User& u, std::string* error = nullptr);

/// Responses kept per key for a time, bounded both in entries and in bytes (responses and
/// their keys: a graph response can be megabytes). Past a bound, the least recently used
/// responses are evicted (counted); a response larger than the byte bound is not kept at all.
/// Thread-safe.
class ResponseCache {
 public:
  /// `max_entries` or `max_bytes` 0: nothing is cached.
  ResponseCache(size_t max_entries, size_t max_bytes, Metrics& metrics);
  /// The response of `key` when it is kept and not expired (it becomes the most recently used).
  bool get(const std::string& key, HttpResponse& out);
  void put(const std::string& key, const HttpResponse& r, std::chrono::milliseconds ttl);
  /// Bytes counted against `max_bytes` (keys, responses and bookkeeping).
  size_t bytes() const;
  size_t size() const;
  /// What one entry counts against the byte bound.
  static size_t entryBytes(const std::string& key, const HttpResponse& r);

 private:
  struct Entry {
    HttpResponse response;
    std::chrono::steady_clock::time_point expires;
    size_t bytes = 0;
    std::list<const std::string*>::iterator order;
  };
  void evict(std::unordered_map<std::string, Entry>::iterator it);

  size_t max_entries_, max_bytes_;
  mutable std::mutex mutex_;  // guards entries_, order_ and bytes_
  std::unordered_map<std::string, Entry> entries_;
  /// Keys (those of entries_: its nodes do not move), least recently used first.
  std::list<const std::string*> order_;
  size_t bytes_ = 0;
  Counter& evictions_;
  Counter& too_large_;
};

/// A PNG avatar generated from a login (same login, same picture).
std::string avatarPng(const std::string& login);

class Console {
 public:
  static constexpr const char* kPrefix = "/api/v0/console/";
  /// `query` runs read-only SQL on the store. Nothing starts before start().
  Console(ConsoleConfig config, const Schema& schema, const ClickHouseConfig& clickhouse,
          QueryFn query, Metrics& metrics);
  /// Opens the saved filters database and seeds the configured ones. Throws on failure.
  void start();
  /// Registers the routes under /api/v0/console/.
  void registerRoutes(HttpServer& http);
  /// Answers one request (throws HttpError for errors, as the server expects).
  HttpResponse handle(const HttpRequest& req);
  /// The clock used for "now" (tests move it). Unix seconds.
  void setClock(std::function<int64_t()> now) { now_ = std::move(now); }

 private:
  User user(const HttpRequest& req) const;
  HttpResponse dispatch(const HttpRequest& req, const std::string& route, const User& u);
  nlohmann::json parseBody(const HttpRequest& req) const;
  std::string runQuery(const std::string& sql, const std::string& format);
  std::vector<TableInfo> tables();

  HttpResponse configuration();
  HttpResponse docs(const HttpRequest& req, const std::string& name);
  HttpResponse graphLine(const HttpRequest& req);
  HttpResponse graphSankey(const HttpRequest& req);
  HttpResponse tableInterval(const HttpRequest& req);
  HttpResponse filterValidate(const HttpRequest& req);
  HttpResponse filterComplete(const HttpRequest& req);
  HttpResponse savedFilters(const HttpRequest& req, const User& u, const std::string& rest);
  HttpResponse widget(const HttpRequest& req, const std::string& name);
  HttpResponse userInfo(const User& u);
  HttpResponse userAvatar(const HttpRequest& req, const User& u);

  ConsoleConfig config_;
  const Schema& schema_;
  const ClickHouseConfig& clickhouse_;
  QueryFn query_;
  Metrics& metrics_;
  GraphBuilder builder_;
  ResponseCache cache_;
  std::unique_ptr<SavedFilters> saved_;
  std::unique_ptr<RedisCache> redis_;  ///< with http.cache.type redis, instead of cache_
  std::function<int64_t()> now_;
  Counter& cache_hits_;
  Counter& cache_misses_;
  std::vector<std::string> table_names_;  ///< the flows tables (metric labels), finest first
  std::mutex tables_mutex_;  // guards tables_cache_ and tables_expiry_
  std::vector<TableInfo> tables_cache_;
  std::chrono::steady_clock::time_point tables_expiry_{};
};

}  // namespace akvo::console
