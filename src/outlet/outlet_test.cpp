// The outlet's workers publish the decoders' per-exporter counts (NetFlow sets, records and
// templates; sFlow samples and records by agent) as Prometheus series: real captures through a
// real outlet (embedded queue, batches encoded and discarded), read back from the metrics page.
#include "outlet/outlet.h"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

#include "common/pcap_reader.h"
#include "transport/queue.h"

namespace akvo {
namespace {

// A store that takes every batch and keeps nothing (the writer discards them anyway).
class NullStore : public Store {
  class Connection : public StoreConnection {
   public:
    std::string query(std::string_view, std::string_view) override { return ""; }
    void insertNative(std::string_view, std::string_view) override {}
  };

 public:
  std::unique_ptr<StoreConnection> connect(bool) override { return std::make_unique<Connection>(); }
  std::string describe() const override { return "null"; }
};

// The value of one series ("name{labels}") on the metrics page; -1 when it is not there.
double series(const Metrics& metrics, const std::string& name_and_labels) {
  std::istringstream page(metrics.render());
  for (std::string line; std::getline(page, line);)
    if (line.size() > name_and_labels.size() && line.starts_with(name_and_labels) &&
        line[name_and_labels.size()] == ' ')
      return std::stod(line.substr(name_and_labels.size() + 1));
  return -1;
}

struct OutletRun {
  Metrics metrics;
  Schema schema{SchemaConfig{}};
  NullStore store;
  QueueTransport transport{1, 1024};  // one worker: the datagrams are decoded in this order
  std::vector<Datagram> datagrams;
  // Kept until the end: the metrics page reads gauges of the outlet's writer.
  std::unique_ptr<Outlet> outlet;

  void file(const std::string& path, const char* exporter, DecoderKind kind) {
    for (auto& p : readPcapUdp("../shared/testdata/" + path)) {
      Datagram& d = datagrams.emplace_back();
      d.buffer.assign(p.payload.begin(), p.payload.end());
      d.size = uint32_t(p.payload.size());
      d.exporter = *IPv6Addr::parse(exporter);
      d.time_received = 1700000000;
      d.decoder = kind;
    }
  }
  /// Decodes every datagram in one outlet, stopped once they are all in.
  void decode() {
    ASSERT_EQ(transport.send(datagrams), datagrams.size());
    Outlet::Config config;
    config.clickhouse.discard = true;
    outlet = std::make_unique<Outlet>(config, schema, transport, store, metrics);
    outlet->start();
    outlet->stop();  // drains the queue, flushes the counters
  }
};

}  // namespace

// Expected values from tshark -V on the captures (as the decoders' own tests:
// netflow_test.cpp SetsRecordsAndTemplatesAreCounted, sflow_test.cpp
// SamplesAndRecordsAreCounted).
TEST(Outlet, PublishesNetflowAndSflowDecoderCounters) {
  OutletRun r;
  const auto nf = DecoderKind::kNetflow;
  for (const char* f : {"template.pcap", "data.pcap", "template.pcap", "options-template.pcap",
                        "options-data.pcap", "data+templates.pcap", "mpls.pcap", "mpls.pcap",
                        "nfv5.pcap"})
    r.file(std::string("netflow/") + f, "192.0.2.1", nf);
  r.file("netflow/template.pcap", "192.0.2.2", nf);
  r.file("sflow/data-1140.pcap", "192.0.2.100", DecoderKind::kSflow);
  r.file("sflow/data-1140.pcap", "192.0.2.100", DecoderKind::kSflow);
  r.file("sflow/data-sflow-raw-ipv4.pcap", "192.0.2.100", DecoderKind::kSflow);
  r.decode();
  auto value = [&](const std::string& s) { return series(r.metrics, s); };

  // Templates: by exporter, version, domain, id and kind; resent ones count again.
  const std::string t = "akvo_outlet_decoder_netflow_templates_total";
  auto tmpl = [&](const char* exporter, const char* version, const char* domain, const char* id,
                  const char* type) {
    return value(t + "{exporter=\"" + exporter + "\",version=\"" + version +
                 "\",obs_domain_id=\"" + domain + "\",template_id=\"" + id + "\",type=\"" +
                 type + "\"}");
  };
  EXPECT_EQ(tmpl("192.0.2.1", "9", "0", "260", "template"), 2);
  EXPECT_EQ(tmpl("192.0.2.1", "9", "0", "257", "options_template"), 1);
  EXPECT_EQ(tmpl("192.0.2.1", "9", "17170432", "257", "template"), 1);
  EXPECT_EQ(tmpl("192.0.2.1", "9", "17170432", "256", "options_template"), 1);
  EXPECT_EQ(tmpl("192.0.2.1", "10", "16777216", "2510", "template"), 2);
  EXPECT_EQ(tmpl("192.0.2.1", "10", "16777216", "50310", "options_template"), 2);
  EXPECT_EQ(tmpl("192.0.2.2", "9", "0", "260", "template"), 1);
  EXPECT_EQ(r.metrics.sum(t), 10u);  // nothing else

  // Sets and their records, by exporter, version and type.
  auto sets = [&](const char* version, const char* type) {
    return value(std::string("akvo_outlet_decoder_netflow_sets_total{exporter=\"192.0.2.1\",") +
                 "version=\"" + version + "\",type=\"" + type + "\"}");
  };
  auto records = [&](const char* version, const char* type) {
    return value(std::string("akvo_outlet_decoder_netflow_records_total{exporter=\"192.0.2.1\",") +
                 "version=\"" + version + "\",type=\"" + type + "\"}");
  };
  EXPECT_EQ(sets("9", "template"), 3);
  EXPECT_EQ(records("9", "template"), 3);
  EXPECT_EQ(sets("9", "options_template"), 2);
  EXPECT_EQ(records("9", "options_template"), 2);
  EXPECT_EQ(sets("9", "data"), 2);  // data.pcap, data+templates.pcap (not its missing set)
  EXPECT_EQ(records("9", "data"), 4 + 10);
  EXPECT_EQ(sets("9", "options_data"), 2);
  EXPECT_EQ(records("9", "options_data"), 4 + 1);
  EXPECT_EQ(sets("10", "template"), 2);
  EXPECT_EQ(sets("10", "options_template"), 2);
  EXPECT_EQ(sets("10", "data"), 2);
  EXPECT_EQ(records("10", "data"), 4);
  EXPECT_EQ(records("10", "options_data"), 2);
  EXPECT_EQ(sets("5", "pdu"), 1);
  EXPECT_EQ(records("5", "pdu"), 29);
  EXPECT_EQ(sets("5", "data"), -1);  // series only for what was seen
  EXPECT_EQ(value("akvo_outlet_decoder_netflow_sets_total{exporter=\"192.0.2.2\",version=\"9\","
                  "type=\"template\"}"),
            1);
  // Flows are not records: the v9 data set of data+templates.pcap whose template came later
  // is missing, not decoded.
  EXPECT_EQ(value("akvo_outlet_decoder_flows_total{exporter=\"192.0.2.1\"}"), 4 + 10 + 4 + 29);

  // sFlow samples and records, by exporter, agent and type.
  auto sflow = [&](const char* what, const char* agent, const char* type) {
    return value(std::string("akvo_outlet_decoder_sflow_") + what +
                 "_total{exporter=\"192.0.2.100\",agent=\"" + agent + "\",type=\"" + type + "\"}");
  };
  EXPECT_EQ(sflow("samples", "172.16.0.3", "flow_sample"), 10);
  EXPECT_EQ(sflow("sample_records", "172.16.0.3", "flow_sample"), 28);
  EXPECT_EQ(sflow("samples", "172.19.64.116", "flow_sample"), 2);
  EXPECT_EQ(sflow("sample_records", "172.19.64.116", "flow_sample"), 2);
  EXPECT_EQ(sflow("samples", "172.16.0.3", "counter_sample"), -1);
  EXPECT_EQ(r.metrics.sum("akvo_outlet_decoder_sflow_samples_total"), 12u);
}

}  // namespace akvo
