#pragma once
/// The outlet: workers that pop datagrams from the transport, decode them, enrich the flows
/// and append them to a Native batch, flushed to the writer on size or age. Each worker owns
/// its decoders (and so its templates), its flow record and its batch: nothing is shared on
/// the hot path.
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/schema.h"
#include "outlet/decoder/decoder.h"
#include "outlet/decoder/netflow/shared_templates.h"
#include "outlet/decoder/netflow/state.h"
#include "outlet/writer/writer.h"
#include "transport/queue.h"

namespace akvo {

/// Enrichment applied to each decoded flow before it is batched. Returns false to drop the
/// flow (counted by the caller). Implementations are per worker (not shared).
class FlowEnricher {
 public:
  virtual ~FlowEnricher() = default;
  virtual bool enrich(FlowRecord& flow) = 0;
  /// The inlet's reception time (unix seconds) of the datagram whose flows follow, and its
  /// input's rate-limit (0: none set there). Caches and the rate limiter count time with it,
  /// never with a flow's TimeReceived, which may come from the exporter's clock
  /// (timestamp-source: netflow-packet, netflow-first-switched).
  virtual void received(uint32_t /*unix_seconds*/, uint32_t /*rate_limit*/ = 0) {}
  /// Adds what enrich() counted locally to the shared counters (the worker calls it after each
  /// round of datagrams, so that no flow pays for an atomic add).
  virtual void flushCounters() {}
};

/// Where enriched flows go besides the store (e.g. the Kafka export). Thread-safe: every
/// worker calls send() for each flow it batches.
class FlowExport {
 public:
  virtual ~FlowExport() = default;
  virtual void send(const FlowRecord& flow) = 0;
};

class Outlet {
 public:
  struct Config {
    int64_t workers = 2;  ///< decoding workers (one transport queue each)
    BatchWriter::Config clickhouse;
    /// `flow.state-persist-file`: NetFlow templates and sampling rates saved on stop, loaded on
    /// start ("" keeps nothing).
    std::string state_persist_file;
    /// `flow.template-expiry`: templates not redefined for this long are forgotten (0: never).
    Duration template_expiry{0};
    /// `flow.template-max-bytes`: bytes of NetFlow v9/IPFIX templates each worker's decoder
    /// (and the shared templates) keeps, all exporters together; past it, templates are
    /// refused (decoder/netflow/templates.h).
    int64_t template_max_bytes = int64_t(decoder::kMaxTemplateBytes);
    /// `flow.template-wait`: with shared templates (Kafka), a NetFlow v9/IPFIX datagram whose
    /// template (or announced sampling rate) is not known yet is held up to this long, then
    /// decoded with what is known (missing sets counted). 0: never held.
    Duration template_wait = std::chrono::seconds(2);
    /// Not a key of this section: core.startup-delay. The workers take no datagram before it
    /// has passed since start() (unless stopped first).
    Duration startup_delay{0};
    void read(ConfigReader& r);
  };
  /// Makes one enricher per worker (may return nullptr: no enrichment).
  using EnricherFactory = std::function<std::unique_ptr<FlowEnricher>(size_t worker)>;

  Outlet(Config config, const Schema& schema, OutletTransport& transport, Store& store,
         Metrics& metrics, EnricherFactory enrichers = {});
  ~Outlet();
  /// Shares NetFlow templates and sampling rates with other decoders (`shared` outlives the
  /// outlet). Call before start().
  void shareTemplates(decoder::SharedTemplates* shared) { shared_ = shared; }
  /// Sends every enriched flow to `exporter` too (it outlives the outlet). Before start().
  void exportTo(FlowExport* exporter) { export_ = exporter; }
  void start();
  /// Drains the queues (the inlet must be stopped first), flushes every batch, stops writing.
  void stop();
  const BatchWriter& writer() const { return writer_; }

 private:
  class Worker;
  void countStateRefused(const decoder::StateRefused& refused, bool log);
  Config config_;
  const Schema& schema_;
  OutletTransport& transport_;
  Metrics& metrics_;
  BatchWriter writer_;
  EnricherFactory enrichers_;
  decoder::SharedTemplates* shared_ = nullptr;
  FlowExport* export_ = nullptr;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool started_ = false;
  std::atomic<bool> stopping_{false};
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace akvo
