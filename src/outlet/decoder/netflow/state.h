#pragma once
/// Persistence of the NetFlow v9/IPFIX decoder state (templates and sampling rates per
/// exporter and domain), so that a restarted outlet decodes at once instead of waiting for the
/// next templates. A JSON document with a version number, written atomically (temporary file,
/// then rename). Sequence numbers are not kept: the gap across a restart is unknown.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "outlet/decoder/netflow/templates.h"

namespace akvo::decoder {

inline constexpr int kStateVersion = 1;

nlohmann::json stateToJson(const std::vector<const DomainMap*>& states);
/// Merges a saved state into `into`, whose templates `budget` counts (templates past it are
/// left out). Throws std::runtime_error on a malformed document or an unknown version.
void stateFromJson(const nlohmann::json& doc, DomainMap& into, TemplateBudget& budget);

/// Writes the state of every worker's decoder to `path` atomically. Throws on I/O errors.
void saveStateFile(const std::string& path, const std::vector<const DomainMap*>& states);
/// Loads `path` into `into`; a missing file is no error (returns false). Throws
/// std::runtime_error naming the file when it cannot be parsed.
bool loadStateFile(const std::string& path, DomainMap& into, TemplateBudget& budget);

}  // namespace akvo::decoder
