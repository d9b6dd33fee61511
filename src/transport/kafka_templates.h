#pragma once
/// Shares NetFlow v9/IPFIX templates and sampling rates between outlets through the compacted
/// Kafka topic "<topic>-v1-templates" (one partition; key = kind/exporter/version/domain/id,
/// value = the definition, decoder/netflow/shared_templates.h). Every outlet produces the
/// templates its decoders learn and reads the whole topic: at start up to its end, before it
/// consumes any flow (so a fresh outlet, or the new owner of a partition, decodes at once),
/// then as it grows. Compaction keeps the last record of each key: the topic stays small.
#include <chrono>
#include <memory>

#include "common/metrics.h"
#include "outlet/decoder/netflow/shared_templates.h"
#include "transport/kafka.h"

namespace akvo {

class KafkaTemplateExchange {
 public:
  KafkaTemplateExchange(const KafkaConfig& config, decoder::SharedTemplates& shared,
                        Metrics& metrics);
  ~KafkaTemplateExchange();
  /// Creates the topic if missing, reads it to its end (up to `kafka.templates-catch-up`,
  /// then warns and goes on), follows it in a thread, and publishes what the decoders learn.
  /// Throws std::runtime_error when the broker cannot be used at all.
  void start();
  /// Flushes what is being published (up to 5 s), stops following.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akvo
