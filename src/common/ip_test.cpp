#include "common/ip.h"

#include <gtest/gtest.h>


namespace akvo {

TEST(IP, ParseAndPrint) {
  auto a = IPv6Addr::parse("192.0.2.1");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->isV4Mapped());
  EXPECT_EQ(a->v4(), 0xc0000201u);
  EXPECT_EQ(a->toString(), "192.0.2.1");
  EXPECT_EQ(IPv6Addr::parse("2001:db8::1")->toString(), "2001:db8::1");
  EXPECT_FALSE(IPv6Addr::parse("300.1.1.1"));
  auto p = IPv6Prefix::parse("192.0.2.77/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->len, 120);
  EXPECT_EQ(p->toString(), "192.0.2.0/24");
  EXPECT_TRUE(p->contains(*IPv6Addr::parse("192.0.2.200")));
  EXPECT_FALSE(p->contains(*IPv6Addr::parse("192.0.3.1")));
  EXPECT_FALSE(IPv6Prefix::parse("192.0.2.0/33"));
}

// contains() against a bit-by-bit reference, at every length and on both sides of each bit.
TEST(IP, PrefixContainsEveryLength) {
  IPv6Addr base = *IPv6Addr::parse("2001:db8:1234:5678:9abc:def0:1357:9bdf");
  for (unsigned len = 0; len <= 128; len++) {
    IPv6Prefix p{base, uint8_t(len)};
    for (unsigned bit = 0; bit < 128; bit++) {
      IPv6Addr a = base;
      a.bytes[bit / 8] ^= uint8_t(0x80 >> (bit % 8));
      EXPECT_EQ(p.contains(a), bit >= len) << "len " << len << " bit " << bit;
    }
    EXPECT_TRUE(p.contains(base));
  }
}

}  // namespace akvo
