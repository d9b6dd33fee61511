#include "orchestrator/kafka.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <stdexcept>

namespace akvo {

namespace {

struct Handle {
  rd_kafka_t* rk = nullptr;
  rd_kafka_queue_t* q = nullptr;
  ~Handle() {
    if (q) rd_kafka_queue_destroy(q);
    if (rk) rd_kafka_destroy(rk);
  }
};

using Event = std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)>;

// Runs one admin request: `call` issues it with the options given (timeouts set); returns its
// result event, `type`.
Event adminCall(Handle& h, rd_kafka_admin_op_t op, rd_kafka_event_type_t type, int timeout_ms,
                const std::function<void(rd_kafka_AdminOptions_t*)>& call) {
  char err[512];
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(h.rk, op);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, err, sizeof err);
  // Refused (and ignored) by the requests that have no operation timeout (DescribeConfigs).
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, err, sizeof err);
  call(opts);
  rd_kafka_AdminOptions_destroy(opts);
  for (;;) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(h.q, timeout_ms);
    if (!ev) throw std::runtime_error("kafka admin: timed out waiting for the broker");
    if (rd_kafka_event_type(ev) == type) return Event(ev, rd_kafka_event_destroy);
    rd_kafka_event_destroy(ev);
  }
}

// Creates `nt` (destroyed here): no error, TOPIC_ALREADY_EXISTS, or throws with the broker's.
rd_kafka_resp_err_t createTopic(Handle& h, const std::string& topic, rd_kafka_NewTopic_t* nt, int tmo) {
  Event ev = adminCall(h, RD_KAFKA_ADMIN_OP_CREATETOPICS, RD_KAFKA_EVENT_CREATETOPICS_RESULT, tmo,
                       [&](rd_kafka_AdminOptions_t* o) { rd_kafka_CreateTopics(h.rk, &nt, 1, o, h.q); });
  rd_kafka_NewTopic_destroy(nt);
  if (rd_kafka_event_error(ev.get()))
    throw std::runtime_error(std::string("kafka create topic: ") + rd_kafka_event_error_string(ev.get()));
  size_t cnt = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &cnt);
  rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    throw std::runtime_error(
        fmt::format("kafka create topic {}: {}", topic, rd_kafka_topic_result_error_string(res[0])));
  return e;
}

// The topic's partitions (-1 if unknown) and the replicas of its first partition.
int partitionCount(rd_kafka_t* rk, const std::string& topic, int timeout_ms, int* replicas = nullptr) {
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
  rd_kafka_topic_destroy(t);
  if (e) throw std::runtime_error(std::string("kafka metadata: ") + rd_kafka_err2str(e));
  int n = -1;
  if (md->topic_cnt == 1 && !md->topics[0].err) {
    n = md->topics[0].partition_cnt;
    if (replicas && n > 0) *replicas = md->topics[0].partitions[0].replica_cnt;
  }
  rd_kafka_metadata_destroy(md);
  return n;
}

// An admin client (a producer handle and an event queue) on the configured brokers.
void openAdmin(const KafkaConfig& c, Handle& h) {
  char err[512];
  // The brokers, tls and sasl and logging as every other client, then options.
  rd_kafka_conf_t* conf = kafka::baseConf(c);
  kafka::set(conf, "allow.auto.create.topics", "false");
  for (const auto& [k, v] : c.options) kafka::set(conf, k, v);
  h.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!h.rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka admin: ") + err);
  }
  h.q = rd_kafka_queue_new(h.rk);
}

// The topic's properties set on it (not the broker's defaults): DescribeConfigs.
std::map<std::string, std::string> topicOverrides(Handle& h, const std::string& topic, int tmo) {
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  Event event = adminCall(h, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT,
                          tmo, [&](rd_kafka_AdminOptions_t* o) { rd_kafka_DescribeConfigs(h.rk, &res, 1, o, h.q); });
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_event_t* ev = event.get();
  if (rd_kafka_event_error(ev))
    throw std::runtime_error(fmt::format("kafka: cannot read the properties of {}: {}", topic,
                                         rd_kafka_event_error_string(ev)));
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs =
      rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
  std::map<std::string, std::string> out;
  if (n != 1 || rd_kafka_ConfigResource_error(rs[0]))
    throw std::runtime_error(fmt::format("kafka: cannot read the properties of {}: {}", topic,
                                         n ? rd_kafka_ConfigResource_error_string(rs[0]) : "no answer"));
  size_t m = 0;
  const rd_kafka_ConfigEntry_t** es = rd_kafka_ConfigResource_configs(rs[0], &m);
  for (size_t i = 0; i < m; i++) {
    if (rd_kafka_ConfigEntry_source(es[i]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG) continue;
    const char* v = rd_kafka_ConfigEntry_value(es[i]);
    out[rd_kafka_ConfigEntry_name(es[i])] = v ? v : "";
  }
  return out;
}

// Makes the topic's own properties what the configuration says (Akvorado's config-entries):
// listed ones set, unlisted ones removed when strict. AlterConfigs replaces the whole set (the
// incremental call needs librdkafka 2.2). Returns what changed, "" when nothing did.
std::string syncTopicConfig(Handle& h, const std::string& topic,
                            const std::map<std::string, std::string>& wanted, bool strict, int tmo) {
  const auto have = topicOverrides(h, topic, tmo);
  std::map<std::string, std::string> target = strict ? std::map<std::string, std::string>{} : have;
  for (const auto& [k, v] : wanted) target[k] = v;
  if (target == have) return "";
  std::vector<std::string> changes;
  for (const auto& [k, v] : target) {
    auto it = have.find(k);
    if (it == have.end()) changes.push_back(fmt::format("{}={}", k, v));
    else if (it->second != v) changes.push_back(fmt::format("{}: {} -> {}", k, it->second, v));
  }
  for (const auto& [k, v] : have)
    if (!target.count(k)) changes.push_back(fmt::format("{} removed (was {})", k, v));
  rd_kafka_ConfigResource_t* res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [k, v] : target) rd_kafka_ConfigResource_set_config(res, k.c_str(), v.c_str());
  Event event = adminCall(h, RD_KAFKA_ADMIN_OP_ALTERCONFIGS, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT, tmo,
                          [&](rd_kafka_AdminOptions_t* o) { rd_kafka_AlterConfigs(h.rk, &res, 1, o, h.q); });
  rd_kafka_ConfigResource_destroy(res);
  rd_kafka_event_t* ev = event.get();
  size_t n = 0;
  const rd_kafka_ConfigResource_t** rs =
      rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n);
  if (rd_kafka_event_error(ev) || (n && rd_kafka_ConfigResource_error(rs[0])))
    throw std::runtime_error(fmt::format(
        "kafka: cannot set the properties of {} ({}): {}", topic, fmt::join(changes, ", "),
        rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev) : rd_kafka_ConfigResource_error_string(rs[0])));
  return fmt::format("topic {}: properties {}", topic, fmt::join(changes, ", "));
}

}  // namespace

std::string ensureTemplatesTopic(const KafkaConfig& c, std::chrono::milliseconds timeout) {
  char err[512];
  Handle h;
  openAdmin(c, h);
  const std::string topic = c.templatesTopic();
  const int tmo = int(timeout.count());
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), 1, int(c.replication_factor), err, sizeof err);
  if (!nt) throw std::runtime_error(std::string("kafka topic: ") + err);
  rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
  if (createTopic(h, topic, nt, tmo) == RD_KAFKA_RESP_ERR_NO_ERROR)
    return fmt::format("created topic {} (compacted)", topic);
  return fmt::format("topic {} exists", topic);
}

std::string ensureTopic(const KafkaConfig& connection, const TopicSettings& c,
                        std::chrono::milliseconds timeout) {
  char err[512];
  Handle h;
  openAdmin(connection, h);
  const std::string& topic = c.topic;
  const int tmo = int(timeout.count());

  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), int(c.num_partitions),
                                                  int(c.replication_factor), err, sizeof err);
  if (!nt) throw std::runtime_error(std::string("kafka topic: ") + err);
  const auto& wanted = c.config;
  for (const auto& [k, v] : wanted) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  if (createTopic(h, topic, nt, tmo) == RD_KAFKA_RESP_ERR_NO_ERROR)
    return fmt::format("created topic {} ({} partitions, replication {})", topic, c.num_partitions,
                       c.replication_factor);

  // It exists: its properties as configured (retention, config-entries).
  if (std::string changed = syncTopicConfig(h, topic, wanted, c.strict_sync, tmo); !changed.empty())
    spdlog::info("kafka: {}", changed);

  // It exists: grow its partitions if fewer than configured (they can never shrink).
  int replicas = 0;
  int have = partitionCount(h.rk, topic, tmo, &replicas);
  // As Akvorado: a replication factor cannot be changed here, only said.
  if (have > 0 && replicas != c.replication_factor)
    spdlog::warn("kafka: topic {} has a replication factor of {}, {} configured "
                 "(topic-configuration.replication-factor): change it with Kafka's tools",
                 topic, replicas, c.replication_factor);
  if (have > c.num_partitions)
    spdlog::warn("kafka: topic {} has {} partitions, more than the {} configured (partitions "
                 "cannot be removed)",
                 topic, have, c.num_partitions);
  if (have < 0 || have >= c.num_partitions)
    return fmt::format("topic {} exists ({} partitions)", topic, have);
  rd_kafka_NewPartitions_t* np =
      rd_kafka_NewPartitions_new(topic.c_str(), size_t(c.num_partitions), err, sizeof err);
  Event event = adminCall(h, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, tmo,
                          [&](rd_kafka_AdminOptions_t* o) { rd_kafka_CreatePartitions(h.rk, &np, 1, o, h.q); });
  rd_kafka_NewPartitions_destroy(np);
  rd_kafka_event_t* ev2 = event.get();
  size_t cnt = 0;
  const rd_kafka_topic_result_t** res2 =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev2), &cnt);
  if (rd_kafka_event_error(ev2) || (cnt && rd_kafka_topic_result_error(res2[0])))
    throw std::runtime_error(fmt::format("kafka: cannot grow {} to {} partitions: {}", topic,
                                         c.num_partitions,
                                         cnt ? rd_kafka_topic_result_error_string(res2[0])
                                             : rd_kafka_event_error_string(ev2)));
  return fmt::format("topic {}: partitions {} -> {}", topic, have, c.num_partitions);
}

std::string ensureKafkaTopic(const KafkaConfig& c, std::chrono::milliseconds timeout) {
  return ensureTopic(c, {c.fullTopic(), c.num_partitions, c.replication_factor, c.topicConfig(),
                         c.config_entries_strict_sync},
                     timeout);
}

std::string ensureOutputTopic(const KafkaOutputConfig& o, const KafkaConfig& kafka,
                              std::chrono::milliseconds timeout) {
  return ensureTopic(o.connection(kafka),
                     {o.fullTopic(), o.num_partitions, o.replication_factor, o.config_entries,
                      o.config_entries_strict_sync},
                     timeout);
}

}  // namespace akvo
