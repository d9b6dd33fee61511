#include "outlet/decoder/netflow/state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/pcap_reader.h"
#include "outlet/decoder/netflow/netflow.h"

namespace akvo::decoder {
namespace {

struct Collect : FlowSink {
  std::vector<FlowRecord> flows;
  void flow(FlowRecord& f) override { flows.push_back(f); }
};

void feed(NetflowDecoder& d, Collect& c, const char* name) {
  for (auto& dg : readPcapUdp(std::string("../shared/testdata/netflow/") + name))
    d.decode(Input{std::span<const uint8_t>(dg.payload), dg.src, 1}, c);
}

}  // namespace

// A restarted decoder given the saved state decodes data at once, sampling rate included.
TEST(NetflowState, SavedTemplatesAndSamplingDecodeAfterRestart) {
  NetflowDecoder before;
  Collect c;
  feed(before, c, "options-template.pcap");
  feed(before, c, "options-data.pcap");
  feed(before, c, "template.pcap");
  auto path = std::filesystem::temp_directory_path() /
              ("akvo-state-test-" + std::to_string(getpid()) + ".json");
  saveStateFile(path.string(), {&before.domains()});

  NetflowDecoder after;
  StateRefused refused;
  ASSERT_TRUE(after.loadState(path.string(), refused));
  EXPECT_EQ(refused.total(), 0u);
  EXPECT_GT(after.templateBytesUsed(), 0u);  // counted (without the wire bytes: not saved)
  EXPECT_LE(after.templateBytesUsed(), before.templateBytesUsed());
  feed(after, c, "data.pcap");
  ASSERT_EQ(c.flows.size(), 4u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "198.38.121.178");
  EXPECT_EQ(c.flows[0].sampling_rate, 30000u);

  NetflowDecoder fresh;  // without the state: nothing
  Collect none;
  feed(fresh, none, "data.pcap");
  EXPECT_TRUE(none.flows.empty());

  std::ofstream(path) << "{\"version\": 1, \"domains\": [{\"exporter\": \"nope\"}]}";
  EXPECT_THROW(fresh.loadState(path.string(), refused), std::runtime_error);
  std::ofstream(path) << "{\"version\": 99, \"domains\": []}";
  EXPECT_THROW(fresh.loadState(path.string(), refused), std::runtime_error);
  std::filesystem::remove(path);
  EXPECT_FALSE(fresh.loadState(path.string(), refused));  // missing: no error
}

// A state file cannot make a decoder hold more than learning from the network can
// (templates.h): the bounds apply on load; what is past them is counted and left out.
TEST(NetflowState, LoadAppliesTheBounds) {
  using nlohmann::json;
  auto path = std::filesystem::temp_directory_path() /
              ("akvo-state-bounds-" + std::to_string(getpid()) + ".json");
  auto tmpl = [](uint32_t id, size_t fields = 1) {
    json f = json::array();
    for (size_t i = 0; i < fields; i++) f.push_back({8, 4, 0, false});
    return json{{"id", id}, {"options", false}, {"refreshed", 1}, {"fields", f}};
  };
  auto domain = [](const std::string& exporter, uint32_t id, json templates, json sampling) {
    return json{{"exporter", exporter}, {"version", 10},       {"domain", id},
                {"templates", templates}, {"sampling", sampling}};
  };
  auto write = [&](const json& domains, int version = kStateVersion) {
    std::ofstream(path) << json{{"domains", domains}, {"version", version}}.dump();
  };
  const IPv6Addr exporter = *IPv6Addr::parse("192.0.2.1");
  json domains = json::array();
  json many = json::array();
  for (uint32_t i = 0; i < 1100; i++) many.push_back(tmpl(256 + i));
  domains.push_back(domain("192.0.2.1", 1, many, json::array()));
  json samplers = json::array();
  for (uint32_t i = 0; i < 100; i++) samplers.push_back({i, 10});
  domains.push_back(domain("192.0.2.1", 2, json::array(), samplers));
  for (uint32_t i = 3; i <= 300; i++) domains.push_back(domain("192.0.2.1", i, {}, {}));
  // The same domain again (saved by another worker): replaces, refuses nothing.
  domains.push_back(domain("192.0.2.1", 1, json::array({tmpl(256, 2)}), json::array()));
  write(domains);

  NetflowDecoder d;
  StateRefused r;
  ASSERT_TRUE(d.loadState(path.string(), r));
  EXPECT_EQ(r.templates, 1100 - kMaxTemplatesPerDomain);
  EXPECT_EQ(r.samplers, 100 - kMaxSamplersPerDomain);
  EXPECT_EQ(r.domains, 300 - kMaxDomainsPerExporter);
  EXPECT_EQ(r.template_memory, 0u);
  EXPECT_EQ(d.domains().size(), kMaxDomainsPerExporter);
  const auto& one = d.domains().at(DomainKey{exporter, 1, 10});
  EXPECT_EQ(one.templates.size(), kMaxTemplatesPerDomain);
  EXPECT_EQ(one.templates.at(256).fields.size(), 2u);
  EXPECT_EQ(d.domains().at(DomainKey{exporter, 2, 10}).sampling.size(), kMaxSamplersPerDomain);
  size_t bytes = 0;
  for (const auto& [k, dom] : d.domains())
    for (const auto& [id, t] : dom.templates) bytes += templateBytes(t);
  EXPECT_EQ(d.templateBytesUsed(), bytes);

  // A decoder with less room for templates: the bytes bound too.
  NetflowDecoder::Config config;
  config.max_template_bytes = bytes / 2;
  NetflowDecoder small(config);
  ASSERT_TRUE(small.loadState(path.string(), r));
  EXPECT_GT(r.template_memory, 0u);
  EXPECT_LE(small.templateBytesUsed(), bytes / 2);
  EXPECT_GT(small.templateBytesUsed(), bytes / 2 - 2 * templateBytes(one.templates.at(256)));

  // Domains in all: kMaxDomains, one per exporter here.
  domains = json::array();
  for (uint32_t i = 0; i < kMaxDomains + 5; i++)
    domains.push_back(domain(IPv6Addr::fromV4(0x0b000000 + i).toString(), 1, {}, {}));
  write(domains);
  NetflowDecoder all;
  ASSERT_TRUE(all.loadState(path.string(), r));
  EXPECT_EQ(r.domains, 5u);
  EXPECT_EQ(all.domains().size(), kMaxDomains);

  // Malformed: refused whole, the decoder left empty.
  auto malformed = [&](const json& doc, const char* why) {
    std::ofstream(path) << doc.dump();
    NetflowDecoder m;
    EXPECT_THROW(m.loadState(path.string(), r), std::runtime_error) << why;
    EXPECT_TRUE(m.domains().empty()) << why;
    EXPECT_EQ(m.templateBytesUsed(), 0u) << why;
  };
  auto with = [&](json t) {
    return json{{"domains", json::array({domain("192.0.2.1", 1, json::array({tmpl(256), t}),
                                                json::array())})},
                {"version", kStateVersion}};
  };
  malformed(with(tmpl(300, kMaxTemplateFields + 1)), "more fields than a datagram holds");
  malformed(with(tmpl(255)), "template id below 256");
  malformed(with(tmpl(65536)), "template id over 65,535");
  json bad_field = tmpl(300);
  bad_field["fields"][0][0] = 70000;
  malformed(with(bad_field), "field type over 65,535");
  json empty = tmpl(300, 0);
  malformed(with(empty), "template without fields");
  json v11 = with(tmpl(300));
  v11["domains"][0]["version"] = 11;
  malformed(v11, "NetFlow version 11");
  json negative = with(tmpl(300));
  negative["domains"][0]["domain"] = -1;
  malformed(negative, "negative domain");
  malformed(json{{"domains", json::array({1, 2})}, {"version", kStateVersion}}, "not objects");
  json later = with(tmpl(300));
  later["version"] = kStateVersion + 1;  // read after the domains (keys are sorted)
  malformed(later, "unknown version");
  std::filesystem::remove(path);
}

}  // namespace akvo::decoder
