// Test tool for the Kafka integration tests (built as akvo_kafka_tool beside akvo):
//   akvo_kafka_tool produce BROKERS TOPIC EXPORTER FILE
//     FILE: one datagram a line, "<partition> <hex payload>": each is wrapped in akvo's
//     envelope (NetFlow decoder, received now, from EXPORTER) and produced to that partition
//     of TOPIC, in file order. Prints the number delivered.
//   akvo_kafka_tool consume BROKERS TOPIC COUNT OUTDIR TIMEOUT_SECONDS
//     reads every partition of TOPIC from the beginning until COUNT messages (or the timeout)
//     and writes each message's value to OUTDIR/<n>.bin. Prints the number read.
//   akvo_kafka_tool lag BROKERS TOPIC GROUP TAKE BEFORE AFTER TIMEOUT_SECONDS
//     joins GROUP on TOPIC-v1 as an outlet does (akvo's KafkaConsumer, one worker, its lag asked
//     every 200 ms); waits until akvo_outlet_kafka_consumergroup_lag_messages on its metrics
//     page reads BEFORE, takes TAKE datagrams and commits them as a stored batch does, then
//     waits until the gauge reads AFTER. Prints each value read when it changes, and fails
//     (exit 1) when a wait times out.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "transport/kafka.h"
#include "transport/kafka_envelope.h"

namespace {

rd_kafka_t* client(rd_kafka_type_t type, const std::string& brokers) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  if (type == RD_KAFKA_CONSUMER) {
    rd_kafka_conf_set(conf, "group.id", "akvo-kafka-tool", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  }
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk) {
    std::cerr << "kafka: " << err << "\n";
    std::exit(2);
  }
  return rk;
}

int produce(const std::string& brokers, const std::string& topic, const std::string& exporter,
            const std::string& file) {
  auto addr = akvo::IPv6Addr::parse(exporter);
  if (!addr) {
    std::cerr << "bad exporter address " << exporter << "\n";
    return 2;
  }
  rd_kafka_t* rk = client(RD_KAFKA_PRODUCER, brokers);
  std::ifstream in(file);
  std::string line, wire;
  int n = 0;
  akvo::Datagram d;
  d.buffer.resize(akvo::Datagram::kMaxSize);
  d.exporter = *addr;
  d.decoder = akvo::DecoderKind::kNetflow;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int partition;
    std::string hex;
    if (!(ls >> partition >> hex)) continue;
    d.size = uint32_t(hex.size() / 2);
    for (size_t i = 0; i < d.size; i++) d.buffer[i] = uint8_t(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    d.time_received = uint32_t(std::time(nullptr));
    akvo::encodeEnvelope(d, wire);
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE(wire.data(), wire.size()),
        RD_KAFKA_V_END);
    if (e) {
      std::cerr << "produce: " << rd_kafka_err2str(e) << "\n";
      return 1;
    }
    n++;
  }
  rd_kafka_flush(rk, 30000);
  int left = rd_kafka_outq_len(rk);
  rd_kafka_destroy(rk);
  std::cout << n - left << "\n";
  return left ? 1 : 0;
}

int consume(const std::string& brokers, const std::string& topic, int count,
            const std::string& outdir, int timeout_s) {
  rd_kafka_t* rk = client(RD_KAFKA_CONSUMER, brokers);
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int partitions = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!rd_kafka_metadata(rk, 0, t, &md, 5000)) {
      if (md->topic_cnt == 1 && !md->topics[0].err) partitions = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
      if (partitions > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; p++)
    rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  int n = 0;
  while (n < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (!m) continue;
    if (!m->err) {
      std::ofstream(outdir + "/" + std::to_string(n++) + ".bin", std::ios::binary)
          .write(static_cast<const char*>(m->payload), std::streamsize(m->len));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::cout << n << "\n";
  return 0;
}

// The value of an unlabelled gauge on the metrics page, or "absent".
std::string gauge(const akvo::Metrics& m, const std::string& name) {
  std::istringstream page(m.render());
  for (std::string line; std::getline(page, line);)
    if (line.rfind(name + " ", 0) == 0) return line.substr(name.size() + 1);
  return "absent";
}

int lag(const std::string& brokers, const std::string& topic, const std::string& group,
        int take, const std::string& before, const std::string& after, int timeout_s) {
  akvo::KafkaConfig c;
  c.brokers = {brokers};
  c.topic = topic;
  c.consumer_group = group;
  c.max_workers = 1;
  c.lag_interval = std::chrono::milliseconds(200);
  akvo::Metrics metrics;
  akvo::KafkaConsumer consumer(c, metrics);
  consumer.start();
  const std::string name = "akvo_outlet_kafka_consumergroup_lag_messages";
  std::string last;
  auto waitFor = [&](const std::string& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
      std::string v = gauge(metrics, name);
      if (v != last) std::cout << "lag " << v << std::endl;
      last = v;
      if (v == want) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  };
  int rc = 0;
  if (!waitFor(before)) {
    std::cerr << "lag: still " << last << ", not " << before << "\n";
    rc = 1;
  } else {
    std::vector<akvo::Datagram> out(64);
    int got = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (got < take && std::chrono::steady_clock::now() < deadline)
      got += int(consumer.source(0).pop(std::span(out.data(), size_t(std::min(take - got, 64))),
                                        std::chrono::milliseconds(200)));
    std::cout << "took " << got << std::endl;
    if (auto commit = consumer.source(0).checkpoint()) commit();
    if (got != take || !waitFor(after)) {
      std::cerr << "lag: took " << got << " of " << take << ", lag " << last << ", not " << after
                << "\n";
      rc = 1;
    }
  }
  consumer.close();
  consumer.stop();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 5 && a[0] == "produce") return produce(a[1], a[2], a[3], a[4]);
  if (a.size() == 6 && a[0] == "consume")
    return consume(a[1], a[2], std::stoi(a[3]), a[4], std::stoi(a[5]));
  if (a.size() == 8 && a[0] == "lag")
    return lag(a[1], a[2], a[3], std::stoi(a[4]), a[5], a[6], std::stoi(a[7]));
  std::cerr << "usage: akvo_kafka_tool produce BROKERS TOPIC EXPORTER FILE\n"
               "       akvo_kafka_tool consume BROKERS TOPIC COUNT OUTDIR TIMEOUT_SECONDS\n"
               "       akvo_kafka_tool lag BROKERS TOPIC GROUP TAKE BEFORE AFTER TIMEOUT_SECONDS\n";
  return 2;
}
