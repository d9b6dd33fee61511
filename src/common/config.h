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
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace akvo {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Duration = std::chrono::milliseconds;
/// "500ms", "5s", "1m", "1h30m", "15d", "0"; throws std::invalid_argument.
Duration parseDuration(const std::string& text);
std::string formatDuration(Duration d);

/// Reads one mapping. Fields are declared in order; finish() rejects keys nobody declared.
class ConfigReader {
 public:
  /// `node` may be undefined/null (section absent: every field takes its default).
  ConfigReader(const YAML::Node& node, std::string file, std::string path);

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
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }
  /// The resolved values read so far, in declaration order.
  const YAML::Node& resolved() const { return resolved_; }
  bool has(const std::string& key) const;
  /// The keys given in this section (file order), for sections whose keys are names chosen by
  /// the user (a column -> value mapping): each still has to be read with field().
  std::vector<std::string> keys() const;

 private:
  YAML::Node child(const std::string& key);
  std::string envName(const std::string& key) const;
  std::string where(const YAML::Node& n) const;
  YAML::Node node_;
  std::string file_, path_;
  std::vector<std::string> known_;
  YAML::Node resolved_;
};

/// Loads a YAML file (or an empty document when path is empty). Throws ConfigError with the
/// file and the parser's position on bad YAML.
YAML::Node loadYamlFile(const std::string& path);

}  // namespace akvo
