#include "outlet/decoder/netflow/shared_templates.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <vector>

namespace akvo::decoder {

using nlohmann::json;

// Keys: "t/<exporter>/<version>/<domain>/<template id>" and
// "s/<exporter>/<version>/<domain>/<sampler id>": one record per key survives compaction.
// Values: JSON (the control path; readable with kafka-console-consumer):
// template {"options":bool,"refreshed":unix seconds,"fields":[[type,length,pen,scope],...]},
// sampling {"rate":N}.
std::string SharedTemplates::templateKey(const DomainKey& k, uint16_t id) {
  return fmt::format("t/{}/{}/{}/{}", k.exporter.toString(), k.version, k.domain, id);
}
std::string SharedTemplates::samplingKey(const DomainKey& k, uint64_t sampler) {
  return fmt::format("s/{}/{}/{}/{}", k.exporter.toString(), k.version, k.domain, sampler);
}
std::string SharedTemplates::templateValue(const Template& t) {
  json fields = json::array();
  for (const auto& f : t.fields) fields.push_back({f.type, f.length, f.pen, f.scope});
  return json{{"options", t.options}, {"refreshed", t.refreshed}, {"fields", fields}}.dump();
}
std::string SharedTemplates::samplingValue(uint64_t rate) { return json{{"rate", rate}}.dump(); }

namespace {

template <class T>
bool number(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

/// Parses "kind/exporter/version/domain/id".
bool parseKey(std::string_view key, char& kind, DomainKey& k, uint64_t& id) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= key.size(); i++)
    if (i == key.size() || key[i] == '/') {
      parts.push_back(key.substr(start, i - start));
      start = i + 1;
    }
  if (parts.size() != 5 || parts[0].size() != 1) return false;
  kind = parts[0][0];
  auto addr = IPv6Addr::parse(std::string(parts[1]));
  if (!addr) return false;
  k.exporter = *addr;
  return number(parts[2], k.version) && number(parts[3], k.domain) && number(parts[4], id);
}

}  // namespace

void SharedTemplates::templateLearned(const DomainKey& key, uint16_t id, const Template& t) {
  // Refused past a bound: not published either (the other outlets would refuse it too).
  if (applyTemplate(key, id, t) == Applied::kRefused) return;
  if (publisher_) publisher_(templateKey(key, id), templateValue(t));
}

void SharedTemplates::samplingLearned(const DomainKey& key, uint64_t sampler, uint64_t rate) {
  if (applySampling(key, sampler, rate) && publisher_)
    publisher_(samplingKey(key, sampler), samplingValue(rate));
}

void SharedTemplates::refuse(Counter* counter, const DomainKey& key, const char* what) {
  counter->inc();
  log_.warn("exporter {}: shared templates: new {} refused (version {}, domain {}): bound "
            "reached",
            key.exporter.toString(), what, key.version, key.domain);
}

DomainState* SharedTemplates::domainState(const DomainKey& key) {
  if (auto it = domains_.find(key); it != domains_.end()) return &it->second;
  const size_t of_exporter = domainsOfExporter(exporter_domains_, key.exporter);
  if (domains_.size() >= kMaxDomains || of_exporter >= kMaxDomainsPerExporter) {
    refuse(refused_.domains, key, "domain");
    return nullptr;
  }
  exporter_domains_[DomainKey{key.exporter, 0, key.version}].push_back(key.domain);
  return &domains_[key];
}

SharedTemplates::Applied SharedTemplates::applyTemplate(const DomainKey& key, uint16_t id,
                                                         const Template& t) {
  std::lock_guard lock(mutex_);
  DomainState* dp = domainState(key);
  if (!dp) return Applied::kRefused;
  DomainState& d = *dp;
  auto it = d.templates.find(id);
  const bool redefined = it != d.templates.end();
  if (redefined) {
    if (t.refreshed < it->second.refreshed) return Applied::kUnchanged;  // older, late
    if (it->second.fields == t.fields && it->second.options == t.options &&
        it->second.refreshed == t.refreshed)
      return Applied::kUnchanged;
  }
  switch (d.storeTemplate(id, t, budget_)) {
    case DomainState::Stored::kStored: break;
    case DomainState::Stored::kTooManyIds:
      refuse(refused_.templates, key, "template id");
      return Applied::kRefused;
    case DomainState::Stored::kNoRoom:
      // An older definition of the id is gone too: the decoders keep their own copy, but
      // those merging later must not get it.
      refuse(refused_.template_memory, key, "template (over template-max-bytes)");
      if (redefined) generation_.fetch_add(1, std::memory_order_release);
      return Applied::kRefused;
  }
  generation_.fetch_add(1, std::memory_order_release);
  return Applied::kChanged;
}

bool SharedTemplates::applySampling(const DomainKey& key, uint64_t sampler, uint64_t rate) {
  std::lock_guard lock(mutex_);
  DomainState* d = domainState(key);
  if (!d || d->samplingRate(sampler) == rate) return false;
  if (!d->setSamplingRate(sampler, rate)) {
    refuse(refused_.samplers, key, "sampler id");
    return false;
  }
  generation_.fetch_add(1, std::memory_order_release);
  return true;
}

bool SharedTemplates::apply(std::string_view key, std::string_view value) {
  char kind;
  DomainKey k;
  uint64_t id;
  if (!parseKey(key, kind, k, id)) return false;
  try {
    json v = json::parse(value);
    if (kind == 's') {
      uint64_t rate = v.at("rate").get<uint64_t>();
      if (rate == 0) return false;
      applySampling(k, id, rate);
      return true;
    }
    if (kind != 't' || id < 256 || id > 65535) return false;
    Template t;
    t.options = v.at("options").get<bool>();
    t.refreshed = v.at("refreshed").get<uint32_t>();
    for (const auto& jf : v.at("fields")) {
      TemplateField f{jf.at(0).get<uint16_t>(), jf.at(1).get<uint16_t>(),
                      jf.at(2).get<uint32_t>(), jf.at(3).get<bool>()};
      if (f.pen == kReversePen) t.reverse = true;
      if (t.options && !f.pen && !f.scope &&
          (f.type == 34 || f.type == 50 || f.type == 305))
        t.carries_sampling = true;
      t.min_length += f.length == 0xffff ? 1 : f.length;
      t.fields.push_back(f);
    }
    if (t.min_length == 0 || t.min_length > 65535 || t.fields.size() > kMaxTemplateFields)
      return false;
    t.setPlain();
    t.published = t.refreshed;
    applyTemplate(k, uint16_t(id), t);
    return true;
  } catch (const json::exception&) {
    return false;
  }
}

size_t SharedTemplates::mergeInto(const DomainKey& key, DomainState& local,
                                  TemplateBudget& budget) const {
  std::lock_guard lock(mutex_);
  auto it = domains_.find(key);
  if (it == domains_.end()) return 0;
  size_t no_room = 0;
  for (const auto& [id, t] : it->second.templates) {
    if (auto lt = local.templates.find(id); lt != local.templates.end()) {
      if (t.refreshed < lt->second.refreshed ||
          (lt->second.fields == t.fields && lt->second.options == t.options &&
           t.refreshed == lt->second.refreshed))
        continue;
    }
    // Past the domain's ids (the local ones fill it), a shared one is left out; past the
    // holder's bytes too, counted.
    if (local.storeTemplate(id, t, budget) == DomainState::Stored::kNoRoom) no_room++;
  }
  // Past the bound (local samplers fill it), a shared one is left out.
  for (const auto& [sampler, rate] : it->second.sampling) local.setSamplingRate(sampler, rate);
  return no_room;
}

void SharedTemplates::domainsOf(const DomainKey& exporter, std::vector<uint32_t>& out) const {
  out.clear();
  std::lock_guard lock(mutex_);
  auto it = exporter_domains_.find(DomainKey{exporter.exporter, 0, exporter.version});
  if (it != exporter_domains_.end()) out.assign(it->second.begin(), it->second.end());
}

size_t SharedTemplates::templates() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [k, d] : domains_) n += d.templates.size();
  return n;
}

size_t SharedTemplates::templateBytesUsed() const {
  std::lock_guard lock(mutex_);
  return budget_.used;
}

size_t SharedTemplates::samplingRates() const {
  std::lock_guard lock(mutex_);
  size_t n = 0;
  for (const auto& [k, d] : domains_) n += d.sampling.size();
  return n;
}

}  // namespace akvo::decoder
