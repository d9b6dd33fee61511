#include "transport/kafka_templates.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <stdexcept>
#include <thread>
#include <vector>

#include "common/log.h"
#include "orchestrator/kafka.h"

namespace akvo {

struct KafkaTemplateExchange::Impl {
  const KafkaConfig& config;
  decoder::SharedTemplates& shared;
  rd_kafka_t* producer = nullptr;
  rd_kafka_t* consumer = nullptr;
  std::string topic;
  std::jthread follower;
  Counter& published;
  Counter& publish_errors;
  Counter& received;
  Counter& malformed;
  Counter& followed;
  Counter& delay_ms;
  RateLimitedLog log;

  Impl(const KafkaConfig& c, decoder::SharedTemplates& s, Metrics& m)
      : config(c),
        shared(s),
        topic(c.templatesTopic()),
        published(m.counter("akvo_outlet_kafka_templates_published_total",
                            "NetFlow templates and sampling rates produced to the templates topic.")),
        publish_errors(m.counter("akvo_outlet_kafka_templates_publish_errors_total",
                                 "Template records the broker refused or never acknowledged.")),
        received(m.counter("akvo_outlet_kafka_templates_received_total",
                           "Template and sampling records read from the templates topic.")),
        malformed(m.counter("akvo_outlet_kafka_templates_malformed_total",
                            "Records of the templates topic that could not be read (skipped).")),
        followed(m.counter("akvo_outlet_kafka_templates_followed_total",
                           "Template records read after start (not while catching up).")),
        delay_ms(m.counter("akvo_outlet_kafka_templates_delay_milliseconds_total",
                           "Sum of produce-to-apply delays of the followed template records, in "
                           "milliseconds (divide by ..._followed_total for the mean).")) {
    const char* help =
        "NetFlow templates, sampling rates and domains the shared templates refused past their "
        "bounds (docs/02-decoders.md, Limits), by kind.";
    s.countRefused(m.counter("akvo_outlet_kafka_templates_refused_total", help,
                             {{"kind", "template"}}),
                   m.counter("akvo_outlet_kafka_templates_refused_total", help,
                             {{"kind", "sampler"}}),
                   m.counter("akvo_outlet_kafka_templates_refused_total", help,
                             {{"kind", "domain"}}),
                   m.counter("akvo_outlet_kafka_templates_refused_total", help,
                             {{"kind", "template_memory"}}));
  }

  static void onDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (msg->err) {
      self->publish_errors.inc();
      self->log.warn("kafka: template record not delivered: {}", rd_kafka_err2str(msg->err));
    }
  }

  void publish(const std::string& key, const std::string& value) {
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
    if (e) {
      publish_errors.inc();
      log.warn("kafka: cannot produce template record {}: {}", key, rd_kafka_err2str(e));
    } else {
      published.inc();
    }
  }

  /// Applies one consumed message; `following` once caught up (delays are measured then).
  void consume(rd_kafka_message_t* m, bool following) {
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        log.warn("kafka templates consumer: {}", rd_kafka_message_errstr(m));
      return;
    }
    received.inc();
    if (!m->key || !m->payload) return;  // a tombstone: nothing to learn
    std::string_view key(static_cast<const char*>(m->key), m->key_len);
    std::string_view value(static_cast<const char*>(m->payload), m->len);
    if (!shared.apply(key, value)) {
      malformed.inc();
      log.warn("kafka: malformed template record at offset {}: {}", m->offset, key);
      return;
    }
    if (following) {
      int64_t ts = rd_kafka_message_timestamp(m, nullptr);
      int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
      followed.inc();
      if (ts > 0 && now >= ts) delay_ms.inc(uint64_t(now - ts));
    }
  }
};

KafkaTemplateExchange::KafkaTemplateExchange(const KafkaConfig& config,
                                             decoder::SharedTemplates& shared, Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, shared, metrics)) {}

KafkaTemplateExchange::~KafkaTemplateExchange() { stop(); }

void KafkaTemplateExchange::start() {
  Impl& x = *impl_;
  const KafkaConfig& c = x.config;
  // The orchestrator creates it too: a broker away now is no reason not to start (the
  // consumer below retries), but say it.
  try {
    if (c.manage_topic) spdlog::info("kafka: {}", ensureTemplatesTopic(c, std::chrono::seconds(10)));
  } catch (const std::exception& e) {
    spdlog::warn("kafka: cannot check the templates topic {}: {}", x.topic, e.what());
  }

  // Producer: templates are few and latency matters (data may wait for them): no linger.
  rd_kafka_conf_t* conf = kafka::baseConf(c);
  kafka::set(conf, "linger.ms", "0");
  kafka::set(conf, "acks", "all");
  kafka::set(conf, "enable.idempotence", "true");  // in order, once, even across retries
  for (const auto& [k, v] : c.options) kafka::set(conf, k, v);
  rd_kafka_conf_set_dr_msg_cb(conf, Impl::onDelivery);
  rd_kafka_conf_set_opaque(conf, &x);
  char err[512];
  x.producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!x.producer) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka templates producer: ") + err);
  }

  // Consumer: no group (every outlet reads everything), from the beginning.
  conf = kafka::baseConf(c);
  kafka::set(conf, "group.id", c.consumer_group + "-templates");
  kafka::set(conf, "enable.auto.commit", "false");
  kafka::set(conf, "enable.partition.eof", "true");
  kafka::set(conf, "fetch.wait.max.ms", "10");  // records arrive one by one: do not wait
  for (const auto& [k, v] : c.options) kafka::set(conf, k, v);
  x.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!x.consumer) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka templates consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(x.consumer);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, x.topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t e = rd_kafka_assign(x.consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (e) throw std::runtime_error(std::string("kafka templates assign: ") + rd_kafka_err2str(e));

  // Catch up: read to the end the topic had when we started.
  auto t0 = std::chrono::steady_clock::now();
  auto deadline = t0 + c.templates_catch_up;
  int64_t low = 0, high = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    e = rd_kafka_query_watermark_offsets(x.consumer, x.topic.c_str(), 0, &low, &high, 2000);
    if (!e) break;
    spdlog::warn("kafka: templates topic {} not readable yet: {}", x.topic, rd_kafka_err2str(e));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  int64_t next = low;
  bool caught_up = high >= 0 && high <= low;
  while (!caught_up && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(x.consumer, 200);
    if (!m) continue;
    if (!m->err) next = m->offset + 1;
    else if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) next = std::max(next, m->offset);
    x.consume(m, false);
    rd_kafka_message_destroy(m);
    caught_up = high >= 0 && next >= high;
  }
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
  if (caught_up)
    spdlog::info("kafka: {} templates and {} sampling rates read from {} in {} ms",
                 x.shared.templates(), x.shared.samplingRates(), x.topic, took.count());
  else
    spdlog::warn("kafka: templates topic {} not read to its end in {} ms (at {} of {}): data of "
                 "exporters whose templates are missing waits for them (outlet.flow.template-wait)",
                 x.topic, took.count(), next, high);

  x.shared.setPublisher(
      [&x](const std::string& key, const std::string& value) { x.publish(key, value); });
  x.follower = std::jthread([&x](std::stop_token st) {
    while (!st.stop_requested()) {
      rd_kafka_poll(x.producer, 0);  // delivery reports
      rd_kafka_message_t* m = rd_kafka_consumer_poll(x.consumer, 50);
      if (!m) continue;
      x.consume(m, true);
      rd_kafka_message_destroy(m);
    }
  });
}

void KafkaTemplateExchange::stop() {
  if (!impl_) return;
  Impl& x = *impl_;
  x.follower.request_stop();
  if (x.follower.joinable()) x.follower.join();
  x.shared.setPublisher({});
  if (x.producer) {
    rd_kafka_flush(x.producer, 5000);
    int left = rd_kafka_outq_len(x.producer);
    if (left > 0) {
      x.publish_errors.inc(uint64_t(left));
      spdlog::error("kafka: {} template records not delivered at shutdown", left);
    }
    rd_kafka_destroy(x.producer);
    x.producer = nullptr;
  }
  if (x.consumer) {
    rd_kafka_consumer_close(x.consumer);
    rd_kafka_destroy(x.consumer);
    x.consumer = nullptr;
  }
}

}  // namespace akvo
