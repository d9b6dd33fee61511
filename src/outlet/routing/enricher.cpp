#include "outlet/routing/enricher.h"

namespace akvo::routing {

void RoutingConfig::read(ConfigReader& r) {
  r.section("provider", [&](ConfigReader& p) {
    p.choice("type", type, {"none", "bmp"});
    bmp.read(p);
  });
}

namespace {
/// Prefix length as the flow states it: IPv4 flows count on 32 bits.
uint8_t netMask(const IPv6Addr& addr, uint8_t len) {
  if (addr.isV4Mapped()) return len >= 96 ? uint8_t(len - 96) : 0;
  return len;
}
}  // namespace

void applyDestination(const RouteInfo& r, FlowRecord& flow) {
  if (flow.dst_as == 0) flow.dst_as = r.asn;
  if (flow.dst_net_mask == 0) flow.dst_net_mask = netMask(flow.dst_addr, r.prefix_len);
  if (flow.next_hop.isZero()) flow.next_hop = r.next_hop;
  if (flow.dst_as_path.empty())
    for (auto a : r.as_path) flow.dst_as_path.push(a);
  if (flow.dst_communities.empty())
    for (auto c : r.communities) flow.dst_communities.push(c);
  if (flow.dst_large_communities.empty())
    for (auto c : r.large_communities) flow.dst_large_communities.push(c);
}

void applySource(const RouteInfo& r, FlowRecord& flow) {
  if (flow.src_as == 0) flow.src_as = r.asn;
  if (flow.src_net_mask == 0) flow.src_net_mask = netMask(flow.src_addr, r.prefix_len);
}

bool RoutingEnricher::enrich(FlowRecord& flow) {
  if (provider_.lookup(flow.exporter_address, flow.dst_addr, flow.next_hop, route_))
    applyDestination(route_, flow);
  if (provider_.lookup(flow.exporter_address, flow.src_addr, IPv6Addr{}, route_))
    applySource(route_, flow);
  return true;
}

}  // namespace akvo::routing
