#include "outlet/routing/bmp_decoder.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "common/pcap_reader.h"
#include "outlet/routing/testing.h"

namespace akvo::routing {
namespace {

/// Writes what the decoder reports as text lines, one per event or route.
struct TextSink : BmpSink {
  std::vector<std::string> lines;
  static std::string peerText(const BmpPeer& p) {
    return fmt::format("peer {} as{} type{} flags{:#x}", p.address.toString(), p.asn, p.type,
                       p.flags);
  }
  void initiation(std::string_view name, std::string_view descr) override {
    lines.push_back(fmt::format("init name={} descr={}", name, descr.substr(0, 30)));
  }
  void peerUp(const BmpPeer& p) override { lines.push_back("up " + peerText(p)); }
  void peerDown(const BmpPeer& p) override { lines.push_back("down " + peerText(p)); }
  void statistics(const BmpPeer& p) override { lines.push_back("stats " + peerText(p)); }
  void termination() override { lines.push_back("term"); }
  void routes(const BmpPeer& p, const PathAttributes& a, std::span<const Nlri> ann,
              std::span<const Nlri> wd) override {
    for (const auto& n : ann) {
      std::string comms, large;
      for (auto c : a.communities) comms += fmt::format("{}:{} ", c >> 16, c & 0xffff);
      for (auto l : a.large_communities)
        large += fmt::format("{}:{}:{} ", l.asn, l.local1, l.local2);
      std::string rts;  // route targets, only when the UPDATE has some
      for (auto rt : a.route_targets) rts += (rts.empty() ? " rt=" : ",") + formatRd(rt);
      lines.push_back(fmt::format("add {} {} rd={} id={} nh={} path=[{}] comm=[{}] large=[{}]{}",
                                  p.address.toString(), n.prefix.toString(), formatRd(n.rd),
                                  n.path_id, n.next_hop.toString(), fmt::join(a.as_path, " "),
                                  comms, large, rts));
    }
    for (const auto& n : wd)
      lines.push_back(fmt::format("del {} {} rd={} id={}", p.address.toString(),
                                  n.prefix.toString(), formatRd(n.rd), n.path_id));
  }
};

std::vector<std::string> decodeCapture(const std::string& name, BmpDecoder& d) {
  auto stream = testing::tcpStream("../shared/testdata/bmp/" + name);
  TextSink sink;
  auto messages = testing::splitBmp(stream);
  for (const auto& m : messages) {
    auto s = d.decode(m, sink);
    if (s != BmpStatus::kOk) sink.lines.push_back(std::string("error ") +
                                                  std::string(bmpStatusName(s)));
  }
  return sink.lines;
}

void dump(const std::vector<std::string>& lines) {
  if (getenv("AKVO_DUMP"))
    for (const auto& l : lines) fmt::print("{}\n", l);
}

}  // namespace

TEST(BmpDecoder, Init) {
  BmpDecoder d;
  auto lines = decodeCapture("bmp-init.pcap", d);
  dump(lines);
  ASSERT_GE(lines.size(), 1u);
  EXPECT_EQ(lines[0], "init name=vMX descr=Juniper Networks, Inc. vmx int");
  EXPECT_TRUE(d.initiated());
}

}  // namespace akvo::routing
namespace akvo::routing {

// Golden test: the captures decoded in session order (init, peer up, routes, withdrawals,
// statistics, peer down, termination). Every route's attributes were checked against
// tshark -V on the same captures (prefixes, RDs, next hops, AS paths, communities).
// Route targets (rt=) as tshark decodes the same capture: 65017:101 three times, 102 and 103
// twice each.
TEST(BmpDecoder, GoldenCaptures) {
  const std::vector<std::pair<const char*, std::vector<std::string>>> want = {
      {"bmp-init.pcap",
       {"init name=vMX descr=Juniper Networks, Inc. vmx int"}},
      {"bmp-peer-up.pcap",
       {"up peer 192.0.2.1 as65011 type0 flags0x0"}},
      {"bmp-reach.pcap",
       {"add 192.0.2.1 192.0.2.0/31 rd=0 id=0 nh=192.0.2.1 path=[65011] comm=[] large=[]",
        "add 192.0.2.1 198.51.100.128/25 rd=0 id=0 nh=192.0.2.1 path=[65011 65011 174 29447 396919] comm=[65011:12 ] large=[]",
        "add 192.0.2.1 198.51.100.0/25 rd=0 id=0 nh=192.0.2.1 path=[65011 65011 174 1299 64476] comm=[65011:10 65011:20 ] large=[]",
        "add 2001:db8::7 192.0.2.6/31 rd=0 id=0 nh=192.0.2.7 path=[65017] comm=[] large=[]",
        "add 2001:db8::7 2001:db8:2::/64 rd=0 id=0 nh=2001:db8::7 path=[65017 65017 1299 1299 1299 12322] comm=[65017:30 ] large=[65017:400:2 ]",
        "add 2001:db8::7 2001:db8:1::/64 rd=0 id=0 nh=2001:db8::7 path=[65017 65013 174 174 174] comm=[65017:10 65017:20 ] large=[65017:300:4 ]",
        "add 2001:db8::7 2001:db8::6/127 rd=0 id=0 nh=2001:db8::7 path=[65017] comm=[] large=[]",
        "add 2001:db8::7 198.51.100.0/26 rd=65017:104 id=0 nh=2001:db8::7 path=[65017 65017 3356 64476] comm=[65017:1103 ] large=[] rt=65017:103",
        "add 2001:db8::3 2001:db8:2::/64 rd=0 id=0 nh=2001:db8::3 path=[65013 65013 1299 1299 1299 12322] comm=[65013:30 ] large=[]",
        "add 2001:db8::3 2001:db8::2/127 rd=0 id=0 nh=2001:db8::3 path=[65013] comm=[] large=[]",
        "add 2001:db8::3 2001:db8:1::/64 rd=0 id=0 nh=2001:db8::3 path=[65013 65013 174 174 174] comm=[65013:10 65013:20 ] large=[]",
        "add 2001:db8::7 198.51.100.128/25 rd=65017:102 id=0 nh=192.0.2.7 path=[65017 65017 6453 396919] comm=[65017:19 ] large=[] rt=65017:102",
        "add 2001:db8::7 198.51.100.0/26 rd=65017:103 id=0 nh=192.0.2.7 path=[65017 65017 3356 64476] comm=[65017:1103 ] large=[] rt=65017:103",
        "add 2001:db8::7 198.51.100.0/25 rd=65017:102 id=0 nh=192.0.2.7 path=[65017 65017 174 3356 3356 3356 64476] comm=[65017:10 65017:20 ] large=[] rt=65017:102",
        "add 2001:db8::7 198.51.100.128/25 rd=65017:101 id=0 nh=192.0.2.7 path=[65017 65017 174 29447 396919] comm=[65017:12 ] large=[] rt=65017:101",
        "add 2001:db8::7 198.51.100.0/25 rd=65017:101 id=0 nh=192.0.2.7 path=[65017 65017 174 1299 64476] comm=[65017:10 65017:20 ] large=[] rt=65017:101",
        "add 2001:db8::7 2001:db8:4::/64 rd=65017:101 id=0 nh=2001:db8::7 path=[65017 65017 1299 1299 1299 29447] comm=[65017:300 ] large=[] rt=65017:101"}},
      {"bmp-unreach.pcap",
       {"del 192.0.2.1 198.51.100.0/25 rd=0 id=0",
        "del 192.0.2.1 198.51.100.128/25 rd=0 id=0",
        "del 192.0.2.1 192.0.2.0/31 rd=0 id=0",
        "del 192.0.2.5 192.0.2.4/31 rd=0 id=1",
        "del 2001:db8::3 2001:db8:1::/64 rd=0 id=0",
        "del 2001:db8::3 2001:db8:2::/64 rd=0 id=0",
        "del 2001:db8::3 2001:db8::2/127 rd=0 id=0",
        "del 2001:db8::7 192.0.2.6/31 rd=0 id=0",
        "del 2001:db8::7 2001:db8:1::/64 rd=0 id=0",
        "del 2001:db8::7 2001:db8:2::/64 rd=0 id=0",
        "del 2001:db8::7 2001:db8::6/127 rd=0 id=0",
        "del 2001:db8::7 198.51.100.0/25 rd=65017:101 id=0",
        "del 2001:db8::7 198.51.100.128/25 rd=65017:101 id=0",
        "del 2001:db8::7 198.51.100.0/25 rd=65017:102 id=0",
        "del 2001:db8::7 198.51.100.128/25 rd=65017:102 id=0",
        "del 2001:db8::7 198.51.100.0/26 rd=65017:103 id=0",
        "del 2001:db8::7 2001:db8:4::/64 rd=65017:101 id=0",
        "del 2001:db8::7 198.51.100.0/26 rd=65017:103 id=0"}},
      {"bmp-eor.pcap",
       {"stats peer 2001:db8::7 as65017 type0 flags0x80"}},
      {"bmp-peer-down.pcap",
       {"stats peer 192.0.2.1 as65011 type0 flags0x0",
        "down peer 192.0.2.1 as65011 type0 flags0x0"}},
      {"bmp-terminate.pcap",
       {"term"}},
  };
  BmpDecoder d;
  for (const auto& [file, lines] : want) {
    SCOPED_TRACE(file);
    auto got = decodeCapture(file, d);
    dump(got);
    EXPECT_EQ(got, lines);
  }
  EXPECT_EQ(d.ignoredNlri(), 0u);
  EXPECT_FALSE(d.initiated());  // terminated
}
}  // namespace akvo::routing

namespace akvo::routing {
TEST(BmpDecoder, RequiresInitiation) {
  BmpDecoder d;
  auto stream = testing::tcpStream("../shared/testdata/bmp/bmp-reach.pcap");
  auto msgs = testing::splitBmp(stream);
  ASSERT_FALSE(msgs.empty());
  TextSink sink;
  EXPECT_EQ(d.decode(msgs[0], sink), BmpStatus::kNotInitiated);
  EXPECT_TRUE(sink.lines.empty());
}

// Every truncation and every single-byte corruption of real messages is rejected or decoded,
// never read out of bounds (ASan build).
TEST(BmpDecoder, TruncatedAndCorrupted) {
  auto init = testing::tcpStream("../shared/testdata/bmp/bmp-init.pcap");
  auto stream = testing::tcpStream("../shared/testdata/bmp/bmp-reach.pcap");
  size_t bad = 0;
  for (auto m : testing::splitBmp(stream)) {
    for (size_t cut = 0; cut < m.size(); cut++) {
      BmpDecoder d;
      TextSink sink;
      ASSERT_EQ(d.decode(init, sink), BmpStatus::kOk);
      std::vector<uint8_t> copy(m.begin(), m.begin() + std::ptrdiff_t(cut));
      if (d.decode(copy, sink) != BmpStatus::kOk) bad++;
      std::vector<uint8_t> flip(m.begin(), m.end());
      flip[cut] ^= 0xff;
      d.decode(flip, sink);
    }
  }
  EXPECT_GT(bad, 0u);
}

TEST(BmpDecoder, RouteDistinguisherText) {
  for (auto t : {"0", "65017:100", "192.0.2.1:100", "4200000000:7"}) {
    auto rd = parseRd(t);
    ASSERT_TRUE(rd) << t;
    EXPECT_EQ(formatRd(*rd), t);
  }
  EXPECT_EQ(*parseRd("65017:104"), 0x0000fdf900000068ull);  // as tshark shows it
  EXPECT_FALSE(parseRd("x:1"));
  EXPECT_FALSE(parseRd("65017"));
}
}  // namespace akvo::routing
