#pragma once
/// GeoIP with libmaxminddb (Akvorado's `geoip`): an optional list of ASN databases and an
/// optional list of country/city databases (MaxMind GeoLite2/GeoIP2 or IPinfo layouts). Later
/// files override earlier ones. The files are watched (modification time, every second) and
/// re-read when they change; readers keep the snapshot they started with, so the strings a
/// lookup returns (views into the mapped file) stay valid until the reader takes a new one.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/intern.h"
#include "common/ip.h"
#include "common/prefix_cache.h"
#include "common/metrics.h"

struct MMDB_s;

namespace akvo {

/// What GeoIP says of one address (city and state interned).
struct GeoInfo {
  uint32_t asn = 0;
  char country[2] = {0, 0};
  IStr city, state;
  /// Length (IPv6 form) of the database network that gave the ASN, and the location (country,
  /// city, state): against network attributes, the most specific prefix wins.
  uint8_t asn_len = 0, location_len = 0;
};

/// One set of opened databases. Immutable once built; lookups are thread-safe.
class GeoDatabases {
 public:
  /// Opens every file; throws std::runtime_error naming the file on failure.
  GeoDatabases(const std::vector<std::string>& asn_files,
               const std::vector<std::string>& geo_files);
  ~GeoDatabases();
  GeoDatabases(const GeoDatabases&) = delete;
  GeoDatabases& operator=(const GeoDatabases&) = delete;
  /// Looks `a` up in every database (no allocation). When `prefix_len` is given, it gets the
  /// length (on the IPv6 form) of the prefix around `a` over which the answer is the same.
  GeoInfo lookup(const IPv6Addr& a, uint8_t* prefix_len = nullptr) const;
  bool empty() const { return asn_.empty() && geo_.empty(); }

 private:
  std::vector<std::unique_ptr<MMDB_s>> asn_, geo_;
};

/// A per-worker cache of GeoIP answers in front of a snapshot (see PrefixCache: an answer is
/// only reused inside the database network it came from).
class GeoCache {
 public:
  explicit GeoCache(size_t slots = 8192) : cache_(slots) {}
  /// Forgets everything (call when the snapshot changes).
  void reset(const GeoDatabases* db) {
    db_ = db;
    cache_.clear();
  }
  GeoInfo lookup(const IPv6Addr& a) {
    if (!db_) return {};
    return cache_.get(a, [this](const IPv6Addr& x, uint8_t* len) { return db_->lookup(x, len); });
  }

 private:
  const GeoDatabases* db_ = nullptr;
  PrefixCache<GeoInfo> cache_;
};

class GeoIP {
 public:
  struct Config {
    std::vector<std::string> asn_database;  ///< `asn-database`
    std::vector<std::string> geo_database;  ///< `geo-database` (alias `country-database`)
    bool optional = false;                  ///< start (and keep going) when files are missing
    Duration check_interval{1000};          ///< akvo: how often files are checked for changes
    void read(ConfigReader& r);
    bool enabled() const { return !asn_database.empty() || !geo_database.empty(); }
  };

  /// Opens the databases (throws when they cannot be opened, unless optional).
  GeoIP(Config config, Metrics& metrics);
  ~GeoIP();
  /// Starts watching the files for changes.
  void start();
  void stop();

  /// The current snapshot (may be null when optional and no file could be opened).
  std::shared_ptr<const GeoDatabases> snapshot() const;
  /// Bumped each time a new snapshot is installed: readers compare it to refresh cheaply.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  bool reload();
  std::vector<int64_t> mtimes() const;
  Config config_;
  Metrics& metrics_;
  mutable std::mutex mutex_;  // guards current_
  std::shared_ptr<const GeoDatabases> current_;
  std::atomic<uint64_t> generation_{0};
  std::vector<int64_t> mtimes_;
  std::jthread watcher_;
};

}  // namespace akvo
