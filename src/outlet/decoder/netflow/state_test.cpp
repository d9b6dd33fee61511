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
  ASSERT_TRUE(after.loadState(path.string()));
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
  EXPECT_THROW(fresh.loadState(path.string()), std::runtime_error);
  std::ofstream(path) << "{\"version\": 99, \"domains\": []}";
  EXPECT_THROW(fresh.loadState(path.string()), std::runtime_error);
  std::filesystem::remove(path);
  EXPECT_FALSE(fresh.loadState(path.string()));  // missing: no error
}

}  // namespace akvo::decoder
