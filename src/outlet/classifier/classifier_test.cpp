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

TEST(Classifier, RuntimeErrorsStopAndCount) {
  RuleSet set({R"r(Exporter.Name > 3)r", R"r(ClassifySite("x"))r"}, Kind::kExporter);
  uint64_t errors = 0;
  auto r = set.classify(ExporterInput{"192.0.2.1", "a"}, &errors);
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(r.site, "");
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
