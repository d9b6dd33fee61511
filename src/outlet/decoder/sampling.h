#pragma once
/// Sampling-rate fixes applied to decoded flows, per exporter prefix, as Akvorado's
/// `outlet.core.default-sampling-rate` and `override-sampling-rate`: the default fills flows
/// whose exporter said nothing (softflowd, exporters without sampling options), the override
/// replaces what the exporter said. Each key is a number (every exporter) or a map of
/// prefixes to numbers (the longest matching prefix wins).
#include <cstdint>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/flow.h"

namespace akvo::decoder {

class SamplingRates {
 public:
  struct Config {
    std::vector<std::pair<IPv6Prefix, uint64_t>> default_rate;   ///< empty: no default
    std::vector<std::pair<IPv6Prefix, uint64_t>> override_rate;  ///< empty: no override
    /// Reads `default-sampling-rate` and `override-sampling-rate` from the section.
    void read(ConfigReader& r);
  };

  /// Sets the flow's sampling rate from the override, or from the default when the flow has
  /// none (0). No allocation.
  static void apply(const Config& config, FlowRecord& flow) {
    if (!config.override_rate.empty()) {
      if (uint64_t r = lookup(config.override_rate, flow.exporter_address)) {
        flow.sampling_rate = r;
        return;
      }
    }
    if (flow.sampling_rate == 0 && !config.default_rate.empty())
      flow.sampling_rate = lookup(config.default_rate, flow.exporter_address);
  }

 private:
  static uint64_t lookup(const std::vector<std::pair<IPv6Prefix, uint64_t>>& rates,
                         const IPv6Addr& exporter) {
    uint64_t rate = 0;
    int best = -1;
    for (const auto& [prefix, r] : rates)
      if (int(prefix.len) > best && prefix.contains(exporter)) {
        best = prefix.len;
        rate = r;
      }
    return rate;
  }
};

}  // namespace akvo::decoder
