#pragma once
/// The packet-header parser shared by sFlow sampled headers and IPFIX dataLinkFrameSection
/// (RFC 7133, IE 315): Ethernet (802.1Q, QinQ), MPLS (explicit null, EoMPLS with or without
/// control word), IPv4, IPv6 (extension headers), TCP/UDP/ICMP/ICMPv6, and the tunnels an
/// input may decapsulate: IP-in-IP, GRE, VXLAN, SRv6. It reads a bounded span and never
/// allocates or throws; a header cut short stops the parse with what was found so far.
#include <cstdint>
#include <span>

#include "common/flow.h"
#include "transport/datagram.h"

namespace akvo::decoder {

/// Which header fills the flow (the input's decapsulation-protocol). As in Akvorado, the
/// default is the outer header, a tunnel being reported as such; with a protocol, the packet
/// must be so encapsulated and the inner packet fills the flow: addresses, protocol, ports,
/// L3 length and the rest of L3/L4, and with VXLAN the inner Ethernet header (MACs, VLAN,
/// MPLS). Nothing of the outer headers is kept (MACs, VLAN, MPLS labels, addresses). A packet
/// that is not so encapsulated gives nothing (the parse returns 0):
/// - `kIpIp`: IPv4 or IPv6 whose next protocol is IPv4 (4) or IPv6 (41);
/// - `kGre`: IPv4 or IPv6 carrying GRE (47) version 0 (RFC 2784) with optional checksum, key
///   and sequence number (RFC 2890), then IPv4 or IPv6; routing present is refused;
/// - `kVxlan`: IPv4 or IPv6 carrying UDP to port 4789, an 8-byte VXLAN header (RFC 7348), then
///   Ethernet;
/// - `kSrv6`: IPv6, zero or more segment routing headers (routing type 4, RFC 8754), then IPv4
///   or IPv6 (End.DT4/DT6/DT46/DX4/DX6; an Ethernet payload, DX2/DT2, has no next-header to
///   say so and is not opened).
/// A first fragment may be opened; a later fragment of the outer packet gives nothing.
using ::akvo::Decapsulation;

struct PacketOptions {
  Decapsulation decap = Decapsulation::kNone;
  /// Set VLANs from 802.1Q tags only when the flow has none yet.
  bool keep_existing_vlans = true;
};

/// Parses an Ethernet frame into `flow`. Returns the L3 length (IPv4 total length, IPv6
/// payload length + 40) or 0 when no IP header was found. MACs the flow already has (from
/// elements or records read before the frame) are kept, as in Akvorado, which writes each
/// column once per flow; so are its protocol, ports, ToS and TCP flags, unless decapsulating.
/// Addresses, EType and the rest come from the packet.
uint64_t parseEthernet(std::span<const uint8_t> frame, FlowRecord& flow,
                       const PacketOptions& options = {});
/// Parses a packet starting at its IPv4 header. Returns the L3 length or 0.
uint64_t parseIPv4(std::span<const uint8_t> packet, FlowRecord& flow,
                   const PacketOptions& options = {});
/// Parses a packet starting at its IPv6 header. Returns the L3 length or 0.
uint64_t parseIPv6(std::span<const uint8_t> packet, FlowRecord& flow,
                   const PacketOptions& options = {});

}  // namespace akvo::decoder
