#include "outlet/routing/testing.h"

#include <algorithm>
#include <map>

#include "common/pcap_reader.h"
#include "outlet/routing/bmp_decoder.h"

namespace akvo::routing::testing {

std::vector<uint8_t> tcpStream(const std::string& path) {
  std::map<uint32_t, std::vector<uint8_t>> segments;  // by sequence number
  std::vector<uint8_t> first_flow;
  for (const auto& f : readPcapFrames(path)) {
    const uint8_t* p = f.data.data();
    size_t n = f.data.size();
    size_t off = 0;
    uint16_t etype = 0;
    if (f.linktype == 1) {  // Ethernet, optional VLAN tags
      if (n < 14) continue;
      etype = uint16_t(p[12] << 8 | p[13]);
      off = 14;
      while ((etype == 0x8100 || etype == 0x88a8) && n >= off + 4) {
        etype = uint16_t(p[off + 2] << 8 | p[off + 3]);
        off += 4;
      }
    } else if (f.linktype == 101 || f.linktype == 12) {  // raw IP
      etype = n > 0 && (p[0] >> 4) == 6 ? 0x86dd : 0x800;
    } else {
      continue;
    }
    size_t l4 = 0, end = n;
    std::vector<uint8_t> flow;
    if (etype == 0x800 && n >= off + 20 && p[off + 9] == 6) {
      l4 = off + (p[off] & 0xf) * 4;
      end = std::min(n, off + size_t(p[off + 2] << 8 | p[off + 3]));
      flow.assign(p + off + 12, p + off + 20);
    } else if (etype == 0x86dd && n >= off + 40 && p[off + 6] == 6) {
      l4 = off + 40;
      end = std::min(n, l4 + size_t(p[off + 4] << 8 | p[off + 5]));
      flow.assign(p + off + 8, p + off + 40);
    } else {
      continue;
    }
    if (end < l4 + 20) continue;
    flow.insert(flow.end(), p + l4, p + l4 + 4);  // ports
    if (first_flow.empty()) first_flow = flow;
    if (flow != first_flow) continue;
    uint32_t seq = uint32_t(p[l4 + 4]) << 24 | p[l4 + 5] << 16 | p[l4 + 6] << 8 | p[l4 + 7];
    size_t hl = (p[l4 + 12] >> 4) * 4;
    if (p[l4 + 13] & 0x02) seq++;  // SYN takes one sequence number
    if (l4 + hl >= end) continue;
    segments.emplace(seq, std::vector<uint8_t>(p + l4 + hl, p + end));
  }
  std::vector<uint8_t> out;
  uint32_t next = segments.empty() ? 0 : segments.begin()->first;
  for (auto& [seq, data] : segments) {
    uint32_t skip = next - seq;  // overlap with what we have
    if (int32_t(seq - next) > 0 || skip >= data.size()) {
      if (int32_t(seq - next) > 0) {  // a hole: take the data anyway, BMP framing may recover
        out.insert(out.end(), data.begin(), data.end());
        next = seq + uint32_t(data.size());
      }
      continue;
    }
    out.insert(out.end(), data.begin() + skip, data.end());
    next = seq + uint32_t(data.size());
  }
  return out;
}

std::vector<std::span<const uint8_t>> splitBmp(std::span<const uint8_t> stream) {
  std::vector<std::span<const uint8_t>> out;
  size_t off = 0;
  while (off + BmpDecoder::kHeaderSize <= stream.size()) {
    uint32_t len = BmpDecoder::messageLength(stream.subspan(off));
    if (len < BmpDecoder::kHeaderSize || off + len > stream.size()) break;
    out.push_back(stream.subspan(off, len));
    off += len;
  }
  return out;
}

}  // namespace akvo::routing::testing
