#include "outlet/core/core.h"

#include <charconv>

#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

#include "outlet/networks/subnet_map.h"

namespace akvo {

namespace {

const std::vector<std::string> kAsnProviders = {"flow",    "flow-except-private",
                                                "flow-except-default-route",
                                                "routing", "routing-except-private",
                                                "networks", "geo-ip", "bmp",
                                                "bmp-except-private"};
const std::vector<std::string> kNetProviders = {"flow", "routing", "bmp"};

uint64_t parseRate(const YAML::Node& n) {
  uint64_t v = 0;
  const std::string text = n.IsScalar() ? n.Scalar() : "";
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty())
    throw ValueError(n, n.IsScalar() ? fmt::format("\"{}\" is not a sampling rate (a whole number)", text)
                                     : "expected a sampling rate (a whole number)");
  if (v == 0) throw ValueError(n, "a sampling rate must be at least 1");
  return v;
}

int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Core::Config::read(ConfigReader& r) {
  r.field("exporter-classifiers", exporter_classifiers);
  r.field("interface-classifiers", interface_classifiers);
  r.field("classifier-cache-duration", classifier_cache_duration);
  r.field("startup-delay", startup_delay);
  YAML::Node d = r.raw("default-sampling-rate", "{}");
  default_sampling_rate = readSubnetMap<uint64_t>(r, "default-sampling-rate", d, parseRate);
  YAML::Node o = r.raw("override-sampling-rate", "{}");
  override_sampling_rate = readSubnetMap<uint64_t>(r, "override-sampling-rate", o, parseRate);
  r.field("asn-providers", asn_providers);
  for (const auto& p : asn_providers)
    if (std::find(kAsnProviders.begin(), kAsnProviders.end(), p) == kAsnProviders.end())
      r.fail("asn-providers", fmt::format("\"{}\" is not a valid choice; valid choices: {}", p,
                                          fmt::join(kAsnProviders, ", ")));
  r.field("net-providers", net_providers);
  for (const auto& p : net_providers)
    if (std::find(kNetProviders.begin(), kNetProviders.end(), p) == kNetProviders.end())
      r.fail("net-providers", fmt::format("\"{}\" is not a valid choice; valid choices: {}", p,
                                          fmt::join(kNetProviders, ", ")));
  r.field("rate-limit", rate_limit, 0, INT64_MAX);
  // Check the rules now so that the error names the file and the key.
  try {
    classifier::RuleSet e(exporter_classifiers, classifier::Kind::kExporter);
  } catch (const classifier::ParseError& e) {
    r.fail("exporter-classifiers", e.what());
  }
  try {
    classifier::RuleSet i(interface_classifiers, classifier::Kind::kInterface);
  } catch (const classifier::ParseError& e) {
    r.fail("interface-classifiers", e.what());
  }
}

Core::Core(Config config, Metrics& metrics, metadata::Metadata* metadata,
           const Networks* networks, const GeoIP* geoip, const RoutingProvider* routing,
           const CustomDictionaries* dictionaries)
    : config_(std::move(config)),
      metrics_(metrics),
      metadata_(metadata),
      networks_(networks),
      geoip_(geoip),
      routing_(routing),
      dictionaries_(dictionaries && !dictionaries->schema().customColumns().empty() ? dictionaries
                                                                                     : nullptr),
      exporter_rules_(config_.exporter_classifiers, classifier::Kind::kExporter),
      interface_rules_(config_.interface_classifiers, classifier::Kind::kInterface),
      drop_rate_limit_(metrics.counter("akvo_outlet_core_flows_dropped_by_reason_total",
                                       "Flows dropped by enrichment, by reason.",
                                       {{"reason", "rate_limit"}})),
      drop_sampling_(metrics.counter("akvo_outlet_core_flows_dropped_by_reason_total",
                                     "Flows dropped by enrichment, by reason.",
                                     {{"reason", "sampling_rate_missing"}})),
      drop_no_interfaces_(metrics.counter(
          "akvo_outlet_core_flows_without_interfaces_total",
          "Flows whose exporter gave neither interface (kept, unlike Akvorado: host exporters "
          "such as softflowd never send interfaces).")),
      drop_rejected_(metrics.counter("akvo_outlet_core_flows_dropped_by_reason_total",
                                     "Flows dropped by enrichment, by reason.",
                                     {{"reason", "classifier_reject"}})),
      classifier_errors_(metrics.counter("akvo_outlet_core_classifier_errors_total",
                                         "Classifier rules that failed at run time.")),
      metadata_missing_(metrics.counter(
          "akvo_outlet_core_flows_metadata_missing_total",
          "Flows written without exporter name (metadata not known yet or unknown).")) {
  for (const auto& p : config_.asn_providers) {
    if (p == "flow") asn_providers_.push_back(AsnProvider::kFlow);
    else if (p == "flow-except-private") asn_providers_.push_back(AsnProvider::kFlowExceptPrivate);
    else if (p == "flow-except-default-route")
      asn_providers_.push_back(AsnProvider::kFlowExceptDefaultRoute);
    else if (p == "routing" || p == "bmp") asn_providers_.push_back(AsnProvider::kRouting);
    else if (p == "routing-except-private" || p == "bmp-except-private")
      asn_providers_.push_back(AsnProvider::kRoutingExceptPrivate);
    else asn_providers_.push_back(AsnProvider::kNetworks);  // networks, geo-ip
  }
  for (const auto& p : config_.net_providers)
    net_providers_.push_back(p == "flow" ? NetProvider::kFlow : NetProvider::kRouting);
  interface_rules_use_vlan_ = interface_rules_.usesVlan();
}

void Core::warnNoSamplingRate(const IPv6Addr& exporter) {
  std::lock_guard lock(warned_mutex_);
  if (warned_.size() >= kMaxWarned) {
    // Forged exporter addresses must not flood the log nor grow the set: one last word.
    if (!std::exchange(warned_more_, true))
      spdlog::error(
          "more than {} exporters send flows without a sampling rate: the others are not listed "
          "(akvo_outlet_core_flows_dropped_by_reason_total{{reason=\"sampling_rate_missing\"}} "
          "counts their flows)",
          kMaxWarned);
    return;
  }
  if (!warned_.insert(exporter).second) return;
  spdlog::error(
      "exporter {}: its flows carry no sampling rate and no core.default-sampling-rate covers it: "
      "ALL ITS FLOWS ARE DROPPED (set core.default-sampling-rate or override-sampling-rate for "
      "{})",
      exporter.toString(), exporter.toString());
}

/// One worker's enricher: private caches in front of the shared metadata cache, the classifier
/// results and the GeoIP snapshot. Every string it puts in a flow lives in these caches, which
/// are only cleared at the start of enrich(), after the previous flow has been batched.
class CoreEnricher : public FlowEnricher {
 public:
  explicit CoreEnricher(Core& core) : core_(core) {
    // splitmix64 of the enricher's rank: distinct, never-zero xorshift states per worker.
    uint64_t z = (core_.enrichers_made_.fetch_add(1) + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    rng_ = (z ^ (z >> 31)) | 1;
    metadata_.reserve(1024);
    interfaces_.reserve(1024);
    if (core_.dictionaries_)
      dictionaries_ = std::make_unique<CustomDictionaryApplier>(*core_.dictionaries_);
  }

  ~CoreEnricher() override { flushCounters(); }

  void flushCounters() override {
    Counter* shared[kPendingCount] = {&core_.drop_rate_limit_, &core_.drop_no_interfaces_,
                                      &core_.metadata_missing_, &core_.drop_sampling_,
                                      &core_.drop_rejected_};
    for (size_t i = 0; i < kPendingCount; i++)
      if (pending_[i]) shared[i]->inc(std::exchange(pending_[i], 0));
  }

  void received(uint32_t unix_seconds, uint32_t rate_limit = 0) override {
    clock_ = unix_seconds;
    input_rate_limit_ = rate_limit;
  }

  bool enrich(FlowRecord& f) override {
    // Without a reception time from the worker (tests, benchmarks), the flow's own.
    refreshCaches(clock_ ? clock_ : f.time_received);
    const Core::Config& c = core_.config_;

    // 1. Rate limit, per exporter and second of reception: the input's, else core.rate-limit.
    const uint64_t limit = input_rate_limit_ ? input_rate_limit_ : uint64_t(c.rate_limit);
    if (limit > 0 && !rateLimit(f, limit)) {
      pending_[kRateLimit]++;
      return false;
    }

    // 2. Metadata for both interfaces. A flow with neither is kept (Akvorado drops it): host
    // exporters (softflowd, pmacct) send none, and their users want their traffic all the same.
    // An index of 0 is an interface with no name, description or speed, classified by the
    // interface rules as Akvorado does; its slot also carries the exporter's name and classes
    // (asked of the metadata as ifIndex 0), so a flow with no interface at all gets them too.
    if (f.in_if == 0 && f.out_if == 0) pending_[kNoInterfaces]++;
    const IfSlot* in_slot = interfaceFor(f.exporter_address, f.in_if, f.src_vlan);
    const IfSlot* out_slot = interfaceFor(f.exporter_address, f.out_if, f.dst_vlan);
    const IfSlot* any = in_slot && in_slot->found ? in_slot : out_slot && out_slot->found ? out_slot : nullptr;
    if (!any) pending_[kMetadataMissing]++;

    // 3. Sampling rate: override, then default when the flow has none.
    if (!rates_known_ || !(f.exporter_address == rates_for_)) {
      rates_known_ = true;
      // Flows come in runs from one exporter (a datagram): look its rates up once per run.
      rates_for_ = f.exporter_address;
      override_rate_ = c.override_sampling_rate.lookup(f.exporter_address);
      default_rate_ = c.default_sampling_rate.lookup(f.exporter_address);
    }
    if (override_rate_) {
      f.sampling_rate = *override_rate_;
    } else if (f.sampling_rate == 0 && default_rate_) {
      f.sampling_rate = *default_rate_;
    }
    if (f.sampling_rate == 0) {
      pending_[kSampling]++;
      if (warned_.size() <= Core::kMaxWarned && warned_.insert(f.exporter_address).second)
        core_.warnNoSamplingRate(f.exporter_address);
      return false;
    }
    if (rate_multiplier_ > 1) f.sampling_rate = uint64_t(double(f.sampling_rate) * rate_multiplier_ + 0.5);

    // 4. Exporter: metadata, then classifiers (unless the metadata classified it), as resolved
    // when the slot was filled.
    if (any) {
      if (any->exporter_reject) {
        pending_[kRejected]++;
        return false;
      }
      // The six names, side by side in the slot and in the record: one block.
      static_assert(offsetof(IfSlot, exporter_tenant) == offsetof(IfSlot, exporter_name) + 20);
      static_assert(offsetof(FlowRecord, exporter_tenant) ==
                    offsetof(FlowRecord, exporter_name) + 20);
      std::memcpy(static_cast<void*>(&f.exporter_name), &any->exporter_name, 24);
    }

    // 5. Interfaces, output then input.
    if (!applyInterface(out_slot, &f.out_if_name, f.out_if_speed, f.out_if_boundary) ||
        !applyInterface(in_slot, &f.in_if_name, f.in_if_speed, f.in_if_boundary)) {
      pending_[kRejected]++;
      return false;
    }

    // 6. Routing, network attributes, GeoIP.
    RouteInfo src_route, dst_route;
    if (core_.routing_) {
      src_route = core_.routing_->lookupFlow(f, false);
      dst_route = core_.routing_->lookupFlow(f, true);
    }
    const AddrInfo& src_info = addressInfo(f.src_addr);
    const NetworkAttributes* src_net = src_info.net;
    const GeoInfo src_geo = src_info.geo;
    const AddrInfo& dst_info = addressInfo(f.dst_addr);
    const NetworkAttributes* dst_net = dst_info.net;
    const GeoInfo& dst_geo = dst_info.geo;

    // 7. ASN and net-mask providers: the first non-zero wins.
    f.src_as = selectAsn(f.src_as, f.src_net_mask, src_route, src_net, src_geo);
    f.dst_as = selectAsn(f.dst_as, f.dst_net_mask, dst_route, dst_net, dst_geo);
    f.src_net_mask = selectMask(f.src_net_mask, src_route);
    f.dst_net_mask = selectMask(f.dst_net_mask, dst_route);
    f.next_hop = selectNextHop(f.next_hop, dst_route);

    applyNetwork(src_net, src_geo, &f.src_net_name, f.src_country, f.src_geo_city, f.src_geo_state);
    applyNetwork(dst_net, dst_geo, &f.dst_net_name, f.dst_country, f.dst_geo_city, f.dst_geo_state);

    // 8. Custom dictionaries, from the columns set above.
    if (dictionaries_) [[unlikely]]
      dictionaries_->apply(f);
    return true;
  }

 private:
  struct IfKey {
    IPv6Addr exporter;
    uint32_t ifindex;
    uint32_t vlan;
    bool operator==(const IfKey&) const = default;
  };
  struct IfKeyHash {
    size_t operator()(const IfKey& k) const noexcept {
      return IPv6AddrHash{}(k.exporter) ^ (size_t(k.ifindex) * 0x9E3779B97F4A7C15ull) ^
             (size_t(k.vlan) << 40);
    }
  };
  struct RateState {
    uint32_t second = 0;
    uint64_t count = 0, accepted = 0, previous = 0;
    double multiplier = 1;
  };

  void refreshCaches(uint32_t time_received) {
    now_ = time_received ? int64_t(time_received) : now_ ? now_ : unixNow();
    if (core_.metadata_) {
      uint64_t g = core_.metadata_->generation();
      if (g != metadata_generation_) {
        metadata_.clear();
        interfaces_.clear();
        exporters_.clear();
        epoch_++;
        metadata_generation_ = g;
      }
    }
    if (core_.networks_) {
      uint64_t g = core_.networks_->generation();
      if (g != nets_generation_) {
        nets_ = core_.networks_->snapshot();
        nets_generation_ = g;
        addr_cache_.clear();
      }
    }
    if (core_.geoip_) {
      uint64_t g = core_.geoip_->generation();
      if (g != geo_generation_) {
        geo_ = core_.geoip_->snapshot();
        addr_cache_.clear();
        geo_generation_ = g;
      }
    }
    // Classifier results expire after classifier-cache-duration.
    if (now_ - classified_at_ >= core_.config_.classifier_cache_duration.count() / 1000) {
      interfaces_.clear();
      exporters_.clear();
      epoch_++;
      classified_at_ = now_;
    }
  }

  // Network attributes and GeoIP of an address, cached over the prefix both answers hold for.
  struct AddrInfo {
    const NetworkAttributes* net = nullptr;
    GeoInfo geo;
  };
  const AddrInfo& addressInfo(const IPv6Addr& a) {
    return addr_cache_.get(a, [this](const IPv6Addr& x, uint8_t* len) {
      AddrInfo r;
      uint8_t net_len = 0, geo_len = 0;
      if (nets_) r.net = nets_->lookup(x, &net_len);
      if (geo_ && !geo_->empty()) {
        geo_len = 128;
        r.geo = geo_->lookup(x, &geo_len);
      }
      // Both prefixes contain x, so one contains the other: the answer holds over the longer.
      *len = std::max(net_len, geo_len);
      return r;
    });
  }

  static constexpr size_t kMaxRateStates = 65536;
  bool rateLimit(const FlowRecord& f, uint64_t limit) {
    // Forged exporter addresses must not grow the map without end: past 65,536 exporters it
    // starts over (each exporter's count restarts within the second).
    if (rates_.size() >= kMaxRateStates && !rates_.count(f.exporter_address)) [[unlikely]]
      rates_.clear();
    RateState& s = rates_[f.exporter_address];
    const uint32_t second = uint32_t(now_);
    if (second > s.second) {
      // A new second (late flows count in the current one). The flows kept from now on stand
      // for received/accepted flows of the previous second.
      // After a quiet second or more, the last busy second says nothing of this one.
      const bool consecutive = second == s.second + 1;
      s.multiplier = consecutive && s.accepted ? double(s.count) / double(s.accepted) : 1;
      s.previous = consecutive ? s.count : 0;
      s.second = second;
      s.count = s.accepted = 0;
    }
    s.count++;
    rate_multiplier_ = s.multiplier;
    if (s.accepted >= limit) return false;
    // Spread the kept flows over the second: keep each with probability limit/expected, the
    // expected count being what the previous second received (or this one so far).
    uint64_t expected = std::max(s.count, s.previous);
    if (expected > limit && random01() >= double(limit) / double(expected)) return false;
    s.accepted++;
    return true;
  }

  double random01() {
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return double(rng_ >> 11) * 0x1.0p-53;
  }

  const metadata::Entry* metadataFor(const IPv6Addr& exporter, uint32_t ifindex) {
    if (!core_.metadata_) return nullptr;
    metadata::Query q{exporter, ifindex};
    auto it = metadata_.find(q);
    if (it != metadata_.end()) {
      if (it->second) it->second->touch(now_);
      return it->second.get();
    }
    auto e = core_.metadata_->lookup(q, now_);
    // A miss is remembered (as null) until the shared cache changes.
    auto [pos, inserted] = metadata_.emplace(q, std::move(e));
    (void)inserted;
    return pos->second.get();
  }

  const classifier::ExporterResult& exporterClass(const IPv6Addr& exporter,
                                                  std::string_view name) {
    if (exporter_cls_ && exporter_cls_epoch_ == epoch_ && exporter == exporter_cls_for_)
      return *exporter_cls_;
    exporter_cls_for_ = exporter;
    exporter_cls_epoch_ = epoch_;
    auto it = exporters_.find(exporter);
    if (it != exporters_.end()) return *(exporter_cls_ = &it->second);
    exporter_cls_ = nullptr;  // set below, once the result is in the map
    std::string ip = exporter.toString();
    uint64_t errors = 0;
    auto r = core_.exporter_rules_.classify(classifier::ExporterInput{ip, name}, &errors);
    if (errors) core_.classifier_errors_.inc(errors);
    return *(exporter_cls_ = &exporters_.emplace(exporter, std::move(r)).first->second);
  }

  // One interface of one exporter (and VLAN when interface rules use it): its metadata entry,
  // and what a flow takes from it (interface and exporter names and classes, interned),
  // resolved from metadata and classifiers when the slot is filled. The slots are a
  // direct-mapped front for the maps below, so a flow costs one slot compare per interface and
  // copies; clearing the maps bumps epoch_, which empties every slot at once.
  struct IfSlot {
    IPv6Addr exporter;
    uint32_t ifindex = 0, vlan = 0;
    uint64_t epoch = 0;
    const metadata::Entry* entry = nullptr;
    bool found = false;         // the metadata knows this exporter
    bool has_info = false;      // name, description and speed known
    bool has_class = false;     // provider, connectivity and boundary set
    bool reject = false;        // an interface rule rejects its flows
    bool exporter_reject = false;
    Boundary boundary = Boundary::kUndefined;
    uint32_t speed = 0;
    uint32_t touched = 0;  // now_ when the entry was last touched through this slot
    IStr name, description, provider, connectivity;
    IStr exporter_name, exporter_group, exporter_role, exporter_site, exporter_region,
        exporter_tenant;
  };
  static_assert(sizeof(IfSlot) == 96, "a slot takes one and a half cache lines");
  static constexpr size_t kIfSlots = 1024;

  const IfSlot* interfaceFor(const IPv6Addr& exporter, uint32_t ifindex, uint16_t vlan) {
    uint32_t v = core_.interface_rules_use_vlan_ ? vlan : 0u;
    size_t h = (IPv6AddrHash{}(exporter) ^ (size_t(ifindex) * 0x9E3779B97F4A7C15ull) ^
                (size_t(v) << 40)) * 0xff51afd7ed558ccdull >> 54;
    IfSlot& s = if_slots_[h % kIfSlots];
    if (s.epoch == epoch_ && s.ifindex == ifindex && s.vlan == v && s.exporter == exporter) {
      // The shared entry's last use, once per second per slot: its cache line (written by
      // every worker) is not loaded per flow.
      if (s.touched != uint32_t(now_)) [[unlikely]] {
        s.touched = uint32_t(now_);
        if (s.entry) s.entry->touch(now_);
      }
      return &s;
    }
    s = IfSlot{};
    s.exporter = exporter;
    s.ifindex = ifindex;
    s.vlan = v;
    s.epoch = epoch_;
    s.entry = metadataFor(exporter, ifindex);
    fillSlot(s, classifyInterface(exporter, s.entry, ifindex, v, vlan));
    return &s;
  }

  void fillSlot(IfSlot& s, const classifier::InterfaceResult* cls) {
    const metadata::Entry* e = s.entry;
    if (!e || !e->answer.found) return;
    s.found = true;
    const metadata::ExporterInfo& x = e->answer.exporter;
    s.exporter_name = IStr(x.name);
    if (x.classified() || core_.exporter_rules_.empty()) {
      s.exporter_group = IStr(x.group);
      s.exporter_role = IStr(x.role);
      s.exporter_site = IStr(x.site);
      s.exporter_region = IStr(x.region);
      s.exporter_tenant = IStr(x.tenant);
    } else {
      const classifier::ExporterResult& r = exporterClass(s.exporter, x.name);
      s.exporter_reject = r.reject;
      s.exporter_group = IStr(r.group);
      s.exporter_role = IStr(r.role);
      s.exporter_site = IStr(r.site);
      s.exporter_region = IStr(r.region);
      s.exporter_tenant = IStr(r.tenant);
    }
    // ifIndex 0: the exporter's answer, no interface (a static provider's default interface
    // is for interfaces it does not list, not for a missing one).
    static const metadata::InterfaceInfo kNoInterface;
    const metadata::InterfaceInfo& info = s.ifindex ? e->answer.iface : kNoInterface;
    s.has_info = true;
    s.name = IStr(info.name);
    s.description = IStr(info.description);
    s.speed = info.speed;
    if (!cls) {
      // Classified by metadata, no rules, or nothing known to classify yet.
      if (info.classified() || core_.interface_rules_.empty()) {
        s.has_class = true;
        s.provider = IStr(info.provider);
        s.connectivity = IStr(info.connectivity);
        s.boundary = info.boundary;
      }
      return;
    }
    if (cls->reject) {
      s.reject = true;
      return;
    }
    s.has_class = true;
    s.name = IStr(cls->name);
    s.description = IStr(cls->description);
    s.provider = IStr(cls->provider);
    s.connectivity = IStr(cls->connectivity);
    s.boundary = cls->boundary;
  }

  const classifier::InterfaceResult* classifyInterface(const IPv6Addr& exporter,
                                                       const metadata::Entry* e, uint32_t ifindex,
                                                       uint32_t key_vlan, uint16_t vlan) {
    static const metadata::InterfaceInfo kNoInterface;
    const metadata::InterfaceInfo* info =
        e && e->answer.found ? (ifindex ? &e->answer.iface : &kNoInterface) : nullptr;
    if (!info || info->classified() || core_.interface_rules_.empty()) return nullptr;
    IfKey key{exporter, ifindex, key_vlan};
    auto it = interfaces_.find(key);
    if (it == interfaces_.end()) {
      std::string ip = exporter.toString();
      classifier::InterfaceInput in{{ip, e->answer.exporter.name},
                                    ifindex,
                                    info->name,
                                    info->description,
                                    info->speed,
                                    vlan};
      uint64_t errors = 0;
      auto r = core_.interface_rules_.classify(in, &errors);
      if (errors) core_.classifier_errors_.inc(errors);
      it = interfaces_.emplace(key, std::move(r)).first;
    }
    return &it->second;
  }

  // `strs`: the record's name, description, provider and connectivity of the interface, in
  // that order, as the slot keeps them (static_asserts below).
  static bool applyInterface(const IfSlot* slot, IStr* strs, uint32_t& speed, Boundary& boundary) {
    if (slot->reject) return false;
    if (slot->has_info) {
      speed = slot->speed;
      if (slot->has_class) {  // the usual case: the four strings as one block
        std::memcpy(static_cast<void*>(strs), &slot->name, 16);
        boundary = slot->boundary;
        return true;
      }
      std::memcpy(static_cast<void*>(strs), &slot->name, 8);
    }
    if (slot->has_class) {
      std::memcpy(static_cast<void*>(strs + 2), &slot->provider, 8);
      boundary = slot->boundary;
    }
    return true;
  }
  static_assert(offsetof(IfSlot, description) == offsetof(IfSlot, name) + 4 &&
                offsetof(IfSlot, provider) == offsetof(IfSlot, name) + 8 &&
                offsetof(IfSlot, connectivity) == offsetof(IfSlot, name) + 12);
  static_assert(offsetof(FlowRecord, in_if_description) == offsetof(FlowRecord, in_if_name) + 4 &&
                offsetof(FlowRecord, in_if_provider) == offsetof(FlowRecord, in_if_name) + 8 &&
                offsetof(FlowRecord, in_if_connectivity) == offsetof(FlowRecord, in_if_name) + 12);
  static_assert(offsetof(FlowRecord, out_if_description) == offsetof(FlowRecord, out_if_name) + 4 &&
                offsetof(FlowRecord, out_if_provider) == offsetof(FlowRecord, out_if_name) + 8 &&
                offsetof(FlowRecord, out_if_connectivity) == offsetof(FlowRecord, out_if_name) + 12);

  uint32_t selectAsn(uint32_t flow_asn, uint8_t flow_mask, const RouteInfo& route,
                     const NetworkAttributes* net, const GeoInfo& geo) const {
    for (Core::AsnProvider p : core_.asn_providers_) {
      uint32_t v = 0;
      switch (p) {
        case Core::AsnProvider::kFlow: v = flow_asn; break;
        case Core::AsnProvider::kFlowExceptPrivate:
          v = Core::privateAsn(flow_asn) ? 0 : flow_asn;
          break;
        case Core::AsnProvider::kFlowExceptDefaultRoute: v = flow_mask == 0 ? 0 : flow_asn; break;
        case Core::AsnProvider::kRouting: v = route.asn; break;
        case Core::AsnProvider::kRoutingExceptPrivate:
          v = Core::privateAsn(route.asn) ? 0 : route.asn;
          break;
        case Core::AsnProvider::kNetworks:
          // The most specific of the network's ASN and GeoIP's (the network when equal).
          v = net && net->asn && (!geo.asn || net->asn_len >= geo.asn_len) ? net->asn : geo.asn;
          break;
      }
      if (v) return v;
    }
    return 0;
  }

  uint8_t selectMask(uint8_t flow_mask, const RouteInfo& route) const {
    for (Core::NetProvider p : core_.net_providers_) {
      uint8_t v = p == Core::NetProvider::kFlow ? flow_mask : route.net_mask;
      if (v) return v;
    }
    return 0;
  }

  // As Akvorado's getNextHop: net-providers in order, the first non-zero next hop wins (so
  // without `flow` among them, the flow's own next hop is not kept).
  IPv6Addr selectNextHop(const IPv6Addr& flow_next_hop, const RouteInfo& route) const {
    for (Core::NetProvider p : core_.net_providers_) {
      const IPv6Addr& v = p == Core::NetProvider::kFlow ? flow_next_hop : route.next_hop;
      if (!v.isZero()) return v;
    }
    return IPv6Addr{};
  }

  // `strs`: the record's name, role, site, region and tenant of the side, in that order.
  [[gnu::always_inline]] static void applyNetwork(const NetworkAttributes* net, const GeoInfo& geo,
                                                  IStr* strs, char (&country)[2], IStr& city,
                                                  IStr& state) {
    if (!net) {  // the common case: GeoIP alone
      if (geo.country[0]) {
        country[0] = geo.country[0];
        country[1] = geo.country[1];
      }
      city = geo.city;
      state = geo.state;
      return;
    }
    // Per attribute, the most specific prefix wins between the networks (with what they
    // inherit) and GeoIP; the network for equal prefixes (Akvorado's merged tree).
    const NetworkAttributes& n = *net;
    // name, role, site, region, tenant: side by side in both (static_asserts below).
    std::memcpy(static_cast<void*>(strs), &n.name, 20);
    const bool geo_wins_city = !geo.city.empty() && (n.city.empty() || geo.location_len > n.city_len);
    city = geo_wins_city ? geo.city : n.city;
    const bool geo_wins_state = !geo.state.empty() && (n.state.empty() || geo.location_len > n.state_len);
    state = geo_wins_state ? geo.state : n.state;
    if (geo.country[0] && (n.country.size() < 2 || geo.location_len > n.country_len)) {
      country[0] = geo.country[0];
      country[1] = geo.country[1];
    } else if (n.country.size() >= 2) {
      country[0] = n.country[0];
      country[1] = n.country[1];
    }
  }

  static_assert(offsetof(NetworkAttributes, tenant) == offsetof(NetworkAttributes, name) + 16);
  static_assert(offsetof(FlowRecord, src_net_role) == offsetof(FlowRecord, src_net_name) + 4 &&
                offsetof(FlowRecord, src_net_site) == offsetof(FlowRecord, src_net_name) + 8 &&
                offsetof(FlowRecord, src_net_region) == offsetof(FlowRecord, src_net_name) + 12 &&
                offsetof(FlowRecord, src_net_tenant) == offsetof(FlowRecord, src_net_name) + 16);
  static_assert(offsetof(FlowRecord, dst_net_role) == offsetof(FlowRecord, dst_net_name) + 4 &&
                offsetof(FlowRecord, dst_net_site) == offsetof(FlowRecord, dst_net_name) + 8 &&
                offsetof(FlowRecord, dst_net_region) == offsetof(FlowRecord, dst_net_name) + 12 &&
                offsetof(FlowRecord, dst_net_tenant) == offsetof(FlowRecord, dst_net_name) + 16);

  Core& core_;
  std::unordered_map<metadata::Query, std::shared_ptr<const metadata::Entry>, metadata::QueryHash>
      metadata_;
  std::unordered_map<IfKey, classifier::InterfaceResult, IfKeyHash> interfaces_;
  std::unordered_map<IPv6Addr, classifier::ExporterResult, IPv6AddrHash> exporters_;
  std::unordered_map<IPv6Addr, RateState, IPv6AddrHash> rates_;
  std::unordered_set<IPv6Addr, IPv6AddrHash> warned_;  // exporters already reported by this worker
  uint64_t metadata_generation_ = 0, geo_generation_ = 0;
  std::shared_ptr<const GeoDatabases> geo_;
  PrefixCache<AddrInfo> addr_cache_;
  std::shared_ptr<const NetworkTree> nets_;
  uint64_t nets_generation_ = 0;
  int64_t now_ = 0, classified_at_ = unixNow();
  uint32_t clock_ = 0;             // reception time of the current datagram (received())
  uint32_t input_rate_limit_ = 0;  // its input's rate-limit (0: core.rate-limit)
  double rate_multiplier_ = 1;
  // Counts not yet added to the shared counters (see flushCounters()).
  enum Pending { kRateLimit, kNoInterfaces, kMetadataMissing, kSampling, kRejected, kPendingCount };
  uint64_t pending_[kPendingCount] = {};
  std::vector<IfSlot> if_slots_ = std::vector<IfSlot>(kIfSlots);
  uint64_t epoch_ = 1;  // slots and memos of an older epoch are empty
  bool rates_known_ = false;
  IPv6Addr rates_for_{};  // the exporter override_rate_ and default_rate_ are for
  const uint64_t* override_rate_ = nullptr;
  const uint64_t* default_rate_ = nullptr;
  const classifier::ExporterResult* exporter_cls_ = nullptr;
  IPv6Addr exporter_cls_for_{};
  uint64_t exporter_cls_epoch_ = 0;
  uint64_t rng_ = 0x9E3779B97F4A7C15ull;
  std::unique_ptr<CustomDictionaryApplier> dictionaries_;  // null without custom dictionaries
};

std::unique_ptr<FlowEnricher> Core::makeEnricher() { return std::make_unique<CoreEnricher>(*this); }

}  // namespace akvo
