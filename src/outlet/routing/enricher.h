#pragma once
/// Per-flow routing enrichment (OUT-9, OUT-10 with their default provider order, flow first
/// then routing): what the flow does not carry is taken from the best route.
///   destination (lookup with the flow's next hop): DstAS, DstASPath, DstCommunities,
///     DstLargeCommunities, DstNetMask, NextHop;
///   source (lookup without next hop): SrcAS, SrcNetMask.
/// The enrichment branch's asn-providers/net-providers should call RoutingProvider::lookup()
/// the same way and apply its own provider order; this class is the stand-in until then.
#include "outlet/outlet.h"
#include "outlet/routing/bmp.h"
#include "outlet/routing/routing.h"

namespace akvo::routing {

/// `outlet.routing`: which provider answers routing lookups (Akvorado's `routing.provider`).
struct RoutingConfig {
  std::string type = "none";  ///< "none" or "bmp"
  BmpProvider::Config bmp;
  void read(ConfigReader& r);
};

/// Fills a flow from `provider`. One per outlet worker; the provider is shared.
class RoutingEnricher : public FlowEnricher {
 public:
  explicit RoutingEnricher(const RoutingProvider& provider) : provider_(provider) {}
  bool enrich(FlowRecord& flow) override;

 private:
  const RoutingProvider& provider_;
  RouteInfo route_;  // reused: no allocation per flow
};

/// Applies a destination route to a flow (fields the flow already has are kept).
void applyDestination(const RouteInfo& r, FlowRecord& flow);
/// Applies a source route to a flow.
void applySource(const RouteInfo& r, FlowRecord& flow);

}  // namespace akvo::routing
