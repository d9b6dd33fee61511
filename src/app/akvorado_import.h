#pragma once
/// `akvo config import-akvorado`: converts an Akvorado configuration (the orchestrator's file,
/// with its `inlet`, `outlet`, `console` and `demo-exporter` lists, its `kafka`, `clickhousedb`
/// and `clickhouse` sections) into one akvo configuration. Every Akvorado key is either carried
/// over to the akvo key that reads it, or reported with its file and line: nothing is dropped
/// without a word.
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/config.h"

namespace akvo {

/// An Akvorado key that is not in the converted configuration, and why.
struct ImportDiagnostic {
  std::string file;  ///< the Akvorado file holding the key (an included one, maybe)
  int line = 0;      ///< 1-based; 0 when unknown
  std::string
      key;  ///< its path in Akvorado's configuration, e.g. outlet[0].kafka-input.min-workers
  std::string why;
  /// "file:line: key: why"
  std::string format() const;
};

struct AkvoradoImportOptions {
  /// The entry of each service list (`inlet: [...]`, `outlet: [...]`, `console: [...]`) to
  /// convert. An index past the end of a list takes entry 0, as Akvorado's orchestrator does.
  size_t index = 0;
  /// The file named in diagnostics when the document does not say which file a key came
  /// from (a document not read by loadYamlFile()).
  std::string source = "akvorado.yaml";
};

struct AkvoradoImport {
  std::string yaml;  ///< the akvo configuration, comments included
  std::vector<ImportDiagnostic> left_out;
};

/// Converts `doc` (an Akvorado configuration as loadYamlFile() reads it: includes in place,
/// each node's file known) into an akvo configuration that AppConfig::fromYaml() accepts.
/// A value akvo refuses is left out and reported with akvo's reason, like a key akvo does not
/// have. Reads no file, except that validation checks the TLS files named exist (as `config
/// check` does). Throws ConfigError when `doc` is not an Akvorado configuration or when the
/// result cannot be made valid (akvo's validation error in the message).
AkvoradoImport importAkvorado(const YamlDocument& doc, const AkvoradoImportOptions& options = {});

/// The command: reads `file`, writes the akvo configuration to `output` (empty: to `out`),
/// the diagnostics to `err`, then loads what it wrote as `akvo config check` does. Returns 0
/// when everything was carried over, 2 when something was left out, 1 on a hard error.
int runImportAkvorado(const std::string& file, const std::string& output,
                      const AkvoradoImportOptions& options, std::ostream& out, std::ostream& err);

}  // namespace akvo
