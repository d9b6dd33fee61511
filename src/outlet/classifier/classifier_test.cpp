#include "outlet/classifier/classifier.h"

#include <gtest/gtest.h>

namespace akvo::classifier {
namespace {

ExporterResult exporter(const std::vector<std::string>& rules, std::string_view name,
                        std::string_view ip = "192.0.2.1") {
  RuleSet set(rules, Kind::kExporter);
  return set.classify(ExporterInput{ip, name});
}

InterfaceResult iface(const std::vector<std::string>& rules, std::string_view description,
                      std::string_view name = "Gi0/0/0", uint32_t speed = 10000,
                      uint32_t vlan = 0) {
  RuleSet set(rules, Kind::kInterface);
  return set.classify(InterfaceInput{{"192.0.2.1", "par-edge1.example.net"}, 3, name,
                                     description, speed, vlan});
}

TEST(Classifier, Normalize) {
  EXPECT_EQ(normalize("Transit: Cogent"), "transitcogent");
  EXPECT_EQ(normalize("AMS-IX v2.0+"), "ams-ixv2.0+");
  EXPECT_EQ(normalize("Été_ü"), "t");
}

TEST(Classifier, AkvoradoSlidesExporterExamples) {
  auto r = exporter({R"r(ClassifySiteRegex(Exporter.Name, "^([^-]+)-", "$1"))r",
                     R"r(Exporter.Name endsWith ".it" && ClassifyRegion("italy"))r",
                     R"r(Exporter.Name matches "^(washington|newyork).*" && ClassifyRegion("usa"))r",
                     R"r(ClassifyRegion("other"))r"},
                    "milan-edge1.example.it");
  EXPECT_EQ(r.site, "milan");
  EXPECT_EQ(r.region, "italy");
  auto u = exporter({R"r(Exporter.Name endsWith ".it" && ClassifyRegion("italy"))r",
                     R"r(Exporter.Name matches "^(washington|newyork).*" && ClassifyRegion("usa"))r",
                     R"r(ClassifyRegion("other"))r"},
                    "newyork-core2");
  EXPECT_EQ(u.region, "usa");
  auto o = exporter({R"r(Exporter.Name matches "^(washington|newyork).*" && ClassifyRegion("usa"))r",
                     R"r(ClassifyRegion("Other Place"))r"},
                    "paris");
  EXPECT_EQ(o.region, "otherplace");
  auto ip = exporter({R"r(Exporter.IP startsWith "192.0.2." && ClassifyRole("Edge"))r",
                      R"r(ClassifyTenant("t1") && ClassifyGroup("g1"))r"},
                     "x");
  EXPECT_EQ(ip.role, "edge");
  EXPECT_EQ(ip.tenant, "t1");
  EXPECT_EQ(ip.group, "g1");
}

TEST(Classifier, AkvoradoSlidesInterfaceExample) {
  std::vector<std::string> rules = {
      R"r(ClassifyConnectivityRegex(Interface.Description, "(?i)(transit|pni|ppni|ix):? ", "$1") && ClassifyProviderRegex(Interface.Description, "[^ ]+ ([^ ]+)", "$1") && ClassifyExternal())r",
      R"r(ClassifyInternal())r"};
  auto t = iface(rules, "Transit: Cogent");
  EXPECT_EQ(t.connectivity, "transit");
  EXPECT_EQ(t.provider, "cogent");
  EXPECT_EQ(t.boundary, Boundary::kExternal);
  EXPECT_EQ(t.name, "Gi0/0/0");
  EXPECT_EQ(t.description, "Transit: Cogent");
  auto p = iface(rules, "PNI Netflix");
  EXPECT_EQ(p.connectivity, "pni");
  EXPECT_EQ(p.provider, "netflix");
  auto c = iface(rules, "Customer: cust1");
  EXPECT_EQ(c.connectivity, "");
  EXPECT_EQ(c.provider, "");
  EXPECT_EQ(c.boundary, Boundary::kInternal);
}

TEST(Classifier, OperatorsAndFirstWriterWins) {
  auto r = iface({R"r(Interface.Speed >= 100000 && Interface.Index in [1, 2, 3] && ClassifyConnectivity("Fast"))r",
                  R"r(ClassifyConnectivity("slow"))r",
                  R"r(!(Interface.Name contains "Te") and not (Interface.VLAN != 0) && ClassifyProvider("p1"))r",
                  R"r(Interface.Description in ["a", "b"] || SetName(Format("%s-%d", "if", Interface.Index)))r",
                  R"r(SetName("ignored") && SetDescription(upper(Interface.Description)))r"},
                 "desc", "Gi1", 100000);
  EXPECT_EQ(r.connectivity, "fast");
  EXPECT_EQ(r.provider, "p1");
  EXPECT_EQ(r.name, "if-3");
  EXPECT_EQ(r.description, "DESC");
  RuleSet vlan({"Interface.VLAN == 100 && ClassifyProvider('vlan100')"}, Kind::kInterface);
  EXPECT_TRUE(vlan.usesVlan());
  EXPECT_EQ(iface({"Interface.VLAN == 100 && ClassifyProvider('vlan100')"}, "", "x", 1, 100).provider,
            "vlan100");
  EXPECT_EQ(iface({"Interface.VLAN == 100 && ClassifyProvider('vlan100')"}, "", "x", 1, 7).provider,
            "");
  // Regex forms return false without a match: the rest of the rule is skipped.
  auto n = iface({R"r(ClassifyProviderRegex(Interface.Description, "^IX (.*)$", "$1") && ClassifyExternal())r"},
                 "Customer x");
  EXPECT_EQ(n.boundary, Boundary::kUndefined);
  // ${1} and $$ in templates.
  EXPECT_EQ(iface({R"r(ClassifyProviderRegex(Interface.Description, "(\w+)-(\w+)", "${2}x$1"))r"},
                  "abc-def")
                .provider,
            "defxabc");
}

TEST(Classifier, HostileTemplatesDoNotThrow) {
  EXPECT_EQ(iface({R"r(ClassifyProviderRegex(Interface.Description, "(a)", "x$99999999999"))r"}, "a")
                .provider,
            "x");
  EXPECT_EQ(iface({R"r(ClassifyProviderRegex(Interface.Description, "(a)", "${1"))r"}, "a").provider,
            "1");
}

TEST(Classifier, RejectStopsAndDrops) {
  auto r = exporter({R"r(Exporter.Name startsWith "lab-" && Reject())r", R"r(ClassifySite("x"))r"},
                    "lab-1");
  EXPECT_TRUE(r.reject);
  EXPECT_EQ(r.site, "");
  auto k = exporter({R"r(Exporter.Name startsWith "lab-" && Reject())r", R"r(ClassifySite("x"))r"},
                    "prod-1");
  EXPECT_FALSE(k.reject);
  EXPECT_EQ(k.site, "x");
  EXPECT_TRUE(iface({"Interface.Speed < 1000 && Reject()"}, "", "", 100).reject);
}

// Akvorado's classifyStringWithRegex: when the value is already set, the regex form returns
// true without matching (and does not overwrite the value).
TEST(Classifier, RegexFormsTrueWhenAlreadySet) {
  auto r = iface({R"r(ClassifyConnectivity("core"))r",
                  R"r(ClassifyConnectivityRegex(Interface.Description, "^(transit):", "$1") && ClassifyExternal())r"},
                 "Customer: c1");
  EXPECT_EQ(r.connectivity, "core");
  EXPECT_EQ(r.boundary, Boundary::kExternal);
  auto m = iface({R"r(ClassifyProvider("first"))r",
                  R"r(ClassifyProviderRegex(Interface.Description, "^(\w+)", "$1") && ClassifyInternal())r"},
                 "second");
  EXPECT_EQ(m.provider, "first");
  EXPECT_EQ(m.boundary, Boundary::kInternal);
  for (std::string fn : {"Classify", "ClassifyGroup", "ClassifyRole", "ClassifySite", "ClassifyRegion",
                         "ClassifyTenant"}) {
    auto e = exporter({fn + R"r(("set"))r", fn + R"r(Regex(Exporter.Name, "^nomatch-(.*)", "$1") && Reject())r"},
                      "edge1");
    EXPECT_TRUE(e.reject) << fn;
    auto u = exporter({fn + R"r(Regex(Exporter.Name, "^nomatch-(.*)", "$1") && Reject())r"}, "edge1");
    EXPECT_FALSE(u.reject) << fn;
  }
  auto g = exporter({R"r(ClassifyRegex(Exporter.Name, "^(\w+)", "$1"))r"}, "Edge1.example");
  EXPECT_EQ(g.group, "edge1");
}

// expr.AsBool() and expr's checker reject these at compile time: so does akvo, at load.
TEST(Classifier, TypeErrorsAtLoad) {
  auto error = [](const std::string& rule, Kind kind = Kind::kInterface) {
    try {
      RuleSet set({"true", rule}, kind);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto expectError = [&](const std::string& rule, const std::string& position,
                         const std::string& what, Kind kind = Kind::kInterface) {
    std::string e = error(rule, kind);
    EXPECT_NE(e.find("rule 1"), std::string::npos) << rule << ": " << e;
    EXPECT_NE(e.find("position " + position + ":"), std::string::npos) << rule << ": " << e;
    EXPECT_NE(e.find(what), std::string::npos) << rule << ": " << e;
  };
  expectError(R"r(Interface.Speed startsWith "100")r", "17", "startsWith needs a string on its left, got number");
  expectError(R"r(Interface.Description)r", "1", "the rule must be a bool expression, got string");
  expectError(R"r(Format("%d", Interface.Index))r", "1", "must be a bool expression, got string");
  expectError(R"r("foo" && ClassifyExternal())r", "1", "&& needs a bool, got string");
  expectError(R"r(ClassifyExternal() or 1)r", "23", "or needs a bool, got number");
  expectError(R"r(ClassifyConnectivity(Interface.Speed))r", "22",
              "ClassifyConnectivity expects a string as argument 1, got number");
  expectError(R"r(ClassifyProviderRegex(Interface.Description, "(.*)", Interface.Index))r", "54",
              "ClassifyProviderRegex expects a string as argument 3, got number");
  expectError(R"r(SetName(Interface.Index))r", "9", "expects a string as argument 1, got number");
  expectError(R"r(lower(Interface.VLAN) == "x")r", "7", "lower expects a string");
  expectError(R"r(Format(Interface.Index, "x") == "x")r", "8", "Format expects a string as argument 1");
  expectError(R"r(Interface.Description == 3)r", "23", "cannot compare string and number");
  expectError(R"r(Interface.Index != "3")r", "17", "cannot compare number and string");
  expectError(R"r(!Interface.Description)r", "1", "! needs a bool, got string");
  expectError(R"r(not Interface.Name startsWith "x")r", "1", "not needs a bool, got string");
  expectError(R"r(Interface.Speed < "10")r", "17", "< needs two numbers or two strings");
  expectError(R"r(Interface.Name in "Gi0/0/0")r", "16", "in needs a list");
  expectError(R"r(Interface.Name in [1, 2])r", "16", "cannot look for a string in a list of number");
  expectError(R"r(Interface.Name matches 3)r", "24", "matches needs a string literal");
  expectError(R"r(-Interface.Name == "x")r", "1", "- needs a number, got string");
  expectError(R"r(Exporter.Name > 3)r", "15", "> needs two numbers or two strings", Kind::kExporter);
  // Still accepted: what expr accepts.
  for (std::string ok : {R"r(Interface.Speed == 1.5 || Interface.Index in [1, "a"])r",
                         R"r(Interface.Name != nil && (Interface.Name < "b" || ClassifyInternal()))r",
                         R"r(!(Interface.Name contains "Te") and not (Interface.VLAN != 0))r",
                         R"r(!ClassifyInternal() == false)r", R"r(true)r",
                         R"r(SetName(Format("%s-%d", Interface.Name, Interface.Index)))r"})
    EXPECT_EQ(error(ok), "no error") << ok;
}

TEST(Classifier, NegatedOperators) {
  std::vector<std::string> rules = {
      R"r(Interface.Description not startsWith "Transit" && ClassifyConnectivity("a"))r",
      R"r(Interface.Description not endsWith "Cogent" && ClassifyProvider("b"))r",
      R"r(Interface.Name not contains "/" && SetDescription("c"))r",
      R"r(Interface.Name not matches "^Gi" && SetName("d"))r",
      R"r(Interface.Index not in [3, 4] && ClassifyExternal())r"};
  auto t = iface(rules, "Transit: Cogent", "Gi0/0/0");
  EXPECT_EQ(t.connectivity, "");
  EXPECT_EQ(t.provider, "");
  EXPECT_EQ(t.description, "Transit: Cogent");
  EXPECT_EQ(t.name, "Gi0/0/0");
  EXPECT_EQ(t.boundary, Boundary::kUndefined);
  auto f = iface(rules, "PNI Netflix", "xe-0");
  EXPECT_EQ(f.connectivity, "a");
  EXPECT_EQ(f.provider, "b");
  EXPECT_EQ(f.description, "c");
  EXPECT_EQ(f.name, "d");
  EXPECT_EQ(f.boundary, Boundary::kUndefined);  // Index is 3
  // `not` as a prefix is still the unary operator.
  EXPECT_EQ(iface({R"r(not (Interface.Name matches "^Gi") || ClassifyProvider("p"))r"}, "", "Gi1").provider,
            "p");
}

TEST(Classifier, NumberLiterals) {
  auto r = iface({R"r(Interface.Speed > -1 && ClassifyProvider("neg"))r",
                  R"r(Interface.Speed < 10000.5 && Interface.Speed > 9999.5 && ClassifyConnectivity("float"))r",
                  R"r(Interface.Speed == 10000.0 && Interface.Index == 3. && SetName("eq"))r",
                  R"r(-Interface.Index == -3 && - -3 == 3 && +3 == 3 && SetDescription("unary"))r",
                  R"r(Interface.Speed == 1e4 && Interface.Speed == 10_000 && Interface.Index in [3.0] && ClassifyExternal())r"},
                 "desc", "Gi1", 10000);
  EXPECT_EQ(r.provider, "neg");
  EXPECT_EQ(r.connectivity, "float");
  EXPECT_EQ(r.name, "eq");
  EXPECT_EQ(r.description, "unary");
  EXPECT_EQ(r.boundary, Boundary::kExternal);
  EXPECT_EQ(iface({R"r(Interface.Speed < 1.5 && ClassifyProvider("slow"))r"}, "", "x", 1).provider, "slow");
  EXPECT_EQ(iface({R"r(Interface.Speed < 1.5 && ClassifyProvider("slow"))r"}, "", "x", 2).provider, "");
  EXPECT_EQ(iface({R"r(SetName(Format("%v/%v", 1.5, -2)))r"}, "").name, "1.5/-2");
  EXPECT_EQ(iface({R"r(0e5 == 0 && 0x1F == 31 && 0o17 == 15 && 0b101 == 5 && SetName("bases"))r"}, "")
                .name,
            "bases");
  for (std::string bad : {"1e", "0x", "12abc", "1e999", "9223372036854775808"})
    EXPECT_THROW(RuleSet({"Interface.Speed == " + bad}, Kind::kInterface), ParseError) << bad;
}

// SetName and SetDescription set what is still empty, as Akvorado: an empty value sets nothing
// (the interface's own name stays), and a later rule may still set it.
TEST(Classifier, SetNameWhileEmpty) {
  EXPECT_EQ(iface({R"r(SetName(""))r"}, "d").name, "Gi0/0/0");
  EXPECT_EQ(iface({R"r(SetName(""))r", R"r(SetName("x"))r"}, "d").name, "x");
  EXPECT_EQ(iface({R"r(SetName("x"))r", R"r(SetName("y"))r"}, "d").name, "x");
  EXPECT_EQ(iface({R"r(SetDescription(""))r", R"r(SetDescription("z"))r"}, "d").description, "z");
}

TEST(Classifier, Ternary) {
  std::vector<std::string> r2 = {
      R"r(ClassifyProvider(Interface.Speed >= 10000 ? "fast" : Interface.Speed >= 1000 ? "medium" : "slow"))r",
      R"r(Interface.VLAN == 0 ? ClassifyInternal() : ClassifyExternal())r",
      R"r(ClassifyConnectivity((Interface.Index > 2 ? Interface.Index : 0) == 3 ? "three" : "other"))r"};
  EXPECT_EQ(iface(r2, "", "x", 10000).provider, "fast");
  EXPECT_EQ(iface(r2, "", "x", 1000).provider, "medium");
  EXPECT_EQ(iface(r2, "", "x", 10).provider, "slow");
  EXPECT_EQ(iface(r2, "", "x", 10, 0).boundary, Boundary::kInternal);
  EXPECT_EQ(iface(r2, "", "x", 10, 5).boundary, Boundary::kExternal);
  EXPECT_EQ(iface(r2, "", "x", 10, 5).connectivity, "three");
  EXPECT_THROW(RuleSet({R"r(ClassifyProvider(ClassifyInternal() ? "a" : 1))r"}, Kind::kInterface), ParseError);
  EXPECT_THROW(RuleSet({R"r(ClassifyProvider(Interface.Name ? "a" : "b"))r"}, Kind::kInterface), ParseError);
  EXPECT_THROW(RuleSet({R"r(ClassifyProvider(true ? "a"))r"}, Kind::kInterface), ParseError);
}

TEST(Classifier, StringEscapes) {
  EXPECT_EQ(iface({R"r(Interface.Description == "caf\u00e9 \U0001F600" && ClassifyProvider("ok"))r"},
                  "caf\xc3\xa9 \xf0\x9f\x98\x80")
                .provider,
            "ok");
  EXPECT_EQ(iface({R"r(SetDescription("a\tb\n\"c\"\\'d'\u0041"))r"}, "").description,
            "a\tb\n\"c\"\\'d'A");
  EXPECT_EQ(iface({R"r(SetDescription('it\'s'))r"}, "").description, "it's");
  // Regex escapes Go would reject are kept for RE2.
  EXPECT_EQ(iface({R"r(ClassifyProviderRegex(Interface.Description, "(\d+)\.(\w+)", "$2$1"))r"}, "12.ab")
                .provider,
            "ab12");
  EXPECT_THROW(RuleSet({R"r(SetName("\u12"))r"}, Kind::kInterface), ParseError);
  EXPECT_THROW(RuleSet({R"r(SetName("\uD800"))r"}, Kind::kInterface), ParseError);
  EXPECT_THROW(RuleSet({R"r(SetName("\U00110000"))r"}, Kind::kInterface), ParseError);
}

// Go's Regexp.ExpandString: $name is the longest run of letters, digits and _.
TEST(Classifier, TemplatesExpandLikeGo) {
  auto expand = [](const std::string& tmpl, std::string_view description = "abc-def") {
    return iface({R"r(ClassifyProviderRegex(Interface.Description, "(?P<first>\w+)-(?P<site>\w+)", ")r" +
                  tmpl + "\")"},
                 description)
        .provider;
  };
  EXPECT_EQ(expand("$1"), "abc");
  EXPECT_EQ(expand("$1x"), "");          // the group named "1x"
  EXPECT_EQ(expand("${1}x"), "abcx");
  EXPECT_EQ(expand("$site"), "def");
  EXPECT_EQ(expand("${site}.$first"), "def.abc");
  EXPECT_EQ(expand("$site_x"), "");      // the group named "site_x"
  EXPECT_EQ(expand("$2.$3.$unknown"), "def..");
  EXPECT_EQ(expand("$0"), "abc-def");
  EXPECT_EQ(expand("$01"), "");          // leading zero: a name, not a number
  EXPECT_EQ(expand("a$$1"), "a1");       // $$ is a literal $ (then removed by normalize)
  EXPECT_EQ(expand("a$-b"), "a-b");      // $ without a name is copied
  EXPECT_EQ(expand("${}b"), "b");
  EXPECT_EQ(expand("${site"), "site");
  EXPECT_EQ(expand("x$"), "x");
  EXPECT_EQ(expand("$1\u00e9-x"), "-x");  // é is a letter: the group named "1é"
}

TEST(Classifier, ParseErrorsSayWhereAndWhat) {
  auto error = [](const std::string& rule, Kind kind = Kind::kExporter) {
    try {
      RuleSet set({"ClassifySite(\"ok\")", rule}, kind);
    } catch (const ParseError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string e = error(R"r(Exporter.Name == )r");
  EXPECT_NE(e.find("rule 1"), std::string::npos) << e;
  EXPECT_NE(e.find("position 18"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a value"), std::string::npos) << e;
  EXPECT_NE(error(R"r(ClassifySiteRegex(Exporter.Name, "([a-", "$1"))r").find("invalid regular expression"),
            std::string::npos);
  EXPECT_NE(error(R"r(ClassifyProvider("x"))r").find("unknown function ClassifyProvider in exporter"),
            std::string::npos);
  EXPECT_NE(error(R"r(Interface.Name == "x")r").find("not available in exporter"), std::string::npos);
  EXPECT_NE(error(R"r(Exporter.Nam == "x")r").find("unknown variable Exporter.Nam"),
            std::string::npos);
  EXPECT_NE(error(R"r(ClassifySite("a", "b"))r").find("takes 1 argument"), std::string::npos);
  EXPECT_NE(error(R"r(ClassifySite("a)r").find("unterminated string"), std::string::npos);
  EXPECT_NE(error(R"r(ClassifySite("a") ClassifyRole("b"))r").find("expected an operator"),
            std::string::npos);
}

}  // namespace
}  // namespace akvo::classifier
