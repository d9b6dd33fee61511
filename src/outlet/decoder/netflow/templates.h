#pragma once
/// NetFlow v9 (RFC 3954 §5) and IPFIX (RFC 7011 §3.4) template and sampling state, kept per
/// (exporter address, version, observation domain / source id). Templates are learned on the
/// control path (they allocate); data records only look them up.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ip.h"

namespace akvo::decoder {

/// IANA private enterprise numbers the decoder understands.
inline constexpr uint32_t kReversePen = 29305;  ///< RFC 5103 reverse information elements
inline constexpr uint32_t kJuniperPen = 2636;

/// Bounds on the state a remote exporter can make a decoder (and the shared templates) keep.
/// Templates and sampling rates are learned from the network, by UDP, from any source: without
/// bounds, a flood of new template ids, sampler ids or observation domains grows memory (about
/// 29 times the bytes received) and CPU (sampler lookups) until the outlet starves. Past a
/// bound, new ids are refused (counted, logged) and the known ones keep working. Each is far
/// above what real exporters use.
/// Templates of one domain: routers define a few dozen (a template per flow kind and
/// version, a few options ones); RFC 7011 allows 65,280.
inline constexpr size_t kMaxTemplatesPerDomain = 1024;
/// Sampler (or selector) ids with a rate in one domain: routers have a handful (one per
/// sampler map or line card). Also keeps the sampler lookups cheap.
inline constexpr size_t kMaxSamplersPerDomain = 64;
/// Observation domains (source ids, engine ids for NetFlow v5) of one exporter address, all
/// versions together: one per line card or VRF at most; a few at most for most exporters.
inline constexpr size_t kMaxDomainsPerExporter = 256;
/// Domains in all: (exporter, version, domain) states kept by one decoder or the shared
/// templates (a throwaway state serves the others: their data counts as missing templates).
inline constexpr size_t kMaxDomains = 65536;
/// Bytes of templates (templateBytes()) one decoder, or the shared templates, keeps by
/// default, all domains together (`outlet.flow.template-max-bytes`). The bounds above let one
/// exporter address hold 256 x 1,024 templates of up to ~16,000 fields (hundreds of KB each):
/// counts alone bound nothing. Real templates (6 to 30 fields) take 200 to 900 bytes: 64 MiB
/// holds over 70,000 of them. Past it, new or redefined templates are refused (counted) and,
/// for a redefinition, the old definition is dropped too: its data must not decode with the
/// wrong fields.
inline constexpr size_t kMaxTemplateBytes = size_t(64) << 20;
/// Fields of one template: more than a template record in a 65,535-byte datagram can hold.
/// Bounds what the shared templates and a state file can define (the wire bounds the rest).
inline constexpr size_t kMaxTemplateFields = 16384;

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

/// What a stored template counts against its holder's TemplateBudget: its fields, compiled
/// fields and wire bytes, and the hash map node around them. Stored templates are copies
/// (DomainState::storeTemplate), whose vectors hold no spare capacity.
inline size_t templateBytes(const Template& t) {
  return sizeof(std::pair<const uint16_t, Template>) + 2 * sizeof(void*) +
         t.fields.size() * sizeof(TemplateField) + t.ops.size() * sizeof(FieldOp) + t.raw.size();
}

/// The bytes of templates one holder (a decoder, the shared templates) keeps, all domains
/// together, and its bound. Kept by DomainState's template functions.
struct TemplateBudget {
  size_t used = 0;
  size_t max = kMaxTemplateBytes;
  /// True when a template of `old_bytes` (0: none) can become one of `new_bytes`.
  bool fits(size_t old_bytes, size_t new_bytes) const {
    return used - old_bytes + new_bytes <= max;
  }
};

/// Sampler / selector id -> sampling rate of one domain, at most kMaxSamplersPerDomain: a
/// vector sorted by id (one or two entries in the common case, read per flow: a scan of a few
/// cache lines, no hashing; binary search when there are more).
class SamplingRates {
 public:
  using Entry = std::pair<uint64_t, uint64_t>;
  /// The rate of `sampler`, 0 when unknown.
  uint64_t get(uint64_t sampler) const {
    if (rates_.size() > 4) [[unlikely]]
      return search(sampler);
    for (const auto& [id, rate] : rates_)
      if (id == sampler) return rate;
    return 0;
  }
  /// Sets the rate of `sampler`; false (nothing changed) when it is a new sampler and the
  /// domain already has kMaxSamplersPerDomain.
  bool set(uint64_t sampler, uint64_t rate) {
    auto it = lowerBound(sampler);
    if (it != rates_.end() && it->first == sampler) {
      it->second = rate;
      return true;
    }
    if (rates_.size() >= kMaxSamplersPerDomain) return false;
    rates_.insert(it, Entry{sampler, rate});
    return true;
  }
  size_t size() const { return rates_.size(); }
  bool empty() const { return rates_.empty(); }
  void clear() { rates_.clear(); }
  auto begin() const { return rates_.begin(); }
  auto end() const { return rates_.end(); }

 private:
  std::vector<Entry>::iterator lowerBound(uint64_t sampler) {
    return std::lower_bound(rates_.begin(), rates_.end(), sampler,
                            [](const Entry& e, uint64_t id) { return e.first < id; });
  }
  // Out of line: kept out of the per-flow code of the common case.
  [[gnu::noinline]] uint64_t search(uint64_t sampler) const {
    auto it = std::lower_bound(rates_.begin(), rates_.end(), sampler,
                               [](const Entry& e, uint64_t id) { return e.first < id; });
    return it != rates_.end() && it->first == sampler ? it->second : 0;
  }
  std::vector<Entry> rates_;  // sorted by id
};

/// State of one (exporter, version, domain).
struct DomainState {
  using Templates = std::unordered_map<uint16_t, Template>;
  /// At most kMaxTemplatesPerDomain, within the holder's TemplateBudget: changed only through
  /// storeTemplate() and eraseTemplate(), which keep the budget.
  Templates templates;
  SamplingRates sampling;
  bool sequence_seen = false;
  uint32_t next_sequence = 0;  ///< sequence number expected in the next message
  uint64_t shared_generation = 0;  ///< SharedTemplates::generation() at the last merge
  /// Rates borrowed from other domains of the exporter (NetflowDecoder::borrowedSamplingRate):
  /// sampler id -> rate, 0 when none could be; valid while `borrowed_stamp` is the decoder's.
  std::vector<std::pair<uint64_t, uint64_t>> borrowed;
  uint64_t borrowed_stamp = 0;

  uint64_t samplingRate(uint64_t sampler) const { return sampling.get(sampler); }
  /// True when the domain has a data (not options) template: it exports flows, so its
  /// sampling rates are its own and never lent to another domain.
  bool exportsData() const {
    for (const auto& [id, t] : templates)
      if (!t.options) return true;
    return false;
  }
  /// False when `sampler` is new and the domain has kMaxSamplersPerDomain already (refused).
  bool setSamplingRate(uint64_t sampler, uint64_t rate) { return sampling.set(sampler, rate); }
  /// True when a template `id` may be stored: known, or room for a new one.
  bool acceptsTemplate(uint16_t id) const {
    return templates.size() < kMaxTemplatesPerDomain || templates.contains(id);
  }

  enum class Stored { kStored, kTooManyIds, kNoRoom };
  /// Stores a copy of `t` as template `id`, counting its bytes in `budget` (the holder's, for
  /// all its domains). Refused when `id` is new and the domain has kMaxTemplatesPerDomain
  /// (kTooManyIds), or when `budget` has no room for it (kNoRoom: a definition of `id` held
  /// before is removed too, so that its data never decodes with the wrong fields). The
  /// control path (templates.cpp: out of line, kept out of the decoder's hot code).
  Stored storeTemplate(uint16_t id, const Template& t, TemplateBudget& budget);
  /// Removes a template, giving its bytes back to `budget`.
  Templates::iterator eraseTemplate(Templates::iterator it, TemplateBudget& budget);
  void eraseTemplate(uint16_t id, TemplateBudget& budget);
  /// Removes the options templates (`options`) or the data templates.
  void eraseTemplates(bool options, TemplateBudget& budget);
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
/// The observation domains of each exporter and version (key: domain 0): their ids.
using ExporterDomains = std::unordered_map<DomainKey, std::vector<uint32_t>, DomainKeyHash>;

/// How many domains `index` holds for `exporter`, NetFlow v5, v9 and IPFIX together (checked
/// against kMaxDomainsPerExporter).
inline size_t domainsOfExporter(const ExporterDomains& index, const IPv6Addr& exporter) {
  size_t n = 0;
  for (uint16_t version : {uint16_t(5), uint16_t(9), uint16_t(10)})
    if (auto ids = index.find(DomainKey{exporter, 0, version}); ids != index.end())
      n += ids->second.size();
  return n;
}

}  // namespace akvo::decoder
