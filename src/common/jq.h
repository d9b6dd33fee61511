#pragma once
/// A jq interpreter for the subset people write to shape remote data sources (Akvorado's
/// `transform`, run by gojq there): paths (`.a.b`, `.["x"]`, `.[n]`, `.[a:b]`, `.[]`, `?`),
/// pipes, `,`, `//`, arithmetic, comparisons, `and`/`or`, `if`/`elif`/`else`, `try`/`catch`,
/// `reduce`, `as $x` bindings, object and array construction, string interpolation, and the
/// builtins listed in kBuiltins (map, select, to_entries, test, split, join...). It runs on the
/// control path (once per refresh of a source), not per flow.
///
/// Values are nlohmann::ordered_json: objects keep their insertion order as jq's do.
/// Not supported (a parse error says so): `def`, assignments (`=`, `|=`...), `@formats`,
/// `label`/`break`, `foreach`, `?//`, path functions (`path`, `del`, `getpath`...), `$ENV`.
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace akvo::jq {

using Value = nlohmann::ordered_json;

/// A run-time error (`error(...)`, a bad index, a step budget exceeded). The message is jq's.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message), value(message) {}
  Error(const std::string& message, Value v) : std::runtime_error(message), value(std::move(v)) {}
  Value value;  ///< what `try ... catch` gives the handler: the message, or v of error(v)
};

/// A syntax error: where (1-based line and column, byte offset) and what was expected.
class ParseError : public std::runtime_error {
 public:
  ParseError(const std::string& message, size_t offset, size_t line, size_t column)
      : std::runtime_error(message), offset(offset), line(line), column(column) {}
  size_t offset, line, column;
};

struct Node;

class Program {
 public:
  /// Steps (node evaluations and values produced) a run may take before it fails: bounds what
  /// a runaway transform costs (`[.[],.[]] | [.[],.[]] | ...`).
  static constexpr uint64_t kDefaultMaxSteps = 200'000'000;

  /// Parses `text`. Throws ParseError ("1:15: expected ')' but found '}'").
  static Program compile(std::string_view text);

  /// Runs on `input`, calling `out` with each output in order. Throws Error (exceptions thrown
  /// by `out` go through unchanged). Thread-safe: a program is immutable.
  void run(const Value& input, const std::function<void(const Value&)>& out,
           uint64_t max_steps = kDefaultMaxSteps) const;
  /// Every output of a run.
  std::vector<Value> all(const Value& input, uint64_t max_steps = kDefaultMaxSteps) const;
  const std::string& text() const { return text_; }

 private:
  std::shared_ptr<const Node> root_;
  std::string text_;
};

/// jq's total order: null < false < true < numbers < strings < arrays < objects; arrays
/// element by element, objects by their sorted keys then their values. <0, 0, >0.
int compare(const Value& a, const Value& b);
/// A value as `tostring` gives it: a string as is, anything else as compact JSON.
std::string toString(const Value& v);

}  // namespace akvo::jq
