#include "orchestrator/kafka.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <librdkafka/rdkafka.h>

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

rd_kafka_event_t* waitFor(rd_kafka_queue_t* q, rd_kafka_event_type_t type, int timeout_ms) {
  for (;;) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms);
    if (!ev) throw std::runtime_error("kafka admin: timed out waiting for the broker");
    if (rd_kafka_event_type(ev) == type) return ev;
    rd_kafka_event_destroy(ev);
  }
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
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto setc = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(fmt::format("kafka: {}={}: {}", k, v, err));
    }
  };
  setc("bootstrap.servers", c.bootstrap());
  setc("allow.auto.create.topics", "false");
  for (const auto& [k, v] : c.options) setc(k, v);
  h.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!h.rk) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka admin: ") + err);
  }
  h.q = rd_kafka_queue_new(h.rk);
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
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(h.rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, tmo, err, sizeof err);
  rd_kafka_CreateTopics(h.rk, &nt, 1, opts, h.q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_event_t* ev = waitFor(h.q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, tmo);
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> guard(ev, rd_kafka_event_destroy);
  if (rd_kafka_event_error(ev))
    throw std::runtime_error(std::string("kafka create topic: ") + rd_kafka_event_error_string(ev));
  size_t cnt = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
  rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
    return fmt::format("created topic {} (compacted)", topic);
  if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return fmt::format("topic {} exists", topic);
  throw std::runtime_error(
      fmt::format("kafka create topic {}: {}", topic, rd_kafka_topic_result_error_string(res[0])));
}

std::string ensureKafkaTopic(const KafkaConfig& c, std::chrono::milliseconds timeout) {
  char err[512];
  Handle h;
  openAdmin(c, h);
  const std::string topic = c.fullTopic();
  const int tmo = int(timeout.count());

  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), int(c.num_partitions),
                                                  int(c.replication_factor), err, sizeof err);
  if (!nt) throw std::runtime_error(std::string("kafka topic: ") + err);
  auto retention = std::chrono::duration_cast<std::chrono::milliseconds>(c.retention).count();
  rd_kafka_NewTopic_set_config(nt, "retention.ms", std::to_string(retention).c_str());
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(h.rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, tmo, err, sizeof err);
  rd_kafka_CreateTopics(h.rk, &nt, 1, opts, h.q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_event_t* ev = waitFor(h.q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, tmo);
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> guard(ev, rd_kafka_event_destroy);
  if (rd_kafka_event_error(ev))
    throw std::runtime_error(std::string("kafka create topic: ") + rd_kafka_event_error_string(ev));
  size_t cnt = 0;
  const rd_kafka_topic_result_t** res =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
  rd_kafka_resp_err_t e = cnt ? rd_kafka_topic_result_error(res[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
    return fmt::format("created topic {} ({} partitions, replication {})", topic, c.num_partitions,
                       c.replication_factor);
  if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    throw std::runtime_error(fmt::format("kafka create topic {}: {}", topic,
                                         rd_kafka_topic_result_error_string(res[0])));

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
  opts = rd_kafka_AdminOptions_new(h.rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS);
  rd_kafka_AdminOptions_set_operation_timeout(opts, tmo, err, sizeof err);
  rd_kafka_CreatePartitions(h.rk, &np, 1, opts, h.q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewPartitions_destroy(np);
  rd_kafka_event_t* ev2 = waitFor(h.q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, tmo);
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> guard2(ev2, rd_kafka_event_destroy);
  const rd_kafka_topic_result_t** res2 =
      rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev2), &cnt);
  if (rd_kafka_event_error(ev2) || (cnt && rd_kafka_topic_result_error(res2[0])))
    throw std::runtime_error(fmt::format("kafka: cannot grow {} to {} partitions: {}", topic,
                                         c.num_partitions,
                                         cnt ? rd_kafka_topic_result_error_string(res2[0])
                                             : rd_kafka_event_error_string(ev2)));
  return fmt::format("topic {}: partitions {} -> {}", topic, have, c.num_partitions);
}

}  // namespace akvo
