#include "tools/replay.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/pcap_reader.h"
#include "testing/ports.h"

namespace akvo::tools {

TEST(Replay, CountsFlowsExactly) {
  auto v5 = planReplay({"../shared/testdata/netflow/nfv5.pcap"});
  ASSERT_EQ(v5.data.size(), 1u);
  EXPECT_EQ(v5.data[0].flows, 29u);
  EXPECT_TRUE(v5.templates.empty());
  // NetFlow v9: the template capture first, then data decoded with it.
  auto v9 = planReplay({"../shared/testdata/netflow/template.pcap", "../shared/testdata/netflow/data.pcap"});
  EXPECT_EQ(v9.templates.size(), 1u);
  ASSERT_EQ(v9.data.size(), 1u);
  EXPECT_EQ(v9.data[0].flows, 4u);
  auto sflow = planReplay({"../shared/testdata/sflow/data-1140.pcap"});
  ASSERT_EQ(sflow.data.size(), 1u);
  EXPECT_EQ(sflow.data[0].flows, 5u);
}

TEST(Replay, SendsTheFlowsAskedWithRewrittenSequences) {
  uint16_t port = 0;
  int rx = testing::boundLoopbackSocket(SOCK_DGRAM, &port);
  ASSERT_GE(rx, 0);
  int size = 8 << 20;
  setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  ReplayOptions o;
  o.pcaps = {"../shared/testdata/netflow/nfv5.pcap"};
  o.target = "127.0.0.1:" + std::to_string(port);
  o.flows_per_second = 0;
  o.seconds = 5;
  o.exporters = 2;
  o.max_flows = 29 * 10;
  ReplayResult r = replay(o);
  EXPECT_EQ(r.flows, 290u);
  EXPECT_EQ(r.datagrams, 10u);
  // Each exporter's v5 sequence grows by the flows it sent.
  std::vector<uint32_t> seqs;
  uint8_t buf[9000];
  timeval tv{1, 0};
  setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in from{};
  for (int i = 0; i < 10; i++) {
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(rx, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_GT(n, 24);
    if (ntohl(from.sin_addr.s_addr) == 0x7f000101)
      seqs.push_back(uint32_t(buf[16]) << 24 | uint32_t(buf[17]) << 16 | uint32_t(buf[18]) << 8 | buf[19]);
  }
  ASSERT_GE(seqs.size(), 2u);
  for (size_t i = 1; i < seqs.size(); i++) EXPECT_EQ(seqs[i] - seqs[i - 1], 29u);
  close(rx);
}

}  // namespace akvo::tools
