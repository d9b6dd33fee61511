#include "transport/kafka.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <condition_variable>
#include <stdexcept>

#include "common/thread.h"
#include "transport/kafka_envelope.h"

namespace akvo {

std::map<std::string, std::string> readTopicConfigEntries(ConfigReader& s) {
  std::map<std::string, std::string> out;
  YAML::Node e = s.raw("config-entries", "{}");
  if (!e.IsDefined() || e.IsNull()) return out;
  if (!e.IsMap()) s.fail("config-entries", "expected a mapping of topic property to value");
  for (const auto& kv : e) {
    if (!kv.second.IsScalar())
      s.fail("config-entries", fmt::format("{}: expected a number or a string", kv.first.as<std::string>()));
    out[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return out;
}

void KafkaConfig::read(ConfigReader& r) {
  r.field("brokers", brokers);
  if (brokers.empty()) r.fail("brokers", "at least one broker (host:port) is needed");
  r.field("topic", topic);
  if (topic.empty()) r.fail("topic", "must not be empty");
  r.field("manage-topic", manage_topic);
  r.section("topic-configuration", [&](ConfigReader& s) {
    s.field("num-partitions", num_partitions, 1, 10000);
    s.field("replication-factor", replication_factor, 1, 100);
    s.field("retention", retention);
    config_entries = readTopicConfigEntries(s);
    if (s.has("retention") && config_entries.count("retention.ms"))
      s.fail("config-entries", "retention.ms and retention both set: keep one");
    s.field("config-entries-strict-sync", config_entries_strict_sync);
  });
  r.choice("compression-codec", compression_codec, {"none", "gzip", "snappy", "lz4", "zstd"});
  r.field("queue-size", queue_size, 1, 10'000'000);
  r.field("flush-interval", flush_interval);
  r.field("message-timeout", message_timeout);
  r.choice("partitioning", partitioning, {"random", "exporter"});
  r.field("consumer-group", consumer_group);
  r.field("max-workers", max_workers, 1, 256);
  r.field("fetch-queue-kbytes", fetch_queue_kbytes, 64, 1 << 20);
  r.field("templates-catch-up", templates_catch_up);
  r.section("tls", [&](ConfigReader& s) { tls.read(s); });
  r.section("sasl", [&](ConfigReader& s) { sasl.read(s); });
  YAML::Node opts = r.raw("options", "{}");
  if (opts && opts.IsMap())
    for (const auto& kv : opts) options[kv.first.as<std::string>()] = kv.second.as<std::string>();
  else if (opts && !opts.IsNull())
    r.fail("options", "must be a mapping of librdkafka properties");
}

void KafkaSasl::read(ConfigReader& r) {
  r.choice("mechanism", mechanism, {"none", "plain", "scram-sha256", "scram-sha512", "oauth"});
  r.field("username", username);
  r.field("password", password);
  r.field("oauth-token-url", oauth_token_url);
  r.field("oauth-scopes", oauth_scopes);
  if (mechanism == "none") return;
  if (username.empty())
    r.fail(r.has("mechanism") ? "mechanism" : "username",
           mechanism == "oauth" ? "oauth needs username (the client id) and password (its secret)"
                                : mechanism + " needs a username and a password");
  if (mechanism == "oauth" && oauth_token_url.empty())
    r.fail("mechanism", "oauth needs oauth-token-url (the token endpoint)");
  if (mechanism == "oauth") {
    // OAuth's client-credentials grant is librdkafka's OIDC, which a librdkafka built without
    // libcurl leaves out (Debian 12's; the one scripts/deps.sh builds has it, and
    // AKVO_RDKAFKA_DIR may name another): said here rather than at the first connection.
    rd_kafka_conf_t* probe = rd_kafka_conf_new();
    char err[512];
    bool ok = rd_kafka_conf_set(probe, "sasl.oauthbearer.method", "oidc", err, sizeof err) ==
              RD_KAFKA_CONF_OK;
    rd_kafka_conf_destroy(probe);
    if (!ok)
      r.fail("mechanism", fmt::format("oauth is not available with this librdkafka ({}): {}",
                                      rd_kafka_version_str(), err));
  }
}

std::vector<std::pair<std::string, std::string>> kafkaSecurityProperties(const TlsConfig& tls,
                                                                        const KafkaSasl& sasl) {
  std::vector<std::pair<std::string, std::string>> p;
  const bool with_sasl = sasl.mechanism != "none" && !sasl.mechanism.empty();
  if (!tls.enable && !with_sasl) return p;
  p.emplace_back("security.protocol", tls.enable ? (with_sasl ? "sasl_ssl" : "ssl")
                                                 : "sasl_plaintext");
  if (tls.enable) {
    if (!tls.ca_file.empty()) p.emplace_back("ssl.ca.location", tls.ca_file);
    if (!tls.cert_file.empty()) {
      p.emplace_back("ssl.certificate.location", tls.cert_file);
      // TlsConfig: without key-file, the key is in the certificate's file.
      p.emplace_back("ssl.key.location", tls.key_file.empty() ? tls.cert_file : tls.key_file);
    }
    if (tls.skip_verify) {
      p.emplace_back("enable.ssl.certificate.verification", "false");
      p.emplace_back("ssl.endpoint.identification.algorithm", "none");
    } else {
      p.emplace_back("ssl.endpoint.identification.algorithm", "https");
    }
  }
  if (with_sasl) {
    if (sasl.mechanism == "oauth") {
      p.emplace_back("sasl.mechanisms", "OAUTHBEARER");
      p.emplace_back("sasl.oauthbearer.method", "oidc");
      p.emplace_back("sasl.oauthbearer.client.id", sasl.username);
      p.emplace_back("sasl.oauthbearer.client.secret", sasl.password);
      p.emplace_back("sasl.oauthbearer.token.endpoint.url", sasl.oauth_token_url);
      std::string scopes;
      for (const auto& s : sasl.oauth_scopes) scopes += (scopes.empty() ? "" : " ") + s;
      if (!scopes.empty()) p.emplace_back("sasl.oauthbearer.scope", scopes);
    } else {
      p.emplace_back("sasl.mechanisms", sasl.mechanism == "plain"          ? "PLAIN"
                                        : sasl.mechanism == "scram-sha256" ? "SCRAM-SHA-256"
                                                                           : "SCRAM-SHA-512");
      p.emplace_back("sasl.username", sasl.username);
      p.emplace_back("sasl.password", sasl.password);
    }
  }
  return p;
}

std::map<std::string, std::string> KafkaConfig::topicConfig() const {
  std::map<std::string, std::string> c = config_entries;
  if (!c.count("retention.ms"))
    c["retention.ms"] =
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(retention).count());
  return c;
}

std::string KafkaConfig::fullTopic() const { return fmt::format("{}-v{}", topic, kEnvelopeVersion); }

std::string KafkaConfig::bootstrap() const {
  std::string out;
  for (const auto& b : brokers) {
    if (!out.empty()) out += ',';
    out += b;
  }
  return out;
}

namespace kafka {

void set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(fmt::format("kafka: {}={}: {}", key, value, err));
  }
}

static void logCallback(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  static RateLimitedLog log(10, std::chrono::seconds(30));
  if (level <= 3) log.warn("kafka {}: {}", fac, buf);
  else if (level <= 5) spdlog::debug("kafka {}: {}", fac, buf);
}

std::string library() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char features[512] = "";
  size_t size = sizeof features;
  rd_kafka_conf_get(conf, "builtin.features", features, &size);
  rd_kafka_conf_destroy(conf);
  std::string list;
  for (const char* p = features; *p; p++) list += *p == ',' ? std::string(", ") : std::string(1, *p);
  return fmt::format("librdkafka {} ({})", rd_kafka_version_str(), list);
}

rd_kafka_conf_t* baseConf(const KafkaConfig& c) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", c.bootstrap());
  set(conf, "client.id", "akvo");
  set(conf, "reconnect.backoff.ms", "100");
  set(conf, "reconnect.backoff.max.ms", "2000");
  for (const auto& [k, v] : kafkaSecurityProperties(c.tls, c.sasl)) set(conf, k, v);
  rd_kafka_conf_set_log_cb(conf, logCallback);
  return conf;
}

}  // namespace kafka

namespace {
using kafka::baseConf;
using kafka::set;
int64_t ms(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }
}  // namespace

// ---------------------------------------------------------------------------------------------
// Producer

struct KafkaProducer::Impl {
  const KafkaConfig& config;
  rd_kafka_t* rk = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  std::jthread poller;
  Counter& sent;
  Counter& delivered;
  Counter& dropped_full;
  Counter& dropped_error;
  Counter& delivery_errors;
  Counter& bytes;
  RateLimitedLog log;

  Impl(const KafkaConfig& c, Metrics& m)
      : config(c),
        sent(m.counter("akvo_inlet_kafka_sent_datagrams_total", "Datagrams handed to the Kafka producer.")),
        delivered(m.counter("akvo_inlet_kafka_delivered_datagrams_total", "Datagrams acknowledged by the broker.")),
        dropped_full(m.counter("akvo_inlet_kafka_dropped_datagrams_total",
                               "Datagrams dropped before Kafka, by reason.", {{"reason", "queue_full"}})),
        dropped_error(m.counter("akvo_inlet_kafka_dropped_datagrams_total",
                                "Datagrams dropped before Kafka, by reason.", {{"reason", "error"}})),
        delivery_errors(m.counter("akvo_inlet_kafka_delivery_errors_total",
                                  "Datagrams the broker never acknowledged (timeout, error).")),
        bytes(m.counter("akvo_inlet_kafka_sent_bytes_total", "Envelope bytes handed to the producer.")) {}

  static void onDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    if (msg->err) {
      self->delivery_errors.inc();
      self->log.warn("kafka: datagram not delivered: {}", rd_kafka_err2str(msg->err));
    } else {
      self->delivered.inc();
    }
  }
};

KafkaProducer::KafkaProducer(const KafkaConfig& config, Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, metrics)) {
  metrics.gauge("akvo_inlet_kafka_queue_datagrams", "Datagrams waiting in the producer queue.", {},
                [this] { return impl_->rk ? double(rd_kafka_outq_len(impl_->rk)) : 0.0; });
}

KafkaProducer::~KafkaProducer() { stop(std::chrono::milliseconds(0)); }

void KafkaProducer::start() {
  const auto& c = impl_->config;
  rd_kafka_conf_t* conf = baseConf(c);
  set(conf, "compression.codec", c.compression_codec);
  set(conf, "linger.ms", std::to_string(ms(c.flush_interval)));
  set(conf, "queue.buffering.max.messages", std::to_string(c.queue_size));
  set(conf, "message.timeout.ms", std::to_string(ms(c.message_timeout)));
  set(conf, "acks", "1");
  // random: any partition (one busy exporter spreads over every outlet); exporter: the
  // partition is the hash of the key (the exporter address), Java-compatible.
  set(conf, "partitioner", c.partitioning == "random" ? "random" : "murmur2_random");
  for (const auto& [k, v] : c.options) set(conf, k, v);
  rd_kafka_conf_set_dr_msg_cb(conf, Impl::onDelivery);
  rd_kafka_conf_set_opaque(conf, impl_.get());
  char err[512];
  impl_->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!impl_->rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka producer: ") + err);
  }
  impl_->topic = rd_kafka_topic_new(impl_->rk, c.fullTopic().c_str(), nullptr);
  impl_->poller = std::jthread([rk = impl_->rk](std::stop_token st) {
    while (!st.stop_requested()) rd_kafka_poll(rk, 100);
  });
  spdlog::info("kafka producer to {} on {} ({} partitioning)", c.fullTopic(), c.bootstrap(),
               c.partitioning);
}

void KafkaProducer::stop(std::chrono::milliseconds timeout) {
  if (!impl_ || !impl_->rk) return;
  impl_->poller.request_stop();
  if (impl_->poller.joinable()) impl_->poller.join();
  rd_kafka_flush(impl_->rk, int(timeout.count()));
  int left = rd_kafka_outq_len(impl_->rk);
  if (left > 0) {
    spdlog::error("kafka: {} datagrams not delivered at shutdown", left);
    impl_->delivery_errors.inc(uint64_t(left));
  }
  rd_kafka_topic_destroy(impl_->topic);
  rd_kafka_destroy(impl_->rk);
  impl_->rk = nullptr;
}

size_t KafkaProducer::send(std::span<Datagram> batch) {
  if (!impl_->rk) return 0;
  thread_local std::string wire;
  size_t accepted = 0;
  const bool spread = impl_->config.partitioning == "random";
  for (Datagram& d : batch) {
    d.spread = spread;
    encodeEnvelope(d, wire);
    int rc = rd_kafka_produce(impl_->topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                              wire.data(), wire.size(), d.exporter.bytes.data(), 16, nullptr);
    if (rc == 0) {
      accepted++;
      impl_->bytes.inc(wire.size());
      continue;
    }
    rd_kafka_resp_err_t e = rd_kafka_last_error();
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      impl_->dropped_full.inc();
    } else {
      impl_->dropped_error.inc();
      impl_->log.warn("kafka: cannot produce: {}", rd_kafka_err2str(e));
    }
  }
  impl_->sent.inc(accepted);
  // The caller counts the rest as dropped by the transport too; we count them by reason.
  return accepted;
}

// ---------------------------------------------------------------------------------------------
// Consumer

class KafkaConsumer::Source : public DatagramSource {
 public:
  Source(KafkaConsumer& owner, rd_kafka_queue_t* queue) : owner_(owner), queue_(queue) {}
  ~Source() override { rd_kafka_queue_destroy(queue_); }

  size_t pop(std::span<Datagram> out, std::chrono::milliseconds wait) override;
  bool finished() const override;
  std::function<void()> checkpoint() override;
  rd_kafka_queue_t* queue() { return queue_; }

 private:
  KafkaConsumer& owner_;
  rd_kafka_queue_t* queue_;
  std::vector<rd_kafka_message_t*> msgs_ = std::vector<rd_kafka_message_t*>(64);
  std::map<int32_t, int64_t> next_offsets_;  ///< partition → offset to commit (last + 1)
};

struct KafkaConsumer::Impl {
  const KafkaConfig& config;
  rd_kafka_t* rk = nullptr;
  std::vector<std::unique_ptr<Source>> sources;
  std::atomic<bool> closed{false};
  std::jthread control;
  Counter& messages;
  Counter& malformed;
  Counter& commits;
  Counter& commit_errors;
  Counter& rebalances;
  Counter& consumer_errors;
  RateLimitedLog log;
  std::atomic<int64_t> lag{-1};  // computeLag()'s last answer
  std::jthread lag_thread;       // refreshes `lag` every config.lag_interval

  int64_t computeLag(std::string& error) const;

  Impl(const KafkaConfig& c, Metrics& m)
      : config(c),
        messages(m.counter("akvo_outlet_kafka_received_datagrams_total", "Datagrams consumed from Kafka.")),
        malformed(m.counter("akvo_outlet_kafka_malformed_datagrams_total",
                            "Kafka messages whose envelope could not be decoded (skipped).")),
        commits(m.counter("akvo_outlet_kafka_commits_total", "Offset commits after a stored batch.")),
        commit_errors(m.counter("akvo_outlet_kafka_commit_errors_total",
                                "Failed commits (partition revoked: its datagrams may be read twice).")),
        rebalances(m.counter("akvo_outlet_kafka_rebalances_total", "Partition assignments received.")),
        consumer_errors(m.counter("akvo_outlet_kafka_errors_total", "Consumer errors (broker away...).")) {}
};

bool KafkaConsumer::Source::finished() const { return owner_.impl_->closed.load(); }

size_t KafkaConsumer::Source::pop(std::span<Datagram> out, std::chrono::milliseconds wait) {
  Impl& impl = *owner_.impl_;
  if (impl.closed.load()) return 0;
  size_t want = std::min(out.size(), msgs_.size());
  ssize_t got = rd_kafka_consume_batch_queue(queue_, int(wait.count()), msgs_.data(), want);
  size_t n = 0;
  for (ssize_t i = 0; i < got; i++) {
    rd_kafka_message_t* m = msgs_[size_t(i)];
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        impl.consumer_errors.inc();
        impl.log.warn("kafka consumer: {}", rd_kafka_message_errstr(m));
      }
    } else {
      next_offsets_[m->partition] = m->offset + 1;
      impl.messages.inc();
      if (decodeEnvelope({static_cast<const uint8_t*>(m->payload), m->len}, out[n])) {
        n++;
      } else {
        impl.malformed.inc();
        impl.log.warn("kafka: malformed envelope at partition {} offset {}", m->partition, m->offset);
      }
    }
    rd_kafka_message_destroy(m);
  }
  return n;
}

std::function<void()> KafkaConsumer::Source::checkpoint() {
  if (next_offsets_.empty()) return {};
  Impl& impl = *owner_.impl_;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(int(next_offsets_.size()));
  std::string topic = impl.config.fullTopic();
  for (auto [p, off] : next_offsets_)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = off;
  next_offsets_.clear();
  // A shared_ptr so that the std::function stays copyable and the list is freed exactly once.
  auto owned = std::shared_ptr<rd_kafka_topic_partition_list_t>(list, rd_kafka_topic_partition_list_destroy);
  return [&impl, owned] {
    rd_kafka_resp_err_t e = rd_kafka_commit(impl.rk, owned.get(), 0);
    if (e) {
      impl.commit_errors.inc();
      impl.log.warn("kafka: commit failed: {}", rd_kafka_err2str(e));
    } else {
      impl.commits.inc();
    }
  };
}

// The lag of the partitions assigned to this member, as Akvorado's
// kafkainput_consumergroup_lag_messages but for this outlet's share (the outlets' gauges add up
// to the group's lag): for each partition, its high watermark minus the offset the group
// committed (OffsetFetch to the coordinator), or minus its low watermark when nothing was
// committed (the consumer starts there: auto.offset.reset=earliest). The watermarks are asked
// to the partitions' leaders (ListOffsets), not taken from the fetches (rd_kafka_get_watermark
// _offsets, statistics.interval.ms' consumer_lag): those stop moving when fetching does, when
// the outlet is stuck, just when the lag matters. One OffsetFetch and two ListOffsets per
// partition every lag-interval, on the lag thread: never on the message path. -1 (and the
// reason in `error`) when an answer is missing.
int64_t KafkaConsumer::Impl::computeLag(std::string& error) const {
  constexpr int kTimeoutMs = 2000;
  rd_kafka_topic_partition_list_t* parts = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_assignment(rk, &parts);
  if (e) {
    error = fmt::format("assignment: {}", rd_kafka_err2str(e));
    return -1;
  }
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>
      owned(parts, rd_kafka_topic_partition_list_destroy);
  if (parts->cnt == 0) return 0;
  if ((e = rd_kafka_committed(rk, parts, kTimeoutMs))) {
    error = fmt::format("committed offsets: {}", rd_kafka_err2str(e));
    return -1;
  }
  int64_t total = 0;
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t& tp = parts->elems[i];
    int64_t low = 0, high = 0;
    if (!tp.err)
      e = rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &low, &high, kTimeoutMs);
    if (tp.err || e) {
      error = fmt::format("partition {}: {}", tp.partition, rd_kafka_err2str(tp.err ? tp.err : e));
      return -1;
    }
    // Committed below the low watermark: those messages are gone (retention), the consumer
    // resumes at the low watermark.
    int64_t from = tp.offset >= 0 ? std::max(tp.offset, low) : low;
    total += std::max<int64_t>(0, high - from);
  }
  return total;
}

KafkaConsumer::KafkaConsumer(const KafkaConfig& config, Metrics& metrics)
    : impl_(std::make_unique<Impl>(config, metrics)) {
  metrics.gauge("akvo_outlet_kafka_assigned_partitions", "Partitions assigned to this outlet.", {},
                [this] { return double(assigned_.load()); });
  metrics.gauge("akvo_outlet_kafka_consumergroup_lag_messages",
                "Messages of the partitions assigned to this outlet not committed yet by its "
                "consumer group (high watermark minus committed offset, summed; asked every "
                "10 s), or -1 when the brokers could not answer.",
                {}, [this] { return double(lag()); });
}

int64_t KafkaConsumer::lag() const { return impl_->lag.load(); }

KafkaConsumer::~KafkaConsumer() { stop(); }

namespace {
void rebalanceCallback(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                       void* opaque) {
  static_cast<KafkaConsumer*>(opaque)->rebalance(int(err), parts);
}
}  // namespace

void KafkaConsumer::start() {
  const auto& c = impl_->config;
  rd_kafka_conf_t* conf = baseConf(c);
  set(conf, "group.id", c.consumer_group);
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "queued.max.messages.kbytes", std::to_string(c.fetch_queue_kbytes));
  // Kafka 4's consumer group protocol (KIP-848, `options: {group.protocol: consumer}`): the
  // broker sets the session and heartbeat and assigns the partitions (group.remote.assignor),
  // and librdkafka refuses those classic properties.
  auto proto = c.options.find("group.protocol");
  const bool classic = proto == c.options.end() || strcasecmp(proto->second.c_str(), "consumer") != 0;
  if (classic) {
    set(conf, "session.timeout.ms", "6000");
    set(conf, "heartbeat.interval.ms", "1000");
    set(conf, "partition.assignment.strategy", "roundrobin");
  }
  for (const auto& [k, v] : c.options) set(conf, k, v);
  rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback);
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  impl_->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!impl_->rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(impl_->rk);
  for (int64_t i = 0; i < c.max_workers; i++)
    impl_->sources.push_back(std::make_unique<Source>(*this, rd_kafka_queue_new(impl_->rk)));
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, c.fullTopic().c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(impl_->rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) throw std::runtime_error(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
  // The control thread serves rebalances and group events; messages go to the sources' queues.
  impl_->control = std::jthread([this](std::stop_token st) {
    while (!st.stop_requested()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(impl_->rk, 100);
      if (!m) continue;
      if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        impl_->consumer_errors.inc();
        impl_->log.warn("kafka consumer: {}", rd_kafka_message_errstr(m));
      } else if (!m->err) {
        // Cannot happen (partition queues are forwarded before assignment); never lose it silently.
        impl_->log.warn("kafka: message on the control queue (partition {}), will be re-read",
                        m->partition);
      }
      rd_kafka_message_destroy(m);
    }
  });
  impl_->lag_thread = std::jthread([this](std::stop_token st) {
    setupThread("akvo-kafka-lag");
    std::mutex m;  // guards nothing: the wait below needs one
    std::condition_variable_any cv;
    while (!st.stop_requested()) {
      std::string error;
      int64_t lag = impl_->computeLag(error);
      impl_->lag = lag;
      if (lag < 0) impl_->log.warn("kafka: consumer lag unknown: {}", error);
      std::unique_lock lock(m);
      cv.wait_for(lock, st, impl_->config.lag_interval, [] { return false; });
    }
  });
  spdlog::info("kafka consumer of {} on {} (group {}, {} protocol, {} workers)", c.fullTopic(),
               c.bootstrap(), c.consumer_group, classic ? "classic" : "consumer", c.max_workers);
}

// Eager protocols (the classic group's roundrobin, range) hand the whole assignment at each
// rebalance and take it all back before; cooperative ones (cooperative-sticky, and Kafka 4's
// consumer protocol) add and remove partitions, the others keep being consumed meanwhile.
void KafkaConsumer::rebalance(int err, void* partitions) {
  auto* parts = static_cast<rd_kafka_topic_partition_list_t*>(partitions);
  rd_kafka_t* rk = impl_->rk;
  const bool incremental = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  std::string list;
  for (int i = 0; i < parts->cnt; i++) {
    if (i) list += ',';
    list += std::to_string(parts->elems[i].partition);
  }
  auto check = [&](rd_kafka_error_t* e, const char* what) {
    if (!e) return;
    impl_->consumer_errors.inc();
    impl_->log.warn("kafka: {} [{}]: {}", what, list, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  };
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Each partition's queue is forwarded to a worker's queue before fetching starts.
    for (int i = 0; i < parts->cnt; i++) {
      const auto& tp = parts->elems[i];
      rd_kafka_queue_t* pq = rd_kafka_queue_get_partition(rk, tp.topic, tp.partition);
      if (!pq) continue;
      size_t w = size_t(tp.partition) % impl_->sources.size();
      rd_kafka_queue_forward(pq, impl_->sources[w]->queue());
      rd_kafka_queue_destroy(pq);
    }
    if (incremental) {
      check(rd_kafka_incremental_assign(rk, parts), "cannot add partitions");
      assigned_ += size_t(parts->cnt);
    } else {
      rd_kafka_assign(rk, parts);
      assigned_ = size_t(parts->cnt);
    }
    impl_->rebalances.inc();
    spdlog::info("kafka: {} partitions [{}]", incremental ? "added" : "assigned", list);
  } else if (incremental) {
    // Revoked (or lost): only these; the others go on being consumed. Batches of them still in
    // flight commit later and may fail (counted); the new owner then reads their datagrams
    // again: duplicates, never loss.
    check(rd_kafka_incremental_unassign(rk, parts), "cannot remove partitions");
    size_t n = std::min(assigned_.load(), size_t(parts->cnt));
    assigned_ -= n;
    spdlog::info("kafka: partitions [{}] revoked ({})", list,
                 rd_kafka_err2str(rd_kafka_resp_err_t(err)));
  } else {
    // Revoked: as above, for the whole assignment.
    rd_kafka_assign(rk, nullptr);
    assigned_ = 0;
    spdlog::info("kafka: partitions revoked ({})", rd_kafka_err2str(rd_kafka_resp_err_t(err)));
  }
}

size_t KafkaConsumer::size() const { return impl_->sources.size(); }
DatagramSource& KafkaConsumer::source(size_t i) { return *impl_->sources.at(i); }
void KafkaConsumer::close() { impl_->closed = true; }

void KafkaConsumer::stop() {
  if (!impl_ || !impl_->rk) return;
  impl_->closed = true;
  impl_->control.request_stop();
  impl_->lag_thread.request_stop();
  if (impl_->control.joinable()) impl_->control.join();
  if (impl_->lag_thread.joinable()) impl_->lag_thread.join();
  rd_kafka_consumer_close(impl_->rk);
  impl_->sources.clear();
  rd_kafka_destroy(impl_->rk);
  impl_->rk = nullptr;
  assigned_ = 0;
}

}  // namespace akvo
