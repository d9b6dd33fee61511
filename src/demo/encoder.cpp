#include "demo/encoder.h"

#include <cstring>

namespace akvo::demo {
namespace {
void put16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(uint8_t(v >> 8));
  b.push_back(uint8_t(v));
}
void put32(std::vector<uint8_t>& b, uint32_t v) {
  put16(b, uint16_t(v >> 16));
  put16(b, uint16_t(v));
}
void putV4(std::vector<uint8_t>& b, const IPv6Addr& a) {
  b.insert(b.end(), a.bytes.begin() + 12, a.bytes.end());
}
}  // namespace

std::vector<uint8_t> encodeNetflowV5(const V5Header& h, std::span<const FlowRecord> flows) {
  std::vector<uint8_t> b;
  size_t count = 0;
  for (const auto& f : flows)
    if (f.src_addr.isV4Mapped() && count < 30) count++;
  b.reserve(24 + 48 * count);
  put16(b, 5);
  put16(b, uint16_t(count));
  put32(b, h.sys_uptime_ms);
  put32(b, h.unix_secs);
  put32(b, 0);  // unix_nsecs
  put32(b, h.flow_sequence);
  b.push_back(0);  // engine type
  b.push_back(0);  // engine id
  put16(b, h.sampling_interval > 1 ? uint16_t(0x4000 | (h.sampling_interval & 0x3fff)) : 0);
  size_t n = 0;
  for (const auto& f : flows) {
    if (!f.src_addr.isV4Mapped() || n == count) continue;
    putV4(b, f.src_addr);
    putV4(b, f.dst_addr);
    putV4(b, f.next_hop.isZero() ? IPv6Addr::fromV4(0) : f.next_hop);
    put16(b, uint16_t(f.in_if));
    put16(b, uint16_t(f.out_if));
    put32(b, uint32_t(f.packets));
    put32(b, uint32_t(f.bytes));
    put32(b, h.sys_uptime_ms > 1000 ? h.sys_uptime_ms - 1000 : 0);  // first
    put32(b, h.sys_uptime_ms);                                      // last
    put16(b, f.src_port);
    put16(b, f.proto == 1 ? uint16_t(f.icmpv4_type << 8 | f.icmpv4_code) : f.dst_port);
    b.push_back(0);  // pad
    b.push_back(uint8_t(f.tcp_flags));
    b.push_back(uint8_t(f.proto));
    b.push_back(f.ip_tos);
    put16(b, uint16_t(f.src_as > 0xffff ? 23456 : f.src_as));
    put16(b, uint16_t(f.dst_as > 0xffff ? 23456 : f.dst_as));
    b.push_back(f.src_net_mask);
    b.push_back(f.dst_net_mask);
    put16(b, 0);  // pad
    n++;
  }
  return b;
}

}  // namespace akvo::demo
