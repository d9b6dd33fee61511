#pragma once
/// Per-flow routing enrichment (OUT-9, OUT-10 with their default provider order, flow first
/// then routing): what the flow does not carry is taken from the best route.
///   destination (lookup with the flow's next hop): DstAS, DstASPath, DstCommunities,
///     DstLargeCommunities, DstNetMask, NextHop;
///   source (lookup without next hop): SrcAS, SrcNetMask.
/// The enrichment branch's asn-providers/net-providers should call RoutingProvider::lookup()
/// the same way and apply its own provider order; this class is the stand-in until then.
#include "outlet/core/core.h"
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
/// With an `inner` enricher (the core, which selects AS numbers, masks and next hops through
/// CoreRouting per asn-providers/net-providers), the inner one runs first and this one only
/// adds the destination's AS path, communities and large communities. Without, it fills
/// everything the flow lacks (flow first, then routing).
class RoutingEnricher : public FlowEnricher {
 public:
  explicit RoutingEnricher(const RoutingProvider& provider,
                           std::unique_ptr<FlowEnricher> inner = nullptr)
      : provider_(provider), inner_(std::move(inner)) {}
  bool enrich(FlowRecord& flow) override;
  void received(uint32_t unix_seconds, uint32_t rate_limit = 0) override {
    if (inner_) inner_->received(unix_seconds, rate_limit);
  }
  void flushCounters() override {
    if (inner_) inner_->flushCounters();
  }

 private:
  const RoutingProvider& provider_;
  std::unique_ptr<FlowEnricher> inner_;
  RouteInfo route_;  // reused: no allocation per flow
};

/// The core's routing hook (akvo::RoutingProvider: origin AS, mask, next hop) over a provider.
class CoreRouting : public akvo::RoutingProvider {
 public:
  // (Inside this class, the bare name would be the base class akvo::RoutingProvider.)
  explicit CoreRouting(const routing::RoutingProvider& provider) : provider_(provider) {}
  akvo::RouteInfo lookup(const IPv6Addr& addr, const IPv6Addr* next_hop,
                         const IPv6Addr& exporter) const override;
  /// With the RD the provider maps the flow to (rdFor()).
  akvo::RouteInfo lookupFlow(const FlowRecord& f, bool destination) const override;

 private:
  const routing::RoutingProvider& provider_;
};

/// Applies a destination route's AS path, communities and large communities (when the flow
/// has none).
void applyPath(const RouteInfo& r, FlowRecord& flow);

/// Applies a destination route to a flow (fields the flow already has are kept).
void applyDestination(const RouteInfo& r, FlowRecord& flow);
/// Applies a source route to a flow.
void applySource(const RouteInfo& r, FlowRecord& flow);

}  // namespace akvo::routing
