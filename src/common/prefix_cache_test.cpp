#include "common/prefix_cache.h"

#include <gtest/gtest.h>

namespace akvo {
namespace {

IPv6Addr ip(const char* s) { return *IPv6Addr::parse(s); }

// Answers come back only inside the prefix they hold for, and an IPv6 answer over a short
// prefix that would cover the IPv4-mapped block never answers for an IPv4 address (one coarse
// slot: every key collides).
TEST(PrefixCache, AnswersStayInsideTheirPrefix) {
  PrefixCache<int> cache(4);
  int fills = 0;
  auto fill = [&fills](const IPv6Addr& a, uint8_t* len) {
    fills++;
    if (a.isV4Mapped()) {
      *len = 96 + 8;  // per IPv4 /8
      return int(a.v4() >> 24);
    }
    *len = 0;  // one answer for all of IPv6
    return 1000;
  };
  EXPECT_EQ(cache.get(ip("::1"), fill), 1000);
  EXPECT_EQ(cache.get(ip("10.1.2.3"), fill), 10);
  EXPECT_EQ(cache.get(ip("::2"), fill), 1000);
  EXPECT_EQ(cache.get(ip("10.200.0.1"), fill), 10);
  EXPECT_EQ(cache.get(ip("11.0.0.1"), fill), 11);
  EXPECT_EQ(cache.get(ip("2001:db8::1"), fill), 1000);
  int before = fills;
  EXPECT_EQ(cache.get(ip("11.9.9.9"), fill), 11);  // same /8: cached
  EXPECT_EQ(fills, before);
  cache.clear();
  EXPECT_EQ(cache.get(ip("11.9.9.9"), fill), 11);
  EXPECT_EQ(fills, before + 1);
}

// Answers over prefixes longer than /16 (IPv4) live in the fine table: reused inside their
// prefix, refilled outside it, and kept when coarse answers are filled around them.
TEST(PrefixCache, FineAnswersAreReusedInsideTheirPrefix) {
  PrefixCache<uint32_t> cache(64);
  int fills = 0;
  auto fill = [&fills](const IPv6Addr& a, uint8_t* len) {
    fills++;
    if (a.v4() >> 24 == 10) {
      *len = 96 + 26;  // per /26 inside 10/8
      return a.v4() >> 6;
    }
    *len = 96 + 8;
    return a.v4() >> 24;
  };
  EXPECT_EQ(cache.get(ip("10.1.2.3"), fill), ip("10.1.2.0").v4() >> 6);
  EXPECT_EQ(fills, 1);
  EXPECT_EQ(cache.get(ip("10.1.2.60"), fill), ip("10.1.2.0").v4() >> 6);  // same /26
  EXPECT_EQ(fills, 1);
  EXPECT_EQ(cache.get(ip("10.1.2.64"), fill), ip("10.1.2.64").v4() >> 6);  // next /26
  EXPECT_EQ(fills, 2);
  EXPECT_EQ(cache.get(ip("10.1.3.1"), fill), ip("10.1.3.0").v4() >> 6);  // another /24
  EXPECT_EQ(fills, 3);
  EXPECT_EQ(cache.get(ip("11.1.2.3"), fill), 11u);  // coarse
  EXPECT_EQ(cache.get(ip("11.1.200.3"), fill), 11u);  // same /16: one coarse slot
  EXPECT_EQ(fills, 4);
  EXPECT_EQ(cache.get(ip("10.1.3.2"), fill), ip("10.1.3.0").v4() >> 6);  // still cached
  EXPECT_EQ(fills, 4);
}

}  // namespace
}  // namespace akvo
