#pragma once
/// The orchestrator's Kafka duty: create the flows topic with the configured partitions,
/// replication and retention (librdkafka admin API), and grow its partitions when asked.
#include "common/metrics.h"
#include "transport/kafka.h"

namespace akvo {

/// Creates "<topic>-v1" if missing; adds partitions when it has fewer than configured.
/// Returns a line saying what was done. Throws std::runtime_error with the broker's message.
std::string ensureKafkaTopic(const KafkaConfig& config, std::chrono::milliseconds timeout =
                                                            std::chrono::seconds(30));

/// Creates "<topic>-v1-templates" if missing: one partition, compacted (cleanup.policy=compact),
/// the NetFlow templates and sampling rates every outlet shares (transport/kafka_templates.h).
/// Run by the orchestrator and by each outlet at start. Returns what was done; throws.
std::string ensureTemplatesTopic(const KafkaConfig& config, std::chrono::milliseconds timeout =
                                                                std::chrono::seconds(30));

}  // namespace akvo
