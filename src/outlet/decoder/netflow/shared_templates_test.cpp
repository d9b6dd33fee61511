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
  TemplateBudget budget;
  s.mergeInto(k, local, budget);
  ASSERT_EQ(local.templates.count(300), 1u);
  EXPECT_EQ(local.templates[300].fields.size(), 2u);
}

// Sampling rates borrowed from another observation domain (Cisco IOS XE: sampler options
// under source id 6, flows under 256) are found whichever decoder or outlet saw the options.
TEST(SharedTemplates, SamplingRateFromAnotherDomainSeenElsewhere) {
  // v9 datagrams: options (sampler 1 at 1000) in source id 6; a template and a flow of
  // sampler 1 in source id 256.
  auto v9 = [](uint32_t source_id, std::vector<uint8_t> sets) {
    std::vector<uint8_t> m = {0, 9, 0, 1, 0, 1, 0x86, 0xa0, 0x65, 0x53, 0xf1, 0};
    for (int i = 0; i < 4; i++) m.push_back(0);  // sequence
    for (int i = 3; i >= 0; i--) m.push_back(uint8_t(source_id >> (8 * i)));
    m.insert(m.end(), sets.begin(), sets.end());
    return m;
  };
  auto options = v9(6, {0, 1, 0, 22, 1, 1, 0, 4, 0, 8, 0, 1, 0, 4, 0, 48, 0, 1, 0, 50, 0, 4,  //
                        1, 1, 0, 13, 0, 0, 0, 0, 1, 0, 0, 3, 0xe8});
  auto flows = v9(256, {0, 0, 0, 20, 1, 2, 0, 3, 0, 8, 0, 4, 0, 1, 0, 4, 0, 48, 0, 1,  //
                        1, 2, 0, 13, 10, 0, 0, 1, 0, 0, 5, 0xdc, 1});
  SharedTemplates shared;
  std::vector<std::pair<std::string, std::string>> topic;
  shared.setPublisher([&](const std::string& k, const std::string& v) { topic.emplace_back(k, v); });
  NetflowDecoder a, b;
  a.share(&shared);
  b.share(&shared);
  Collect c;
  EXPECT_EQ(a.decode(in(options), c), Status::kOk);
  EXPECT_EQ(b.decode(in(flows), c), Status::kOk);  // b never saw source id 6
  ASSERT_EQ(c.flows.size(), 1u);
  EXPECT_EQ(c.flows[0].bytes, 1500u);
  EXPECT_EQ(c.flows[0].sampling_rate, 1000u);
  // Another outlet, from the topic's records only.
  SharedTemplates other;
  for (const auto& [k, v] : topic) EXPECT_TRUE(other.apply(k, v)) << k;
  NetflowDecoder d;
  d.share(&other);
  c.flows.clear();
  EXPECT_EQ(d.decode(in(flows), c), Status::kOk);
  ASSERT_EQ(c.flows.size(), 1u);
  EXPECT_EQ(c.flows[0].sampling_rate, 1000u);
}

}  // namespace akvo::decoder

namespace akvo::decoder {

// The shared store has the decoders' bounds (templates.h): records past them, from a decoder
// or the Kafka topic, are refused (counted, not malformed) and not published.
TEST(SharedTemplates, BoundedLikeTheDecoders) {
  SharedTemplates shared;
  size_t published = 0;
  shared.setPublisher([&](const std::string&, const std::string&) { published++; });
  const std::string tmpl = R"({"options":false,"refreshed":1,"fields":[[8,4,0,false]]})";
  for (int i = 0; i < 1100; i++)
    EXPECT_TRUE(shared.apply(fmt::format("t/192.0.2.1/10/1/{}", 256 + i), tmpl));
  EXPECT_EQ(shared.templates(), kMaxTemplatesPerDomain);
  EXPECT_EQ(shared.refused().templates->value(), 1100 - kMaxTemplatesPerDomain);
  for (int i = 0; i < 100; i++)
    EXPECT_TRUE(shared.apply(fmt::format("s/192.0.2.1/10/1/{}", i), R"({"rate":10})"));
  EXPECT_EQ(shared.samplingRates(), kMaxSamplersPerDomain);
  EXPECT_EQ(shared.refused().samplers->value(), 100 - kMaxSamplersPerDomain);
  for (uint32_t i = 2; i < 400; i++)
    EXPECT_TRUE(shared.apply(fmt::format("s/192.0.2.1/9/{}/1", i), R"({"rate":10})"));
  std::vector<uint32_t> ids;
  shared.domainsOf(DomainKey{*IPv6Addr::parse("192.0.2.1"), 0, 9}, ids);
  EXPECT_EQ(ids.size(), kMaxDomainsPerExporter - 1);  // and domain 1 of IPFIX
  EXPECT_EQ(shared.refused().domains->value(), 400 - 2 - (kMaxDomainsPerExporter - 1));
  // A decoder's template past the bound is not published; a known one is.
  Template t;
  t.fields = {{8, 4}};
  t.min_length = 4;
  t.refreshed = 2;
  DomainKey key{*IPv6Addr::parse("192.0.2.1"), 1, 10};
  shared.templateLearned(key, 60000, t);
  EXPECT_EQ(published, 0u);
  shared.templateLearned(key, 256, t);
  EXPECT_EQ(published, 1u);
  // A decoder merging the full domain gets the bounded state.
  DomainState local;
  TemplateBudget budget;
  shared.mergeInto(key, local, budget);
  EXPECT_EQ(local.templates.size(), kMaxTemplatesPerDomain);
  EXPECT_EQ(local.sampling.size(), kMaxSamplersPerDomain);
}

// The shared store bounds its template bytes as the decoders do; a decoder merging the shared
// templates stays within its own bound (the templates left out are counted).
TEST(SharedTemplates, TemplateBytesAreBounded) {
  const std::string tmpl = R"({"options":false,"refreshed":1,"fields":[[8,4,0,false]]})";
  SharedTemplates probe;
  ASSERT_TRUE(probe.apply("t/192.0.2.1/10/1/256", tmpl));
  const size_t one = probe.templateBytesUsed();
  ASSERT_GT(one, 0u);
  SharedTemplates shared(3 * one);
  size_t published = 0;
  shared.setPublisher([&](const std::string&, const std::string&) { published++; });
  for (int i = 0; i < 5; i++)
    EXPECT_TRUE(shared.apply(fmt::format("t/192.0.2.1/10/{}/{}", 1 + i % 2, 256 + i), tmpl));
  EXPECT_EQ(shared.templates(), 3u);
  EXPECT_EQ(shared.templateBytesUsed(), 3 * one);
  EXPECT_EQ(shared.refused().template_memory->value(), 2u);
  EXPECT_EQ(shared.refused().templates->value(), 0u);
  // A decoder's template that does not fit is not published.
  Template t;
  t.fields = {{8, 4}};
  t.min_length = 4;
  t.refreshed = 2;
  shared.templateLearned(DomainKey{*IPv6Addr::parse("192.0.2.1"), 3, 10}, 256, t);
  EXPECT_EQ(published, 0u);
  EXPECT_EQ(shared.refused().template_memory->value(), 3u);
  // A decoder with room for two gets two of the three, and counts the third.
  DomainState d1, d2;
  TemplateBudget budget{0, 2 * one};
  size_t left_out = shared.mergeInto(DomainKey{*IPv6Addr::parse("192.0.2.1"), 1, 10}, d1, budget);
  left_out += shared.mergeInto(DomainKey{*IPv6Addr::parse("192.0.2.1"), 2, 10}, d2, budget);
  EXPECT_EQ(d1.templates.size() + d2.templates.size(), 2u);
  EXPECT_EQ(left_out, 1u);
  EXPECT_EQ(budget.used, 2 * one);
  // A record defining more fields than a datagram can carry is malformed.
  std::string huge = R"({"options":false,"refreshed":1,"fields":[)";
  for (size_t i = 0; i <= kMaxTemplateFields; i++)
    huge += std::string(i ? "," : "") + "[8,0,0,false]";
  huge += R"(,[8,4,0,false]]})";
  EXPECT_FALSE(shared.apply("t/192.0.2.1/10/1/300", huge));
}

TEST(SharedTemplates, ADecoderMergesWithinItsTemplateBytes) {
  SharedTemplates shared;
  NetflowDecoder a;
  NetflowDecoder::Config small;
  small.max_template_bytes = 1;  // no room for any template
  NetflowDecoder b(small);
  a.share(&shared);
  b.share(&shared);
  Collect ca, cb;
  feed(a, "template.pcap", ca);
  ASSERT_EQ(shared.templates(), 1u);
  auto data = datagrams("data.pcap");
  EXPECT_EQ(b.decode(in(data[0]), cb), Status::kMissingTemplate);
  EXPECT_EQ(b.stats().refused_template_memory, 1u);
  EXPECT_EQ(b.templateBytesUsed(), 0u);
  EXPECT_TRUE(cb.flows.empty());
}

}  // namespace akvo::decoder
