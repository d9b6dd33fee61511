#pragma once
/// The orchestrator's Kafka duty: create the flows topic with the configured partitions,
/// replication and retention (librdkafka admin API), and grow its partitions when asked.
#include "common/metrics.h"
#include "transport/kafka.h"
#include "transport/kafka_export.h"

namespace akvo {

/// What a managed topic must be.
struct TopicSettings {
  std::string topic;
  int64_t num_partitions = 1, replication_factor = 1;
  std::map<std::string, std::string> config;  ///< topic properties (config-entries)
  bool strict_sync = true;  ///< properties set on the topic but not in `config` are removed
};

/// Creates the topic if missing; when it exists, sets its properties as configured, adds
/// partitions when it has fewer, and warns of what cannot change (more partitions, another
/// replication factor). Returns a line saying what was done. Throws std::runtime_error with
/// the broker's message.
std::string ensureTopic(const KafkaConfig& connection, const TopicSettings& settings,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// ensureTopic() for the flows topic "<topic>-v1" of the `kafka` section.
std::string ensureKafkaTopic(const KafkaConfig& config, std::chrono::milliseconds timeout =
                                                            std::chrono::seconds(30));

/// ensureTopic() for the enriched flows' topic of `outlet.kafka-output` (Akvorado's
/// kafka-output), on its brokers (the `kafka` section's when it names none).
std::string ensureOutputTopic(const KafkaOutputConfig& output, const KafkaConfig& kafka,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// Creates "<topic>-v1-templates" if missing: one partition, compacted (cleanup.policy=compact),
/// the NetFlow templates and sampling rates every outlet shares (transport/kafka_templates.h).
/// Run by the orchestrator and by each outlet at start. Returns what was done; throws.
std::string ensureTemplatesTopic(const KafkaConfig& config, std::chrono::milliseconds timeout =
                                                                std::chrono::seconds(30));

}  // namespace akvo
