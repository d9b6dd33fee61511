#pragma once
/// Reads the UDP datagrams of a pcap file (Ethernet, VLAN, Linux cooked or raw IP framing), in
/// file order: for `akvo decode --pcap`, replays and golden tests.
#include <cstdint>
#include <string>
#include <vector>

#include "common/ip.h"

namespace akvo {

struct PcapDatagram {
  IPv6Addr src;
  uint16_t src_port = 0, dst_port = 0;
  uint32_t time = 0;  ///< capture time, unix seconds
  std::vector<uint8_t> payload;
};

/// Throws std::runtime_error naming the file when it cannot be read.
std::vector<PcapDatagram> readPcapUdp(const std::string& path);

/// Raw frames of a pcap file with their link type (for the packet-header parser's tests).
struct PcapFrame {
  int linktype = 0;
  std::vector<uint8_t> data;
};
std::vector<PcapFrame> readPcapFrames(const std::string& path);

}  // namespace akvo
