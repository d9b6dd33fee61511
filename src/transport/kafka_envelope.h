#pragma once
/// The protobuf envelope of a datagram on Kafka (schema: src/transport/kafka.proto), encoded and
/// decoded by hand on the proto3 wire format (protobuf.dev/programming-guides/encoding: varints,
/// length-delimited fields), so that neither side allocates per message.
#include <cstdint>
#include <span>
#include <string>

#include "transport/datagram.h"

namespace akvo {

/// Version of the envelope, in the topic name ("flows-v1").
inline constexpr int kEnvelopeVersion = 1;

/// Encodes `d` into `out` (cleared first; its capacity is reused).
void encodeEnvelope(const Datagram& d, std::string& out);

/// Decodes `in` into `d` (its buffer is reused). Returns false on a malformed message (truncated
/// varint or field, wrong address length, payload over Datagram::kMaxSize, unknown decoder or
/// decapsulation protocol); unknown fields are skipped, as protobuf requires.
bool decodeEnvelope(std::span<const uint8_t> in, Datagram& d);

}  // namespace akvo
