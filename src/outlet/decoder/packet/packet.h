#pragma once
/// The packet-header parser shared by sFlow sampled headers and IPFIX dataLinkFrameSection
/// (RFC 7133, IE 315): Ethernet (802.1Q, QinQ), MPLS (explicit null, EoMPLS with or without
/// control word), IPv4, IPv6 (extension headers), GRE and IP-in-IP, TCP/UDP/ICMP/ICMPv6.
/// It reads a bounded span and never allocates or throws; a header cut short stops the parse
/// with what was found so far.
#include <cstdint>
#include <span>

#include "common/flow.h"

namespace akvo::decoder {

/// Which header fills the flow when a tunnel is found. As in Akvorado, the default is the
/// outer header (no decapsulation); `kIpIp` and `kGre` take the inner packet and drop packets
/// that are not so encapsulated (the parse returns 0).
enum class Decapsulation : uint8_t { kNone = 0, kIpIp, kGre };

struct PacketOptions {
  Decapsulation decap = Decapsulation::kNone;
  /// Set VLANs from 802.1Q tags only when the flow has none yet.
  bool keep_existing_vlans = true;
};

/// Parses an Ethernet frame into `flow`. Returns the L3 length (IPv4 total length, IPv6
/// payload length + 40) or 0 when no IP header was found.
uint64_t parseEthernet(std::span<const uint8_t> frame, FlowRecord& flow,
                       const PacketOptions& options = {});
/// Parses a packet starting at its IPv4 header. Returns the L3 length or 0.
uint64_t parseIPv4(std::span<const uint8_t> packet, FlowRecord& flow,
                   const PacketOptions& options = {});
/// Parses a packet starting at its IPv6 header. Returns the L3 length or 0.
uint64_t parseIPv6(std::span<const uint8_t> packet, FlowRecord& flow,
                   const PacketOptions& options = {});

}  // namespace akvo::decoder
