#pragma once
/// Flow recipes of the demo exporter (DEMO-2), as Akvorado's demo exporter configures its
/// routers: each recipe says how many flows a second it makes, around which hour of the day
/// it peaks and by how much, between which networks, AS numbers, interfaces and ports.
#include <cstdint>
#include <span>
#include <vector>

#include "common/config.h"
#include "common/flow.h"
#include "common/ip.h"

namespace akvo::demo {

struct FlowRecipe {
  double per_second = 0;  ///< flows a second, 12 hours away from the peak hour (> 0)
  std::vector<uint32_t> in_if_index, out_if_index;  ///< one is picked per flow (not empty)
  Duration peak_hour{0};  ///< time of day (UTC) of the peak, 0 to 24h
  double multiplier = 1;  ///< the rate at the peak hour is per_second times this (> 0)
  IPv6Prefix src_net, dst_net;  ///< addresses are random inside; one family for both
  std::vector<uint32_t> src_as, dst_as;  ///< not empty
  /// One is picked per TCP or UDP flow; 0 or an empty list: an ephemeral port, 33000-34999.
  std::vector<uint16_t> src_port, dst_port;
  std::vector<uint8_t> protocol;  ///< IP protocols: 6 (tcp), 17 (udp), 1 (icmp; 58 over IPv6)
  uint32_t size = 0;  ///< bytes: normal around it (sd 30 %); 0: uniform in 300-1499
  double reverse_direction_ratio = 0;  ///< > 0: each flow has a mirror, its size times this

  /// Reads a recipe with Akvorado's keys. Lists take a YAML list, a scalar or "a,b".
  void read(ConfigReader& r);
};

/// The rate of `recipe` (flows a second, before the ±10 % noise) at `unix_secs`: per_second
/// 12 hours from the peak hour, per_second × multiplier at it, a smooth bell in between.
double recipeRate(const FlowRecipe& recipe, uint32_t unix_secs);

/// Appends to `out` one second of flows of `recipes` for `unix_secs`, as Akvorado's demo
/// exporter does (its generateFlows): the random generator is seeded by the second and
/// `seed`, so that a second's flows are always the same. Flows have one packet, their
/// first_switched is `unix_secs`.
void generateFlows(std::span<const FlowRecipe> recipes, int64_t seed, uint32_t unix_secs,
                   std::vector<FlowRecord>& out);

}  // namespace akvo::demo
