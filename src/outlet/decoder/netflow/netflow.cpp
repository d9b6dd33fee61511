#include "outlet/decoder/netflow/netflow.h"

namespace akvo::decoder {

Status NetflowDecoder::decode(const Input& input, FlowSink& sink) {
  if (input.payload.size() < 2) return Status::kTruncated;
  uint16_t version = be16(input.payload.data());
  switch (version) {
    case 5: return decodeV5(input, sink);
    default: return Status::kBadVersion;
  }
}

// NetFlow v5: 24-byte header, then `count` records of 48 bytes (Cisco's NetFlow v5 format).
Status NetflowDecoder::decodeV5(const Input& input, FlowSink& sink) {
  const uint8_t* p = input.payload.data();
  size_t len = input.payload.size();
  if (len < 24) return Status::kTruncated;
  uint16_t count = be16(p + 2);
  uint32_t sys_uptime = be32(p + 4);
  uint32_t unix_secs = be32(p + 8);
  // Sampling interval: the low 14 bits; the top 2 bits are the sampling mode.
  uint16_t sampling = be16(p + 22) & 0x3fff;
  if (count == 0 || count > 30) return Status::kBadLength;
  if (len < 24 + size_t(count) * 48) return Status::kTruncated;
  for (uint16_t i = 0; i < count; i++) {
    const uint8_t* r = p + 24 + size_t(i) * 48;
    FlowRecord& f = record_;
    f.reset();
    f.exporter_address = input.exporter;
    f.time_received = input.time_received;
    f.export_time = unix_secs;
    f.sampling_rate = sampling ? sampling : 1;
    f.src_addr = IPv6Addr::fromV4Bytes(r);
    f.dst_addr = IPv6Addr::fromV4Bytes(r + 4);
    f.next_hop = IPv6Addr::fromV4Bytes(r + 8);
    f.in_if = be16(r + 12);
    f.out_if = be16(r + 14);
    f.packets = be32(r + 16);
    f.bytes = be32(r + 20);
    uint32_t first = be32(r + 24);  // sysUptime (ms) at the first packet
    f.first_switched = unix_secs - (sys_uptime - first) / 1000;
    f.src_port = be16(r + 32);
    f.dst_port = be16(r + 34);
    f.tcp_flags = r[37];
    f.proto = r[38];
    f.ip_tos = r[39];
    f.src_as = be16(r + 40);
    f.dst_as = be16(r + 42);
    f.src_net_mask = r[44];
    f.dst_net_mask = r[45];
    f.etype = 0x800;
    if (f.proto == 1) {
      // Exporters put ICMP type/code in the destination port.
      f.icmpv4_type = uint8_t(f.dst_port >> 8);
      f.icmpv4_code = uint8_t(f.dst_port);
    }
    switch (input.timestamp_source) {
      case TimestampSource::kNetflowPacket: f.time_received = unix_secs; break;
      case TimestampSource::kNetflowFirstSwitched: f.time_received = f.first_switched; break;
      default: break;
    }
    sink.flow(f);
  }
  return Status::kOk;
}

}  // namespace akvo::decoder
