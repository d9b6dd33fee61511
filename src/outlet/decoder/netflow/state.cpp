#include "outlet/decoder/netflow/state.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>

#include "outlet/decoder/netflow/netflow.h"

namespace akvo::decoder {

using nlohmann::json;

json stateToJson(const std::vector<const DomainMap*>& states) {
  json domains = json::array();
  for (const DomainMap* m : states) {
    for (const auto& [key, d] : *m) {
      if (d.templates.empty() && d.sampling.empty()) continue;
      json templates = json::array();
      for (const auto& [id, t] : d.templates) {
        json fields = json::array();
        for (const auto& f : t.fields) fields.push_back({f.type, f.length, f.pen, f.scope});
        templates.push_back({{"id", id}, {"options", t.options}, {"refreshed", t.refreshed},
                             {"fields", fields}});
      }
      json sampling = json::array();
      for (const auto& [sampler, rate] : d.sampling) sampling.push_back({sampler, rate});
      domains.push_back({{"exporter", key.exporter.toString()},
                         {"version", key.version},
                         {"domain", key.domain},
                         {"templates", templates},
                         {"sampling", sampling}});
    }
  }
  return {{"version", kStateVersion}, {"domains", domains}};
}

namespace {

/// A number of type T, else a malformed state (nlohmann's get<>() converts out-of-range and
/// negative numbers silently).
template <class T>
T number(const json& j, const char* what) {
  const bool ok = j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
  if (!ok || j.get<uint64_t>() > std::numeric_limits<T>::max())
    throw std::runtime_error(std::string("bad ") + what + " " + j.dump());
  return T(j.get<uint64_t>());
}

Template templateFromJson(const json& jt) {
  Template t;
  t.options = jt.at("options").get<bool>();
  t.refreshed = number<uint32_t>(jt.at("refreshed"), "template time");
  const json& fields = jt.at("fields");
  if (!fields.is_array() || fields.size() > kMaxTemplateFields)
    throw std::runtime_error("template fields not a list of at most " +
                             std::to_string(kMaxTemplateFields));
  for (const auto& jf : fields) {
    TemplateField f{number<uint16_t>(jf.at(0), "field type"),
                    number<uint16_t>(jf.at(1), "field length"),
                    number<uint32_t>(jf.at(2), "enterprise number"), jf.at(3).get<bool>()};
    if (f.pen == kReversePen) t.reverse = true;
    if (t.options && !f.pen && !f.scope && (f.type == 34 || f.type == 50 || f.type == 305))
      t.carries_sampling = true;
    t.min_length += f.length == 0xffff ? 1 : f.length;
    t.fields.push_back(f);
  }
  // As learnTemplates: records of 1 to 65,535 bytes.
  if (t.min_length == 0 || t.min_length > 65535)
    throw std::runtime_error("template without fields or with records over 65,535 bytes");
  t.setPlain();
  return t;
}

/// Applies saved domains to a decoder's state with the bounds learning applies (templates.h):
/// domains per exporter and in all, template ids and sampler ids per domain, template bytes.
class StateLoader {
 public:
  StateLoader(DomainMap& into, TemplateBudget& budget) : into_(into), budget_(budget) {
    for (const auto& [k, d] : into_)
      index_[DomainKey{k.exporter, 0, k.version}].push_back(k.domain);
  }

  /// One element of "domains". Throws on a malformed one.
  void domain(const json& jd) {
    auto exporter = IPv6Addr::parse(jd.at("exporter").get<std::string>());
    if (!exporter) throw std::runtime_error("bad exporter address " + jd.at("exporter").dump());
    DomainKey key{*exporter, number<uint32_t>(jd.at("domain"), "domain"),
                  number<uint16_t>(jd.at("version"), "version")};
    if (key.version != 5 && key.version != 9 && key.version != 10)
      throw std::runtime_error("bad NetFlow version " + jd.at("version").dump());
    DomainState* d;
    if (auto it = into_.find(key); it != into_.end()) {
      d = &it->second;
    } else if (into_.size() >= kMaxDomains ||
               domainsOfExporter(index_, key.exporter) >= kMaxDomainsPerExporter) {
      refused.domains++;  // with its templates and rates
      return;
    } else {
      index_[DomainKey{key.exporter, 0, key.version}].push_back(key.domain);
      d = &into_[key];
    }
    for (const auto& jt : jd.at("templates")) {
      const uint32_t id = number<uint16_t>(jt.at("id"), "template id");
      if (id < 256) throw std::runtime_error("bad template id " + std::to_string(id));
      switch (d->storeTemplate(uint16_t(id), templateFromJson(jt), budget_)) {
        case DomainState::Stored::kStored: break;
        case DomainState::Stored::kTooManyIds: refused.templates++; break;
        case DomainState::Stored::kNoRoom: refused.template_memory++; break;
      }
    }
    for (const auto& js : jd.at("sampling")) {
      const uint64_t sampler = number<uint64_t>(js.at(0), "sampler id"),
                     rate = number<uint64_t>(js.at(1), "sampling rate");
      if (rate == 0) continue;  // never learned: 0 means unknown
      if (d->samplingRate(sampler) != rate && !d->setSamplingRate(sampler, rate))
        refused.samplers++;
    }
  }

  StateRefused refused;

 private:
  DomainMap& into_;
  TemplateBudget& budget_;
  ExporterDomains index_;  // domain ids of each (exporter, version) in into_
};

void checkVersion(const json& doc) {
  if (doc.at("version") != kStateVersion)
    throw std::runtime_error("unknown state version " + doc.at("version").dump());
}

}  // namespace

StateRefused stateFromJson(const json& doc, DomainMap& into, TemplateBudget& budget) {
  StateLoader loader(into, budget);
  try {
    checkVersion(doc);
    for (const auto& jd : doc.at("domains")) loader.domain(jd);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("malformed decoder state: ") + e.what());
  }
  return loader.refused;
}

void saveStateFile(const std::string& path, const std::vector<const DomainMap*>& states) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) throw std::runtime_error(path + ": cannot write the decoder state");
    out << stateToJson(states).dump() << "\n";
    if (!out.flush()) throw std::runtime_error(path + ": cannot write the decoder state");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error(path + ": cannot replace the decoder state");
}

bool loadStateFile(const std::string& path, DomainMap& into, TemplateBudget& budget,
                   StateRefused& refused) {
  std::ifstream in(path);
  if (!in) return false;
  // Read one domain at a time: each is applied when complete, then dropped from the document
  // (the parser's callback). What a domain may hold meanwhile is bounded as well: past the
  // ids a domain may have, or the template bytes left, its entries are dropped as they come
  // (counted), and a template of more fields than a datagram can carry is malformed.
  using Event = json::parse_event_t;
  StateLoader loader(into, budget);
  std::string root_key, domain_key, template_key;
  size_t templates = 0, samplers = 0, fields = 0, pending_bytes = 0;
  bool stray = false;  // an element of "domains" that is not an object
  auto callback = [&](int depth, Event event, json& parsed) -> bool {
    if (event == Event::key) {
      if (depth == 1) root_key = parsed.get<std::string>();
      if (depth == 3) domain_key = parsed.get<std::string>();
      if (depth == 5) template_key = parsed.get<std::string>();
      return true;
    }
    if (root_key != "domains" || depth < 2) return true;
    if (depth == 2) {
      switch (event) {
        case Event::object_start:
          domain_key.clear();
          templates = samplers = pending_bytes = 0;
          return true;
        case Event::object_end:
          loader.domain(parsed);
          return false;  // applied: dropped from the document
        default:
          stray = true;  // not an object: skipped, and the file is malformed
          return false;
      }
    }
    if (depth == 4 && domain_key == "templates" && event == Event::object_start) {
      template_key.clear();
      fields = 0;
    }
    if (depth == 6 && domain_key == "templates" && template_key == "fields" &&
        event == Event::array_end && ++fields > kMaxTemplateFields)
      throw std::runtime_error("template with more than " + std::to_string(kMaxTemplateFields) +
                               " fields");
    if (depth == 4 && event == Event::object_end && domain_key == "templates") {
      const size_t bytes = sizeof(Template) + fields * (sizeof(TemplateField) + sizeof(FieldOp));
      if (++templates > kMaxTemplatesPerDomain) {
        loader.refused.templates++;
        return false;
      }
      if (pending_bytes + bytes > budget.max - std::min(budget.max, budget.used)) {
        loader.refused.template_memory++;
        return false;
      }
      pending_bytes += bytes;
    }
    if (depth == 4 && event == Event::array_end && domain_key == "sampling" &&
        ++samplers > kMaxSamplersPerDomain) {
      loader.refused.samplers++;
      return false;
    }
    return true;
  };
  try {
    json doc = json::parse(in, callback);
    if (stray || !doc.at("domains").is_array())
      throw std::runtime_error("malformed decoder state: domains must be a list of objects");
    checkVersion(doc);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": malformed decoder state: " + e.what());
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  refused = loader.refused;
  return true;
}

bool NetflowDecoder::loadState(const std::string& path, StateRefused& refused) {
  try {
    if (!loadStateFile(path, domains_, template_budget_, refused)) return false;
  } catch (const std::exception&) {
    clear();  // part of a file that cannot be read is not kept
    throw;
  }
  samplingChanged();  // domains_ changed behind the index: reindex() rebuilds it
  return true;
}

}  // namespace akvo::decoder
