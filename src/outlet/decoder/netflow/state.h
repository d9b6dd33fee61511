#pragma once
/// Persistence of the NetFlow v9/IPFIX decoder state (templates and sampling rates per
/// exporter and domain), so that a restarted outlet decodes at once instead of waiting for the
/// next templates. A JSON document with a version number, written atomically (temporary file,
/// then rename). Sequence numbers are not kept: the gap across a restart is unknown.
///
/// Loading applies the decoder's bounds (templates.h) as learning from the network does: a
/// file, crafted or saved by many workers, cannot make a decoder hold more. It is read one
/// domain at a time (the JSON document is never held whole).
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "outlet/decoder/netflow/templates.h"

namespace akvo::decoder {

inline constexpr int kStateVersion = 1;

/// What a loaded state held past the decoder's bounds (templates.h), refused and left out.
struct StateRefused {
  size_t templates = 0;        ///< new template ids of a domain with kMaxTemplatesPerDomain
  size_t samplers = 0;         ///< new sampler ids of a domain with kMaxSamplersPerDomain
  size_t domains = 0;          ///< domains past kMaxDomainsPerExporter or kMaxDomains
  size_t template_memory = 0;  ///< templates past the holder's TemplateBudget
  size_t total() const { return templates + samplers + domains + template_memory; }
};

nlohmann::json stateToJson(const std::vector<const DomainMap*>& states);
/// Merges a saved state into `into`, whose templates `budget` counts, within the bounds.
/// Throws std::runtime_error on a malformed document or an unknown version (`into` may then
/// hold part of it).
StateRefused stateFromJson(const nlohmann::json& doc, DomainMap& into, TemplateBudget& budget);

/// Writes the state of every worker's decoder to `path` atomically. Throws on I/O errors.
void saveStateFile(const std::string& path, const std::vector<const DomainMap*>& states);
/// Loads `path` into `into` as stateFromJson() does; a missing file is no error (returns
/// false). Throws std::runtime_error naming the file when it cannot be parsed.
bool loadStateFile(const std::string& path, DomainMap& into, TemplateBudget& budget,
                   StateRefused& refused);

}  // namespace akvo::decoder
