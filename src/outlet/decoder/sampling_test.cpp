#include "outlet/decoder/sampling.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace akvo::decoder {
namespace {

SamplingRates::Config read(const std::string& yaml) {
  ConfigReader r(YAML::Load(yaml), "test.yaml", "outlet.core");
  SamplingRates::Config c;
  c.read(r);
  r.finish();
  return c;
}

uint64_t rateFor(const SamplingRates::Config& c, const char* exporter, uint64_t from_flow) {
  FlowRecord f;
  f.exporter_address = *IPv6Addr::parse(exporter);
  f.sampling_rate = from_flow;
  SamplingRates::apply(c, f);
  return f.sampling_rate;
}

}  // namespace

TEST(SamplingRates, DefaultFillsOnlyUnknownRates) {
  auto c = read("default-sampling-rate: 1000");
  EXPECT_EQ(rateFor(c, "192.0.2.1", 0), 1000u);  // softflowd: no sampling options
  EXPECT_EQ(rateFor(c, "192.0.2.1", 30), 30u);
  auto none = read("{}");
  EXPECT_EQ(rateFor(none, "192.0.2.1", 0), 0u);
}

TEST(SamplingRates, PerPrefixLongestMatchAndOverride) {
  auto c = read(R"(
default-sampling-rate:
  192.0.2.0/24: 100
  192.0.2.128/25: 200
override-sampling-rate:
  2001:db8::/32: 4096
)");
  EXPECT_EQ(rateFor(c, "192.0.2.1", 0), 100u);
  EXPECT_EQ(rateFor(c, "192.0.2.200", 0), 200u);
  EXPECT_EQ(rateFor(c, "198.51.100.1", 0), 0u);
  EXPECT_EQ(rateFor(c, "2001:db8::1", 10), 4096u);
}

TEST(SamplingRates, ConfigErrorsNameTheKey) {
  try {
    read("default-sampling-rate: {not-a-prefix: 10}");
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("default-sampling-rate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not a prefix"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read("override-sampling-rate: 0"), ConfigError);
  EXPECT_THROW(read("override-sampling-rate: [1, 2]"), ConfigError);
}

}  // namespace akvo::decoder
