// libFuzzer target for the NetFlow v5/v9/IPFIX decoder. One decoder lives across inputs so
// templates learned from one input apply to the next; the input is split on "AKVO" markers
// into several datagrams so a template and its data can meet in one run.
#include <cstring>

#include "outlet/decoder/netflow/netflow.h"

namespace {
struct Sink : akvo::decoder::FlowSink {
  uint64_t bytes = 0;
  void flow(akvo::FlowRecord& f) override { bytes += f.bytes + f.src_addr.bytes[15]; }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static akvo::decoder::NetflowDecoder decoder([] {
    akvo::decoder::NetflowDecoder::Config c;
    c.template_expiry = 3600;
    return c;
  }());
  static Sink sink;
  // Bounded state: a fuzzer that invents domains forever must not grow memory forever.
  if (decoder.domains().size() > 1000) decoder.clear();
  size_t start = 0;
  for (size_t i = 0; i + 4 <= size; i++) {
    if (std::memcmp(data + i, "AKVO", 4) == 0) {
      akvo::decoder::Input in{std::span<const uint8_t>(data + start, i - start), {}, 1};
      decoder.decode(in, sink);
      start = i + 4;
    }
  }
  akvo::decoder::Input in{std::span<const uint8_t>(data + start, size - start), {}, 1};
  decoder.decode(in, sink);
  return 0;
}
