#include "transport/kafka_export.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>

#include "common/log.h"
#include "transport/flow_proto.h"

namespace akvo {

void KafkaOutputConfig::read(ConfigReader& r) {
  r.field("enabled", enabled);
  r.field("brokers", brokers);
  r.field("topic", topic);
  if (topic.empty()) r.fail("topic", "must not be empty");
  r.choice("compression-codec", compression_codec, {"none", "gzip", "snappy", "lz4", "zstd"});
  r.field("queue-size", queue_size, 1, 10'000'000);
  YAML::Node opts = r.raw("options", "{}");
  if (opts && opts.IsMap())
    for (const auto& kv : opts) options[kv.first.as<std::string>()] = kv.second.as<std::string>();
  else if (opts && !opts.IsNull())
    r.fail("options", "must be a mapping of librdkafka properties");
  has_tls = r.has("tls");
  has_sasl = r.has("sasl");
  r.section("tls", [&](ConfigReader& s) { tls.read(s); });
  r.section("sasl", [&](ConfigReader& s) { sasl.read(s); });
  // The topic, as Akvorado's kafka-output has it (its keys here, not in a topic-configuration).
  r.field("manage-topic", manage_topic);
  r.field("num-partitions", num_partitions, 1, 10000);
  r.field("replication-factor", replication_factor, 1, 100);
  config_entries = readTopicConfigEntries(r);
  r.field("config-entries-strict-sync", config_entries_strict_sync);
}

KafkaConfig KafkaOutputConfig::connection(const KafkaConfig& kafka) const {
  KafkaConfig k = kafka;
  if (!brokers.empty()) {
    k.brokers = brokers;
    k.options = options;
    k.tls = tls;
    k.sasl = sasl;
    return k;
  }
  if (!options.empty()) k.options = options;
  if (has_tls) k.tls = tls;
  if (has_sasl) k.sasl = sasl;
  return k;
}

std::string KafkaOutputConfig::fullTopic() const {
  return fmt::format("{}-v{}", topic, kFlowProtoVersion);
}

struct KafkaFlowExport::Impl {
  KafkaOutputConfig config;
  KafkaConfig kafka;
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  std::jthread poller;
  Counter& sent;
  Counter& dropped_full;
  Counter& dropped_error;
  Counter& delivery_errors;
  RateLimitedLog log;

  Impl(const KafkaOutputConfig& c, const KafkaConfig& k, Metrics& m)
      : config(c),
        kafka(k),
        sent(m.counter("akvo_outlet_kafka_output_sent_flows_total",
                       "Enriched flows handed to the export producer.")),
        dropped_full(m.counter("akvo_outlet_kafka_output_dropped_flows_total",
                               "Enriched flows not exported, by reason.", {{"reason", "queue_full"}})),
        dropped_error(m.counter("akvo_outlet_kafka_output_dropped_flows_total",
                                "Enriched flows not exported, by reason.", {{"reason", "error"}})),
        delivery_errors(m.counter("akvo_outlet_kafka_output_delivery_errors_total",
                                  "Exported flows the broker never acknowledged.")) {}

  static void onDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (msg->err) {
      self->delivery_errors.inc();
      self->log.warn("kafka output: flow not delivered: {}", rd_kafka_err2str(msg->err));
    }
  }
};

KafkaFlowExport::KafkaFlowExport(const KafkaOutputConfig& config, const KafkaConfig& kafka,
                                 Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, kafka, metrics)) {}

KafkaFlowExport::~KafkaFlowExport() { stop(std::chrono::milliseconds(0)); }

void KafkaFlowExport::start() {
  Impl& x = *impl_;
  const KafkaConfig k = x.config.connection(x.kafka);
  rd_kafka_conf_t* conf = kafka::baseConf(k);
  kafka::set(conf, "compression.codec", x.config.compression_codec);
  kafka::set(conf, "linger.ms", "50");
  kafka::set(conf, "queue.buffering.max.messages", std::to_string(x.config.queue_size));
  kafka::set(conf, "partitioner", "random");
  for (const auto& [key, v] : k.options) kafka::set(conf, key, v);
  rd_kafka_conf_set_dr_msg_cb(conf, Impl::onDelivery);
  rd_kafka_conf_set_opaque(conf, &x);
  char err[512];
  x.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!x.rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka output producer: ") + err);
  }
  x.topic = rd_kafka_topic_new(x.rk, x.config.fullTopic().c_str(), nullptr);
  x.poller = std::jthread([rk = x.rk](std::stop_token st) {
    while (!st.stop_requested()) rd_kafka_poll(rk, 100);
  });
  spdlog::info("kafka output: enriched flows to {} on {}", x.config.fullTopic(), k.bootstrap());
}

void KafkaFlowExport::stop(std::chrono::milliseconds timeout) {
  if (!impl_ || !impl_->rk) return;
  Impl& x = *impl_;
  x.poller.request_stop();
  if (x.poller.joinable()) x.poller.join();
  rd_kafka_flush(x.rk, int(timeout.count()));
  int left = rd_kafka_outq_len(x.rk);
  if (left > 0) {
    x.delivery_errors.inc(uint64_t(left));
    spdlog::error("kafka output: {} flows not delivered at shutdown", left);
  }
  rd_kafka_topic_destroy(x.topic);
  rd_kafka_destroy(x.rk);
  x.rk = nullptr;
}

void KafkaFlowExport::send(const FlowRecord& flow) {
  Impl& x = *impl_;
  if (!x.rk) return;
  thread_local std::string wire;
  encodeFlowProto(flow, wire);
  if (rd_kafka_produce(x.topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, wire.data(),
                       wire.size(), nullptr, 0, nullptr) == 0) {
    x.sent.inc();
    return;
  }
  rd_kafka_resp_err_t e = rd_kafka_last_error();
  if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
    x.dropped_full.inc();
  } else {
    x.dropped_error.inc();
    x.log.warn("kafka output: cannot produce: {}", rd_kafka_err2str(e));
  }
}

}  // namespace akvo
