// libFuzzer target for the jq interpreter: any program either fails to parse with a positioned
// ParseError or runs on a sample document, within a small step budget, to its outputs or a
// jq::Error. Nothing else may come out: no crash, no other exception, no hang, no unbounded
// memory. Built with the others (cmake -DAKVO_FUZZ=ON, target jq_fuzz):
//   build/fuzz/jq_fuzz src/common/fuzz_corpus/jq -max_total_time=60
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/jq.h"

namespace {
const akvo::jq::Value& sample() {
  static const akvo::jq::Value doc = akvo::jq::Value::parse(R"({
    "prefixes": [{"ip_prefix": "3.2.34.0/26", "region": "af-south-1", "service": "AMAZON"},
                 {"ip_prefix": "52.94.76.0/22", "region": "us-west-2", "service": "EC2"}],
    "ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "region": "us-west-2", "service": "S3"}],
    "n": [1, 2.5, -3, null, true, "x", [], {}], "next": null})");
  return doc;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto program = akvo::jq::Program::compile(text);
    size_t outputs = 0;
    program.run(sample(), [&](const akvo::jq::Value&) { outputs++; }, 20000);
  } catch (const akvo::jq::ParseError& e) {
    if (e.offset > size || e.line < 1 || e.column < 1) abort();
  } catch (const akvo::jq::Error&) {
  }
  return 0;
}
