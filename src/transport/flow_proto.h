#pragma once
/// The enriched flow exported to Kafka (outlet.kafka-output), encoded by hand on the proto3 wire
/// format of src/transport/flow.proto (protobuf.dev/programming-guides/encoding).
#include <string>

#include "common/flow.h"

namespace akvo {

/// Version of flow.proto, in the export topic's name ("flows-enriched-v1").
inline constexpr int kFlowProtoVersion = 1;

/// Encodes `f` into `out` (cleared first; its capacity is reused: no allocation once warm).
void encodeFlowProto(const FlowRecord& f, std::string& out);

}  // namespace akvo
