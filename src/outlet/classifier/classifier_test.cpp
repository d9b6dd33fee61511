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

/// Runs the bool expression `expr` in an interface rule: "true", "false", or "error" when it
/// failed at run time (counted as Akvorado counts classifier errors).
std::string truth(const std::string& expr, uint32_t vlan = 100) {
  RuleSet set({"(" + expr + R"r() ? ClassifyProvider("true") : ClassifyProvider("false"))r"},
              Kind::kInterface);
  uint64_t errors = 0;
  auto r = set.classify(
      InterfaceInput{{"192.0.2.1", "par-edge1.example.net"}, 3, "Gi0/0/3", "Transit: Cogent",
                     10000, vlan},
      &errors);
  return errors ? "error" : r.provider;
}

/// What `expr` prints as (Go's %v), through an interface rule; "error" when it failed.
std::string value(const std::string& expr) {
  RuleSet set({R"r(SetDescription(Format("<%v>", )r" + expr + "))"}, Kind::kInterface);
  uint64_t errors = 0;
  auto r = set.classify(
      InterfaceInput{{"192.0.2.1", "par-edge1.example.net"}, 3, "Gi0/0/3", "Transit: Cogent",
                     10000, 100},
      &errors);
  if (errors) return "error";
  return r.description.substr(1, r.description.size() - 2);
}

/// The ParseError of an interface rule, "no error" when it compiles.
std::string compileError(const std::string& rule, Kind kind = Kind::kInterface) {
  try {
    RuleSet set({rule}, kind);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "no error";
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
  expectError(R"r(Interface.Speed startsWith "100")r", "17", "startsWith needs a string on its left, got int");
  expectError(R"r(Interface.Description)r", "1", "the rule must be a bool expression, got string");
  expectError(R"r(Format("%d", Interface.Index))r", "1", "must be a bool expression, got string");
  expectError(R"r("foo" && ClassifyExternal())r", "1", "&& needs a bool, got string");
  expectError(R"r(ClassifyExternal() or 1)r", "23", "or needs a bool, got int");
  expectError(R"r(ClassifyConnectivity(Interface.Speed))r", "22",
              "ClassifyConnectivity expects a string as argument 1, got int");
  expectError(R"r(ClassifyProviderRegex(Interface.Description, "(.*)", Interface.Index))r", "54",
              "ClassifyProviderRegex expects a string as argument 3, got int");
  expectError(R"r(SetName(Interface.Index))r", "9", "expects a string as argument 1, got int");
  expectError(R"r(lower(Interface.VLAN) == "x")r", "7", "lower expects a string");
  expectError(R"r(Format(Interface.Index, "x") == "x")r", "8", "Format expects a string as argument 1");
  expectError(R"r(Interface.Description == 3)r", "23", "cannot compare string and int");
  expectError(R"r(Interface.Index != "3")r", "17", "cannot compare int and string");
  expectError(R"r(!Interface.Description)r", "1", "! needs a bool, got string");
  expectError(R"r(not Interface.Name startsWith "x")r", "1", "not needs a bool, got string");
  expectError(R"r(Interface.Speed < "10")r", "17", "< needs two numbers or two strings");
  expectError(R"r(Interface.Name in "Gi0/0/0")r", "16", "in needs a list");
  expectError(R"r(Interface.Name in [1, 2])r", "16", "cannot look for a string in a list of int");
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

// ---- expr's let, arithmetic, indexing and builtins -----------------------------------------

TEST(Classifier, LetVariables) {
  auto e = exporter({R"r(let site = split(Exporter.Name, "-")[0]; ClassifySite(site))r",
                     R"r(let a = 1; let b = a + 1; b == 2 && ClassifyRole("role" + string(b)))r"},
                    "par-edge1.example.net");
  EXPECT_EQ(e.site, "par");
  EXPECT_EQ(e.role, "role2");
  auto i = iface({R"r((let x = "in"; ClassifyProvider(x)) && ClassifyConnectivity("after"))r",
                  R"r(let n = Interface.Name; let short = n[0:2]; SetName(short + short))r",
                  R"r(SetDescription(let d = lower(Interface.Description); trimPrefix(d, "transit: ")))r"},
                 "Transit: Cogent", "Gi0/0/3");
  EXPECT_EQ(i.provider, "in");
  EXPECT_EQ(i.connectivity, "after");
  EXPECT_EQ(i.name, "GiGi");
  EXPECT_EQ(i.description, "cogent");
  // A variable keeps its value in the body, whatever else the body computes.
  EXPECT_EQ(truth("let x = 2; let y = x * 10; x + y == 22"), "true");
  EXPECT_EQ(truth("let s = Interface.Name; s + s == \"Gi0/0/3Gi0/0/3\""), "true");
}

TEST(Classifier, LetErrors) {
  auto expectError = [](const std::string& rule, const std::string& position,
                        const std::string& what) {
    std::string e = compileError(rule);
    EXPECT_NE(e.find("position " + position + ":"), std::string::npos) << rule << ": " << e;
    EXPECT_NE(e.find(what), std::string::npos) << rule << ": " << e;
  };
  expectError("let a = 1; b == 1", "12", R"(unknown name "b")");
  expectError("(let a = 1; a == 1) && a == 1", "24", R"(unknown name "a")");  // out of scope
  expectError("let a = a; true", "9", R"(unknown name "a")");
  expectError("let a = 1; let a = 2; a == 2", "16", "cannot declare a: it is a variable already");
  expectError("let len = 1; true", "5", "cannot declare len: it is a function");
  expectError("let Interface = 1; true", "5", "cannot declare Interface");
  expectError("let groupBy = 1; true", "5", "cannot declare groupBy: it is an expr builtin");
  expectError("let filter = 1; true", "5", "cannot declare filter: it is a function");
  expectError("1 + let a = 1; a", "5", "let must start the expression");
  expectError("let a = 1 a == 1", "11", R"(expected ";")");
  expectError("let 1 = 1; true", "5", "expected a variable name after let");
  // The variable's type is its value's: checked when the rule is compiled.
  expectError(R"r(let s = Interface.Speed; s startsWith "1")r", "28",
              "startsWith needs a string on its left, got int");
  expectError(R"r(let x = 1; x + "a" == "b")r", "14",
              "+ needs two numbers or two strings, got int and string");
  expectError("let x = 1; x", "12", "the rule must be a bool expression, got int");
  EXPECT_NE(compileError("let x = 1; x == 1").find("no error"), std::string::npos);
}

TEST(Classifier, ArithmeticPrecedence) {
  for (std::string yes : {"1 + 2 * 3 == 7", "(1 + 2) * 3 == 9", "10 - 4 - 3 == 3",
                          "2 ** 3 ** 2 == 512", "2 ^ 3 ^ 2 == 512", "(2 ** 3) ** 2 == 64",
                          "-2 ** 2 == -4", "2 * 3 % 4 == 2", "7 % 4 * 2 == 6", "12 / 2 / 3 == 2",
                          "1 + 2 in [3]", "!(1 + 1 == 3)", "1 + 1 == 2 && 2 * 2 == 4",
                          "-Interface.Index + 1 == -2", "Interface.Speed - 1 > 9998",
                          "2 * -3 == -6", "1 + 2 > 2 ? true : false", ".5 + .5 == 1"})
    EXPECT_EQ(truth(yes), "true") << yes;
  for (std::string no : {"1 + 2 * 3 == 9", "2 ** 3 ** 2 == 64", "10 - 4 - 3 == 9"})
    EXPECT_EQ(truth(no), "false") << no;
  std::vector<std::string> rules = {
      R"r(Interface.Speed * 1000 >= 10000000 && ClassifyConnectivity("core"))r"};
  EXPECT_EQ(iface(rules, "", "x", 10000).connectivity, "core");
  EXPECT_EQ(iface(rules, "", "x", 9999).connectivity, "");
}

// expr: ints stay ints, a float makes a float, / and ** always give a float, % takes ints.
TEST(Classifier, IntegerAndFloat) {
  EXPECT_EQ(value("7 / 2"), "3.5");
  EXPECT_EQ(value("6 / 2"), "3");  // the float 3.0, printed as Go prints it
  EXPECT_EQ(truth("6 / 2 == 3"), "true");
  EXPECT_EQ(value("1 + 2"), "3");
  EXPECT_EQ(value("1 + 2.5"), "3.5");
  EXPECT_EQ(value("2 ** 10"), "1024");
  EXPECT_EQ(value("1000000.0"), "1e+06");
  EXPECT_EQ(value("0.1 + 0.2"), "0.30000000000000004");
  EXPECT_EQ(value("-7 % 3"), "-1");  // Go's %: the sign of the dividend
  EXPECT_EQ(value("5 % -1"), "0");
  EXPECT_EQ(value("(-9223372036854775807 - 1) % -1"), "0");  // Go's result, not a trap
  EXPECT_EQ(value("9223372036854775807 + 1"), "-9223372036854775808");  // wraps, as Go
  EXPECT_EQ(value("1 / 0"), "+Inf");  // expr divides as floats: no error
  EXPECT_EQ(value("-1 / 0"), "-Inf");
  EXPECT_EQ(value("Interface.Speed / 3"), "3333.3333333333335");
  EXPECT_EQ(value("Interface.Speed * 3"), "30000");
  EXPECT_EQ(value("int(7 / 2)"), "3");
  EXPECT_EQ(value("float(7) / 2"), "3.5");
  EXPECT_EQ(value("int(-3.9)"), "-3");
  EXPECT_EQ(value("int(\"42\") + 1"), "43");
  EXPECT_EQ(value("float(\"1.5\") * 2"), "3");
  // % takes ints only and + adds strings to strings only: errors when the rule is compiled.
  EXPECT_NE(compileError("1.5 % 2 == 1").find("position 5: % needs two ints, got float and int"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Speed / 2 % 2 == 1").find("% needs two ints, got float"),
            std::string::npos);
  EXPECT_NE(compileError(R"r("a" - "b" == "")r").find("- needs two numbers, got string and string"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(Interface.Name + 1 == "x")r")
                .find("+ needs two numbers or two strings, got string and int"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Name * 2 == 2").find("position 16: * needs two numbers"),
            std::string::npos);
  EXPECT_NE(compileError("1 % 0 == 0").find("position 3: integer divide by zero"),
            std::string::npos);
  EXPECT_NE(compileError("ClassifyProvider(1 + 2)").find("expects a string as argument 1, got int"),
            std::string::npos);
}

TEST(Classifier, StringConcatenationAndComparison) {
  EXPECT_EQ(iface({R"r(ClassifyProvider(Interface.Name + "-" + Interface.Description))r"},
                  "Transit: Cogent", "Gi0/0/3")
                .provider,
            "gi003-transitcogent");
  for (std::string yes : {R"r("abc" < "abd")r", R"r("b" > "a")r", R"r("a" <= "a")r",
                          R"r(Interface.Name >= "Gi")r", R"r("a" + "b" == "ab")r"})
    EXPECT_EQ(truth(yes), "true") << yes;
  EXPECT_EQ(truth(R"r("b" < "a")r"), "false");
}

TEST(Classifier, IndexAndSlice) {
  for (std::string yes :
       {"[1, 2, 3][0] == 1", "[1, 2, 3][-1] == 3", "[1, 2, 3][1:] == [2, 3]",
        "[1, 2, 3][:2] == [1, 2]", "[1, 2, 3][:] == [1, 2, 3]", "[1, 2, 3][1:-1] == [2]",
        "[1, 2, 3][-10:10] == [1, 2, 3]", "[1, 2, 3][2:1] == []",
        R"r(Interface.Name[0:2] == "Gi")r", R"r(Interface.Name[:2] == "Gi")r",
        R"r(Interface.Name[2:] == "0/0/3")r", R"r(Interface.Name[-1:] == "3")r",
        R"r("abc"[1:3] == "bc")r", R"r(split(Exporter.Name, ".")[1] == "example")r",
        R"r(split(Exporter.Name, ".")[-1][1:] == "et")r", R"r([[1, 2], [3]][0][1] == 2)r",
        R"r(["a", "b"][Interface.Index - 2] == "b")r"})
    EXPECT_EQ(truth(yes), "true") << yes;
  // Out of range: a run-time error, as in expr.
  EXPECT_EQ(truth("[1, 2][2] == 1"), "error");
  EXPECT_EQ(truth("[1][-2] == 1"), "error");
  EXPECT_EQ(truth(R"r(split(Interface.Description, ",")[1] == "x")r"), "error");
  EXPECT_EQ(truth("[][0] == 1"), "error");
  // expr does not index strings (a byte is not a string): a compile error, as slicing is not.
  EXPECT_NE(compileError(R"r(Interface.Name[0] == "G")r").find("position 15: a string cannot be indexed"),
            std::string::npos);
  EXPECT_NE(compileError(R"r([1, 2]["a"] == 1)r").find("an index must be an int, got string"),
            std::string::npos);
  EXPECT_NE(compileError("[1, 2][1.5] == 1").find("an index must be an int, got float"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Speed[0] == 1").find("cannot index a value of type int"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Speed[0:1] == 1").find("cannot slice a value of type int"),
            std::string::npos);
}

TEST(Classifier, StringBuiltins) {
  EXPECT_EQ(iface({R"r(ClassifyProvider(replace(Interface.Description, "Transit: ", "")))r"},
                  "Transit: Cogent")
                .provider,
            "cogent");
  std::vector<std::string> rules = {R"r(len(Interface.Name) > 3 && ClassifyProvider("long"))r"};
  EXPECT_EQ(iface(rules, "", "Gi0/0/3").provider, "long");
  EXPECT_EQ(iface(rules, "", "Gi0").provider, "");
  for (std::string yes : {
           R"r(len(Interface.Name) == 7)r", R"r(len([1, 2]) == 2)r",
           R"r(len("\u00e9") == 2)r",  // bytes, as Go's len
           R"r(split("a,b,c", ",") == ["a", "b", "c"])r",
           R"r(split("a,b,c", ",", 2) == ["a", "b,c"])r", R"r(split("", ",") == [""])r",
           R"r(split("ab\u00e9", "") == ["a", "b", "\u00e9"])r",
           R"r(split("a,b", ",", 0) == [])r", R"r(split("a,b", ",", -1) == ["a", "b"])r",
           R"r(splitAfter("a,b,c", ",") == ["a,", "b,", "c"])r",
           R"r(splitAfter("a,b,c", ",", 2) == ["a,", "b,c"])r",
           R"r(replace("aaa", "a", "b", 2) == "bba")r", R"r(replace("ab", "", "-") == "-a-b-")r",
           R"r(trimPrefix("HelloWorld", "Hello") == "World")r",
           R"r(trimSuffix("HelloWorld", "World") == "Hello")r",
           R"r(trimPrefix(" x") == "x")r", R"r(trimPrefix("x", "y") == "x")r",
           R"r(trim("  x \t\n") == "x")r", R"r(trim("__x__", "_") == "x")r",
           R"r(trim("\u00a0x") == "x")r", R"r(hasPrefix(Interface.Name, "Gi"))r",
           R"r(!hasSuffix(Interface.Name, "Gi"))r", R"r(indexOf("apple pie", "pie") == 6)r",
           R"r(indexOf("a", "z") == -1)r", R"r(lastIndexOf("apple pie apple", "apple") == 10)r",
           R"r(repeat("ab", 3) == "ababab")r", R"r(repeat("x", 0) == "")r",
           R"r(join(["a", "b"], "-") == "a-b")r", R"r(join(split("a b c", " ")) == "abc")r",
           R"r(upper("a") + lower("B") == "Ab")r"})
    EXPECT_EQ(truth(yes), "true") << yes;
  EXPECT_EQ(value("string(42)"), "42");
  EXPECT_EQ(value("string(true)"), "true");
  EXPECT_EQ(value("string(nil)"), "<nil>");
  EXPECT_EQ(value(R"r(string([1, "a", 1.5]))r"), "[1 a 1.5]");
  EXPECT_EQ(truth(R"r(repeat("x", -1) == "")r"), "error");
  EXPECT_NE(compileError(R"r(join([1, 2]) == "")r").find("join expects a list of strings"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(len(3) == 1)r").find("len expects a string or a list as argument 1"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(repeat("a", 1.5) == "")r").find("expects an int as argument 2, got float"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(split("a") == [])r").find("split takes 2 to 3 arguments, got 1"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(toJSON(1) == "1")r").find("builtin toJSON is not available"),
            std::string::npos);
}

TEST(Classifier, NumberBuiltins) {
  for (std::string yes : {"abs(-5) == 5", "abs(-1.5) == 1.5", "max(5, 7) == 7", "min(5, 7) == 5",
                          "max(1, 2.5) == 2.5", "max([1, 9, 3]) == 9", "min([4, 2], 3) == 2",
                          "max(Interface.Speed, 1) == 10000", "ceil(1.2) == 2", "floor(1.8) == 1",
                          "round(1.5) == 2", "round(-1.5) == -2", "int(\"-42\") == -42",
                          "int(3.99) == 3", "float(\"1e3\") == 1000", "float(2) == 2"})
    EXPECT_EQ(truth(yes), "true") << yes;
  EXPECT_EQ(value("abs(-5)"), "5");
  EXPECT_EQ(value("max(1, 2.5, 2)"), "2.5");
  EXPECT_EQ(value("float(2)"), "2");
  // int() and float() of a string that is not a number: run-time errors, as in expr.
  EXPECT_EQ(truth(R"r(int("4x") == 4)r"), "error");
  EXPECT_EQ(truth(R"r(int(" 4") == 4)r"), "error");
  EXPECT_EQ(truth(R"r(int("99999999999999999999") == 4)r"), "error");
  EXPECT_EQ(truth(R"r(float("abc") == 1)r"), "error");
  EXPECT_NE(compileError(R"r(abs("1") == 1)r").find("abs expects a number as argument 1"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(int(true) == 1)r").find("int expects a number or a string"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(max(["a"]) == 1)r").find("max expects a list of numbers"),
            std::string::npos);
}

TEST(Classifier, ListBuiltinsRangesAndCoalesce) {
  for (std::string yes :
       {"first([1, 2]) == 1", "last([1, 2]) == 2", "first([]) == nil",
        R"r(first(split(Exporter.Name, ".")) == "par-edge1")r",
        R"r((first([]) ?? "none") == "none")r", "(nil ?? 1) == 1", "(2 ?? 1) == 2",
        "1 == nil ?? 1", "1..3 == [1, 2, 3]", "len(1..0) == 0", "3 not in 1..2",
        "2.0 in 1..3", "!(2.5 in 1..3)", "Interface.VLAN in 100..199",
        "5 in 0..100000000000"})  // no list is built for `in`
    EXPECT_EQ(truth(yes), "true") << yes;
  EXPECT_EQ(truth("Interface.VLAN in 100..199", 200), "false");
  // As in expr, ?? cannot be followed by another operator without parentheses.
  EXPECT_NE(compileError("1 ?? 2 + 3 == 3").find("+ and ?? cannot be mixed"), std::string::npos);
  EXPECT_NE(compileError("nil ?? 1 == 1").find("== and ?? cannot be mixed"), std::string::npos);
  EXPECT_NE(compileError("1.5..3 == []").find(".. needs two ints, got float and int"),
            std::string::npos);
  EXPECT_NE(compileError("first(1) == 1").find("first expects a list as argument 1, got int"),
            std::string::npos);
}

// A rule failing at run time stops the rules for that item and is counted, as in Akvorado.
TEST(Classifier, RunTimeErrorsAreCounted) {
  RuleSet set({R"r(ClassifyConnectivity("first"))r",
               R"r(Interface.Speed % (Interface.Index - 3) == 0 && ClassifyProvider("mod"))r",
               R"r(ClassifyProvider("never"))r"},
              Kind::kInterface);
  uint64_t errors = 0;
  auto r = set.classify(InterfaceInput{{"192.0.2.1", "e1"}, 3, "Gi0", "", 10000, 0}, &errors);
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(r.connectivity, "first");
  EXPECT_EQ(r.provider, "");
  errors = 0;
  r = set.classify(InterfaceInput{{"192.0.2.1", "e1"}, 4, "Gi0", "", 10000, 0}, &errors);
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(r.provider, "mod");
  RuleSet sites({R"r(let parts = split(Exporter.Name, "."); ClassifySite(parts[2]))r",
                 R"r(ClassifyRegion("never"))r"},
                Kind::kExporter);
  errors = 0;
  auto e = sites.classify(ExporterInput{"192.0.2.1", "edge1.par"}, &errors);
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(e.site, "");
  EXPECT_EQ(e.region, "");
  errors = 0;
  e = sites.classify(ExporterInput{"192.0.2.1", "edge1.par.fr"}, &errors);
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(e.site, "fr");
  EXPECT_EQ(e.region, "never");
  // A float division by zero is +Inf in expr, not an error.
  errors = 0;
  RuleSet inf({R"r(Interface.Speed / (Interface.Index - 3) > 1e300 && ClassifyProvider("inf"))r"},
              Kind::kInterface);
  EXPECT_EQ(inf.classify(InterfaceInput{{"192.0.2.1", "e1"}, 3, "Gi0", "", 10000, 0}, &errors)
                .provider,
            "inf");
  EXPECT_EQ(errors, 0u);
}

TEST(Classifier, MemoryBudgetAndDepth) {
  EXPECT_EQ(truth(R"r(len(repeat("x", 1000000)) == 1000000)r"), "true");
  EXPECT_EQ(truth(R"r(len(repeat("x", 1000001)) > 0)r"), "error");
  EXPECT_EQ(truth(R"r(let a = repeat("xx", 1000000); let b = a + a; let c = b + b;
                      let d = c + c; let e = d + d; len(e + e) > 0)r"),
            "error");
  EXPECT_EQ(truth(R"r(len(split(repeat("a", 1000000), "")) > 0)r"), "error");
  EXPECT_EQ(truth(R"r(len(replace(repeat("a", 100000), "", repeat("b", 1000))) > 0)r"), "error");
  EXPECT_EQ(truth("len(0..100000000) > 0"), "error");
  std::string deep_parens = std::string(600, '(') + "true" + std::string(600, ')');
  EXPECT_NE(compileError(deep_parens).find("too deep"), std::string::npos);
  std::string long_sum = "1";
  for (int k = 0; k < 600; k++) long_sum += " + 1";
  EXPECT_NE(compileError(long_sum + " > 0").find("too deep"), std::string::npos);
  // Long but reasonable rules still work.
  std::string many = "false";
  for (int k = 0; k < 400; k++) many += " || Interface.Index == " + std::to_string(k + 10);
  EXPECT_EQ(truth(many + " || Interface.Index == 3"), "true");
}

TEST(Classifier, Comments) {
  EXPECT_EQ(iface({"Interface.Index == 3 /* the third */ && ClassifyProvider(\"c\") // end"}, "")
                .provider,
            "c");
  EXPECT_NE(compileError("true /* open").find("unterminated comment"), std::string::npos);
}

// ---- expr's predicate builtins, closures, the pipe and ?. -------------------------------------

// The results below are the ones expr's documentation gives (language-definition.md) or follow
// from its compiler (compiler.go's BuiltinNode).
TEST(Classifier, PredicateBuiltins) {
  // Empty lists: all and none are true, any and one false.
  EXPECT_EQ(value("all([], # > 1)"), "true");
  EXPECT_EQ(value("none([], # > 1)"), "true");
  EXPECT_EQ(value("any([], # > 1)"), "false");
  EXPECT_EQ(value("one([], # > 1)"), "false");
  EXPECT_EQ(value("all([1, 2, 3], # > 0)"), "true");
  EXPECT_EQ(value("all([1, 2, 3], # > 1)"), "false");
  EXPECT_EQ(value("any([1, 2, 3], # > 2)"), "true");
  EXPECT_EQ(value("any([1, 2, 3], # > 3)"), "false");
  EXPECT_EQ(value("none([1, 2, 3], # > 3)"), "true");
  EXPECT_EQ(value("none([1, 2, 3], # > 2)"), "false");
  EXPECT_EQ(value("one([1, 2, 3], # > 2)"), "true");
  EXPECT_EQ(value("one([1, 2, 3], # > 1)"), "false");
  EXPECT_EQ(value("filter(0..9, {# % 2 == 0})"), "[0 2 4 6 8]");  // expr's example, in braces
  EXPECT_EQ(value("filter(1..3, # > 5)"), "[]");
  EXPECT_EQ(value(R"r(map(split(Exporter.Name, "."), upper(#)))r"), "[PAR-EDGE1 EXAMPLE NET]");
  EXPECT_EQ(value(R"r(map(split(Exporter.Name, "."), upper(#))[0])r"), "PAR-EDGE1");
  EXPECT_EQ(value("map(1..3, # * 1.5)"), "[1.5 3 4.5]");
  EXPECT_EQ(value("find([1, 2, 3, 4], # > 2)"), "3");
  EXPECT_EQ(value("findIndex([1, 2, 3, 4], # > 2)"), "2");
  EXPECT_EQ(value("findLast([1, 2, 3, 4], # > 2)"), "4");
  EXPECT_EQ(value("findLastIndex([1, 2, 3, 4], # > 2)"), "3");
  // Nothing found: nil, for the index forms too (expr's compiler pushes nil).
  EXPECT_EQ(value("find([1, 2], # > 5)"), "<nil>");
  EXPECT_EQ(value("findIndex([1, 2], # > 5)"), "<nil>");
  EXPECT_EQ(value("findLast([1, 2], # > 5)"), "<nil>");
  EXPECT_EQ(value("findLastIndex([1, 2], # > 5)"), "<nil>");
  EXPECT_EQ(value("findIndex([1, 2], # > 5) ?? -1"), "-1");
  EXPECT_EQ(value(R"r(count(split(Exporter.Name, "-"), len(#) > 2))r"), "2");
  EXPECT_EQ(value("count([true, false, true])"), "2");  // no predicate: the true elements
  EXPECT_EQ(value("count(1..10, # % 3 == 0)"), "3");
  EXPECT_EQ(value("sum([1, 2, 3])"), "6");
  EXPECT_EQ(value("sum([1, 2.5])"), "3.5");
  EXPECT_EQ(value("sum([])"), "0");
  EXPECT_EQ(value(R"r(sum(split("a-bb-ccc", "-"), len(#)))r"), "6");
  EXPECT_EQ(value("sum(1..4, # * 0.5)"), "5");
  EXPECT_EQ(value("reduce(1..9, #acc + #)"), "45");  // expr's examples
  EXPECT_EQ(value("reduce(1..9, #acc + #, 10)"), "55");
  EXPECT_EQ(value(R"r(reduce(["a", "b", "c"], #acc + "-" + #))r"), "a-b-c");
  EXPECT_EQ(value("reduce([], #acc + #, 7)"), "7");
  EXPECT_EQ(value("reduce([4], #acc * #)"), "4");
  EXPECT_EQ(value("reduce([], #acc + #)"), "error");  // no initial value: fails, as in expr
  // The brief's rules.
  EXPECT_EQ(truth(R"r(count(split(Exporter.Name, "-"), len(#) > 2) >= 2)r"), "true");
  EXPECT_EQ(truth(R"r(map(split(Exporter.Name, "."), upper(#))[0] == "PAR-EDGE1")r"), "true");
  std::vector<std::string> rules = {
      R"r(any(split(Interface.Description, " "), # in ["transit", "ix"]) && ClassifyExternal())r"};
  EXPECT_EQ(iface(rules, "ix franceix").boundary, Boundary::kExternal);
  EXPECT_EQ(iface(rules, "to transit").boundary, Boundary::kExternal);
  EXPECT_EQ(iface(rules, "Transit: Cogent").boundary, Boundary::kUndefined);
}

// all, any, none and the find forms stop at the first element that decides; one, count,
// filter, map, sum and reduce call their predicate on every element. It matters when the
// predicate classifies.
TEST(Classifier, PredicateCallsAsExpr) {
  auto provider = [](const std::string& rule) { return iface({rule}, "d").provider; };
  EXPECT_EQ(provider(R"r(all([1, 2], # == 1 || ClassifyProvider("p" + string(#))))r"), "p2");
  EXPECT_EQ(provider(R"r(all([2, 1], # == 1 || ClassifyProvider("p" + string(#))))r"), "p2");
  EXPECT_EQ(provider(R"r(any([1, 2], # == 1 || ClassifyProvider("p" + string(#))))r"), "");
  EXPECT_EQ(provider(R"r(none([1, 2], # == 1 && ClassifyProvider("p" + string(#))))r"), "p1");
  EXPECT_EQ(provider(R"r(find([1, 2], # == 1 || ClassifyProvider("p" + string(#))) == 1)r"), "");
  EXPECT_EQ(provider(R"r(findLast([1, 2], # == 2 || ClassifyProvider("p" + string(#))) == 2)r"),
            "");
  EXPECT_EQ(provider(R"r(one([1, 2], # == 1 || ClassifyProvider("p" + string(#))))r"), "p2");
  EXPECT_EQ(provider(R"r(count([1, 2], # == 1 || ClassifyProvider("p" + string(#))) == 2)r"),
            "p2");
  // map calls in order: the first value set wins.
  EXPECT_EQ(provider(R"r(len(map(["a", "b"], ClassifyProvider(#))) == 2)r"), "a");
  EXPECT_EQ(provider(R"r(len(map(["a", "b"], ClassifyProvider(#))) == 2)r"), "a");
  // A rule setting a value per element: the first part of the description that is a known
  // connectivity.
  std::vector<std::string> rules = {
      R"r(any(split(lower(Interface.Description), " "), # in ["pni", "ix", "transit"] && ClassifyConnectivity(#)))r"};
  EXPECT_EQ(iface(rules, "Cogent Transit PNI").connectivity, "transit");
  EXPECT_EQ(iface(rules, "customer").connectivity, "");
}

TEST(Classifier, ClosureIndexAndNesting) {
  EXPECT_EQ(value(R"r(map(["a", "b", "c"], # + string(#index)))r"), "[a0 b1 c2]");
  EXPECT_EQ(value(R"r(filter(["a", "b", "c", "d"], #index % 2 == 1))r"), "[b d]");
  EXPECT_EQ(value("reduce([5, 6, 7], #acc + #index, 0)"), "3");
  EXPECT_EQ(value("reduce([5, 6, 7], #acc + #index)"), "8");  // from the second element: 5+1+2
  EXPECT_EQ(value("findIndex([5, 6, 7], #index == 1)"), "1");
  // Nested closures: the inner # and #index shadow the outer ones.
  EXPECT_EQ(value("map([[1, 2], [3]], map(#, # * 10))"), "[[10 20] [30]]");
  EXPECT_EQ(value(R"r(map(["x", "y"], map([7, 8], #index)))r"), "[[0 1] [0 1]]");
  // The inner list is evaluated with the outer #.
  EXPECT_EQ(value(R"r(map(["ab", "c"], map(split(#, ""), # + "!")))r"), "[[a! b!] [c!]]");
  EXPECT_EQ(truth(R"r(any(split(Exporter.Name, "."), any(split(#, "-"), # == "edge1")))r"),
            "true");
  EXPECT_EQ(value(R"r(count(["a-b", "c", "d-e-f"], count(split(#, "-"), true) > 1))r"), "2");
  // A let in a closure is evaluated for each element; it can keep the outer #.
  EXPECT_EQ(value(R"r(map(["a", "b"], let o = #; map([1, 2], o + string(#))))r"),
            "[[a1 a2] [b1 b2]]");
  // Closures with a let outside.
  EXPECT_EQ(value(R"r(let parts = split(Exporter.Name, "."); filter(parts, # != parts[0]))r"),
            "[example net]");
  // A closure after another at the same depth, and in reduce's initial value.
  EXPECT_EQ(value("map(filter(1..6, # > 3), # * 2)"), "[8 10 12]");
  EXPECT_EQ(value("reduce([1, 2], #acc + #, sum(map([10, 20], # + 1)))"), "35");
}

TEST(Classifier, PipeOperator) {
  EXPECT_EQ(value("Exporter.Name | upper()"), "PAR-EDGE1.EXAMPLE.NET");
  // expr's example: user.Name | lower() | split(" ").
  EXPECT_EQ(value(R"r(Interface.Description | lower() | split(" "))r"), "[transit: cogent]");
  EXPECT_EQ(value(R"r(Exporter.Name | split(".") | map(upper(#)) | join("+"))r"),
            "PAR-EDGE1+EXAMPLE+NET");
  EXPECT_EQ(value(R"r(split("b,a,c", ",") | sort() | reverse() | join(","))r"), "c,b,a");
  EXPECT_EQ(value("1..5 | filter(# > 2) | sum()"), "12");
  EXPECT_EQ(value("1..3 | reduce(#acc * #, 10)"), "60");
  EXPECT_EQ(value("[true, false] | count()"), "1");
  // The pipe binds loosest (expr's precedence 0): 1 + 2 | string() is string(1 + 2), and
  // false || true | string() is string(false || true); what follows applies to its result.
  EXPECT_EQ(value("1 + 2 | string()"), "3");
  EXPECT_EQ(value("false || true | string()"), "true");
  EXPECT_EQ(truth(R"r(1 + 2 | string() == "3")r"), "true");
  // Only ?: is looser.
  EXPECT_EQ(value(R"r(Interface.Index | string() == "3" ? "yes" : "no")r"), "yes");
  EXPECT_EQ(value(R"r(false ? "a" : "b" | upper())r"), "B");
  EXPECT_EQ(value(R"r(nil ?? "x" | upper())r"), "X");  // may follow ??
  EXPECT_EQ(value(R"r(("a" | upper()) + "b")r"), "Ab");
  // Into the classification functions, the regex forms too.
  EXPECT_EQ(iface({R"r(Interface.Description | lower() | ClassifyProvider())r"}, "Transit: Cogent")
                .provider,
            "transitcogent");
  EXPECT_EQ(iface({R"r(Interface.Description | ClassifyProviderRegex("^\w+: (\w+)", "$1"))r"},
                  "Transit: Cogent")
                .provider,
            "cogent");
  EXPECT_EQ(exporter({R"r(Exporter.Name | split("-") | first() | ClassifySite())r"},
                     "par-edge1.example.net")
                .site,
            "par");
  EXPECT_NE(compileError("Interface.Name | 1 == 1").find("position 18: expected a function call "
                                                          "after |"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Name | lower == 1").find("expected a function call after |"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Name | nope() == 1").find("unknown function nope"),
            std::string::npos);
  EXPECT_NE(compileError("Interface.Name | trim(1, 2) == 1").find("trim takes 1 to 2 arguments, "
                                                                   "got 3"),
            std::string::npos);
  // As in expr, nothing is indexed after a piped call without parentheses.
  EXPECT_NE(compileError(R"r(split(Interface.Name, "/") | first()[0] == "G")r")
                .find("expected an operator or the end of the rule"),
            std::string::npos);
}

TEST(Classifier, OptionalChaining) {
  EXPECT_EQ(truth(R"r(Exporter?.Name == "par-edge1.example.net")r"), "true");
  EXPECT_EQ(truth("Interface?.Index == 3 && Interface?.VLAN == 100"), "true");
  EXPECT_EQ(truth("[1, 2]?.[1] == 2"), "true");
  EXPECT_EQ(value("true?.5:1"), "0.5");  // a ternary, as expr reads it
  EXPECT_NE(compileError("Interface?.Nope == 1").find("unknown variable Interface.Nope"),
            std::string::npos);
}

TEST(Classifier, OtherListBuiltins) {
  EXPECT_EQ(value("reverse([1, 2, 3])"), "[3 2 1]");
  EXPECT_EQ(value("reverse([])"), "[]");
  EXPECT_EQ(value("sort([3, 1, 2.5])"), "[1 2.5 3]");
  EXPECT_EQ(value(R"r(sort(["b", "a", "C"]))r"), "[C a b]");
  EXPECT_EQ(value(R"r(sort([3, 1, 2], "desc"))r"), "[3 2 1]");  // expr's examples
  EXPECT_EQ(value(R"r(sort([3, 1, 4], "asc"))r"), "[1 3 4]");
  EXPECT_EQ(value("sort([9223372036854775807, 9223372036854775806, 1.5])"),
            "[1.5 9223372036854775806 9223372036854775807]");
  EXPECT_EQ(value(R"r(uniq([1, 2, 1, 1.0, "a", "a", [1], [1.0]]))r"), "[1 2 a [1]]");
  EXPECT_EQ(value(R"r(uniq(split("a,b,a,c,b", ",")))r"), "[a b c]");
  EXPECT_EQ(value("concat([1], [2, 3], [])"), "[1 2 3]");
  EXPECT_EQ(value(R"r(concat(split("a,b", ","), ["c"]))r"), "[a b c]");
  EXPECT_EQ(value("take([1, 2, 3, 4], 2)"), "[1 2]");  // expr's example
  EXPECT_EQ(value("take([1], 5)"), "[1]");
  EXPECT_EQ(value("take([1], 0)"), "[]");
  EXPECT_EQ(value("type(42)"), "int");
  EXPECT_EQ(value("type(1.5)"), "float");
  EXPECT_EQ(value(R"r(type("hello"))r"), "string");
  EXPECT_EQ(value("type([1])"), "array");
  EXPECT_EQ(value("type(nil)"), "nil");
  EXPECT_EQ(value("type(Interface.Speed > 1)"), "bool");
  EXPECT_EQ(value(R"r(type(split(Exporter.Name, ".")))r"), "array");
  // Run-time errors, as in expr.
  EXPECT_EQ(value(R"r(sort([1, "a"]))r"), "error");
  EXPECT_EQ(value(R"r(sort([1], "up"))r"), "error");
  EXPECT_EQ(value("take([1], -1)"), "error");
  // Load-time errors.
  EXPECT_NE(compileError("len(sort([true])) == 1").find("position 10: sort expects a list of "
                                                         "numbers or strings"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(len(take([1], "a")) == 1)r").find("take expects an int as argument "
                                                               "2, got string"),
            std::string::npos);
  EXPECT_NE(compileError("len(reverse(1)) == 1").find("reverse expects a list as argument 1"),
            std::string::npos);
  EXPECT_NE(compileError(R"r(concat([1], "a") == [])r").find("concat expects a list as argument "
                                                            "2, got string"),
            std::string::npos);
  EXPECT_NE(compileError("type(1) == 1").find("cannot compare string and int"),
            std::string::npos);
}

// expr's checker refuses these when the rule is compiled: so does akvo, at load.
TEST(Classifier, ClosureTypeErrorsAtLoad) {
  auto expectError = [](const std::string& rule, const std::string& position,
                        const std::string& what) {
    std::string e = compileError(rule);
    EXPECT_NE(e.find("position " + position + ":"), std::string::npos) << rule << ": " << e;
    EXPECT_NE(e.find(what), std::string::npos) << rule << ": " << e;
  };
  expectError("all(Interface.Speed, # > 1)", "5", "all expects a list as argument 1, got int");
  expectError(R"r(map(Interface.Name, #) == [])r", "5", "map expects a list as argument 1");
  expectError(R"r(any(split(Interface.Name, "/"), len(#)))r", "33",
              "the predicate of any must be a bool, got int");
  expectError(R"r(len(filter([1], "x")) == 1)r", "17",
              "the predicate of filter must be a bool, got string");
  // # has the type of the list's elements.
  expectError(R"r(any(split(Interface.Name, "/"), # > 1))r", "35",
              "> needs two numbers or two strings, got string and int");
  expectError(R"r(all(1..3, # startsWith "1"))r", "13", "startsWith needs a string on its left");
  expectError("all([[1], [2]], # > 1)", "19", "> needs two numbers or two strings, got list");
  expectError(R"r(find(["a"], # == "a") + 1 > 0)r", "23", "+ needs two numbers or two strings, "
                                                          "got string and int");
  expectError(R"r(map(["a"], len(#)) == 1)r", "20", "cannot compare list and int");
  expectError("len(findIndex([1], # == 1)) == 1", "5", "len expects a string or a list");
  expectError("map([1], #index) + 1 == 1", "18", "+ needs two numbers");
  expectError(R"r(count(["a"]) == 1)r", "7", "count without a predicate counts the true elements "
                                             "of a list of bool, got a list of string");
  expectError(R"r(sum(["a"]) > 0)r", "5", "sum expects a list of numbers as argument 1");
  expectError(R"r(sum([1], "x") > 0)r", "10", "the predicate of sum must be a number, got string");
  // Pointers.
  expectError("# > 1", "1", "# is only valid in the predicate of all");
  expectError("[1][#] == 1", "5", "# is only valid in the predicate");
  expectError("all([1], #acc > 1)", "10", "unknown pointer #acc (valid: #, #index)");
  expectError("all([1], #foo > 1)", "10", "unknown pointer #foo");
  expectError("all([1], .Name > 1)", "10", "elements have no fields");
  expectError("all([1], {# > 1)", "16", R"(expected "}")");
  expectError("all([1])", "1", "all takes 2 argument(s), got 1");
  expectError("reduce([1])", "1", "reduce takes 2 to 3 arguments, got 1");
  // Still accepted: what expr accepts (a list whose elements are known only at run time).
  for (std::string ok : {"all([1, \"a\"], # == 1)", "any(map([1], #), # > 0)",
                         "reduce([1, 2], #acc > # ? #acc : #) > 1",
                         "all([1], { let x = # + 1; x > 1 })", "all([], # in [1, 2])"})
    EXPECT_EQ(compileError(ok), "no error") << ok;
}

TEST(Classifier, ClosureRunTimeErrorsAreCounted) {
  RuleSet set({R"r(ClassifyConnectivity("first"))r",
               R"r(len(map(split(Interface.Description, " "), split(#, ":")[1])) > 0 && ClassifyProvider("parts"))r",
               R"r(ClassifyProvider("never"))r"},
              Kind::kInterface);
  uint64_t errors = 0;
  auto r = set.classify(InterfaceInput{{"192.0.2.1", "e1"}, 3, "Gi0", "Transit: Cogent", 10, 0},
                        &errors);
  EXPECT_EQ(errors, 1u);  // "Cogent" has no ":": its [1] is out of range
  EXPECT_EQ(r.connectivity, "first");
  EXPECT_EQ(r.provider, "");
  errors = 0;
  r = set.classify(InterfaceInput{{"192.0.2.1", "e1"}, 3, "Gi0", "a:b c:d", 10, 0}, &errors);
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(r.provider, "parts");
  EXPECT_EQ(truth("all([1, 0], 1 % # == 0)"), "error");
  EXPECT_EQ(truth("all([0, 1], 1 % # == 0)"), "error");
  EXPECT_EQ(truth("any([1, 0], 1 % # == 0)"), "true");  // stops before the 0
  EXPECT_EQ(truth("findIndex([1], # > 5) >= 0"), "error");  // nil, as in expr
  EXPECT_EQ(truth(R"r(sum([1, "a"]) > 0)r"), "error");
  EXPECT_EQ(truth(R"r(all([1, "a"], # > 0))r"), "error");
}

// Each predicate call counts against the rule's memory budget as one list element, so that
// closures over huge lists or nested closures fail instead of running for long.
TEST(Classifier, ClosureBudget) {
  EXPECT_EQ(truth(R"r(len(map(split(repeat("a,", 1000), ","), #)) == 1001)r"), "true");
  EXPECT_EQ(truth(R"r(len(map(split(repeat("a,", 100000), ","), #)) > 0)r"), "error");
  EXPECT_EQ(truth(R"r(count(split(repeat("a,", 150000), ","), true) > 0)r"), "error");
  EXPECT_EQ(truth("all(0..2000, all(0..2000, true))"), "error");
  EXPECT_EQ(truth("count(0..10000, # % 7 == 0) == 1429"), "true");
  EXPECT_EQ(truth(R"r(len(reduce(1..100000, #acc + "x", "")) > 0)r"), "error");
  // uniq is not a closure: linear (hashed), within the budget.
  EXPECT_EQ(truth(R"r(len(uniq(split(repeat("a,", 100000), ","))) == 2)r"), "true");
}

// The examples of docs/06-enrichment.md.
TEST(Classifier, DocumentationExamples) {
  std::vector<std::string> rules = {
      R"r(let d = Interface.Description; d startsWith "Transit: " && ClassifyProvider(trimPrefix(d, "Transit: ")) && ClassifyConnectivity("transit"))r",
      R"r(Interface.Speed * 1000 >= 100000000 && ClassifyConnectivity("core"))r"};
  auto t = iface(rules, "Transit: Cogent", "et-0/0/0", 100000);
  EXPECT_EQ(t.provider, "cogent");
  EXPECT_EQ(t.connectivity, "transit");
  auto c = iface(rules, "to core2", "et-0/0/1", 100000);
  EXPECT_EQ(c.provider, "");
  EXPECT_EQ(c.connectivity, "core");
  EXPECT_EQ(iface(rules, "to core2", "et-0/0/1", 10000).connectivity, "");
  auto e = exporter(
      {R"r(let parts = split(Exporter.Name, "-"); len(parts) > 1 && ClassifySite(parts[0]) && ClassifyRole(parts[1][:4]))r"},
      "par-edge1.example.net");
  EXPECT_EQ(e.site, "par");
  EXPECT_EQ(e.role, "edge");
  EXPECT_EQ(exporter({R"r(let parts = split(Exporter.Name, "-"); len(parts) > 1 && ClassifySite(parts[0]))r"},
                     "router")
                .site,
            "");
  std::vector<std::string> closures = {
      R"r(any(split(Interface.Description, " "), # in ["transit", "ix"]) && ClassifyExternal())r"};
  EXPECT_EQ(iface(closures, "ix franceix").boundary, Boundary::kExternal);
  EXPECT_EQ(iface(closures, "Transit: Cogent").boundary, Boundary::kUndefined);
  std::vector<std::string> tenants = {
      R"r(count(split(Exporter.Name, "-"), len(#) > 2) >= 2 && ClassifyTenant(Exporter.Name | split("-") | last()))r"};
  EXPECT_EQ(exporter(tenants, "par-Edge1").tenant, "edge1");
  EXPECT_EQ(exporter(tenants, "par-e1").tenant, "");
}

}  // namespace
}  // namespace akvo::classifier
