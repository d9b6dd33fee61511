// libFuzzer target for the packet-header parser: the first byte picks the decapsulation
// mode, the rest is an Ethernet frame.
#include "outlet/decoder/packet/packet.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  akvo::decoder::PacketOptions o;
  o.decap = akvo::decoder::Decapsulation(data[0] % (uint8_t(akvo::kMaxDecapsulation) + 1));
  akvo::FlowRecord f;
  akvo::decoder::parseEthernet(std::span<const uint8_t>(data + 1, size - 1), f, o);
  akvo::decoder::parseIPv4(std::span<const uint8_t>(data + 1, size - 1), f, o);
  akvo::decoder::parseIPv6(std::span<const uint8_t>(data + 1, size - 1), f, o);
  return 0;
}
