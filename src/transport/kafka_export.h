#pragma once
/// Optional export of the enriched flows to a second Kafka topic (outlet.kafka-output), one
/// protobuf message per flow (schema: src/transport/flow.proto), for consumers other than akvo.
/// Never blocks the outlet: when the producer queue is full, flows are dropped from the export
/// (never from the store) and counted.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "outlet/outlet.h"
#include "transport/kafka.h"

namespace akvo {

/// The `outlet.kafka-output` section.
struct KafkaOutputConfig {
  bool enabled = false;
  std::vector<std::string> brokers;  ///< empty: the `kafka` section's brokers
  std::string topic = "flows-enriched";  ///< the topic is "<topic>-v<flow.proto version>"
  std::string compression_codec = "lz4";
  int64_t queue_size = 100000;  ///< flows held while the broker is slow; then dropped, counted
  std::map<std::string, std::string> options;  ///< raw librdkafka properties, applied last
  /// `tls` and `sasl`: with its own brokers, this section's (none when not given); without,
  /// the `kafka` section's unless this one gives them.
  TlsConfig tls;
  KafkaSasl sasl;
  bool has_tls = false, has_sasl = false;
  /// The orchestrator creates the topic with these (Akvorado's kafka-output); false: left to
  /// the Kafka admins (or the broker's auto-creation).
  bool manage_topic = true;
  int64_t num_partitions = 8, replication_factor = 1;
  std::map<std::string, std::string> config_entries;
  bool config_entries_strict_sync = true;

  void read(ConfigReader& r);
  std::string fullTopic() const;
  /// The connection: `kafka`'s, with this section's brokers, options, tls and sasl when it has
  /// brokers (its options, tls and sasl when it gives them otherwise).
  KafkaConfig connection(const KafkaConfig& kafka) const;
};

class KafkaFlowExport : public FlowExport {
 public:
  /// `kafka` gives the brokers and options when the section names none.
  KafkaFlowExport(const KafkaOutputConfig& config, const KafkaConfig& kafka, Metrics& metrics);
  ~KafkaFlowExport() override;
  /// Creates the producer. Throws std::runtime_error.
  void start();
  /// Flushes for up to `timeout`, counts what was not delivered.
  void stop(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Thread-safe; allocates nothing in akvo (librdkafka copies the message).
  void send(const FlowRecord& flow) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace akvo
