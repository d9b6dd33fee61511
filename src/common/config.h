#pragma once
/// Reading the YAML configuration. Each component decodes its own section with a ConfigReader,
/// which checks types and ranges, rejects unknown keys (naming the file, line, key and the
/// valid keys), and records the resolved value of every key (defaults included) so that
/// `akvo config check` can print the configuration in force.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace akvo {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What a parser of a free-form value (the values of a subnet map: static exporters, SNMP
/// credentials...) throws: the message, the node at fault and the keys that lead to it inside
/// the value, so that the error names the whole key and its line (readSubnetMap makes it a
/// ConfigError with ConfigReader::failAt()).
class ValueError : public std::invalid_argument {
 public:
  ValueError(const YAML::Node& at, const std::string& message)
      : std::invalid_argument(message), node(at) {}
  /// The same error seen one level up, under `key`.
  ValueError under(std::string key) && {
    keys.insert(keys.begin(), std::move(key));
    return std::move(*this);
  }
  /// "key.key: message", for an error reported without a line (a remote source's data).
  std::string withKeys() const {
    std::string out;
    for (const auto& k : keys) out += (out.empty() ? "" : ".") + k;
    return out.empty() ? what() : out + ": " + what();
  }
  YAML::Node node;
  std::vector<std::string> keys;
};

using Duration = std::chrono::milliseconds;
/// Whether a key as written in a file is the setting `name`, as Akvorado matches keys to its
/// settings (helpers.MapStructureMatchName): case and dashes do not count, so
/// "maximum-batch-size", "MaximumBatchSize" and "maximumbatchsize" are one key.
bool keyMatches(std::string_view written, std::string_view name);

/// "500ms", "5s", "1m", "1h30m", "15d", "0"; throws std::invalid_argument.
Duration parseDuration(const std::string& text);
std::string formatDuration(Duration d);

/// The files a configuration was read from (the main file, then those it includes) and the file
/// each node was read from: yaml-cpp's marks carry a line and a column, not a file. Nodes are
/// found by identity (YAML::Node::is(), which follows assignments: a mapping value replaced by
/// an included document, a merged value), so a node copied with YAML::Clone is not found.
class ConfigFiles {
 public:
  /// Records that `node` was read from `file` (a name as errors show it). A node already
  /// recorded keeps its file.
  void record(const YAML::Node& node, const std::string& file);
  /// The file `node` was read from, or nullptr when it was not recorded.
  const std::string* fileOf(const YAML::Node& node) const;
  /// Every file read, main file first, each once.
  const std::vector<std::string>& files() const { return files_; }

 private:
  std::vector<std::string> files_;
  // Candidates by position (offset, line, column), then identity; the value indexes files_.
  std::multimap<std::tuple<int, int, int>, std::pair<YAML::Node, size_t>> nodes_;
};

/// Reads one mapping. Fields are declared in order; finish() rejects keys nobody declared.
class ConfigReader {
 public:
  /// `node` may be undefined/null (section absent: every field takes its default). `file` names
  /// the document in errors; `files`, when given, names the file of each node instead (a node
  /// from an included file).
  ConfigReader(const YAML::Node& node, std::string file, std::string path,
               std::shared_ptr<const ConfigFiles> files = nullptr);
  /// A reader for `node`, found under `parent`'s mapping (e.g. in a raw() value), at `path`.
  ConfigReader(const ConfigReader& parent, const YAML::Node& node, std::string path);

  void field(const std::string& key, std::string& out);
  void field(const std::string& key, bool& out);
  void field(const std::string& key, Duration& out);
  void field(const std::string& key, std::vector<std::string>& out);
  /// Integers with an inclusive range.
  void field(const std::string& key, int64_t& out, int64_t min, int64_t max);
  template <class T>
  void intField(const std::string& key, T& out, int64_t min, int64_t max) {
    int64_t v = int64_t(out);
    field(key, v, min, max);
    out = T(v);
  }
  /// A string among fixed choices.
  void choice(const std::string& key, std::string& out, const std::vector<std::string>& choices);
  /// A nested mapping, decoded by `fn` with its own reader.
  void section(const std::string& key, const std::function<void(ConfigReader&)>& fn);
  /// A list of mappings: `fn` gets a reader per element. When the key is absent, `defaults`
  /// (the number of default elements) readers with empty nodes are created.
  void list(const std::string& key, const std::function<void(ConfigReader&, size_t)>& fn,
            size_t defaults = 0);
  /// A free-form mapping (e.g. subnet maps): returns the raw node, recorded as given, or, when
  /// absent, `shown_default` (YAML) is recorded so that `config check` shows the default.
  YAML::Node raw(const std::string& key, const char* shown_default = nullptr);

  /// Reports unknown keys. Call after all fields.
  void finish();

  /// An error about key `key` at its position (or the section's position if absent).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  /// An error about the value `n` found under this mapping at `key_path` (dotted keys inside a
  /// free-form value: "exporters.192.0.2.0/24.ifindexes.3.speed"), at n's position.
  [[noreturn]] void failAt(const YAML::Node& n, const std::string& key_path,
                           const std::string& message) const;
  const std::string& path() const { return path_; }
  /// The file of this reader's mapping.
  const std::string& file() const { return file_; }
  /// The file `n` was read from ("file" when unknown).
  std::string fileOf(const YAML::Node& n) const;
  /// "file:line:column" of the node under this mapping with position `mark` (e.g. from a
  /// YAML::Exception), with its own file when it came from another one.
  std::string where(const YAML::Mark& mark) const;
  /// The resolved values read so far, in declaration order.
  const YAML::Node& resolved() const { return resolved_; }
  bool has(const std::string& key) const;
  /// The keys given in this section (file order), for sections whose keys are names chosen by
  /// the user (a column -> value mapping): each still has to be read with field().
  std::vector<std::string> keys() const;

 private:
  YAML::Node child(const std::string& key);
  /// The value of `key` in this mapping (keyMatches()), or an undefined node.
  YAML::Node lookup(const std::string& key) const;
  std::string envName(const std::string& key) const;
  std::string where(const YAML::Node& n) const;
  YAML::Node node_;
  std::string file_, path_;
  std::shared_ptr<const ConfigFiles> files_;
  std::vector<std::string> known_;
  YAML::Node resolved_;
};

/// A configuration file as loaded: its includes replaced by their documents, merge keys
/// applied, hidden keys dropped.
struct YamlDocument {
  YAML::Node root;
  std::shared_ptr<const ConfigFiles> files;  ///< which file each node came from
};

/// Loads a YAML file (or an empty document when path is empty) as Akvorado does: `!include
/// "name.yaml"` replaces a node with the document of that file, a path relative to the
/// directory of the main file (after its symbolic links are followed), included files
/// included the same way; merge keys (`<<`) and hidden keys (starting with "."). Throws
/// ConfigError with the file and position on bad YAML, an unreadable or cyclic include.
YamlDocument loadYamlFile(const std::string& path);

}  // namespace akvo
