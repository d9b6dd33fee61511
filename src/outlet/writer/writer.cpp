#include "outlet/writer/writer.h"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "common/thread.h"

namespace akvo {

void BatchWriter::Config::read(ConfigReader& r) {
  r.field("maximum-batch-size", maximum_batch_size, 1, 10'000'000);
  r.field("maximum-wait-time", maximum_wait_time);
  r.field("grace-period", grace_period);
  r.field("queue-size", queue_size, 1, 1000);
  r.field("discard", discard);
  if (maximum_wait_time.count() <= 0) r.fail("maximum-wait-time", "must be positive");
}

BatchWriter::BatchWriter(Config config, const Schema& schema, Store& store, Metrics& metrics)
    : config_(config),
      schema_(schema),
      store_(store),
      metrics_(metrics),
      async_inserts_(metrics.counter("akvo_outlet_clickhouse_async_inserts_total",
                                     "Small INSERTs sent with async_insert=1 (cluster mode).")),
      rows_written_(metrics.counter("akvo_outlet_clickhouse_flows_total", "Flows written to the store.")),
      batches_written_(metrics.counter("akvo_outlet_clickhouse_batches_total", "Batches inserted.")),
      errors_(metrics.counter("akvo_outlet_clickhouse_errors_total", "Failed insert attempts (retried).")),
      rows_lost_(metrics.counter("akvo_outlet_clickhouse_flows_lost_total",
                                 "Flows given up at shutdown after the grace period.")),
      consolidated_rows_(metrics.counter(
          "akvo_outlet_clickhouse_consolidated_rows_total",
          "Rows written to the first consolidated table, grouped by the outlet.")),
      batches_joined_(metrics.counter(
          "akvo_outlet_clickhouse_batches_joined_total",
          "Batches inserted together with others that were waiting (one part for them all).")) {
  if (!config_.consolidated_table.empty() && config_.consolidated_seconds > 0) {
    consolidated_columns_ = schema_.consolidatedInsertedColumns();
  }
  NativeBatch probe = newBatch();
  insert_prefix_ = "INSERT INTO flows (" + probe.columnList() + ")";
  if (probe.consolidating())
    consolidated_prefix_ = fmt::format("INSERT INTO {} ({})", config_.consolidated_table,
                                       probe.consolidatedColumnList());
  metrics_.gauge("akvo_outlet_clickhouse_pending_batches", "Batches waiting to be inserted.", {},
                 [this] {
                   std::lock_guard lock(mutex_);
                   return double(pending_.size());
                 });
}

BatchWriter::~BatchWriter() { stop(); }

void BatchWriter::start() {
  conn_ = store_.connect();
  thread_ = std::jthread([this](std::stop_token st) {
    setupThread("akvo-writer");
    run(st);
  });
}

void BatchWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

NativeBatch BatchWriter::newBatch() const {
  NativeBatch b(schema_);
  if (!consolidated_columns_.empty()) {
    b.consolidate(consolidated_columns_, config_.consolidated_seconds, &schema_);
    // The front end of the benchmarks aggregates in memory like the collectors it is compared
    // with: the consolidated rows are built and encoded, the per-flow rows are not.
    if (config_.discard) b.consolidatedOnly();
  }
  return b;
}

NativeBatch BatchWriter::emptyBatch() {
  std::lock_guard lock(mutex_);
  if (!free_.empty()) {
    NativeBatch b = std::move(free_.front());
    free_.pop_front();
    return b;
  }
  return newBatch();
}

NativeBatch BatchWriter::submit(NativeBatch&& batch, std::function<void()> stored) {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return pending_.size() < size_t(config_.queue_size) || stopping_; });
  pending_.emplace_back(std::move(batch), std::move(stored));
  cv_.notify_all();
  if (!free_.empty()) {
    NativeBatch b = std::move(free_.front());
    free_.pop_front();
    return b;
  }
  lock.unlock();
  return newBatch();
}

// Written to a temporary file and renamed over the last one: a kill leaves the old range or
// the new one, never half a line. About one file per insert (a few per second).
void BatchWriter::noteInflight(const std::vector<NativeBatch*>& group) {
  if (config_.inflight_file.empty()) return;
  uint32_t lo = 0, hi = 0;
  for (const NativeBatch* b : group) {
    if (!b->minTime()) continue;
    lo = lo ? std::min(lo, b->minTime()) : b->minTime();
    hi = std::max(hi, b->maxTime());
  }
  std::string tmp = config_.inflight_file + ".tmp";
  std::string line = fmt::format("{} {}\n", lo, hi);
  FILE* f = std::fopen(tmp.c_str(), "w");
  bool ok = f && std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (f) ok = std::fclose(f) == 0 && ok;
  if (ok) ok = std::rename(tmp.c_str(), config_.inflight_file.c_str()) == 0;
  if (!ok && !inflight_warned_) {
    inflight_warned_ = true;  // once: the repair then falls back to its window alone
    spdlog::warn("cannot write {}: {} (after a crash, only the last 10 minutes of the "
                 "consolidated tables will be checked)", config_.inflight_file, std::strerror(errno));
  }
}

// The batches waiting together (one, unless the store is behind) go in as one INSERT: one part
// instead of several, which the store would merge later (merges were 44 % of the all-in-one's
// CPU at 400k IPFIX flows/s). The raw rows, then the consolidated ones: two commits. A kill
// between them leaves the consolidated tables short of these batches, which the repair at the
// next start puts back (the in-flight range covers both); a failed second insert is retried
// alone.
bool BatchWriter::insert(const std::vector<NativeBatch*>& group, bool stopping) {
  noteInflight(group);
  std::vector<std::string_view> raw, consolidated;
  size_t rows = 0, consolidated_rows = 0;
  for (NativeBatch* b : group) {
    raw.push_back(b->encode());
    rows += b->rows();
    if (b->consolidating() && b->consolidatedRows() > 0) {
      consolidated.push_back(b->encodeConsolidated());
      consolidated_rows += b->consolidatedRows();
    }
  }
  // Small: at most a tenth of a full batch (the traffic is low, or the flush came on age).
  const bool async = config_.async_small_inserts &&
                     rows * 10 <= size_t(config_.maximum_batch_size);
  if (!insertOne(true, raw, rows, stopping, async)) return false;
  rows_written_.inc(rows);
  batches_written_.inc(group.size());
  if (group.size() > 1) batches_joined_.inc(group.size());
  if (!consolidated.empty()) {
    // Given up at shutdown, the flows are stored all the same (true: a Kafka offset is
    // committed, the flows are not read twice); the repair at the next start adds the rows.
    if (insertOne(false, consolidated, consolidated_rows, stopping, async))
      consolidated_rows_.inc(consolidated_rows);
  }
  return true;
}

bool BatchWriter::insertOne(bool raw, const std::vector<std::string_view>& data, size_t rows,
                            bool stopping, bool async) {
  static const StoreConnection::Settings kAsync = {{"async_insert", "1"},
                                                   {"wait_for_async_insert", "1"}};
  const std::string& prefix = raw ? insert_prefix_ : consolidated_prefix_;
  const char* what = raw ? "flows" : "consolidated rows";
  auto backoff = std::chrono::milliseconds(20);
  auto give_up = std::chrono::steady_clock::now() + config_.grace_period;
  for (;;) {
    auto start = std::chrono::steady_clock::now();
    try {
      const bool as_async = async && !async_refused_;
      if (!config_.discard)
        conn_->insertNativeParts(prefix, data, as_async ? kAsync : StoreConnection::Settings{});
      if (as_async) async_inserts_.inc();
      {
        std::lock_guard l(failing_mutex_);
        failing_.failing = false;
      }
      if (!raw) return true;
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      metrics_.observe("akvo_outlet_clickhouse_insert_seconds",
                       "Time of one INSERT of flows (one batch, or the batches waiting together).",
                       secs, {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
      metrics_.observe("akvo_outlet_clickhouse_flows_per_batch",
                       "Flows per INSERT (one batch, or the batches waiting together).",
                       double(rows), {100, 1000, 5000, 10000, 50000, 100000, 500000});
      return true;
    } catch (const StoreError& e) {
      // A server older than ClickHouse 21.11 does not know the setting: the small inserts go
      // as the others from now on (at once, not counted as a failure).
      const std::string_view error = e.what();
      auto has = [&](std::string_view s) { return error.find(s) != std::string_view::npos; };
      if (async && !async_refused_ && has("async_insert") &&
          (has("Unknown setting") || has("UNKNOWN_SETTING"))) {
        async_refused_ = true;
        spdlog::warn("the store does not know async_insert ({}): small batches are inserted "
                     "as the others", e.what());
        continue;
      }
      errors_.inc();
      {
        std::lock_guard l(failing_mutex_);
        if (!failing_.failing) failing_.since = std::chrono::steady_clock::now();
        failing_.failing = true;
        failing_.error = e.what();
      }
      spdlog::error("insert of {} {} failed (retrying in {} ms): {}", rows, what,
                    backoff.count(), e.what());
    }
    if (stopping && std::chrono::steady_clock::now() > give_up) {
      if (raw) rows_lost_.inc(rows);  // else the flows are stored, their consolidated rows not
      spdlog::critical("giving up on {} {} after the grace period", rows, what);
      return false;
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  }
}

void BatchWriter::run(std::stop_token) {
  std::vector<std::pair<NativeBatch, std::function<void()>>> taken;
  std::vector<NativeBatch*> group;
  for (;;) {
    bool stopping;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return !pending_.empty() || stopping_; });
      if (pending_.empty()) break;  // stopping and drained
      // The batches waiting go in together, up to twice maximum-batch-size rows: an INSERT is
      // held in the store's memory whole (joining all four of a full queue at 250,000 rows
      // each took the all-in-one from 1.3 to 1.8 GB when overloaded).
      size_t rows = 0;
      while (!pending_.empty() &&
             (taken.empty() || rows + pending_.front().first.rows() <=
                                   2 * size_t(config_.maximum_batch_size))) {
        rows += pending_.front().first.rows();
        taken.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
      stopping = stopping_;
      cv_.notify_all();
    }
    group.clear();
    for (auto& [b, stored] : taken)
      if (b.rows() > 0) group.push_back(&b);
    // The callbacks run in submission order, once the batches are stored (an empty batch's
    // at once).
    bool ok = group.empty() || insert(group, stopping);
    for (auto& [b, stored] : taken)
      if (stored && (ok || b.rows() == 0)) stored();
    std::lock_guard lock(mutex_);
    for (auto& [b, stored] : taken) {
      b.clear();
      if (free_.size() < size_t(config_.queue_size) + 2) free_.push_back(std::move(b));
    }
    taken.clear();
  }
  conn_.reset();
}

}  // namespace akvo
