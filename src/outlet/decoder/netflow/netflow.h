#pragma once
/// NetFlow decoder: v5 (fixed format), v9 (RFC 3954) and IPFIX (RFC 7011, information elements
/// from RFC 7012 and the IANA registry), chosen by the version field of each datagram.
/// Templates and sampling rates are kept per (exporter, version, observation domain); one
/// decoder belongs to one worker (not thread-safe).
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "outlet/decoder/decoder.h"
#include "outlet/decoder/netflow/shared_templates.h"
#include "outlet/decoder/netflow/templates.h"
#include "outlet/decoder/packet/packet.h"

namespace akvo {
class Counter;
}

namespace akvo::decoder {

struct StateRefused;

/// Where a NetFlow decoder finds the counter of each template it receives
/// (akvo_outlet_decoder_netflow_templates_total): the outlet's worker, which knows the exporter
/// labels. Asked once per (exporter, version, domain, template id, kind) new to the decoder,
/// on the control path (it may lock and allocate); the decoder keeps the answer.
class TemplateCounters {
 public:
  virtual ~TemplateCounters() = default;
  /// The counter of template `id` (an options template when `options`) of `key`. With
  /// `other`, the one counter of every template past the decoder's kMaxTemplateCounters of
  /// version key.version and this kind (key.exporter, key.domain and `id` are then unused).
  virtual Counter& templateCounter(const DomainKey& key, uint16_t id, bool options,
                                   bool other) = 0;
};

class NetflowDecoder : public Decoder {
 public:
  struct Config {
    /// A template not redefined for this long (seconds, by reception time) is forgotten; 0
    /// keeps templates forever.
    uint32_t template_expiry = 0;
    /// How IPFIX dataLinkFrameSection (IE 315) headers are read; the decapsulation is each
    /// datagram's (Input::decapsulation), not this one's.
    PacketOptions packet;
    /// Decode records of plain templates through their compiled fields (Template::ops); off,
    /// field by field as other templates (the tests compare both).
    bool compiled_fields = true;
    /// Bytes of templates kept, all domains together (templates.h, kMaxTemplateBytes).
    size_t max_template_bytes = kMaxTemplateBytes;
  };

  NetflowDecoder() = default;
  explicit NetflowDecoder(Config config) : config_(config) {
    template_budget_.max = config.max_template_bytes;
  }

  Status decode(const Input& input, FlowSink& sink) override;

  /// Counts each template received (learned, redefined or resent; not the refused ones) in
  /// the counter `counters` gives for it (nullptr: not counted). `counters` must outlive the
  /// decoder. Set before the first datagram.
  void countTemplates(TemplateCounters* counters) { template_counters_ = counters; }
  /// At most this many template counters are kept by one decoder: past it, new (exporter,
  /// version, domain, template) keys share one counter per version and kind (labels "other").
  /// The keys are only made by templates the decoder accepted, themselves bounded
  /// (kMaxTemplatesPerDomain, kMaxDomains, flow.template-max-bytes), but ids that expire or are
  /// withdrawn and replaced by new ones would make new keys for ever: this bounds the labels.
  static constexpr size_t kMaxTemplateCounters = 8192;

  /// Shares templates and sampling rates with other decoders (nullptr: keep them to itself).
  /// `shared` must outlive the decoder. Set before the first datagram.
  void share(SharedTemplates* shared) { shared_ = shared; }

  /// True when a NetFlow v9/IPFIX datagram holds a data set whose template is not known yet
  /// (here or in the shared templates), or flow data of a domain that announced an options
  /// template carrying sampling but whose sampling rate is still unknown, and the datagram
  /// itself does not define them. The outlet then holds it a little while (templates travel
  /// through Kafka). Cheap: reads the set headers only; allocates nothing.
  bool waitsForTemplates(const Input& input);

  /// The decoder state (templates, sampling rates, sequence numbers), for persistence.
  const DomainMap& domains() const { return domains_; }
  /// Bytes of the templates kept (templateBytes()), against Config::max_template_bytes.
  size_t templateBytesUsed() const { return template_budget_.used; }
  /// Merges a state file (state.h, loadStateFile) into the decoder within its bounds, before
  /// the first datagram; what does not fit is counted in `refused`. False when there is no
  /// file. Throws std::runtime_error naming the file when it cannot be read (the decoder is
  /// then left empty).
  bool loadState(const std::string& path, StateRefused& refused);
  /// Forgets every template, sampling rate and domain.
  void clear() {
    domains_.clear();
    exporter_domains_.clear();
    indexed_ = 0;
    template_budget_.used = 0;
    samplingChanged();
  }

  /// At most this many (exporter, version, domain) states are kept (templates.h), at most
  /// kMaxDomainsPerExporter of one exporter address.
  static constexpr size_t kMaxDomains = decoder::kMaxDomains;

 private:
  /// The state of `key`, created when new; past kMaxDomains or kMaxDomainsPerExporter, a new
  /// domain gets overflow_, a throwaway state (refused(): nothing is learned into it).
  DomainState& domain(const DomainKey& key);
  bool refused(const DomainState& d) const { return &d == &overflow_; }
  /// Rebuilds exporter_domains_ when domains_ changed behind its back (a state file).
  void reindex();
  Status decodeV5(const Input& input, FlowSink& sink);
  Status decodeV9Ipfix(const Input& input, FlowSink& sink, uint16_t version);
  Status learnTemplates(DomainState& d, const uint8_t* p, size_t n, uint16_t set_id,
                        bool ipfix, uint32_t now);
  /// Decodes the records of one data set; returns the number of records read.
  uint32_t decodeDataSet(DomainState& d, const Template& t, const uint8_t* p, size_t n,
                         FlowSink& sink);
  void decodeOptionsRecord(DomainState& d, const Template& t, const uint8_t* p, size_t n);
  size_t decodeFlowRecord(DomainState& d, const Template& t, const uint8_t* p, size_t n,
                        bool reverse, FlowSink& sink);
  /// The sampling rate of `sampler` for flows of `d` (the domain of key_): its own, else one
  /// borrowed from the exporter's other domains (borrowedSamplingRate); 0 when unknown.
  uint64_t samplingRate(DomainState& d, uint64_t sampler) {
    if (uint64_t rate = d.samplingRate(sampler)) return rate;
    if (d.borrowed_stamp == samplingStamp())
      for (const auto& [id, rate] : d.borrowed)
        if (id == sampler) return rate;
    return borrowedSamplingRate(d, sampler);
  }
  /// Moves when borrowed rates may have changed (see samplingChanged()).
  uint64_t samplingStamp() const {
    return sampling_generation_ + (shared_ ? shared_->generation() : 0);
  }
  /// The rate of `sampler` in the other domains of the exporter and version of key_ that
  /// export no data (Cisco IOS XE sends its sampler options under another source id than its
  /// flows), when they all agree on one; else 0. Cached in `d` until a template or sampling
  /// rate changes (here or in the shared templates): a scan only on the first miss (the
  /// cache is read by samplingRate(); this is the slow path).
  uint64_t borrowedSamplingRate(DomainState& d, uint64_t sampler);
  /// Something that decides which rates other domains lend changed (a sampling rate, or a
  /// domain's templates): the borrowed rates are looked up again.
  void samplingChanged() { sampling_generation_++; }

  /// Counts template `id` of key_ received (`options`: an options template); the control path.
  void countTemplate(uint16_t id, bool options) {
    if (template_counters_) countTemplateIn(id, options);
  }
  void countTemplateIn(uint16_t id, bool options);

  /// Merges the shared state of `key` into `d` when it changed since the last look (shared
  /// templates past the decoder's template bytes are left out, counted).
  void syncShared(const DomainKey& key, DomainState& d) {
    if (!shared_) return;
    uint64_t g = shared_->generation();
    if (g == d.shared_generation) return;
    stats_.refused_template_memory += uint32_t(shared_->mergeInto(key, d, template_budget_));
    d.shared_generation = g;
  }

  Config config_;
  SharedTemplates* shared_ = nullptr;
  TemplateCounters* template_counters_ = nullptr;
  // The counters of the templates received (countTemplate), at most kMaxTemplateCounters; then
  // one per version (v9, IPFIX) and kind.
  struct TemplateCounterKey {
    DomainKey domain;
    uint16_t id = 0;
    bool options = false;
    bool operator==(const TemplateCounterKey&) const = default;
  };
  struct TemplateCounterKeyHash {
    size_t operator()(const TemplateCounterKey& k) const noexcept {
      return DomainKeyHash{}(k.domain) ^ (size_t(k.id) << 1 | k.options) * 0xff51afd7ed558ccdull;
    }
  };
  std::unordered_map<TemplateCounterKey, Counter*, TemplateCounterKeyHash> template_counts_;
  Counter* template_other_[2][2] = {};  // [IPFIX][options]
  DomainKey key_;  // domain of the datagram being decoded
  DomainMap domains_;
  TemplateBudget template_budget_;  // of the templates of domains_
  // Cache-line aligned: reset() per flow writes its ~700 first bytes 16 at a time, and a
  // record that moved 8 bytes off (a field added to DatagramStats) decoded NetFlow v5 25 %
  // slower.
  alignas(64) FlowRecord record_;
  Template scratch_;  // template being parsed
  DomainState overflow_;  // state of a domain past kMaxDomains or kMaxDomainsPerExporter
  // Domain ids of each (exporter, version) in domains_ (key domain 0), for borrowed sampling
  // rates; `indexed_` counts the ids added: when it is not domains_.size() (a state file was
  // loaded, the map was cleared), the index is rebuilt before use.
  ExporterDomains exporter_domains_;
  size_t indexed_ = 0;
  uint64_t sampling_generation_ = 0;
  std::vector<uint32_t> shared_domains_;  // scratch for SharedTemplates::domainsOf
  // The datagram being decoded (set once per datagram, read per record).
  const Input* input_ = nullptr;
  PacketOptions packet_;  // config_.packet with the datagram's decapsulation
  uint16_t version_ = 0;
  uint32_t sys_uptime_ = 0, export_time_ = 0, domain_id_ = 0;
};

}  // namespace akvo::decoder
