// libFuzzer target for the sFlow v5 decoder (and through it the packet-header parser).
#include "outlet/decoder/sflow/sflow.h"

namespace {
struct Sink : akvo::decoder::FlowSink {
  uint64_t bytes = 0;
  void flow(akvo::FlowRecord& f) override { bytes += f.bytes + f.src_port; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static akvo::decoder::SflowDecoder decoder;
  static Sink sink;
  akvo::decoder::Input in{std::span<const uint8_t>(data, size), {}, 1};
  decoder.decode(in, sink);
  in.decapsulation = akvo::Decapsulation::kVxlan;  // the other path: sampled headers only
  decoder.decode(in, sink);
  return 0;
}
