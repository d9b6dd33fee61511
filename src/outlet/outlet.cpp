#include "outlet/outlet.h"

#include <spdlog/spdlog.h>

#include <array>
#include <utility>
#include <unordered_map>

#include "common/intern.h"
#include "common/log.h"
#include "common/thread.h"
#include "outlet/decoder/netflow/netflow.h"
#include "outlet/decoder/sflow/sflow.h"
#include "outlet/decoder/netflow/state.h"

namespace akvo {

namespace {
template <class T>
std::vector<T> reservedVector(size_t n) {
  std::vector<T> v;
  v.reserve(n);
  return v;
}
}  // namespace

void Outlet::Config::read(ConfigReader& r) {
  r.field("workers", workers, 1, 256);
  r.section("clickhouse", [&](ConfigReader& s) { clickhouse.read(s); });
  r.section("flow", [&](ConfigReader& s) {
    s.field("state-persist-file", state_persist_file);
    s.field("template-expiry", template_expiry);
    s.field("template-max-bytes", template_max_bytes, int64_t(1) << 20, int64_t(1) << 40);
    s.field("template-wait", template_wait);
  });
}

class Outlet::Worker : public decoder::FlowSink, public decoder::TemplateCounters {
 public:
  Worker(Outlet& outlet, size_t index, DatagramSource& queue)
      : outlet_(outlet),
        index_(index),
        queue_(queue),
        batch_(outlet.writer_.emptyBatch()),
        netflow_(netflowConfig(outlet.config_)),
        flows_(outlet.metrics_.counter("akvo_outlet_core_flows_total", "Flows decoded and batched.")),
        dropped_(outlet.metrics_.counter("akvo_outlet_core_flows_dropped_total",
                                         "Flows dropped by enrichment (rules, missing data).")),
        datagrams_(outlet.metrics_.counter("akvo_outlet_core_datagrams_total", "Datagrams decoded.")),
        counter_samples_(outlet.metrics_.counter("akvo_outlet_decoder_sflow_counter_samples_total",
                                                 "sFlow counter samples (skipped).")),
        held_total_(outlet.metrics_.counter(
            "akvo_outlet_decoder_template_waits_total",
            "NetFlow v9/IPFIX datagrams held until another outlet or worker shared their template "
            "or sampling rate.")),
        held_expired_(outlet.metrics_.counter(
            "akvo_outlet_decoder_template_wait_expired_total",
            "Held datagrams decoded without their template after flow.template-wait, or early "
            "because too many were held (their data sets count as missing_template).")) {
    if (outlet.enrichers_) enricher_ = outlet.enrichers_(index);
    netflow_.countTemplates(this);
    if (outlet.shared_) {
      netflow_.share(outlet.shared_);
      if (outlet.config_.template_wait.count() > 0) holding_ = true;
    }
    for (size_t s = 0; s < size_t(decoder::Status::kCount); s++)
      errors_[s] = &outlet.metrics_.counter(
          "akvo_outlet_decoder_errors_total", "Datagrams that failed to decode, by reason.",
          {{"reason", std::string(decoder::statusName(decoder::Status(s)))}});
  }

  static decoder::NetflowDecoder::Config netflowConfig(const Outlet::Config& c) {
    decoder::NetflowDecoder::Config nc;
    nc.template_expiry = uint32_t(c.template_expiry.count() / 1000);
    nc.max_template_bytes = size_t(c.template_max_bytes);
    return nc;
  }

  /// The NetFlow decoder's templates and sampling rates (read after join(), or before start()).
  const decoder::DomainMap& netflowState() const { return netflow_.domains(); }
  /// Loads the state file into the NetFlow decoder, before start() (throws as loadStateFile).
  bool loadNetflowState(const std::string& path, decoder::StateRefused& refused) {
    return netflow_.loadState(path, refused);
  }

  void start() {
    thread_ = std::jthread([this](std::stop_token) {
      setupThread("akvo-outlet");
      run();
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  void flow(FlowRecord& f) override {
    if (enricher_ && !enricher_->enrich(f)) {
      pending_dropped_++;
      return;
    }
    batch_.append(f);
    pending_flows_++;
    if (outlet_.export_) outlet_.export_->send(f);
  }

  // Templates are counted per (exporter, version, domain, template id, kind), as Akvorado's
  // flow_decoder_netflow_templates_total. The decoder asks once per key and keeps the counter;
  // its keys are bounded (NetflowDecoder::kMaxTemplateCounters, then "other"), and only made
  // by templates it accepted (within flow.template-max-bytes and the per-domain bounds).
  Counter& templateCounter(const decoder::DomainKey& key, uint16_t id, bool options,
                           bool other) override {
    static const std::string kHelp =
        "NetFlow v9/IPFIX templates received (learned, redefined or resent; the refused ones "
        "are counted in akvo_outlet_decoder_refused_*), by exporter, version, observation "
        "domain, template id and type (template, options_template).";
    return outlet_.metrics_.counter(
        "akvo_outlet_decoder_netflow_templates_total", kHelp,
        {{"exporter", other ? "other" : exporterCounters(key.exporter).label},
         {"version", std::to_string(key.version)},
         {"obs_domain_id", other ? "other" : std::to_string(key.domain)},
         {"template_id", other ? "other" : std::to_string(id)},
         {"type", options ? "options_template" : "template"}});
  }

 private:
  void run() {
    std::array<Datagram, 64> in;
    auto batch_started = std::chrono::steady_clock::now();
    const auto max_wait = outlet_.writer_.config().maximum_wait_time;
    const size_t max_rows = size_t(outlet_.writer_.config().maximum_batch_size);
    auto last_checkpoint = batch_started;
    // core.startup-delay: leave the datagrams where they wait (Kafka, or the embedded queue, up
    // to its size) until the delay has passed or akvo stops.
    const auto resume = outlet_.started_at_ + outlet_.config_.startup_delay;
    while (!outlet_.stopping_ && std::chrono::steady_clock::now() < resume)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (index_ == 0 && outlet_.config_.startup_delay.count() > 0)
      spdlog::info("outlet: startup delay over, processing flows");
    for (;;) {
      size_t n = queue_.pop(in, std::chrono::milliseconds(held_n_ ? 20 : 100));
      auto now = std::chrono::steady_clock::now();
      for (size_t i = 0; i < std::min<size_t>(n, 2); i++) prefetchPayload(in[i]);
      for (size_t i = 0; i < n; i++) {
        // The payload was written by the inlet on another core: ask for the next datagram's
        // lines while this one decodes (at 600k datagrams/s of 4 flows, the first touch of each
        // line was the decoder's largest cost in the front end's profile).
        if (i + 2 < n) prefetchPayload(in[i + 2]);
        if (holding_ && in[i].decoder == DecoderKind::kNetflow && waits(in[i]))
          hold(in[i], now);
        else
          decode(in[i]);
      }
      datagrams_.inc(n);
      if (held_n_) releaseHeld(now, false);
      flushCounters();
      if (batch_.rows() == 0) batch_started = now;
      if (batch_.rows() >= max_rows || (batch_.rows() > 0 && now - batch_started >= max_wait)) {
        // Offsets of held datagrams must not be committed before they are decoded: while some
        // are held, the offsets wait for the next batch (bounded: a datagram is held at most
        // flow.template-wait; past 30 s without a commit, commit anyway).
        bool commit = held_n_ == 0 || now - last_checkpoint > std::chrono::seconds(30);
        batch_ = outlet_.writer_.submit(std::move(batch_),
                                        commit ? queue_.checkpoint() : std::function<void()>{});
        if (commit) last_checkpoint = now;
        batch_started = now;
      } else if (batch_.rows() == 0 && held_n_ == 0 && now - last_checkpoint >= max_wait) {
        // Datagrams that gave no rows (templates, malformed or dropped flows, an idle queue
        // after them): their offsets go through the writer with an empty batch, so they are
        // committed after the batches before them are stored, and the consumer group's lag
        // falls to 0 instead of waiting for the next flow.
        if (auto commit = queue_.checkpoint())
          batch_ = outlet_.writer_.submit(std::move(batch_), std::move(commit));
        last_checkpoint = now;
      }
      if (n == 0 && queue_.finished()) break;
    }
    if (held_n_) releaseHeld(std::chrono::steady_clock::now(), true);
    flushCounters();
    batch_ = outlet_.writer_.submit(std::move(batch_), queue_.checkpoint());
  }

  // Shared counters take one atomic add per round of datagrams, not one per flow or datagram
  // (two workers adding to the same counters per datagram fought over their cache lines).
  void flushCounters() {
    if (pending_flows_) flows_.inc(std::exchange(pending_flows_, 0));
    if (pending_dropped_) dropped_.inc(std::exchange(pending_dropped_, 0));
    if (enricher_) enricher_->flushCounters();
    for (ExporterCounters* c : dirty_exporters_) {
      c->packets->inc(std::exchange(c->pending_packets, 0));
      if (c->pending_flows) c->flows->inc(std::exchange(c->pending_flows, 0));
      for (size_t v = 0; v < c->netflow.size(); v++)
        if (c->netflow[v]) flushNetflow(*c, v);
      for (SflowAgentCounts& a : c->agents) flushSflow(*c, a);
      c->dirty = false;
    }
    dirty_exporters_.clear();
  }

  bool waits(const Datagram& d) { return netflow_.waitsForTemplates(decoder::inputOf(d)); }

  static void moveDatagram(Datagram& to, Datagram& from) { to.takeFrom(from); }

  /// Holds `d` (its buffer is swapped with a free one) until its template is shared.
  void hold(Datagram& d, std::chrono::steady_clock::time_point now) {
    if (held_.empty()) held_.resize(kMaxHeld);  // once per worker, on first need
    if (held_n_ == kMaxHeld) {
      // Full: the oldest goes now, with what is known.
      held_expired_.inc();
      decode(held_[0].d);
      for (size_t j = 1; j < held_n_; j++) std::swap(held_[j - 1], held_[j]);
      held_n_--;
    }
    Held& h = held_[held_n_++];
    moveDatagram(h.d, d);
    h.deadline = now + outlet_.config_.template_wait;
    held_total_.inc();
  }

  /// Decodes the held datagrams whose templates arrived, or whose time is up (all if `all`),
  /// in arrival order.
  void releaseHeld(std::chrono::steady_clock::time_point now, bool all) {
    uint64_t g = outlet_.shared_->generation();
    if (!all && g == held_generation_ && now < held_[0].deadline) return;
    held_generation_ = g;
    size_t kept = 0;
    for (size_t j = 0; j < held_n_; j++) {
      Held& h = held_[j];
      bool still = waits(h.d);
      if (!still || all || now >= h.deadline) {
        if (still) held_expired_.inc();
        decode(h.d);
      } else {
        if (kept != j) std::swap(held_[kept], h);
        kept++;
      }
    }
    held_n_ = kept;
  }

  static void prefetchPayload(const Datagram& d) {
    const uint8_t* p = d.buffer.data();
    size_t n = std::min<size_t>(d.size, 1024);
    for (size_t off = 0; off < n; off += 64) __builtin_prefetch(p + off);
  }

  void decode(const Datagram& d) {
    if (enricher_) enricher_->received(d.time_received, d.rate_limit);
    const decoder::Input input = decoder::inputOf(d);
    decoder::Status s;
    const decoder::Decoder* used = nullptr;
    switch (d.decoder) {
      case DecoderKind::kNetflow: s = netflow_.decode(input, *this); used = &netflow_; break;
      case DecoderKind::kSflow:
        s = sflow_.decode(input, *this);
        used = &sflow_;
        if (sflow_.counterSamples()) counter_samples_.inc(sflow_.counterSamples());
        if (s == decoder::Status::kUnsupported) s = decoder::Status::kOk;  // counters only
        break;
      default: s = decoder::Status::kUnsupported; break;
    }
    countExporter(d.exporter, used ? &used->stats() : nullptr, s, d.spread,
                  used == &sflow_ ? &sflow_.agent() : nullptr);
    if (s != decoder::Status::kOk) {
      errors_[size_t(s)]->inc();
      log_.warn("exporter {}: cannot decode datagram: {}", d.exporter.toString(),
                decoder::statusName(s));
    }
  }

  // A counter created on its first use, and what was counted for it since the last flush.
  struct PendingCounter {
    Counter* counter = nullptr;
    uint64_t pending = 0;
  };
  // NetFlow sets and their records of one exporter and version, by decoder::NetflowSet.
  struct NetflowCounts {
    std::array<PendingCounter, decoder::kNetflowSetKinds> sets, records;
  };
  // sFlow samples and their records of one exporter and agent, by decoder::SflowSample.
  struct SflowAgentCounts {
    IPv6Addr agent;
    bool other = false;  // the agents past kMaxAgentLabels
    std::string label;
    std::array<PendingCounter, decoder::kSflowSampleKinds> samples, records;
  };
  static constexpr size_t kMaxAgentLabels = 16;  // per exporter, then agent="other"

  // Per-exporter counters, created on the first datagram of an exporter (control path).
  struct ExporterCounters {
    Counter *packets, *flows, *missing_templates, *lost;
    Counter* not_encapsulated = nullptr;  // created on first use (inputs with decapsulation)
    std::array<Counter*, size_t(decoder::Status::kCount)> errors{};
    // templates, samplers, domains, template_memory: created on first use
    std::array<Counter*, 4> refused{};
    uint64_t pending_packets = 0, pending_flows = 0;  // not yet added (see flushCounters())
    bool dirty = false;                                // in dirty_exporters_
    std::string label;                                 // the exporter label
    // NetFlow v5, v9, IPFIX: made on the first datagram of that version.
    std::array<std::unique_ptr<NetflowCounts>, 3> netflow;
    // sFlow agents (at most kMaxAgentLabels, then one "other"), the last one seen first.
    std::vector<SflowAgentCounts> agents;
    size_t last_agent = 0;
  };
  void countExporter(const IPv6Addr& exporter, const decoder::DatagramStats* st,
                     decoder::Status s, bool spread, const IPv6Addr* agent) {
    countExporter(exporterCounters(exporter), exporter, st, s, spread, agent);
  }
  ExporterCounters& exporterCounters(const IPv6Addr& exporter) {
    // Datagrams come in runs from one exporter: the last one's counters first.
    if (last_exporter_ && last_exporter_->first == exporter) [[likely]]
      return last_exporter_->second;
    auto it = exporters_.find(exporter);
    if (it == exporters_.end()) {
      // Past kMaxExporterLabels exporters (spoofed sources...), the others share the labels
      // exporter="other": the metrics page and the map stay bounded.
      if (exporters_.size() >= kMaxExporterLabels) {
        if (!other_) other_ = std::make_unique<ExporterCounters>(makeCounters("other"));
        return *other_;
      }
      it = exporters_.emplace(exporter, makeCounters(exporter.toString())).first;
    }
    last_exporter_ = &*it;
    return it->second;
  }
  static constexpr size_t kMaxExporterLabels = 1000;  // per worker
  ExporterCounters makeCounters(const std::string& label) {
    auto& m = outlet_.metrics_;
    Labels l = {{"exporter", label}};
    ExporterCounters c{
        &m.counter("akvo_outlet_decoder_packets_total", "Datagrams received, by exporter.", l),
        &m.counter("akvo_outlet_decoder_flows_total", "Flows decoded, by exporter.", l),
        &m.counter("akvo_outlet_decoder_missing_template_total",
                   "NetFlow v9/IPFIX data sets dropped: template not known yet.", l),
        &m.counter("akvo_outlet_decoder_sequence_lost_total",
                   "Gaps in the exporter's sequence numbers: flows (NetFlow v5, IPFIX) or "
                   "datagrams (NetFlow v9, sFlow) the exporter sent that never reached us.",
                   l)};
    c.label = label;
    return c;
  }
  void countExporter(ExporterCounters& c, const IPv6Addr& exporter,
                     const decoder::DatagramStats* st, decoder::Status s, bool spread,
                     const IPv6Addr* agent) {
    if (!c.dirty) {
      c.dirty = true;
      dirty_exporters_.push_back(&c);
    }
    c.pending_packets++;
    if (st) {
      c.pending_flows += st->flows;
      if (st->missing_templates) c.missing_templates->inc(st->missing_templates);
      // Spread over outlets, this worker sees a share of the sequence: its gaps mean nothing.
      if (st->lost && !spread) c.lost->inc(st->lost);
      if (st->not_encapsulated) [[unlikely]] {
        if (!c.not_encapsulated)
          c.not_encapsulated = &outlet_.metrics_.counter(
              "akvo_outlet_decoder_not_encapsulated_total",
              "Flows dropped because their input has a decapsulation-protocol and their packet "
              "header was not so encapsulated (or absent: NetFlow v5, records without "
              "dataLinkFrameSection).",
              {{"exporter", c.label}});
        c.not_encapsulated->inc(st->not_encapsulated);
      }
      if (st->refused_templates | st->refused_samplers | st->refused_domains |
          st->refused_template_memory) [[unlikely]]
        countRefused(c, exporter, *st);
      if (st->version) countNetflow(c, *st);
      else if (agent) countSflow(c, *agent);
    }
    if (s != decoder::Status::kOk) {
      if (!c.errors[size_t(s)])
        c.errors[size_t(s)] = &outlet_.metrics_.counter(
            "akvo_outlet_decoder_exporter_errors_total",
            "Datagrams that failed to decode, by exporter and reason.",
            {{"exporter", c.label}, {"reason", std::string(decoder::statusName(s))}});
      c.errors[size_t(s)]->inc();
    }
  }

  // NetFlow sets and records, as Akvorado's flow_decoder_netflow_{sets,records}_total: added
  // to the exporter's pending counts (plain integers) per datagram, to the shared counters by
  // flushCounters().
  void countNetflow(ExporterCounters& c, const decoder::DatagramStats& st) {
    const size_t v = st.version == 5 ? 0 : st.version == 9 ? 1 : 2;
    if (!c.netflow[v]) [[unlikely]]
      c.netflow[v] = std::make_unique<NetflowCounts>();  // once per exporter and version
    NetflowCounts& n = *c.netflow[v];
    for (size_t k = 0; k < decoder::kNetflowSetKinds; k++) {
      n.sets[k].pending += st.sets[k];
      n.records[k].pending += st.set_records[k];
    }
  }
  void flushNetflow(ExporterCounters& c, size_t v) {
    static const std::string kSetsHelp =
        "NetFlow sets (flowsets) decoded, by exporter, version and type (template, "
        "options_template, data, options_data; pdu: a NetFlow v5 datagram). Data sets whose "
        "template is unknown are in akvo_outlet_decoder_missing_template_total.";
    static const std::string kRecordsHelp =
        "Records of the NetFlow sets decoded (template records, flow or options data "
        "records), by exporter, version and type of their set.";
    static constexpr const char* kVersion[3] = {"5", "9", "10"};
    NetflowCounts& n = *c.netflow[v];
    for (size_t k = 0; k < decoder::kNetflowSetKinds; k++) {
      const auto type = decoder::netflowSetName(decoder::NetflowSet(k));
      auto labels = [&] {
        return Labels{{"exporter", c.label}, {"version", kVersion[v]}, {"type", std::string(type)}};
      };
      flushPending(n.sets[k], "akvo_outlet_decoder_netflow_sets_total", kSetsHelp, labels);
      flushPending(n.records[k], "akvo_outlet_decoder_netflow_records_total", kRecordsHelp,
                   labels);
    }
  }

  // sFlow samples and their records by agent, as Akvorado's flow_decoder_sflow_sample_sum and
  // sample_records_sum (the version label is left out: sFlow v5 only).
  void countSflow(ExporterCounters& c, const IPv6Addr& agent) {
    uint32_t any = 0;
    for (size_t k = 0; k < decoder::kSflowSampleKinds; k++)
      any |= sflow_.samples(decoder::SflowSample(k));
    if (!any) return;  // nothing read past the header
    SflowAgentCounts& a = agentCounts(c, agent);
    for (size_t k = 0; k < decoder::kSflowSampleKinds; k++) {
      a.samples[k].pending += sflow_.samples(decoder::SflowSample(k));
      a.records[k].pending += sflow_.sampleRecords(decoder::SflowSample(k));
    }
  }
  SflowAgentCounts& agentCounts(ExporterCounters& c, const IPv6Addr& agent) {
    auto& agents = c.agents;
    if (c.last_agent < agents.size() && !agents[c.last_agent].other &&
        agents[c.last_agent].agent == agent) [[likely]]
      return agents[c.last_agent];
    size_t i = 0, other = agents.size();
    for (; i < agents.size(); i++) {
      if (agents[i].other) other = i;
      else if (agents[i].agent == agent) break;
    }
    if (i == agents.size()) {
      // A new agent: past kMaxAgentLabels of the exporter, it counts as agent="other".
      if (agents.size() >= kMaxAgentLabels && other < agents.size()) {
        i = other;
      } else {
        SflowAgentCounts& a = agents.emplace_back();  // control path: once per agent
        a.agent = agent;
        a.other = agents.size() > kMaxAgentLabels;
        a.label = a.other ? "other" : agent.toString();
      }
    }
    c.last_agent = i;
    return agents[i];
  }
  void flushSflow(ExporterCounters& c, SflowAgentCounts& a) {
    static const std::string kSamplesHelp =
        "sFlow samples received, by exporter, agent and type (flow_sample, counter_sample, "
        "expanded_flow_sample, expanded_counter_sample).";
    static const std::string kRecordsHelp =
        "Records of the sFlow samples received, by exporter, agent and type of their sample.";
    for (size_t k = 0; k < decoder::kSflowSampleKinds; k++) {
      const auto type = decoder::sflowSampleName(decoder::SflowSample(k));
      auto labels = [&] {
        return Labels{{"exporter", c.label}, {"agent", a.label}, {"type", std::string(type)}};
      };
      flushPending(a.samples[k], "akvo_outlet_decoder_sflow_samples_total", kSamplesHelp, labels);
      flushPending(a.records[k], "akvo_outlet_decoder_sflow_sample_records_total", kRecordsHelp,
                   labels);
    }
  }

  // Adds what `p` counted to its counter, made on first use with the labels `labels()` gives
  // (built then only: a flush allocates nothing).
  template <class MakeLabels>
  void flushPending(PendingCounter& p, const char* name, const std::string& help,
                    const MakeLabels& labels) {
    if (!p.pending) return;
    if (!p.counter) [[unlikely]]
      p.counter = &outlet_.metrics_.counter(name, help, labels());
    p.counter->inc(std::exchange(p.pending, 0));
  }

  // State the NetFlow decoder refused past its bounds (decoder/netflow/templates.h): a flood
  // of new templates, samplers or domains from one exporter, counted and logged.
  void countRefused(ExporterCounters& c, const IPv6Addr& exporter,
                    const decoder::DatagramStats& st) {
    static constexpr const char* kWhat[4] = {"templates", "samplers", "domains",
                                             "template_memory"};
    static constexpr const char* kHelp[4] = {
        "NetFlow v9/IPFIX template ids refused: the observation domain has the most allowed.",
        "NetFlow v9/IPFIX sampler ids refused: the observation domain has the most allowed.",
        "NetFlow v9/IPFIX datagrams of a new observation domain refused: the exporter (or the "
        "decoder) has the most domains allowed.",
        "NetFlow v9/IPFIX templates (new or redefined) refused: the worker's decoder holds "
        "flow.template-max-bytes of templates."};
    static constexpr const char* kLog[4] = {"new template ids", "new sampler ids",
                                            "new domains", "templates (template-max-bytes)"};
    const uint32_t n[4] = {st.refused_templates, st.refused_samplers, st.refused_domains,
                           st.refused_template_memory};
    for (size_t i = 0; i < 4; i++) {
      if (!n[i]) continue;
      if (!c.refused[i])
        c.refused[i] = &outlet_.metrics_.counter(
            fmt::format("akvo_outlet_decoder_refused_{}_total", kWhat[i]), kHelp[i],
            {{"exporter", c.label}});  // "other" past kMaxExporterLabels
      c.refused[i]->inc(n[i]);
      refused_log_.warn("exporter {}: {} NetFlow {} refused: bound reached (see "
                        "docs/02-decoders.md, Limits)",
                        exporter.toString(), n[i], kLog[i]);
    }
  }

  Outlet& outlet_;
  size_t index_;
  DatagramSource& queue_;
  NativeBatch batch_;
  std::unique_ptr<FlowEnricher> enricher_;
  decoder::NetflowDecoder netflow_;
  decoder::SflowDecoder sflow_;
  std::unordered_map<IPv6Addr, ExporterCounters, IPv6AddrHash> exporters_;
  std::pair<const IPv6Addr, ExporterCounters>* last_exporter_ = nullptr;  // in exporters_
  std::unique_ptr<ExporterCounters> other_;  // exporters past kMaxExporterLabels
  std::vector<ExporterCounters*> dirty_exporters_ = reservedVector<ExporterCounters*>(256);
  Counter& flows_;
  uint64_t pending_flows_ = 0, pending_dropped_ = 0;  // not yet added to flows_ and dropped_
  Counter& dropped_;
  Counter& datagrams_;
  Counter& counter_samples_;
  std::array<Counter*, size_t(decoder::Status::kCount)> errors_{};
  // Datagrams waiting for their template (shared templates only), oldest first.
  struct Held {
    Datagram d;
    std::chrono::steady_clock::time_point deadline;
  };
  static constexpr size_t kMaxHeld = 2048;
  bool holding_ = false;
  std::vector<Held> held_;
  size_t held_n_ = 0;
  uint64_t held_generation_ = 0;
  Counter& held_total_;
  Counter& held_expired_;
  RateLimitedLog log_;
  RateLimitedLog refused_log_;
  std::jthread thread_;
};

Outlet::Outlet(Config config, const Schema& schema, OutletTransport& transport, Store& store,
               Metrics& metrics, EnricherFactory enrichers)
    : config_(config),
      schema_(schema),
      transport_(transport),
      metrics_(metrics),
      writer_(config.clickhouse, schema, store, metrics),
      enrichers_(std::move(enrichers)) {
  metrics_.gauge("akvo_outlet_core_interned_strings", "Distinct enrichment strings interned "
                 "(kept for the life of the process).", {},
                 [] { return double(internedStrings()); });
  metrics_.gauge("akvo_outlet_core_interned_bytes", "Bytes of the interned enrichment strings.", {},
                 [] { return double(internedBytes()); });
}

Outlet::~Outlet() { stop(); }

void Outlet::start() {
  started_at_ = std::chrono::steady_clock::now();
  if (config_.startup_delay.count() > 0)
    spdlog::info("outlet: flows wait {} s before they are processed (core.startup-delay)",
                 config_.startup_delay.count() / 1000);
  writer_.start();
  for (size_t i = 0; i < transport_.size(); i++) {
    workers_.push_back(std::make_unique<Worker>(*this, i, transport_.source(i)));
    if (!config_.state_persist_file.empty()) {
      // A state that cannot be read costs a few minutes of templates, not the collector.
      try {
        decoder::StateRefused refused;
        if (workers_.back()->loadNetflowState(config_.state_persist_file, refused) && i == 0)
          spdlog::info("decoder state loaded from {}", config_.state_persist_file);
        countStateRefused(refused, i == 0);
      } catch (const std::exception& e) {
        if (i == 0) spdlog::error("decoder state ignored: {}", e.what());
      }
    }
    workers_.back()->start();
  }
  started_ = true;
  spdlog::info("outlet started: {} workers", workers_.size());
}

// Every worker loads the same file: the first one logs.
void Outlet::countStateRefused(const decoder::StateRefused& r, bool log) {
  static const char* help =
      "NetFlow state file entries refused on load past the decoders' bounds "
      "(docs/02-decoders.md, Limits), by kind, summed over the workers.";
  const std::pair<const char*, size_t> kinds[4] = {{"template", r.templates},
                                                   {"sampler", r.samplers},
                                                   {"domain", r.domains},
                                                   {"template_memory", r.template_memory}};
  for (const auto& [kind, n] : kinds)
    metrics_.counter("akvo_outlet_decoder_state_refused_total", help, {{"kind", kind}}).inc(n);
  if (log && r.total())
    spdlog::warn("decoder state {}: refused past the bounds: {} template ids, {} sampler ids, "
                 "{} domains, {} templates past flow.template-max-bytes (see "
                 "docs/02-decoders.md, Limits)",
                 config_.state_persist_file, r.templates, r.samplers, r.domains,
                 r.template_memory);
}

void Outlet::stop() {
  if (!started_) return;
  started_ = false;
  stopping_ = true;
  transport_.close();
  for (auto& w : workers_) w->join();
  if (!config_.state_persist_file.empty()) {
    std::vector<const decoder::DomainMap*> states;
    for (auto& w : workers_) states.push_back(&w->netflowState());
    try {
      decoder::saveStateFile(config_.state_persist_file, states);
      spdlog::info("decoder state saved to {}", config_.state_persist_file);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
    }
  }
  writer_.stop();
  spdlog::info("outlet stopped: every decoded flow written");
}

}  // namespace akvo
