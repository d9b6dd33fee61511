#pragma once
/// Exporter and interface metadata (Akvorado's `metadata`): a cache in front of a chain of
/// providers (static, SNMP, gNMI). The flow path only reads the cache: a miss never blocks a flow
/// (it goes on unnamed) and queues a query for the poller threads, which fill the cache for
/// the next flows. Entries are refreshed in the background before they get old
/// (`cache-refresh`), dropped when unused for `cache-duration`, and saved to
/// `cache-persist-file` on stop so that a restart does not poll everything again.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "outlet/metadata/gnmi.h"
#include "outlet/metadata/provider.h"
#include "outlet/metadata/snmp.h"
#include "outlet/metadata/static_provider.h"

namespace akvo::metadata {

/// One cached answer. The answer is immutable; readers hold the entry by shared_ptr, so the
/// strings stay valid while they do even if the cache replaces it.
struct Entry {
  Answer answer;
  int64_t fetched = 0;  ///< unix seconds
  bool failed = false;  ///< the last poll failed: retried sooner
  mutable std::atomic<int64_t> last_access{0};
  void touch(int64_t now) const {
    if (last_access.load(std::memory_order_relaxed) != now)
      last_access.store(now, std::memory_order_relaxed);
  }
};

class Metadata {
 public:
  struct ProviderConfig {
    std::string type = "snmp";
    SnmpProvider::Config snmp;
    StaticProvider::Config static_;
    GnmiProvider::Config gnmi;
  };
  struct Config {
    Duration cache_duration{30 * 60 * 1000};
    Duration cache_refresh{60 * 60 * 1000};
    Duration cache_check_interval{2 * 60 * 1000};
    std::string cache_persist_file;
    Duration query_timeout{5000};   ///< accepted for compatibility: lookups never wait
    Duration initial_delay{60000};  ///< accepted for compatibility: lookups never wait
    int64_t max_in_flight = 8;      ///< akvo: poller threads (queries in flight at once)
    Duration failure_retry{60000};  ///< akvo: a failed poll is retried after this delay
    std::vector<ProviderConfig> providers{ProviderConfig{}};
    void read(ConfigReader& r);
  };

  Metadata(Config config, Metrics& metrics);
  /// Builds with given providers (tests).
  Metadata(Config config, Metrics& metrics, std::vector<std::unique_ptr<Provider>> providers);
  ~Metadata();
  /// Loads the persisted cache, starts the pollers and the refresher.
  void start();
  /// Stops the threads and saves the cache.
  void stop();

  /// The cached entry, or nullptr on a miss (then a query is queued, or answered at once by
  /// a synchronous provider such as static). Never blocks on I/O. Thread-safe.
  std::shared_ptr<const Entry> lookup(const Query& q, int64_t now);
  /// Bumped on every change of the cache: per-worker caches compare it to refresh.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  size_t size() const;
  /// Waits until no query is queued or in flight (tests, benchmarks).
  bool waitIdle(std::chrono::milliseconds timeout);
  /// Saves the cache to `path` / loads it (JSON). Return false on error (logged).
  bool save(const std::string& path) const;
  bool load(const std::string& path);

 private:
  /// kNotReady: a synchronous provider cannot answer yet (static's exporter sources).
  enum class Chain { kAnswered, kPending, kNegative, kNotReady, kProvisional };
  /// Runs the synchronous providers from `first`; returns where to continue (or answered).
  Chain runSynchronous(const Query& q, size_t& next, Answer& out);
  /// `failed`: asked again after failure-retry, keeping the answer cached before if any;
  /// `provisional`: asked again after failure-retry, this answer replacing the cached one.
  void insert(const Query& q, Answer answer, bool failed, int64_t now, bool provisional = false);
  void enqueue(const Query& q, size_t first_provider);
  void poller(std::stop_token st);
  void refresher(std::stop_token st);

  Config config_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<Provider>> providers_;
  bool has_async_ = false;

  mutable std::shared_mutex cache_mutex_;  // guards cache_
  std::unordered_map<Query, std::shared_ptr<const Entry>, QueryHash> cache_;
  std::atomic<uint64_t> generation_{1};

  std::mutex queue_mutex_;  // guards queue_, pending_, in_flight_
  std::condition_variable_any queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<Query, size_t>> queue_;
  std::unordered_set<Query, QueryHash> pending_;
  size_t in_flight_ = 0;

  // A circuit breaker per exporter, as Akvorado's: after kBreakerErrors failed polls in a row,
  // the exporter's polls fail at once for kBreakerOpen (cached as failed, asked again after
  // failure-retry), so that a dead exporter does not hold the pollers in its timeouts.
  struct Breaker {
    uint32_t errors = 0;     ///< failed polls in a row
    int64_t open_until = 0;  ///< unix seconds
  };
  static constexpr uint32_t kBreakerErrors = 20;
  static constexpr int64_t kBreakerOpen = 60;
  /// True (and the poll is not made) while the exporter's breaker is open.
  bool breakerOpen(const IPv6Addr& exporter, int64_t now);
  void breakerResult(const IPv6Addr& exporter, bool failed, int64_t now);
  std::mutex breaker_mutex_;  // guards breakers_
  std::unordered_map<IPv6Addr, Breaker, IPv6AddrHash> breakers_;

  Counter &hits_, &misses_, &answers_, &failures_, &skips_, &expired_, &refreshes_, &queue_full_,
      &breaker_opens_, &breaker_refused_;
  static constexpr size_t kMaxQueued = 10000;  ///< polls waiting (exporters x interfaces)
  std::vector<std::jthread> threads_;
  bool started_ = false;
};

}  // namespace akvo::metadata
