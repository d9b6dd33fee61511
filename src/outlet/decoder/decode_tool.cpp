#include "outlet/decoder/decode_tool.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <utility>
#include <ostream>
#include <stdexcept>

#include "common/pcap_reader.h"
#include "outlet/decoder/netflow/netflow.h"
#include "outlet/decoder/sflow/sflow.h"

namespace akvo::decoder {
namespace {

std::string mac(uint64_t m) {
  return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", (m >> 40) & 0xff,
                     (m >> 32) & 0xff, (m >> 24) & 0xff, (m >> 16) & 0xff, (m >> 8) & 0xff,
                     m & 0xff);
}

template <class V>
std::string array(const V& v) {
  std::string s = "[";
  for (unsigned i = 0; i < v.size(); i++) s += fmt::format("{}{}", i ? "," : "", v[i]);
  return s + "]";
}

struct Printer : FlowSink {
  std::ostream& out;
  bool json;
  uint64_t flows = 0;
  explicit Printer(std::ostream& o, bool j) : out(o), json(j) {}
  void flow(FlowRecord& f) override {
    flows++;
    if (json) {
      out << flowToJson(f) << "\n";
      return;
    }
    out << fmt::format("{:<16} {:>39} {:>6} {:>39} {:>6} {:>5} {:>6} {:>10} {:>8} {:>8} {:>7} {:>7}\n",
                       f.exporter_address.toString(), f.src_addr.toString(), f.src_port,
                       f.dst_addr.toString(), f.dst_port, f.proto, fmt::format("{:#x}", f.etype),
                       f.bytes, f.packets, f.sampling_rate, f.in_if, f.out_if);
  }
};

}  // namespace

std::string flowToJson(const FlowRecord& f) {
  std::string s;
  s.reserve(512);
  auto num = [&](const char* k, uint64_t v, bool always = false) {
    if (v || always) s += fmt::format("\"{}\":{},", k, v);
  };
  auto ip = [&](const char* k, const IPv6Addr& a, bool always = false) {
    if (always || !a.isZero()) s += fmt::format("\"{}\":\"{}\",", k, a.toString());
  };
  s += "{";
  num("TimeReceived", f.time_received, true);
  num("SamplingRate", f.sampling_rate, true);
  ip("ExporterAddress", f.exporter_address, true);
  ip("SrcAddr", f.src_addr, true);
  ip("DstAddr", f.dst_addr, true);
  num("SrcNetMask", f.src_net_mask);
  num("DstNetMask", f.dst_net_mask);
  ip("NextHop", f.next_hop);
  num("SrcAS", f.src_as);
  num("DstAS", f.dst_as);
  if (!f.dst_as_path.empty()) s += fmt::format("\"DstASPath\":{},", array(f.dst_as_path));
  if (!f.dst_communities.empty())
    s += fmt::format("\"DstCommunities\":{},", array(f.dst_communities));
  num("InIf", f.in_if, true);
  num("OutIf", f.out_if, true);
  num("EType", f.etype, true);
  num("Proto", f.proto, true);
  num("SrcPort", f.src_port, true);
  num("DstPort", f.dst_port, true);
  num("Bytes", f.bytes, true);
  num("Packets", f.packets, true);
  num("ForwardingStatus", f.forwarding_status);
  if (f.flow_direction != FlowDirection::kUndefined)
    s += fmt::format("\"FlowDirection\":\"{}\",",
                     f.flow_direction == FlowDirection::kIngress ? "ingress" : "egress");
  num("SrcVlan", f.src_vlan);
  num("DstVlan", f.dst_vlan);
  if (f.src_mac) s += fmt::format("\"SrcMAC\":\"{}\",", mac(f.src_mac));
  if (f.dst_mac) s += fmt::format("\"DstMAC\":\"{}\",", mac(f.dst_mac));
  ip("SrcAddrNAT", f.src_addr_nat);
  ip("DstAddrNAT", f.dst_addr_nat);
  num("SrcPortNAT", f.src_port_nat);
  num("DstPortNAT", f.dst_port_nat);
  num("IPTTL", f.ip_ttl);
  num("IPTos", f.ip_tos);
  num("IPFragmentID", f.ip_fragment_id);
  num("IPFragmentOffset", f.ip_fragment_offset);
  num("IPv6FlowLabel", f.ipv6_flow_label);
  num("TCPFlags", f.tcp_flags);
  if (f.proto == 1) {
    num("ICMPv4Type", f.icmpv4_type, true);
    num("ICMPv4Code", f.icmpv4_code, true);
  }
  if (f.proto == 58) {
    num("ICMPv6Type", f.icmpv6_type, true);
    num("ICMPv6Code", f.icmpv6_code, true);
  }
  if (!f.mpls_labels.empty()) s += fmt::format("\"MPLSLabels\":{},", array(f.mpls_labels));
  num("IngressVRFID", f.ingress_vrf_id);
  num("EgressVRFID", f.egress_vrf_id);
  s.back() = '}';
  return s;
}

int runDecodeTool(const DecodeToolOptions& o, std::ostream& out, std::ostream& err) {
  if (o.format != "json" && o.format != "table")
    throw std::invalid_argument("--format: expected json or table, got '" + o.format + "'");
  if (o.decoder != "auto" && o.decoder != "netflow" && o.decoder != "sflow")
    throw std::invalid_argument("--decoder: expected auto, netflow or sflow, got '" + o.decoder +
                                "'");
  static constexpr std::pair<const char*, Decapsulation> kDecaps[] = {
      {"none", Decapsulation::kNone}, {"ipip", Decapsulation::kIpIp},
      {"gre", Decapsulation::kGre},   {"vxlan", Decapsulation::kVxlan},
      {"srv6", Decapsulation::kSrv6}};
  const auto* decap = std::find_if(std::begin(kDecaps), std::end(kDecaps),
                                   [&](const auto& d) { return o.decapsulation == d.first; });
  if (decap == std::end(kDecaps))
    throw std::invalid_argument(
        "--decapsulation-protocol: expected none, ipip, gre, vxlan or srv6, got '" +
        o.decapsulation + "'");
  std::vector<PcapDatagram> dgrams;
  try {
    dgrams = readPcapUdp(o.pcap);
  } catch (const std::exception& e) {
    err << "akvo decode: " << e.what() << "\n";
    return 1;
  }
  NetflowDecoder netflow;
  SflowDecoder sflow;
  Printer printer(out, o.format == "json");
  if (!printer.json)
    out << fmt::format("{:<16} {:>39} {:>6} {:>39} {:>6} {:>5} {:>6} {:>10} {:>8} {:>8} {:>7} {:>7}\n",
                       "ExporterAddress", "SrcAddr", "SrcPort", "DstAddr", "DstPort", "Proto",
                       "EType", "Bytes", "Packets", "Sampling", "InIf", "OutIf");
  std::array<uint64_t, size_t(Status::kCount)> statuses{};
  uint64_t not_encapsulated = 0;
  for (const auto& d : dgrams) {
    Input in{std::span<const uint8_t>(d.payload), d.src, d.time, o.timestamp_source, false,
             decap->second};
    bool is_sflow = o.decoder == "sflow" ||
                    (o.decoder == "auto" && d.payload.size() >= 4 && be32(d.payload.data()) == 5);
    Decoder& decoder = is_sflow ? static_cast<Decoder&>(sflow) : netflow;
    Status s = decoder.decode(in, printer);
    statuses[size_t(s)]++;
    not_encapsulated += decoder.stats().not_encapsulated;
  }
  err << fmt::format("{} datagrams, {} flows", dgrams.size(), printer.flows);
  if (not_encapsulated) err << fmt::format(", {} not_encapsulated", not_encapsulated);
  for (size_t i = 1; i < statuses.size(); i++)
    if (statuses[i]) err << fmt::format(", {} {}", statuses[i], statusName(Status(i)));
  err << "\n";
  return 0;
}

}  // namespace akvo::decoder
