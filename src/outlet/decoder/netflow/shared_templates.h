#pragma once
/// NetFlow v9/IPFIX templates and sampling rates shared by every decoder of every outlet, so
/// that an exporter's data decodes wherever it lands (another worker, another outlet, a new
/// owner of the partition after a rebalance), whichever datagram carried its templates.
///
/// Each decoder keeps its own copy (no lock on the hot path). When it learns a new or changed
/// template or sampling rate, it hands it here: the store applies it (other workers pick it up)
/// and publishes it (Kafka: the compacted topic "<topic>-v1-templates", read by every outlet,
/// transport/kafka_templates.h). Decoders compare one atomic generation number per datagram
/// and merge the shared state of their domain when it moved.
#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/metrics.h"
#include "outlet/decoder/netflow/templates.h"

namespace akvo::decoder {

class SharedTemplates {
 public:
  /// `max_template_bytes`: bytes of templates kept, all domains together (templates.h).
  explicit SharedTemplates(size_t max_template_bytes = kMaxTemplateBytes) {
    budget_.max = max_template_bytes;
  }

  /// Sends one record (key, value) to the other outlets. Called with no lock held, from decoder
  /// threads (the control path: a template or sampling rate that changed).
  using Publisher = std::function<void(const std::string& key, const std::string& value)>;

  /// Set before the decoders start.
  void setPublisher(Publisher p) { publisher_ = std::move(p); }

  /// What the store refuses past its bounds (templates.h: the decoders' bounds), apart from
  /// malformed records: new template ids, new sampler ids, new domains, templates past its
  /// template bytes. The store's own counters until countRefused() (set before the decoders
  /// start) points them elsewhere.
  struct Refused {
    Counter* templates;
    Counter* samplers;
    Counter* domains;
    Counter* template_memory;
  };
  const Refused& refused() const { return refused_; }
  void countRefused(Counter& templates, Counter& samplers, Counter& domains,
                    Counter& template_memory) {
    refused_ = {&templates, &samplers, &domains, &template_memory};
  }

  /// A decoder learned a template that is new or differs from the shared one (or refreshes it).
  void templateLearned(const DomainKey& key, uint16_t id, const Template& t);
  /// A decoder learned a sampling rate that is new or changed.
  void samplingLearned(const DomainKey& key, uint64_t sampler, uint64_t rate);

  /// Applies a record published by an outlet (this one included). Returns false when the
  /// record is malformed (the caller counts it). A template older than the one held is ignored.
  bool apply(std::string_view key, std::string_view value);

  /// Bumped on every change; decoders merge when it moved since their last look.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  /// Copies the shared templates and sampling rates of `key` into `local` where they differ
  /// (a shared template wins when it is at least as recent as the local one), within the
  /// bounds of `local` and of its holder's `budget`. Returns how many templates the budget
  /// had no room for.
  size_t mergeInto(const DomainKey& key, DomainState& local, TemplateBudget& budget) const;

  /// The domain ids the store holds for `exporter`'s exporter and version (its domain is
  /// ignored), into `out` (cleared first; its capacity is reused).
  void domainsOf(const DomainKey& exporter, std::vector<uint32_t>& out) const;

  size_t templates() const;
  size_t samplingRates() const;
  /// Bytes of the templates kept (templateBytes()).
  size_t templateBytesUsed() const;

  /// The record encoding (the topic's key and value), exposed for tests and tools.
  static std::string templateKey(const DomainKey& key, uint16_t id);
  static std::string samplingKey(const DomainKey& key, uint64_t sampler);
  static std::string templateValue(const Template& t);
  static std::string samplingValue(uint64_t rate);

 private:
  enum class Applied { kUnchanged, kChanged, kRefused };
  Applied applyTemplate(const DomainKey& key, uint16_t id, const Template& t);
  bool applySampling(const DomainKey& key, uint64_t sampler, uint64_t rate);
  /// The state of `key`, created (and indexed) when new; nullptr past kMaxDomains or
  /// kMaxDomainsPerExporter (counted, logged). Called with mutex_ held.
  DomainState* domainState(const DomainKey& key);
  /// Counts and logs (rate-limited) a refusal of `what` for `key`'s exporter.
  void refuse(Counter* counter, const DomainKey& key, const char* what);

  mutable std::mutex mutex_;  // guards domains_, exporter_domains_ and budget_
  DomainMap domains_;
  TemplateBudget budget_;  // of the templates of domains_
  /// Domain ids of each (exporter, version) in domains_ (key domain 0); domains are never
  /// removed.
  ExporterDomains exporter_domains_;
  std::atomic<uint64_t> generation_{0};
  Publisher publisher_;
  Counter own_refused_[4];
  Refused refused_{&own_refused_[0], &own_refused_[1], &own_refused_[2], &own_refused_[3]};
  RateLimitedLog log_;
};

}  // namespace akvo::decoder
