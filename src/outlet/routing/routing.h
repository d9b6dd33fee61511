#pragma once
/// The routing lookup API used by enrichment (RT-1): for a flow's address, the origin AS, AS
/// path, communities, large communities, prefix length and next hop of the best route.
#include <optional>

#include "common/flow.h"
#include "common/ip.h"
#include "outlet/routing/rib.h"

namespace akvo::routing {

/// A source of routes. lookup() is called by every outlet worker for every flow: it is
/// thread-safe, does not allocate and does not throw.
class RoutingProvider {
 public:
  virtual ~RoutingProvider() = default;
  /// Best route for `ip` as seen by `exporter` (the flow's exporter address), preferring the
  /// route whose next hop is `next_hop` (zero for none: source lookups), among the routes of
  /// route distinguisher `rd` (none: of any RD). False when no route.
  virtual bool lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
                      RouteInfo& out, std::optional<uint64_t> rd = std::nullopt) const = 0;
  /// The route distinguisher to look a flow's source (`destination` false) or destination
  /// address up in (L3VPN), or none: every RD. Allocation-free.
  virtual std::optional<uint64_t> rdFor(const FlowRecord& /*flow*/, bool /*destination*/) const {
    return std::nullopt;
  }
};

}  // namespace akvo::routing
