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

namespace {
// (IE, length) of the two data templates; addresses at index 2 and 3 differ by family.
constexpr uint16_t kIpfixFields[][2] = {{1, 8},  {2, 8},  {8, 4},  {12, 4}, {9, 1},  {13, 1},
                                        {15, 4}, {7, 2},  {11, 2}, {4, 1},  {5, 1},  {6, 1},
                                        {10, 4}, {14, 4}, {16, 4}, {17, 4}, {150, 4}};
constexpr size_t kIpfixFieldCount = sizeof(kIpfixFields) / sizeof(kIpfixFields[0]);

uint16_t ipfixType(size_t i, bool v6) {
  uint16_t t = kIpfixFields[i][0];
  if (!v6) return t;
  switch (t) {
    case 8: return 27;
    case 12: return 28;
    case 9: return 29;
    case 13: return 30;
    case 15: return 62;
    default: return t;
  }
}
uint16_t ipfixLength(size_t i, bool v6) {
  uint16_t t = kIpfixFields[i][0];
  if (v6 && (t == 8 || t == 12 || t == 15)) return 16;
  return kIpfixFields[i][1];
}
void putN(std::vector<uint8_t>& b, uint64_t v, size_t n) {
  for (size_t i = n; i-- > 0;) b.push_back(uint8_t(v >> (8 * i)));
}
void putAddr(std::vector<uint8_t>& b, const IPv6Addr& a, bool v6) {
  if (v6) b.insert(b.end(), a.bytes.begin(), a.bytes.end());
  else b.insert(b.end(), a.bytes.begin() + 12, a.bytes.end());
}
void setLength(std::vector<uint8_t>& b, size_t at) {
  size_t len = b.size() - at;
  b[at + 2] = uint8_t(len >> 8);
  b[at + 3] = uint8_t(len);
}
// Field `ie` of kIpfixFields (its IPv4 number; the IPv6 twin takes the same value) of `f`.
void putField(std::vector<uint8_t>& b, uint16_t ie, const FlowRecord& f, bool v6) {
  switch (ie) {
    case 1: putN(b, f.bytes, 8); break;
    case 2: putN(b, f.packets, 8); break;
    case 8: putAddr(b, f.src_addr, v6); break;
    case 12: putAddr(b, f.dst_addr, v6); break;
    case 9: b.push_back(f.src_net_mask); break;
    case 13: b.push_back(f.dst_net_mask); break;
    case 15: putAddr(b, f.next_hop, v6); break;
    case 7: put16(b, f.src_port); break;
    case 11: put16(b, f.dst_port); break;
    case 4: b.push_back(uint8_t(f.proto)); break;
    case 5: b.push_back(f.ip_tos); break;
    case 6: b.push_back(uint8_t(f.tcp_flags)); break;
    case 10: put32(b, f.in_if); break;
    case 14: put32(b, f.out_if); break;
    case 16: put32(b, f.src_as); break;
    case 17: put32(b, f.dst_as); break;
    case 150: put32(b, f.first_switched); break;
  }
}
}  // namespace

std::vector<uint8_t> encodeIpfix(const IpfixHeader& h, std::span<const FlowRecord> flows) {
  std::vector<uint8_t> b;
  put16(b, 10);
  put16(b, 0);  // length, set below
  put32(b, h.export_time);
  put32(b, h.sequence);
  put32(b, h.domain);
  if (h.templates) {
    size_t at = b.size();
    put16(b, 2);
    put16(b, 0);
    for (bool v6 : {false, true}) {
      put16(b, v6 ? 257 : 256);
      put16(b, uint16_t(kIpfixFieldCount));
      for (size_t i = 0; i < kIpfixFieldCount; i++) {
        put16(b, ipfixType(i, v6));
        put16(b, ipfixLength(i, v6));
      }
    }
    setLength(b, at);
    if (h.sampling_interval) {
      at = b.size();
      put16(b, 3);
      put16(b, 0);
      put16(b, 258);
      put16(b, 3);  // fields
      put16(b, 1);  // scope fields
      put16(b, 302);
      put16(b, 4);
      put16(b, 305);
      put16(b, 4);
      put16(b, 306);
      put16(b, 4);
      setLength(b, at);
    }
  }
  if (h.sampling_interval) {
    size_t at = b.size();
    put16(b, 258);
    put16(b, 0);
    put32(b, 0);  // selector id 0: the default of the domain
    put32(b, 1);  // 1 packet selected...
    put32(b, h.sampling_interval - 1);  // ...then interval - 1 skipped: rate = interval
    setLength(b, at);
  }
  for (bool v6 : {false, true}) {
    size_t at = b.size();
    put16(b, v6 ? 257 : 256);
    put16(b, 0);
    size_t n = 0;
    for (const auto& f : flows) {
      if (f.src_addr.isV4Mapped() == v6) continue;
      n++;
      for (size_t i = 0; i < kIpfixFieldCount; i++) putField(b, kIpfixFields[i][0], f, v6);
    }
    if (n == 0) b.resize(at);
    else setLength(b, at);
  }
  b[2] = uint8_t(b.size() >> 8);
  b[3] = uint8_t(b.size());
  return b;
}

std::vector<uint8_t> encodeNetflowV9(const V9Header& h, std::span<const FlowRecord> flows) {
  // The IPFIX fields, flowStartSeconds (150) replaced by FIRST_SWITCHED and LAST_SWITCHED.
  auto v9Fields = [](bool v6) {
    std::vector<std::pair<uint16_t, uint16_t>> f;
    for (size_t i = 0; i < kIpfixFieldCount; i++) {
      if (kIpfixFields[i][0] == 150) continue;
      f.emplace_back(ipfixType(i, v6), ipfixLength(i, v6));
    }
    f.emplace_back(22, 4);
    f.emplace_back(21, 4);
    return f;
  };
  auto pad = [](std::vector<uint8_t>& b, size_t at) {
    while ((b.size() - at) % 4) b.push_back(0);
    setLength(b, at);
  };
  std::vector<uint8_t> b;
  uint16_t count = 0;  // records: templates, options and data
  put16(b, 9);
  put16(b, 0);  // count, set below
  put32(b, h.sys_uptime_ms);
  put32(b, h.unix_secs);
  put32(b, h.sequence);
  put32(b, h.source_id);
  if (h.templates) {
    size_t at = b.size();
    put16(b, 0);
    put16(b, 0);
    for (bool v6 : {false, true}) {
      auto fields = v9Fields(v6);
      put16(b, v6 ? 261 : 260);
      put16(b, uint16_t(fields.size()));
      for (auto [t, l] : fields) {
        put16(b, t);
        put16(b, l);
      }
      count++;
    }
    pad(b, at);
    if (h.sampling_interval) {
      at = b.size();
      put16(b, 1);
      put16(b, 0);
      put16(b, 262);
      put16(b, 4);  // scope length: one field
      put16(b, 8);  // options length: two fields
      put16(b, 1);  // scope System
      put16(b, 4);
      put16(b, 34);  // SAMPLING_INTERVAL
      put16(b, 4);
      put16(b, 35);  // SAMPLING_ALGORITHM
      put16(b, 1);
      pad(b, at);
      count++;
    }
  }
  if (h.sampling_interval) {
    size_t at = b.size();
    put16(b, 262);
    put16(b, 0);
    put32(b, h.source_id);
    put32(b, h.sampling_interval);
    b.push_back(1);  // deterministic
    pad(b, at);
    count++;
  }
  for (bool v6 : {false, true}) {
    size_t at = b.size();
    put16(b, v6 ? 261 : 260);
    put16(b, 0);
    size_t n = 0;
    for (const auto& f : flows) {
      if (f.src_addr.isV4Mapped() == v6) continue;
      n++;
      for (size_t i = 0; i < kIpfixFieldCount; i++)
        if (kIpfixFields[i][0] != 150) putField(b, kIpfixFields[i][0], f, v6);
      // FIRST_SWITCHED: sysUptime when the flow started, first_switched seconds before now.
      uint64_t ago = f.first_switched && f.first_switched <= h.unix_secs
                         ? uint64_t(h.unix_secs - f.first_switched) * 1000 : 0;
      put32(b, uint32_t(ago < h.sys_uptime_ms ? h.sys_uptime_ms - ago : 0));
      put32(b, h.sys_uptime_ms);  // LAST_SWITCHED
    }
    count = uint16_t(count + n);
    if (n == 0) b.resize(at);
    else pad(b, at);
  }
  b[2] = uint8_t(count >> 8);
  b[3] = uint8_t(count);
  return b;
}

}  // namespace akvo::demo
