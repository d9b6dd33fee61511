#include "console/filter.h"

#include <gtest/gtest.h>

namespace akvo::console {
namespace {

Schema& schema() {
  static Schema s(SchemaConfig{.enabled = {"SrcMAC", "DstMAC", "MPLSLabels", "SrcCommunities",
                                           "SrcLargeCommunities", "IPTTL", "SrcVlan", "DstVlan"}});
  return s;
}

std::string sql(std::string_view f) {
  CompiledFilter out;
  FilterError err;
  EXPECT_TRUE(compileFilter(f, schema(), out, err)) << f << ": " << err.message;
  return out.sql;
}

std::string reverse(std::string_view f) {
  CompiledFilter out;
  FilterError err;
  EXPECT_TRUE(compileFilter(f, schema(), out, err)) << f << ": " << err.message;
  return out.reverse_sql;
}

FilterError error(std::string_view f) {
  CompiledFilter out;
  FilterError err;
  EXPECT_FALSE(compileFilter(f, schema(), out, err)) << f << " compiled to " << out.sql;
  return err;
}

TEST(Filter, GoldenSQL) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"", ""},
      {"  -- nothing\n /* at all */ ", ""},
      {"InIfBoundary = external", "`InIfBoundary` = 'external'"},
      {"inifboundary != INTERNAL", "`InIfBoundary` != 'internal'"},
      {"InIfBoundary = external AND InIfProvider = \"cogent\"",
       "`InIfBoundary` = 'external' AND `InIfProvider` = 'cogent'"},
      {"SrcAS IN (AS15169, 36040)", "(`SrcAS` IN (15169, 36040))"},
      {"SrcAS NOTIN (as15169)", "NOT (`SrcAS` IN (15169))"},
      {"DstAS = AS0", "`DstAS` = 0"},
      {"SrcAS != DstAS", "`SrcAS` != `DstAS`"},
      {"SrcAddr << 192.0.2.0/24",
       "`SrcAddr` BETWEEN toIPv6('::ffff:192.0.2.0') AND toIPv6('::ffff:192.0.2.255')"},
      {"SrcAddr !<< 2001:db8::/32",
       "`SrcAddr` NOT BETWEEN toIPv6('2001:db8::') AND toIPv6('2001:db8:ffff:ffff:ffff:ffff:ffff:ffff')"},
      {"DstAddr = 192.0.2.1", "`DstAddr` = toIPv6('::ffff:192.0.2.1')"},
      {"DstAddr != 2001:db8::1", "`DstAddr` != toIPv6('2001:db8::1')"},
      {"DstAddr = 10.0.0.0/8",
       "`DstAddr` BETWEEN toIPv6('::ffff:10.0.0.0') AND toIPv6('::ffff:10.255.255.255')"},
      {"ExporterAddress IN (192.0.2.1, 198.51.100.0/24)",
       "(`ExporterAddress` IN (toIPv6('::ffff:192.0.2.1')) OR `ExporterAddress` BETWEEN "
       "toIPv6('::ffff:198.51.100.0') AND toIPv6('::ffff:198.51.100.255'))"},
      {"DstPort > 1023", "`DstPort` > 1023"},
      {"DstPort >= 1023 and SrcPort <= 80 AND SrcPort < 5",
       "`DstPort` >= 1023 AND `SrcPort` <= 80 AND `SrcPort` < 5"},
      {"SrcPort < DstPort", "`SrcPort` < `DstPort`"},
      {"DstPort IN (80, 443)", "(`DstPort` IN (80, 443))"},
      {"ExporterName LIKE \"%-fr%\"", "`ExporterName` LIKE '%-fr%'"},
      {"ExporterName ILIKE '%-FR%'", "`ExporterName` ILIKE '%-FR%'"},
      {"ExporterName UNLIKE 'a%'", "`ExporterName` NOT LIKE 'a%'"},
      {"ExporterName IUNLIKE 'a%'", "`ExporterName` NOT ILIKE 'a%'"},
      {"InIfProvider != OutIfProvider", "`InIfProvider` != `OutIfProvider`"},
      {"SrcCountry IN ('FR', \"DE\")", "(`SrcCountry` IN ('FR', 'DE'))"},
      {"InIfDescription = 'it\\'s \"here\"'", "`InIfDescription` = 'it\\'s \"here\"'"},
      {"Proto = tcp", "`Proto` = 6"},
      {"Proto = \"UDP\"", "`Proto` = 17"},
      {"Proto = 58", "`Proto` = 58"},
      {"Proto IN (tcp, 'udp', 1)", "(`Proto` IN (6, 17, 1))"},
      {"Proto > 100", "`Proto` > 100"},
      {"EType = IPv4", "`EType` = 2048"},
      {"EType != ipv6", "`EType` != 34525"},
      {"FlowDirection = ingress", "`FlowDirection` = 'ingress'"},
      {"SrcMAC = 00:1A:2b:3c:4d:5e", "`SrcMAC` = MACStringToNum('00:1a:2b:3c:4d:5e')"},
      {"DstMAC IN (00:00:00:00:00:01)", "(`DstMAC` IN (MACStringToNum('00:00:00:00:00:01')))"},
      {"DstASPath = AS174", "has(`DstASPath`, 174)"},
      {"DstASPath != 174", "NOT has(`DstASPath`, 174)"},
      {"DstCommunities = 65000:100", "has(`DstCommunities`, 4259840100)"},
      {"SrcCommunities != 1:2:3",
       "NOT has(`SrcLargeCommunities`, bitShiftLeft(toUInt128(1), 64) + "
       "bitShiftLeft(toUInt128(2), 32) + toUInt128(3))"},
      {"MPLSLabels = 100", "has(`MPLSLabels`, 100)"},
      {"SrcNetPrefix = 192.0.2.0/24",
       "(`SrcAddr` BETWEEN toIPv6('::ffff:192.0.2.0') AND toIPv6('::ffff:192.0.2.255') AND "
       "`SrcNetMask` = 24)"},
      {"SrcNetPrefix = ::ffff:192.0.2.0/120",  // IPv4-mapped: the mask is still the IPv4 one
       "(`SrcAddr` BETWEEN toIPv6('::ffff:192.0.2.0') AND toIPv6('::ffff:192.0.2.255') AND "
       "`SrcNetMask` = 24)"},
      {"DstNetPrefix != 2001:db8::/48",
       "NOT (`DstAddr` BETWEEN toIPv6('2001:db8::') AND toIPv6('2001:db8:0:ffff:ffff:ffff:ffff:ffff') "
       "AND `DstNetMask` = 48)"},
      {"IPTTL = 255", "`IPTTL` = 255"},
      {"SrcVlan = DstVlan", "`SrcVlan` = `DstVlan`"},
      {"NOT SrcAS = 1", "NOT (`SrcAS` = 1)"},
      {"not (SrcAS = 1 or DstAS = 2) and Proto = 6",
       "NOT ((`SrcAS` = 1 OR `DstAS` = 2)) AND `Proto` = 6"},
      {"SrcAS = 1 OR DstAS = 2 AND Proto = 6", "`SrcAS` = 1 OR `DstAS` = 2 AND `Proto` = 6"},
      {"(SrcAS = 1 OR DstAS = 2) AND Proto = 6", "(`SrcAS` = 1 OR `DstAS` = 2) AND `Proto` = 6"},
      {"SrcAS=1--comment\nAND/* c */DstAS=2", "`SrcAS` = 1 AND `DstAS` = 2"},
      {"SrcPort = 65535", "`SrcPort` = 65535"},
  };
  for (const auto& c : cases) EXPECT_EQ(sql(c.in), c.out) << c.in;
}

TEST(Filter, Reverse) {
  EXPECT_EQ(reverse("SrcAS = 1 AND InIfBoundary = external AND ExporterName = 'x'"),
            "`DstAS` = 1 AND `OutIfBoundary` = 'external' AND `ExporterName` = 'x'");
  EXPECT_EQ(reverse("SrcPort < DstPort"), "`DstPort` < `SrcPort`");
  EXPECT_EQ(reverse("InIfProvider IN ('a')"), "(`OutIfProvider` IN ('a'))");
  EXPECT_EQ(reverse("SrcAddr << 192.0.2.0/31"),
            "`DstAddr` BETWEEN toIPv6('::ffff:192.0.2.0') AND toIPv6('::ffff:192.0.2.1')");
}

TEST(Filter, MainOnly) {
  CompiledFilter out;
  FilterError err;
  ASSERT_TRUE(compileFilter("SrcAS = 1 AND InIfBoundary = external", schema(), out, err));
  EXPECT_FALSE(out.main_only);
  ASSERT_TRUE(compileFilter("SrcAS = 1 OR DstPort = 80", schema(), out, err));
  EXPECT_TRUE(out.main_only);
  ASSERT_TRUE(compileFilter("SrcNetPrefix = 10.0.0.0/8", schema(), out, err));
  EXPECT_TRUE(out.main_only);
}

TEST(Filter, ErrorsWithPositions) {
  auto e = error("SrcAS = 1 AND");
  EXPECT_EQ(e.message, "expecting a condition (a column name, \"(\" or NOT)");
  EXPECT_EQ(e.offset, 13);
  EXPECT_EQ(e.column, 14);
  e = error("SrcAS = 1\nAND Foo = 2");
  EXPECT_EQ(e.message, "unknown column \"Foo\"");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.column, 5);
  EXPECT_EQ(e.offset, 14);
  e = error("SrcAS LIKE 'x'");
  EXPECT_EQ(e.message, "operator LIKE is not valid for SrcAS (expecting one of =, !=, IN, NOTIN)");
  EXPECT_EQ(e.column, 7);
  e = error("SrcAS = ASX");
  EXPECT_EQ(e.message, "expecting an AS number");
  EXPECT_EQ(error("SrcAS = 15169x").message, "expecting an AS number");
  EXPECT_EQ(error("SrcAS = 4294967296").message, "4294967296 out of range (0 to 4294967295)");
  EXPECT_EQ(error("DstPort = 65536").message, "65536 out of range (0 to 65535)");
  EXPECT_EQ(error("IPTTL = 256").message, "256 out of range (0 to 255)");
  EXPECT_EQ(error("SrcAddr = 300.1.1.1").message, "expecting an IP address or a subnet");
  EXPECT_EQ(error("SrcAddr = 10.0.0.0/33").message, "expecting an IP address or a subnet");
  e = error("ExporterName = 'abc");
  EXPECT_EQ(e.message, "unterminated string");
  EXPECT_EQ(e.column, 16);
  EXPECT_EQ(error("ExporterName = abc").message, "expecting a quoted string");
  EXPECT_EQ(error("(SrcAS = 1").message, "expecting \")\"");
  EXPECT_EQ(error("SrcAS = 1 DstAS = 2").message, "expecting AND, OR or the end of the filter");
  EXPECT_EQ(error("SrcAS = 1 /* x").message, "unterminated comment");
  EXPECT_EQ(error("InIfBoundary = outside").message,
            "expecting external, internal or undefined");
  EXPECT_EQ(error("EType = IPv5").message, "expecting IPv4 or IPv6");
  EXPECT_EQ(error("Proto = foo").message, "unknown protocol \"foo\"");
  EXPECT_EQ(error("Proto < tcp").message, "expecting a protocol number");
  EXPECT_EQ(error("SrcMAC = 00:11:22:33:44").message, "expecting a MAC address (aa:bb:cc:dd:ee:ff)");
  EXPECT_EQ(error("DstCommunities = 65536:1").message,
            "expecting a community (a:b, 16-bit each, or a:b:c, 32-bit each)");
  EXPECT_EQ(error("SrcAS = ").message, "expecting an AS number");
  EXPECT_EQ(error("SrcAS").message, "expecting an operator");
  EXPECT_EQ(error("SrcAS IN (1,").message, "expecting an AS number");
  EXPECT_EQ(error("DstPort IN (1 2)").message, "expecting \",\" or \")\"");
  EXPECT_EQ(error("()").message, "expecting a condition");
  // Disabled and non-filterable columns are unknown.
  EXPECT_EQ(error("SrcAddrNAT = 1.1.1.1").message, "unknown column \"SrcAddrNAT\"");
  EXPECT_EQ(error("Bytes > 1").message, "unknown column \"Bytes\"");
  // Comparing columns of different classes is refused.
  EXPECT_EQ(error("SrcAS = DstPort").message, "expecting an AS number");
  EXPECT_EQ(error(std::string(200, '(') + "SrcAS = 1" + std::string(200, ')')).message,
            "the filter is nested too deeply");
}

TEST(Filter, HostileInputsStayInsideLiterals) {
  // Quotes, backslashes and control characters cannot close the literal.
  EXPECT_EQ(sql("ExporterName = 'x\\' OR 1=1 --'"), "`ExporterName` = 'x\\' OR 1=1 --'");
  EXPECT_EQ(sql("ExporterName = \"a'); DROP TABLE flows; --\""),
            "`ExporterName` = 'a\\'); DROP TABLE flows; --'");
  EXPECT_EQ(sql("ExporterName = 'a\\\\'"), "`ExporterName` = 'a\\\\'");
  EXPECT_EQ(sql("ExporterName = 'tab\there\nnl'"), "`ExporterName` = 'tab\\x09here\\x0Anl'");
  EXPECT_EQ(error("ExporterName = 'trailing backslash \\'").message, "unterminated string");
  // Structural injections are parse errors, never SQL.
  error("SrcAS = 1; DROP TABLE flows");
  error("SrcAS = 1) OR (1=1");
  error("SrcAS = 1 OR 1=1");
  error("SrcAS = sleep(10)");
  error("SrcAddr = toIPv6('1.1.1.1')");
  error("`SrcAS` = 1");
  error("SrcAS = 0x10");
  error("DstPort = 80 UNION SELECT 1");
  error("ExporterName = '' || version() || ''");
  // A quoted value with every byte value still produces a balanced literal.
  std::string all = "ExporterName = '";
  for (int c = 1; c < 256; c++)
    if (c != '\'' && c != '\\') all += char(c);
  all += "'";
  std::string out = sql(all);
  size_t quotes = 0;
  for (size_t i = 0; i < out.size(); i++) {
    if (out[i] == '\\') {
      i++;
      continue;
    }
    if (out[i] == '\'') quotes++;
  }
  EXPECT_EQ(quotes, 2u);
}

TEST(Filter, SqlQuote) {
  EXPECT_EQ(sqlQuote("a'b\\c"), "'a\\'b\\\\c'");
  EXPECT_EQ(sqlQuote(std::string_view("\0x", 2)), "'\\x00x'");
}

TEST(Filter, Operators) {
  EXPECT_EQ(filterOperators(FilterType::kBoundary), (std::vector<std::string>{"=", "!="}));
  EXPECT_EQ(filterOperators(FilterType::kIP).size(), 6u);
  EXPECT_EQ(protocolNumber("IPv6-ICMP"), 58);
  EXPECT_EQ(protocolNumber("tcp"), 6);
  EXPECT_EQ(protocolNumber("nope"), -1);
}

}  // namespace
}  // namespace akvo::console
