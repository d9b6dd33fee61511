// Templates and sampling rates learned by one decoder are used by another (another worker or,
// through the Kafka topic's records, another outlet), on the real captures of netflow_test.cpp.
#include "outlet/decoder/netflow/shared_templates.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/pcap_reader.h"
#include "outlet/decoder/netflow/netflow.h"

namespace akvo::decoder {
namespace {

const std::string kNf = "../shared/testdata/netflow/";

struct Collect : FlowSink {
  std::vector<FlowRecord> flows;
  void flow(FlowRecord& f) override { flows.push_back(f); }
};

std::vector<std::vector<uint8_t>> datagrams(const std::string& name) {
  std::vector<std::vector<uint8_t>> out;
  for (auto& d : readPcapUdp(kNf + name)) out.push_back(d.payload);
  return out;
}

Input in(const std::vector<uint8_t>& p, uint32_t now = 1700000000) {
  return Input{std::span<const uint8_t>(p), *IPv6Addr::parse("192.0.2.1"), now};
}

void feed(NetflowDecoder& d, const std::string& file, Collect& c) {
  for (auto& p : datagrams(file)) d.decode(in(p), c);
}

}  // namespace

TEST(SharedTemplates, ADecoderUsesWhatAnotherLearned) {
  SharedTemplates shared;
  std::vector<std::pair<std::string, std::string>> published;
  shared.setPublisher([&](const std::string& k, const std::string& v) { published.emplace_back(k, v); });
  NetflowDecoder a, b;
  a.share(&shared);
  b.share(&shared);
  Collect ca, cb;
  auto data = datagrams("data.pcap");
  ASSERT_EQ(data.size(), 1u);
  // b alone cannot decode the data: it waits for the template.
  EXPECT_TRUE(b.waitsForTemplates(in(data[0])));
  feed(a, "options-template.pcap", ca);
  feed(a, "options-data.pcap", ca);
  feed(a, "template.pcap", ca);
  EXPECT_EQ(shared.templates(), 2u);  // the options template and the data template
  EXPECT_EQ(shared.samplingRates(), 1u);
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[0].first.substr(0, 15), "t/192.0.2.1/9/0");
  // Now b decodes the data at once, with the sampling rate a learned.
  EXPECT_FALSE(b.waitsForTemplates(in(data[0])));
  EXPECT_EQ(b.decode(in(data[0]), cb), Status::kOk);
  ASSERT_EQ(cb.flows.size(), 4u);
  for (const auto& f : cb.flows) EXPECT_EQ(f.sampling_rate, 30000u);
  // Learning the same template again publishes nothing (no template expiry).
  feed(a, "template.pcap", ca);
  EXPECT_EQ(published.size(), 3u);
}

TEST(SharedTemplates, WaitsForTheSamplingRateAnnouncedByAnOptionsTemplate) {
  SharedTemplates shared;
  NetflowDecoder a, b;
  a.share(&shared);
  b.share(&shared);
  Collect c;
  feed(a, "options-template.pcap", c);
  feed(a, "template.pcap", c);
  auto data = datagrams("data.pcap");
  // The template is known, but the exporter announced sampling options not seen yet.
  EXPECT_TRUE(b.waitsForTemplates(in(data[0])));
  feed(a, "options-data.pcap", c);
  EXPECT_FALSE(b.waitsForTemplates(in(data[0])));
  // A datagram that defines its templates itself never waits.
  for (auto& p : datagrams("template.pcap")) EXPECT_FALSE(b.waitsForTemplates(in(p)));
}

TEST(SharedTemplates, RecordsRoundTripThroughApply) {
  // What one outlet publishes, another applies: a fresh store decodes like the first.
  SharedTemplates first;
  std::vector<std::pair<std::string, std::string>> topic;
  first.setPublisher([&](const std::string& k, const std::string& v) { topic.emplace_back(k, v); });
  NetflowDecoder a;
  a.share(&first);
  Collect c;
  feed(a, "options-template.pcap", c);
  feed(a, "options-data.pcap", c);
  feed(a, "template.pcap", c);
  ASSERT_EQ(topic.size(), 3u);

  SharedTemplates fresh;
  for (const auto& [k, v] : topic) EXPECT_TRUE(fresh.apply(k, v)) << k << " " << v;
  EXPECT_EQ(fresh.templates(), 2u);
  uint64_t g = fresh.generation();
  for (const auto& [k, v] : topic) fresh.apply(k, v);  // replayed: no change
  EXPECT_EQ(fresh.generation(), g);
  NetflowDecoder b;
  b.share(&fresh);
  Collect cb;
  feed(b, "data.pcap", cb);
  ASSERT_EQ(cb.flows.size(), 4u);
  EXPECT_EQ(cb.flows[0].sampling_rate, 30000u);
  EXPECT_EQ(cb.flows[0].src_addr.toString(), "198.38.121.178");

  // Malformed records are refused, not applied.
  EXPECT_FALSE(fresh.apply("t/192.0.2.1/9/0", topic[0].second));
  EXPECT_FALSE(fresh.apply("t/not-an-ip/9/0/256", topic[0].second));
  EXPECT_FALSE(fresh.apply("t/192.0.2.1/9/0/256", "{"));
  EXPECT_FALSE(fresh.apply("t/192.0.2.1/9/0/12", topic[0].second));
  EXPECT_FALSE(fresh.apply("s/192.0.2.1/9/0/1", R"({"rate":0})"));
  EXPECT_FALSE(fresh.apply("t/192.0.2.1/9/0/300", R"({"options":false,"refreshed":1,"fields":[]})"));
}

TEST(SharedTemplates, ALateOlderDefinitionDoesNotWin) {
  SharedTemplates s;
  DomainKey k{*IPv6Addr::parse("192.0.2.9"), 1, 10};
  Template v1, v2;
  v1.fields = {{8, 4, 0, false}};
  v1.min_length = 4;
  v1.refreshed = 100;
  v2.fields = {{8, 4, 0, false}, {12, 4, 0, false}};
  v2.min_length = 8;
  v2.refreshed = 200;
  s.templateLearned(k, 300, v2);
  EXPECT_TRUE(s.apply(SharedTemplates::templateKey(k, 300), SharedTemplates::templateValue(v1)));
  DomainState local;
  s.mergeInto(k, local);
  ASSERT_EQ(local.templates.count(300), 1u);
  EXPECT_EQ(local.templates[300].fields.size(), 2u);
}

}  // namespace akvo::decoder
