#pragma once
/// The console's responses in Redis (`http.cache.type: redis`), shared by every console that
/// uses the same server and database: a graph one console computed, the others answer from
/// Redis. Keys are `akvo:console:<version>:<SHA-256 of the request>` (a new akvo never reads an
/// older one's answers), values the response's status, type, headers and body, with the route's
/// TTL (Redis expires them; its `maxmemory` bounds the whole).
///
/// The cache never fails a request: Redis down, slow (1 s per command at most) or refusing the
/// login is a miss, counted in akvo_console_cache_errors_total and logged (rate-limited), and
/// after a failed connection no other is tried for 5 s. Connections are kept (up to 8) and
/// opened again when one breaks.
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics.h"

struct redisContext;

namespace akvo::console {

/// The counter of responses too large to cache, which both caches count.
inline Counter& cacheTooLargeCounter(Metrics& m) {
  return m.counter("akvo_console_cache_too_large_total",
                   "Console responses not cached: larger than cache-max-bytes.");
}

class RedisCache {
 public:
  /// Responses larger than `max_bytes` are not kept (counted as too large). After a failed
  /// connection, none is tried for `retry_after`.
  RedisCache(const HttpServer::Config::Cache& config, size_t max_bytes, Metrics& metrics,
             std::chrono::milliseconds retry_after = std::chrono::seconds(5));
  ~RedisCache();
  RedisCache(const RedisCache&) = delete;
  RedisCache& operator=(const RedisCache&) = delete;

  /// Connects once: "" when the server answered and took the login and database, else why not.
  std::string check();
  bool get(const std::string& key, HttpResponse& out);
  void put(const std::string& key, const HttpResponse& r, std::chrono::milliseconds ttl);
  /// The Redis key of a request's key.
  static std::string redisKey(const std::string& key);
  /// A response as stored, and back (false when `data` is not one).
  static std::string encode(const HttpResponse& r);
  static bool decode(const std::string& data, HttpResponse& out);

 private:
  /// A connection (kept or new), or nullptr (counted, logged) when none can be had.
  redisContext* acquire(std::string* error = nullptr);
  /// Gives the connection back, or closes it when it broke.
  void release(redisContext* c);
  void failed(const char* op, const std::string& why);

  HttpServer::Config::Cache config_;
  size_t max_bytes_;
  std::chrono::milliseconds retry_after_;
  std::mutex mutex_;  // guards idle_ and retry_at_
  std::vector<redisContext*> idle_;
  std::chrono::steady_clock::time_point retry_at_{};
  Counter& errors_;
  Counter& too_large_;
  RateLimitedLog log_;
};

}  // namespace akvo::console
