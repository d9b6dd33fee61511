#pragma once
/// The Kafka transport (scale-out): inlets produce each datagram, undecoded, in a protobuf
/// envelope (kafka_envelope.h) to the topic "<topic>-v1"; outlets consume it in a consumer group
/// and commit offsets only once the batch holding the flows of those messages is stored.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "transport/queue.h"

struct rd_kafka_conf_s;

namespace akvo {

/// The `kafka` configuration section, shared by inlet, outlet and orchestrator.
/// A topic-configuration's `config-entries` (topic property -> value), read from `s`.
std::map<std::string, std::string> readTopicConfigEntries(ConfigReader& s);

/// Akvorado's `sasl` block of a Kafka connection.
struct KafkaSasl {
  std::string mechanism = "none";  ///< none, plain, scram-sha256, scram-sha512, oauth
  std::string username, password;  ///< oauth: the client id and secret
  std::string oauth_token_url;     ///< oauth: the token endpoint (client-credentials grant)
  std::vector<std::string> oauth_scopes;
  void read(ConfigReader& r);
};

/// A Kafka connection's security, as Akvorado's `tls` and `sasl` keys set it: librdkafka's
/// security.protocol and the ssl.* and sasl.* properties (nothing when neither is on).
std::vector<std::pair<std::string, std::string>> kafkaSecurityProperties(const TlsConfig& tls,
                                                                        const KafkaSasl& sasl);

struct KafkaConfig {
  std::vector<std::string> brokers = {"127.0.0.1:9092"};
  TlsConfig tls;   ///< `tls`: enable, skip-verify, ca-file, cert-file, key-file
  KafkaSasl sasl;  ///< `sasl`: mechanism, username, password, oauth-token-url, oauth-scopes
  std::string topic = "flows";  ///< base name: the topic is "<topic>-v<envelope version>"
  // Topic creation (orchestrator).
  int64_t num_partitions = 8;
  int64_t replication_factor = 1;
  Duration retention = std::chrono::hours(6);
  /// Topic properties (retention.ms, segment.bytes...) the orchestrator keeps on the topic, as
  /// Akvorado's config-entries; `retention` is retention.ms unless given here.
  std::map<std::string, std::string> config_entries;
  /// Properties set on the topic but not listed are removed (back to the broker's defaults).
  bool config_entries_strict_sync = true;
  /// The properties the topic must have: config_entries, with retention.ms from `retention`.
  std::map<std::string, std::string> topicConfig() const;
  /// false: the orchestrator and outlets leave the topics alone (created by the Kafka admins).
  bool manage_topic = true;
  // Producer (inlet).
  std::string compression_codec = "zstd";  ///< none, gzip, snappy, lz4, zstd
  int64_t queue_size = 100000;             ///< datagrams held while the broker is slow or away
  Duration flush_interval = std::chrono::milliseconds(50);  ///< linger before a produce request
  Duration message_timeout = std::chrono::seconds(120);  ///< then an undelivered datagram is dropped
  /// random: any partition (a busy exporter spreads over every outlet; templates are shared
  /// through the templates topic); exporter: the partition is the hash of its address.
  std::string partitioning = "random";
  // Consumer (outlet).
  std::string consumer_group = "akvo-outlet";
  int64_t max_workers = 8;  ///< decoding workers; assigned partitions are spread over them
  int64_t fetch_queue_kbytes = 8192;  ///< per partition prefetched: bounds memory when slow
  /// Outlet start: longest wait to read the templates topic to its end before consuming flows.
  Duration templates_catch_up = std::chrono::seconds(30);
  /// How often the outlet's consumer lag (akvo_outlet_kafka_consumergroup_lag_messages) is
  /// asked to the brokers. Not a key of the file (tests shorten it).
  Duration lag_interval = std::chrono::seconds(10);
  /// Raw librdkafka properties, applied last (over those of `tls` and `sasl`).
  std::map<std::string, std::string> options;
  bool configured = false;  ///< the file has a kafka section (the orchestrator then creates the topic)

  void read(ConfigReader& r);
  std::string fullTopic() const;
  /// The compacted topic of shared NetFlow templates: "<topic>-v<version>-templates".
  std::string templatesTopic() const { return fullTopic() + "-templates"; }
  std::string bootstrap() const;
};

namespace kafka {
/// A librdkafka configuration with the brokers, client id, reconnection backoff, logging and
/// the `tls` and `sasl` properties (not `options`: callers apply them last). Throws
/// std::runtime_error.
rd_kafka_conf_s* baseConf(const KafkaConfig& c);
/// Sets one property; on error destroys `conf` and throws std::runtime_error naming it.
void set(rd_kafka_conf_s* conf, const std::string& key, const std::string& value);
/// The Kafka client library akvo runs with and its features, as `akvo version` prints it:
/// "librdkafka 2.12.0 (gzip, snappy, ssl, sasl, ...)".
std::string library();
}  // namespace kafka

/// The inlet side: a FlowTransport that produces to Kafka. send() never blocks: when the local
/// queue is full (broker slow or away) datagrams are dropped and counted.
class KafkaProducer : public FlowTransport {
 public:
  KafkaProducer(const KafkaConfig& config, Metrics& metrics);
  ~KafkaProducer() override;
  /// Creates the librdkafka producer and its poll thread. Throws std::runtime_error.
  void start();
  /// Flushes for up to `timeout`, counts what could not be delivered, stops.
  void stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  size_t send(std::span<Datagram> batch) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The outlet side: a consumer group member whose assigned partitions are spread over
/// `max-workers` sources (partition p goes to source p % workers); each outlet worker pops from
/// one source. A source's checkpoint() captures the offsets of the messages popped since the
/// last one; the writer runs it once the batch is stored, which commits them.
class KafkaConsumer : public OutletTransport {
 public:
  KafkaConsumer(const KafkaConfig& config, Metrics& metrics);
  ~KafkaConsumer() override;
  /// Joins the group (subscribes) and starts the thread serving rebalances. Throws.
  void start();
  /// Leaves the group (after the outlet stopped: last commits done).
  void stop();

  size_t size() const override;
  DatagramSource& source(size_t i) override;
  /// Stops the sources: pop() returns nothing more, the workers finish.
  void close() override;
  /// Partitions assigned to this member right now.
  size_t assignedPartitions() const { return assigned_.load(); }
  /// The messages of the partitions assigned to this member that the group has not committed
  /// yet, as last asked (every lag_interval); -1 before the first answer or when the brokers
  /// could not answer. The gauge akvo_outlet_kafka_consumergroup_lag_messages.
  int64_t lag() const;
  /// Called by librdkafka on the control thread (rd_kafka_resp_err_t, partition list).
  void rebalance(int err, void* partitions);

 private:
  class Source;
  struct Impl;
  friend class Source;
  std::unique_ptr<Impl> impl_;
  std::atomic<size_t> assigned_{0};
};

}  // namespace akvo
