#include "outlet/decoder/decode_tool.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

namespace akvo::decoder {

TEST(DecodeTool, JsonLinesKeyedByColumnNamesForEveryDecoder) {
  std::ostringstream out, err;
  DecodeToolOptions o;
  o.pcap = "../shared/testdata/sflow/data-1140.pcap";  // sFlow, recognised by its version
  ASSERT_EQ(runDecodeTool(o, out, err), 0);
  EXPECT_EQ(err.str(), "1 datagrams, 5 flows\n");
  std::istringstream lines(out.str());
  std::string line;
  std::vector<nlohmann::json> flows;
  while (std::getline(lines, line)) flows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(flows.size(), 5u);
  EXPECT_EQ(flows[1]["SrcAddr"], "104.26.8.24");  // dotted quad, not ::ffff:
  EXPECT_EQ(flows[1]["ExporterAddress"], "172.16.0.3");
  EXPECT_EQ(flows[1]["SamplingRate"], 1024);
  EXPECT_EQ(flows[1]["Bytes"], 421);  // as the exporter counted: sampling not applied
  EXPECT_EQ(flows[1]["EType"], 0x800);
  EXPECT_EQ(flows[1]["InIf"], 49001);
  EXPECT_EQ(flows[3]["DstASPath"], nlohmann::json::array({203698, 6762, 26615}));
  EXPECT_EQ(flows[0]["SrcMAC"], "24:6e:96:90:7a:50");

  std::ostringstream out2, err2;
  o.pcap = "../shared/testdata/netflow/data.pcap";  // data without its template
  ASSERT_EQ(runDecodeTool(o, out2, err2), 0);
  EXPECT_EQ(out2.str(), "");
  EXPECT_EQ(err2.str(), "1 datagrams, 0 flows, 1 missing_template\n");

  std::ostringstream out3, err3;
  o.pcap = "/nonexistent.pcap";
  EXPECT_EQ(runDecodeTool(o, out3, err3), 1);
  EXPECT_NE(err3.str().find("/nonexistent.pcap"), std::string::npos);
  o.format = "xml";
  EXPECT_THROW(runDecodeTool(o, out3, err3), std::invalid_argument);
}

// --decapsulation-protocol decodes as an input so configured: the capture's samples are plain
// traffic, not VXLAN, so all are dropped and counted.
TEST(DecodeTool, DecapsulationProtocol) {
  std::ostringstream out, err;
  DecodeToolOptions o;
  o.pcap = "../shared/testdata/sflow/data-1140.pcap";
  o.decapsulation = "vxlan";
  ASSERT_EQ(runDecodeTool(o, out, err), 0);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), "1 datagrams, 0 flows, 5 not_encapsulated\n");
  o.decapsulation = "mpls";
  EXPECT_THROW(runDecodeTool(o, out, err), std::invalid_argument);
}

}  // namespace akvo::decoder
