#include "outlet/routing/enricher.h"

namespace akvo::routing {

void RoutingConfig::read(ConfigReader& r) {
  r.section("provider", [&](ConfigReader& p) {
    // BMP settings without a type mean BMP (Akvorado's default provider); akvo's default, with
    // no provider section at all, stays none.
    if (!p.has("type") && (p.has("listen") || p.has("rds") || p.has("rts") || p.has("collect-asns") ||
                           p.has("collect-aspaths") || p.has("collect-communities") ||
                           p.has("keep") || p.has("receive-buffer") || p.has("vrfs") ||
                           p.has("message-buffer") || p.has("message-buffer-max-bytes") ||
                           p.has("max-connections") || p.has("message-timeout") ||
                           p.has("idle-timeout")))
      type = "bmp";
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
  applyPath(r, flow);
}

void applyPath(const RouteInfo& r, FlowRecord& flow) {
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
  if (inner_) {
    // The lookup happens after the core: its next hop choice is the flow's or the route's.
    if (!inner_->enrich(flow)) return false;
    if (provider_.lookup(flow.exporter_address, flow.dst_addr, flow.next_hop, route_,
                         provider_.rdFor(flow, true)))
      applyPath(route_, flow);
    return true;
  }
  if (provider_.lookup(flow.exporter_address, flow.dst_addr, flow.next_hop, route_,
                       provider_.rdFor(flow, true)))
    applyDestination(route_, flow);
  if (provider_.lookup(flow.exporter_address, flow.src_addr, IPv6Addr{}, route_,
                       provider_.rdFor(flow, false)))
    applySource(route_, flow);
  return true;
}

namespace {
akvo::RouteInfo coreLookup(const RoutingProvider& provider, const IPv6Addr& addr,
                           const IPv6Addr* next_hop, const IPv6Addr& exporter,
                           std::optional<uint64_t> rd) {
  thread_local RouteInfo route;  // the provider's full answer, reused
  akvo::RouteInfo out;
  if (!provider.lookup(exporter, addr, next_hop ? *next_hop : IPv6Addr{}, route, rd)) return out;
  out.found = true;
  out.asn = route.asn;
  // The core copies it into the flow's mask as is (selectMask), so in the flow's form: IPv4
  // lengths count 32 bits (core.h's comment says the IPv6 form; its code does not convert).
  out.net_mask = netMask(addr, route.prefix_len);
  out.next_hop = route.next_hop;
  return out;
}
}  // namespace

akvo::RouteInfo CoreRouting::lookup(const IPv6Addr& addr, const IPv6Addr* next_hop,
                                    const IPv6Addr& exporter) const {
  return coreLookup(provider_, addr, next_hop, exporter, std::nullopt);
}

akvo::RouteInfo CoreRouting::lookupFlow(const FlowRecord& f, bool destination) const {
  return destination ? coreLookup(provider_, f.dst_addr, &f.next_hop, f.exporter_address,
                                  provider_.rdFor(f, true))
                     : coreLookup(provider_, f.src_addr, nullptr, f.exporter_address,
                                  provider_.rdFor(f, false));
}

}  // namespace akvo::routing
