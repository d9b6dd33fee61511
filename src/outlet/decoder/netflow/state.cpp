#include "outlet/decoder/netflow/state.h"

#include <cstdio>
#include <fstream>
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

void stateFromJson(const json& doc, DomainMap& into, TemplateBudget& budget) {
  try {
    if (doc.at("version").get<int>() != kStateVersion)
      throw std::runtime_error("unknown state version " + doc.at("version").dump());
    for (const auto& jd : doc.at("domains")) {
      auto exporter = IPv6Addr::parse(jd.at("exporter").get<std::string>());
      if (!exporter) throw std::runtime_error("bad exporter address " + jd.at("exporter").dump());
      DomainState& d = into[DomainKey{*exporter, jd.at("domain").get<uint32_t>(),
                                      jd.at("version").get<uint16_t>()}];
      for (const auto& jt : jd.at("templates")) {
        Template t;
        t.options = jt.at("options").get<bool>();
        t.refreshed = jt.at("refreshed").get<uint32_t>();
        for (const auto& jf : jt.at("fields")) {
          TemplateField f{jf.at(0).get<uint16_t>(), jf.at(1).get<uint16_t>(),
                          jf.at(2).get<uint32_t>(), jf.at(3).get<bool>()};
          if (f.pen == kReversePen) t.reverse = true;
          if (t.options && !f.pen && !f.scope && (f.type == 34 || f.type == 50 || f.type == 305))
            t.carries_sampling = true;
          t.min_length += f.length == 0xffff ? 1 : f.length;
          t.fields.push_back(f);
        }
        if (t.min_length == 0) throw std::runtime_error("template without fields");
        t.setPlain();
        d.storeTemplate(jt.at("id").get<uint16_t>(), t, budget);
      }
      for (const auto& js : jd.at("sampling"))
        d.setSamplingRate(js.at(0).get<uint64_t>(), js.at(1).get<uint64_t>());
    }
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("malformed decoder state: ") + e.what());
  }
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

bool loadStateFile(const std::string& path, DomainMap& into, TemplateBudget& budget) {
  std::ifstream in(path);
  if (!in) return false;
  try {
    stateFromJson(json::parse(in), into, budget);
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
  return true;
}

bool NetflowDecoder::loadState(const std::string& path) {
  try {
    if (!loadStateFile(path, domains_, template_budget_)) return false;
  } catch (const std::exception&) {
    clear();  // part of a file that cannot be read is not kept
    throw;
  }
  samplingChanged();  // domains_ changed behind the index: reindex() rebuilds it
  return true;
}

}  // namespace akvo::decoder
