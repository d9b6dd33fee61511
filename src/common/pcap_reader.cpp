#include "common/pcap_reader.h"

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <stdexcept>

namespace akvo {

std::vector<PcapFrame> readPcapFrames(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) throw std::runtime_error(fmt::format("{}: {}", path, err));
  std::vector<PcapFrame> out;
  int lt = pcap_datalink(p);
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) out.push_back({lt, std::vector<uint8_t>(data, data + h->caplen)});
  pcap_close(p);
  return out;
}

std::vector<PcapDatagram> readPcapUdp(const std::string& path) {
  char err[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_open_offline(path.c_str(), err);
  if (!p) throw std::runtime_error(fmt::format("{}: {}", path, err));
  int lt = pcap_datalink(p);
  std::vector<PcapDatagram> out;
  pcap_pkthdr* h;
  const u_char* data;
  while (pcap_next_ex(p, &h, &data) == 1) {
    const uint8_t* d = data;
    size_t len = h->caplen;
    uint16_t etype = 0;
    size_t off = 0;
    if (lt == DLT_EN10MB) {
      if (len < 14) continue;
      etype = uint16_t(d[12] << 8 | d[13]);
      off = 14;
      while ((etype == 0x8100 || etype == 0x88a8) && off + 4 <= len) {
        etype = uint16_t(d[off + 2] << 8 | d[off + 3]);
        off += 4;
      }
    } else if (lt == DLT_LINUX_SLL) {
      if (len < 16) continue;
      etype = uint16_t(d[14] << 8 | d[15]);
      off = 16;
    } else if (lt == DLT_RAW || lt == 101) {
      if (len < 1) continue;
      etype = (d[0] >> 4) == 4 ? 0x800 : 0x86dd;
    } else {
      pcap_close(p);
      throw std::runtime_error(fmt::format("{}: unsupported link type {}", path, lt));
    }
    PcapDatagram dg;
    dg.time = uint32_t(h->ts.tv_sec);
    const uint8_t* l4;
    size_t l4len;
    if (etype == 0x800 && off + 20 <= len && d[off + 9] == 17) {
      size_t ihl = size_t(d[off] & 0xf) * 4;
      dg.src = IPv6Addr::fromV4Bytes(d + off + 12);
      l4 = d + off + ihl;
      l4len = len - off - ihl;
    } else if (etype == 0x86dd && off + 40 <= len && d[off + 6] == 17) {
      dg.src = IPv6Addr::fromV6Bytes(d + off + 8);
      l4 = d + off + 40;
      l4len = len - off - 40;
    } else {
      continue;
    }
    if (l4len < 8) continue;
    dg.src_port = uint16_t(l4[0] << 8 | l4[1]);
    dg.dst_port = uint16_t(l4[2] << 8 | l4[3]);
    size_t ulen = size_t(l4[4] << 8 | l4[5]);
    if (ulen < 8 || ulen > l4len) ulen = l4len;
    dg.payload.assign(l4 + 8, l4 + ulen);
    out.push_back(std::move(dg));
  }
  pcap_close(p);
  return out;
}

}  // namespace akvo
