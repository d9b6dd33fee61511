#pragma once
/// Flow encoders for the demo exporter and for tests: they turn flow records into the
/// datagrams a router would send. NetFlow v5 for now.
#include <cstdint>
#include <span>
#include <vector>

#include "common/flow.h"

namespace akvo::demo {

struct V5Header {
  uint32_t sys_uptime_ms = 0;
  uint32_t unix_secs = 0;
  uint32_t flow_sequence = 0;
  uint16_t sampling_interval = 0;  ///< written with sampling mode 01 (packet interval) if > 1
};

/// Encodes up to 30 flows (IPv4 only; others are skipped) into one NetFlow v5 datagram.
std::vector<uint8_t> encodeNetflowV5(const V5Header& header, std::span<const FlowRecord> flows);

}  // namespace akvo::demo
