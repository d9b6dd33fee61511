// libFuzzer target for the classifier language: parse any rule; when it parses, run it on an
// exporter and an interface. Must never crash, hang or throw anything but ParseError.
// Build: cmake -S src/outlet/classifier/fuzz -B build/fuzz-classifier -G Ninja
//          -DCMAKE_CXX_COMPILER=clang++ && ninja -C build/fuzz-classifier
//        build/fuzz-classifier/classifier_fuzz src/outlet/classifier/fuzz/corpus -max_total_time=60
#include <cstdint>
#include <string>

#include "outlet/classifier/classifier.h"

using namespace akvo::classifier;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string rule(reinterpret_cast<const char*>(data), size);
  for (Kind kind : {Kind::kExporter, Kind::kInterface}) {
    try {
      RuleSet set({rule}, kind);
      if (kind == Kind::kExporter) {
        set.classify(ExporterInput{"192.0.2.1", "par-edge1.example.net"});
      } else {
        set.classify(InterfaceInput{{"192.0.2.1", "par-edge1.example.net"}, 3, "Gi0/0/3",
                                    "Transit: Cogent", 10000, 100});
      }
    } catch (const ParseError&) {
    }
  }
  return 0;
}
