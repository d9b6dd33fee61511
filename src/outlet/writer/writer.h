#pragma once
/// The writer: one thread that takes full batches from the outlet workers and inserts them
/// into the store in Native format over one long-lived connection. A failed insert is retried
/// with exponential backoff, never dropped while akvo runs; at shutdown it keeps retrying for
/// `grace-period` and then reports loudly what it could not store.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "common/config.h"
#include "common/metrics.h"
#include "common/schema.h"
#include "store/native.h"
#include "store/store.h"

namespace akvo {

class BatchWriter {
 public:
  struct Config {
    int64_t maximum_batch_size = 50000;          ///< rows: a worker flushes at this size
    Duration maximum_wait_time = std::chrono::seconds(5);  ///< or at this age
    Duration grace_period = std::chrono::minutes(1);  ///< retry budget at shutdown
    int64_t queue_size = 4;                           ///< batches waiting to be written
    /// Benchmarks: store nothing. With a consolidated table, batches only group their flows into
    /// the consolidated rows (encoded, then dropped); without, they encode every flow's row.
    bool discard = false;
    /// Not a configuration key: with an embedded store, the file where the writer notes the
    /// TimeReceived range of the batch it is about to insert ("MIN MAX\n"), so that the repair
    /// after a kill -9 checks that range whatever its age. "" writes nothing.
    std::string inflight_file;
    /// Not configuration keys: the first consolidated table (from clickhouse.resolutions) and
    /// its interval. Each batch also carries its rows, grouped by the outlet, inserted after the
    /// raw rows ("" or 0: none).
    std::string consolidated_table;
    uint32_t consolidated_seconds = 0;
    /// Not a configuration key (set for a ClickHouse cluster, as Akvorado does): inserts of at
    /// most a tenth of maximum-batch-size flows go with async_insert=1 and
    /// wait_for_async_insert=1, so that the server joins the small inserts of several outlets
    /// into one part (an insert still returns once its rows are stored). Off for the embedded
    /// store: this writer is its only one, and already joins the batches waiting.
    bool async_small_inserts = false;
    void read(ConfigReader& r);
  };

  BatchWriter(Config config, const Schema& schema, Store& store, Metrics& metrics);
  ~BatchWriter();

  void start();
  /// Writes what is queued, then stops.
  void stop();

  /// Hands a full batch to the writer and gets an empty one back. Blocks while `queue_size`
  /// batches are waiting (back-pressure on the workers, never unbounded memory).
  /// `stored`, when given, runs on the writer thread once the batch is inserted (in submission
  /// order; not run when the batch is given up at shutdown). An empty batch is not inserted but
  /// its callback still runs in order.
  NativeBatch submit(NativeBatch&& batch, std::function<void()> stored = {});
  NativeBatch emptyBatch();
  const Config& config() const { return config_; }
  /// For the health check: whether inserts are failing (retried), since when, the last error.
  struct Failing {
    bool failing = false;
    std::chrono::steady_clock::time_point since;
    std::string error;
  };
  Failing failing() const {
    std::lock_guard l(failing_mutex_);
    return failing_;
  }

 private:
  void run(std::stop_token st);
  /// Inserts batches (those waiting together) as one INSERT per table.
  bool insert(const std::vector<NativeBatch*>& group, bool stopping);
  /// One INSERT of these Native streams into `flows` (raw: timed and counted) or the first
  /// consolidated table, retried with backoff; false when given up at shutdown.
  bool insertOne(bool raw, const std::vector<std::string_view>& data, size_t rows, bool stopping,
                 bool async);
  NativeBatch newBatch() const;
  void noteInflight(const std::vector<NativeBatch*>& group);

  Config config_;
  const Schema& schema_;
  Store& store_;
  Metrics& metrics_;
  std::unique_ptr<StoreConnection> conn_;
  std::string insert_prefix_;
  std::vector<ColumnKey> consolidated_columns_;  ///< empty: no consolidation
  std::string consolidated_prefix_;
  bool inflight_warned_ = false;
  bool async_refused_ = false;  ///< the store does not know async_insert: not asked again
  mutable std::mutex failing_mutex_;
  Failing failing_;

  std::mutex mutex_;  // guards pending_, free_, stopping_
  std::condition_variable cv_;
  std::deque<std::pair<NativeBatch, std::function<void()>>> pending_;
  std::deque<NativeBatch> free_;
  bool stopping_ = false;
  std::jthread thread_;

  Counter& async_inserts_;
  Counter& rows_written_;
  Counter& batches_written_;
  Counter& errors_;
  Counter& rows_lost_;
  Counter& consolidated_rows_;
  Counter& batches_joined_;
};

}  // namespace akvo
