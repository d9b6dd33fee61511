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

namespace akvo::decoder {

struct StateRefused;

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
