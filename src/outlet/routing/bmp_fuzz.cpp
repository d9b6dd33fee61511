// libFuzzer target for the BMP/BGP decoder and the RIB: the input is a stream of BMP messages
// (framed by their common header), decoded after an Initiation so that every message type is
// reached; the routes found are applied to a RIB and looked up.
// Built and run with the decoders' targets: tests/tools/fuzz.sh (CI runs it 15 s per target).
#include <cstddef>
#include <cstdint>
#include <span>

#include "outlet/routing/bmp_decoder.h"
#include "outlet/routing/rib.h"

namespace {

struct RibSink : akvo::routing::BmpSink {
  akvo::routing::Rib rib;
  akvo::IPv6Addr exporter;
  void peerDown(const akvo::routing::BmpPeer& p) override { rib.removePeer(rib.peer(exporter, p)); }
  void routes(const akvo::routing::BmpPeer& p, const akvo::routing::PathAttributes& a,
              std::span<const akvo::routing::Nlri> ann,
              std::span<const akvo::routing::Nlri> wd) override {
    rib.update(rib.peer(exporter, p), a, ann, wd);
    akvo::routing::RouteInfo r;
    for (const auto& n : ann) rib.lookup(exporter, n.prefix.addr, n.next_hop, r);
  }
};

const uint8_t kInitiation[] = {3, 0, 0, 0, 10, 4, 0, 2, 0, 0};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  akvo::routing::BmpDecoder d;
  RibSink sink;
  d.decode(kInitiation, sink);
  std::span<const uint8_t> in(data, size);
  size_t off = 0;
  while (off + akvo::routing::BmpDecoder::kHeaderSize <= in.size()) {
    uint32_t len = akvo::routing::BmpDecoder::messageLength(in.subspan(off));
    if (len < akvo::routing::BmpDecoder::kHeaderSize || len > in.size() - off) {
      d.decode(in.subspan(off), sink);  // a truncated last message
      break;
    }
    d.decode(in.subspan(off, len), sink);
    off += len;
  }
  return 0;
}
