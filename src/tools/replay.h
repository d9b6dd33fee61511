#pragma once
/// `akvo replay`: a load generator that replays the UDP payloads of captures (NetFlow v5/v9,
/// IPFIX, sFlow) at a set rate to a collector, as many exporters (each from its own loopback
/// source address), with sequence numbers rewritten so that every exporter's stream looks
/// continuous. Templates found in the captures are sent first by every exporter, then the data
/// datagrams in a loop. Sends with sendmmsg in batches.
#include <cstdint>
#include <string>
#include <vector>

namespace akvo::tools {

struct ReplayOptions {
  std::vector<std::string> pcaps;
  std::string target = "127.0.0.1:2055";
  double flows_per_second = 100000;  ///< 0: as fast as possible
  double seconds = 10;
  uint32_t exporters = 1;        ///< sources 127.0.1.1, 127.0.1.2, ...
  uint64_t max_flows = 0;        ///< stop after this many flows (0: no limit)
};

struct ReplayResult {
  uint64_t datagrams = 0, flows = 0, bytes = 0, errors = 0;
  /// Flows in the warm-up datagrams (captures whose templates travel with the data): sent once
  /// per exporter before the timed run, and what a collector that had never seen the exporter
  /// decodes of them. Not in `flows`.
  uint64_t warmup_flows = 0;
  /// Packets counted in the flows sent (as exporters count them, not multiplied by sampling),
  /// in the timed run and in the warm-up datagrams: what a collector that sums the packets of
  /// every flow it received must find.
  uint64_t packets = 0, warmup_packets = 0;
  double seconds = 0;
};

/// Throws std::runtime_error on unusable input (no datagram, unknown version).
ReplayResult replay(const ReplayOptions& options);

/// The captures' datagrams split into those without flows (templates, options: sent first) and
/// those with flows, each with its exact flow count from akvo's own decoders (file order, so
/// templates carry over).
struct ReplayPlan {
  struct Datagram {
    std::vector<uint8_t> payload;
    uint32_t flows = 0;        ///< decoded by a collector that knows every template
    uint32_t first_flows = 0;  ///< decoded by a collector seeing this exporter for the first time
    uint64_t packets = 0, first_packets = 0;  ///< sum of the packets of those flows
  };
  std::vector<Datagram> templates, data;
};
ReplayPlan planReplay(const std::vector<std::string>& pcaps);

}  // namespace akvo::tools
