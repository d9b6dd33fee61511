#pragma once
/// NetFlow v9 (RFC 3954 §5) and IPFIX (RFC 7011 §3.4) template and sampling state, kept per
/// (exporter address, version, observation domain / source id). Templates are learned on the
/// control path (they allocate); data records only look them up.
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip.h"

namespace akvo::decoder {

/// IANA private enterprise numbers the decoder understands.
inline constexpr uint32_t kReversePen = 29305;  ///< RFC 5103 reverse information elements
inline constexpr uint32_t kJuniperPen = 2636;

/// One field specifier of a template. `length` 0xFFFF means variable length (RFC 7011 §7).
struct TemplateField {
  uint16_t type = 0;
  uint16_t length = 0;
  uint32_t pen = 0;     ///< enterprise number, 0 for IANA elements
  bool scope = false;   ///< NetFlow v9 options scope field (its type is a scope type, not an IE)
  bool operator==(const TemplateField&) const = default;
};

/// One field of a plain template compiled for the data records (compileFieldOps): most fields
/// are a load of `len` bytes stored into the flow record, decided once per template instead of
/// by a switch on the element type per field and record.
struct FieldOp {
  uint16_t offset = 0;  ///< of the value in the record
  uint16_t dest = 0;    ///< FlowRecord byte offset of a store; the element type for kGeneric
  uint16_t len = 0;
  uint8_t kind = 0;     ///< netflow.cpp's FieldOpKind
};
std::vector<FieldOp> compileFieldOps(const std::vector<TemplateField>& fields);

struct Template {
  std::vector<TemplateField> fields;
  bool options = false;    ///< options template: its data records carry sampling, not flows
  bool reverse = false;    ///< holds RFC 5103 reverse fields: each record yields two flows
  uint32_t min_length = 0; ///< bytes of the smallest record (variable fields count 1)
  uint32_t refreshed = 0;  ///< last time (unix seconds) it was defined
  uint32_t published = 0;  ///< `refreshed` when last handed to the shared templates
  bool carries_sampling = false;  ///< options template with a sampling interval field
  /// Fixed-length fields only, none enterprise-specific or scope: records are min_length bytes
  /// and decode without per-field checks. False (the safe default) until setPlain().
  bool plain = false;
  std::vector<FieldOp> ops;  ///< the fields compiled, when plain
  void setPlain() {
    plain = true;
    for (const auto& f : fields)
      if (f.length == 0xffff || f.pen || f.scope) plain = false;
    ops.clear();
    if (plain) ops = compileFieldOps(fields);
  }
  /// The template record as it came on the wire (from its id): a resent template with the
  /// same bytes is only refreshed. Empty for templates from the shared store or a state file.
  std::vector<uint8_t> raw;
};

/// State of one (exporter, version, domain).
struct DomainState {
  std::unordered_map<uint16_t, Template> templates;
  /// sampler / selector id -> sampling rate (few entries: a linear scan beats hashing).
  std::vector<std::pair<uint64_t, uint64_t>> sampling;
  bool sequence_seen = false;
  uint32_t next_sequence = 0;  ///< sequence number expected in the next message
  uint64_t shared_generation = 0;  ///< SharedTemplates::generation() at the last merge
  /// Rates borrowed from other domains of the exporter (NetflowDecoder::borrowedSamplingRate):
  /// sampler id -> rate, 0 when none could be; valid while `borrowed_stamp` is the decoder's.
  std::vector<std::pair<uint64_t, uint64_t>> borrowed;
  uint64_t borrowed_stamp = 0;

  uint64_t samplingRate(uint64_t sampler) const {
    for (const auto& [id, rate] : sampling)
      if (id == sampler) return rate;
    return 0;
  }
  /// True when the domain has a data (not options) template: it exports flows, so its
  /// sampling rates are its own and never lent to another domain.
  bool exportsData() const {
    for (const auto& [id, t] : templates)
      if (!t.options) return true;
    return false;
  }
  void setSamplingRate(uint64_t sampler, uint64_t rate) {
    for (auto& [id, r] : sampling)
      if (id == sampler) {
        r = rate;
        return;
      }
    sampling.emplace_back(sampler, rate);
  }
};

struct DomainKey {
  IPv6Addr exporter;
  uint32_t domain = 0;
  uint16_t version = 0;
  bool operator==(const DomainKey&) const = default;
};
struct DomainKeyHash {
  size_t operator()(const DomainKey& k) const noexcept {
    return IPv6AddrHash{}(k.exporter) ^ (uint64_t(k.domain) * 0x9E3779B97F4A7C15ull) ^ k.version;
  }
};

using DomainMap = std::unordered_map<DomainKey, DomainState, DomainKeyHash>;

}  // namespace akvo::decoder
