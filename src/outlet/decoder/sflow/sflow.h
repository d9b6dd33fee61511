#pragma once
/// sFlow v5 decoder (sflow.org sflow_version_5.txt): flow samples and expanded flow samples
/// with their sampled header (parsed by the shared packet parser), sampled IPv4/IPv6, sampled
/// Ethernet, extended switch, router and gateway records. Counter samples are counted and
/// skipped. One decoder belongs to one worker (not thread-safe).
#include <unordered_map>

#include "outlet/decoder/decoder.h"
#include "outlet/decoder/packet/packet.h"

namespace akvo::decoder {

class SflowDecoder : public Decoder {
 public:
  struct Config {
    /// How sampled headers are read; the decapsulation is each datagram's
    /// (Input::decapsulation), not this one's.
    PacketOptions packet;
  };
  SflowDecoder() = default;
  explicit SflowDecoder(Config config) : config_(config) {}

  Status decode(const Input& input, FlowSink& sink) override;

  /// Counter samples seen in the last datagram (they carry no flow).
  uint32_t counterSamples() const { return counter_samples_; }

 private:
  struct SequenceKey {
    IPv6Addr agent;
    uint32_t sub_agent = 0;
    bool operator==(const SequenceKey&) const = default;
  };
  struct SequenceKeyHash {
    size_t operator()(const SequenceKey& k) const noexcept {
      return IPv6AddrHash{}(k.agent) ^ (uint64_t(k.sub_agent) * 0x9E3779B97F4A7C15ull);
    }
  };
  struct SequenceState {
    bool seen = false;
    uint32_t next = 0;
  };

  Status decodeFlowSample(const uint8_t* p, size_t n, bool expanded, FlowSink& sink);

  Config config_;
  PacketOptions packet_;  // config_.packet with the datagram's decapsulation
  alignas(64) FlowRecord record_;  // as NetflowDecoder's: reset() per flow
  const Input* input_ = nullptr;
  IPv6Addr agent_;
  uint32_t sub_agent_ = 0;
  uint32_t counter_samples_ = 0;
  std::unordered_map<SequenceKey, SequenceState, SequenceKeyHash> sequences_;
};

}  // namespace akvo::decoder
