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
#include "common/ip.h"
#include "common/metrics.h"

struct MMDB_s;

namespace akvo {

/// What GeoIP says of one address. Views point into the database snapshot.
struct GeoInfo {
  uint32_t asn = 0;
  char country[2] = {0, 0};
  std::string_view city, state;
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
  /// Looks `a` up in every database (no allocation).
  GeoInfo lookup(const IPv6Addr& a) const;
  bool empty() const { return asn_.empty() && geo_.empty(); }

 private:
  std::vector<std::unique_ptr<MMDB_s>> asn_, geo_;
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
