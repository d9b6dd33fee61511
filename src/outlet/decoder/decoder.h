#pragma once
/// The decoder interface. A decoder turns one datagram into flow records, handing each to a
/// sink; it keeps its own state (templates, sampling rates) and owns the reusable record.
/// Malformed input is normal traffic: decoders never throw on it and never allocate per flow;
/// they return a Status that maps one to one to a counter label.
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/flow.h"
#include "transport/datagram.h"

namespace akvo::decoder {

enum class Status : uint8_t {
  kOk = 0,
  kTruncated,        ///< shorter than its headers or length fields say
  kBadVersion,       ///< not a version this decoder knows
  kBadLength,        ///< a length field that lies (zero, past the end, too small)
  kMissingTemplate,  ///< NetFlow v9/IPFIX data set whose template was not seen yet
  kBadTemplate,      ///< template that cannot be used (zero fields, absurd length)
  kUnsupported,      ///< valid but not decoded (e.g. sFlow counter-only datagram)
  kCount,
};

inline std::string_view statusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kTruncated: return "truncated";
    case Status::kBadVersion: return "bad_version";
    case Status::kBadLength: return "bad_length";
    case Status::kMissingTemplate: return "missing_template";
    case Status::kBadTemplate: return "bad_template";
    case Status::kUnsupported: return "unsupported";
    default: return "unknown";
  }
}

/// What a decoder reads: the datagram bytes with the inlet's stamp.
struct Input {
  std::span<const uint8_t> payload;
  IPv6Addr exporter;
  uint32_t time_received = 0;
  TimestampSource timestamp_source = TimestampSource::kInput;
  bool use_src_addr = false;
  /// The input's decapsulation-protocol (packet/packet.h): flows whose packet header is not so
  /// encapsulated are dropped and counted (DatagramStats::not_encapsulated).
  Decapsulation decapsulation = Decapsulation::kNone;
};

/// The decoder's view of a datagram the inlet stamped (the outlet decodes with this).
inline Input inputOf(const Datagram& d) {
  return Input{std::span<const uint8_t>(d.buffer.data(), d.size), d.exporter, d.time_received,
               d.timestamp_source, d.use_src_addr, d.decapsulation};
}

/// Receives each decoded flow. The record is the decoder's: the sink may modify it (enrich)
/// but must be done with it when flow() returns.
class FlowSink {
 public:
  virtual ~FlowSink() = default;
  virtual void flow(FlowRecord& record) = 0;
};

/// The kinds of NetFlow sets (RFC 3954 §5, RFC 7011 §3.3), the `type` label of the set and
/// record counters; NetFlow v5 has no sets: each datagram counts as one kPdu.
enum class NetflowSet : uint8_t { kPdu, kTemplate, kOptionsTemplate, kData, kOptionsData };
inline constexpr size_t kNetflowSetKinds = 5;
inline std::string_view netflowSetName(NetflowSet k) {
  static constexpr std::string_view kNames[kNetflowSetKinds] = {
      "pdu", "template", "options_template", "data", "options_data"};
  return kNames[size_t(k)];
}
/// The sFlow v5 sample formats (enterprise 0): the format number minus one.
enum class SflowSample : uint8_t { kFlow, kCounter, kExpandedFlow, kExpandedCounter };
inline constexpr size_t kSflowSampleKinds = 4;
inline std::string_view sflowSampleName(SflowSample k) {
  static constexpr std::string_view kNames[kSflowSampleKinds] = {
      "flow_sample", "counter_sample", "expanded_flow_sample", "expanded_counter_sample"};
  return kNames[size_t(k)];
}

/// What the last decode() saw, for per-exporter counters (reset by each decode()).
struct DatagramStats {
  uint32_t flows = 0;             ///< flows handed to the sink
  uint32_t missing_templates = 0; ///< data sets dropped because their template is unknown
  uint32_t lost = 0;   ///< gap in the exporter's sequence numbers before this datagram
                       ///< (flows for NetFlow v5 and IPFIX, datagrams for v9 and sFlow)
  /// State refused past the NetFlow decoder's bounds (netflow/templates.h): new template ids
  /// of a full domain, new sampler ids of a full domain, a new domain (1: the datagram's
  /// domain was refused, its templates and data ignored), templates (new or redefined) past
  /// the decoder's template bytes.
  uint32_t refused_templates = 0;
  uint32_t refused_samplers = 0;
  uint32_t refused_domains = 0;
  /// Flows dropped because the input decapsulates and their packet header was not so
  /// encapsulated, or absent (NetFlow v5, records without dataLinkFrameSection).
  uint32_t not_encapsulated = 0;
  uint32_t refused_template_memory = 0;
  /// NetFlow: the datagram's version (5, 9 or 10; 0 before the header was read), the sets it
  /// held by NetflowSet (v5: the datagram itself, kPdu) and their records (template records,
  /// data records...), counted per set, never per record or flow. Data sets whose template is
  /// unknown are in `missing_templates`, not here.
  uint16_t version = 0;
  std::array<uint16_t, kNetflowSetKinds> sets{};
  std::array<uint16_t, kNetflowSetKinds> set_records{};
  // (16 bits hold the records of any UDP payload: a record takes 1 byte at least.)
};
// Reset by every decode(): GCC 12 zeroes up to 80 bytes with a few vector stores, and larger
// structures with `rep stos`, whose start-up cost is felt per datagram. (sFlow's samples are
// counted by its decoder: SflowDecoder::samples().)
static_assert(sizeof(DatagramStats) <= 80, "DatagramStats is reset per datagram: keep it small");

class Decoder {
 public:
  virtual ~Decoder() = default;
  /// Decodes one datagram. Flows decoded before an error in the same datagram are kept.
  virtual Status decode(const Input& input, FlowSink& sink) = 0;
  /// Facts about the last decoded datagram.
  const DatagramStats& stats() const { return stats_; }

 protected:
  DatagramStats stats_;
};

/// Sequence-number gap tracking (RFC 3954 §5.1, RFC 7011 §3.1, sFlow v5 datagram sequence):
/// returns how many units were skipped before `seq` and sets what the next one should be. A
/// sequence that goes backwards or jumps absurdly far (restart, reordering) resets the count.
inline uint32_t sequenceGap(bool& seen, uint32_t& expected, uint32_t seq, uint32_t advance) {
  uint32_t gap = 0;
  if (seen) {
    uint32_t d = seq - expected;
    if (d != 0 && d < (1u << 24)) gap = d;
  }
  seen = true;
  expected = seq + advance;
  return gap;
}

/// Big-endian readers over a bounded span.
inline uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint64_t be64(const uint8_t* p) { return uint64_t(be32(p)) << 32 | be32(p + 4); }

}  // namespace akvo::decoder
