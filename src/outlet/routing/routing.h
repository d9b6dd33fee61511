#pragma once
/// The routing lookup API used by enrichment (RT-1): for a flow's address, the origin AS, AS
/// path, communities, large communities, prefix length and next hop of the best route.
#include "common/ip.h"
#include "outlet/routing/rib.h"

namespace akvo::routing {

/// A source of routes. lookup() is called by every outlet worker for every flow: it is
/// thread-safe, does not allocate and does not throw.
class RoutingProvider {
 public:
  virtual ~RoutingProvider() = default;
  /// Best route for `ip` as seen by `exporter` (the flow's exporter address), preferring the
  /// route whose next hop is `next_hop` (zero for none: source lookups). False when no route.
  virtual bool lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
                      RouteInfo& out) const = 0;
};

}  // namespace akvo::routing
