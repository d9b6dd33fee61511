#include "transport/flow_proto.h"

namespace akvo {

namespace {

constexpr uint8_t kVarint = 0, kLen = 2;

void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void tag(std::string& out, uint32_t field, uint8_t type) { varint(out, (field << 3) | type); }
void u(std::string& out, uint32_t field, uint64_t v) {
  if (!v) return;
  tag(out, field, kVarint);
  varint(out, v);
}
void bytes(std::string& out, uint32_t field, const void* p, size_t n) {
  if (!n) return;
  tag(out, field, kLen);
  varint(out, n);
  out.append(static_cast<const char*>(p), n);
}
void str(std::string& out, uint32_t field, std::string_view s) { bytes(out, field, s.data(), s.size()); }
void addr(std::string& out, uint32_t field, const IPv6Addr& a) {
  if (a == IPv6Addr{}) return;
  bytes(out, field, a.bytes.data(), 16);
}
void country(std::string& out, uint32_t field, const char (&c)[2]) {
  if (c[0]) bytes(out, field, c, c[1] ? 2 : 1);
}

}  // namespace

void encodeFlowProto(const FlowRecord& f, std::string& out) {
  out.clear();
  u(out, 1, f.time_received);
  u(out, 2, f.sampling_rate);
  addr(out, 3, f.exporter_address);
  str(out, 4, f.exporter_name);
  str(out, 5, f.exporter_group);
  str(out, 6, f.exporter_role);
  str(out, 7, f.exporter_site);
  str(out, 8, f.exporter_region);
  str(out, 9, f.exporter_tenant);
  addr(out, 10, f.src_addr);
  addr(out, 11, f.dst_addr);
  u(out, 12, f.src_net_mask);
  u(out, 13, f.dst_net_mask);
  u(out, 14, f.src_as);
  u(out, 15, f.dst_as);
  country(out, 16, f.src_country);
  country(out, 17, f.dst_country);
  addr(out, 18, f.next_hop);
  u(out, 19, f.in_if);
  u(out, 20, f.out_if);
  str(out, 21, f.in_if_name);
  str(out, 22, f.out_if_name);
  str(out, 23, f.in_if_description);
  str(out, 24, f.out_if_description);
  u(out, 25, f.in_if_speed);
  u(out, 26, f.out_if_speed);
  str(out, 27, f.in_if_connectivity);
  str(out, 28, f.out_if_connectivity);
  str(out, 29, f.in_if_provider);
  str(out, 30, f.out_if_provider);
  u(out, 31, uint8_t(f.in_if_boundary));
  u(out, 32, uint8_t(f.out_if_boundary));
  u(out, 33, f.etype);
  u(out, 34, f.proto);
  u(out, 35, f.src_port);
  u(out, 36, f.dst_port);
  u(out, 37, f.bytes);
  u(out, 38, f.packets);
  u(out, 39, f.forwarding_status);
  u(out, 40, f.tcp_flags);
  if (f.dst_as_path.size()) {
    // Packed repeated field: one length-delimited run of varints (proto3's default).
    size_t len = 0;
    for (uint32_t as : f.dst_as_path) {
      uint64_t v = as;
      do {
        len++;
        v >>= 7;
      } while (v);
    }
    tag(out, 41, kLen);
    varint(out, len);
    for (uint32_t as : f.dst_as_path) varint(out, as);
  }
  u(out, 42, f.src_vlan);
  u(out, 43, f.dst_vlan);
  str(out, 44, f.src_net_name);
  str(out, 45, f.dst_net_name);
}

}  // namespace akvo
