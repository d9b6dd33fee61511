#pragma once
/// sFlow v5 decoder (sflow.org sflow_version_5.txt): flow samples and expanded flow samples
/// with their sampled header (parsed by the shared packet parser), sampled IPv4/IPv6, sampled
/// Ethernet, extended switch, router and gateway records. Counter samples are counted (with
/// their records) and skipped. One decoder belongs to one worker (not thread-safe).
#include <array>
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
  /// The agent address of the last datagram (valid when its header could be read).
  const IPv6Addr& agent() const { return agent_; }
  /// The samples of the last datagram whose header could be read, by SflowSample, and the
  /// records they hold: as many as a flow sample declares (at most one per 8 bytes of the
  /// sample: a lying count counts what could be there), the whole ones of a counter sample.
  uint32_t samples(SflowSample kind) const { return uint32_t(tally_[size_t(kind)] >> 32); }
  uint32_t sampleRecords(SflowSample kind) const { return uint32_t(tally_[size_t(kind)]); }

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
  // Samples (high 32 bits) and records (low 32 bits) of the datagram by SflowSample: one add
  // per sample (two counts in DatagramStats made decoding 3 % slower).
  std::array<uint64_t, kSflowSampleKinds> tally_{};
  std::unordered_map<SequenceKey, SequenceState, SequenceKeyHash> sequences_;
};

}  // namespace akvo::decoder
