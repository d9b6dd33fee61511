#pragma once
/// NetFlow decoder: v5 (fixed format), v9 (RFC 3954) and IPFIX (RFC 7011, information elements
/// from RFC 7012 and the IANA registry), chosen by the version field of each datagram.
/// Templates and sampling rates are kept per (exporter, version, observation domain); one
/// decoder belongs to one worker (not thread-safe).
#include <string>

#include "common/config.h"
#include "outlet/decoder/decoder.h"
#include "outlet/decoder/netflow/shared_templates.h"
#include "outlet/decoder/netflow/templates.h"
#include "outlet/decoder/packet/packet.h"

namespace akvo::decoder {

class NetflowDecoder : public Decoder {
 public:
  struct Config {
    /// A template not redefined for this long (seconds, by reception time) is forgotten; 0
    /// keeps templates forever.
    uint32_t template_expiry = 0;
    /// How IPFIX dataLinkFrameSection (IE 315) headers are read.
    PacketOptions packet;
    /// Decode records of plain templates through their compiled fields (Template::ops); off,
    /// field by field as other templates (the tests compare both).
    bool compiled_fields = true;
  };

  NetflowDecoder() = default;
  explicit NetflowDecoder(Config config) : config_(config) {}

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
  DomainMap& domains() { return domains_; }

  /// At most this many (exporter, version, domain) states are kept.
  static constexpr size_t kMaxDomains = 100000;

 private:
  DomainState& domain(const DomainKey& key);
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

  /// Merges the shared state of `key` into `d` when it changed since the last look.
  void syncShared(const DomainKey& key, DomainState& d) {
    if (!shared_) return;
    uint64_t g = shared_->generation();
    if (g == d.shared_generation) return;
    shared_->mergeInto(key, d);
    d.shared_generation = g;
  }

  Config config_;
  SharedTemplates* shared_ = nullptr;
  DomainKey key_;  // domain of the datagram being decoded
  DomainMap domains_;
  FlowRecord record_;
  Template scratch_;  // template being parsed
  DomainState overflow_;  // state of a domain past kMaxDomains
  // The datagram being decoded (set once per datagram, read per record).
  const Input* input_ = nullptr;
  uint16_t version_ = 0;
  uint32_t sys_uptime_ = 0, export_time_ = 0, domain_id_ = 0;
};

}  // namespace akvo::decoder
