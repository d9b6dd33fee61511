#pragma once
/// Flow encoders for the demo exporter and for tests: they turn flow records into the
/// datagrams a router would send: NetFlow v5, NetFlow v9 and IPFIX.
#include <cstdint>
#include <span>
#include <vector>

#include "common/flow.h"

namespace akvo::demo {

struct V5Header {
  uint32_t sys_uptime_ms = 0;
  uint32_t unix_secs = 0;
  uint32_t flow_sequence = 0;
  uint16_t sampling_interval = 0;  ///< written with sampling mode 01 (packet interval) if > 1
};

/// Encodes up to 30 flows (IPv4 only; others are skipped) into one NetFlow v5 datagram.
std::vector<uint8_t> encodeNetflowV5(const V5Header& header, std::span<const FlowRecord> flows);

struct IpfixHeader {
  uint32_t export_time = 0;
  uint32_t sequence = 0;  ///< data records sent before this message (RFC 7011 §3.1)
  uint32_t domain = 0;
  uint32_t sampling_interval = 0;  ///< if > 0, an options template and record with it
  bool templates = true;           ///< include the template sets
};

/// Encodes flows (IPv4 and IPv6) into one IPFIX message (RFC 7011): template 256 for IPv4 and
/// 257 for IPv6 flows (octets, packets, addresses, masks, next hop, ports, protocol, ToS, TCP
/// flags, interfaces, AS numbers, flowStartSeconds), and with a sampling interval an options
/// template 258 (scope selectorId 302, samplingPacketInterval 305, samplingPacketSpace 306).
/// The caller keeps the message under the MTU (about 20 flows).
std::vector<uint8_t> encodeIpfix(const IpfixHeader& header, std::span<const FlowRecord> flows);

struct V9Header {
  uint32_t sys_uptime_ms = 0;
  uint32_t unix_secs = 0;
  uint32_t sequence = 0;   ///< export packets sent before this one (RFC 3954 §5.1)
  uint32_t source_id = 0;
  uint32_t sampling_interval = 0;  ///< if > 0, an options template and record with it
  bool templates = true;           ///< include the template flowsets
};

/// Encodes flows into one NetFlow v9 export packet (RFC 3954), as Akvorado's demo: templates
/// 260 (IPv4) and 261 (IPv6) with the fields of encodeIpfix() but FIRST_SWITCHED and
/// LAST_SWITCHED (22, 21: sysUptime milliseconds) for the start time, and with a sampling
/// interval an options template 262 (scope System, SAMPLING_INTERVAL 34, SAMPLING_ALGORITHM 35).
/// Flowsets are padded to 4 bytes. The caller keeps the packet under the MTU (about 20 flows).
std::vector<uint8_t> encodeNetflowV9(const V9Header& header, std::span<const FlowRecord> flows);

}  // namespace akvo::demo
