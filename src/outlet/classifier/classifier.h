#pragma once
/// Classifiers: Akvorado-compatible rules written in a subset of the expr language
/// (https://expr-lang.org), evaluated in order for each exporter and each interface.
///
/// Supported, with expr's syntax, semantics and precedences:
/// - literals: strings ("...", '...' with Go's escapes \" \' \\ \n \t \r \a \f \v \uXXXX
///   \UXXXXXXXX, other escapes kept as written for RE2; `...` raw), numbers (integers, 0x/0o/0b,
///   _ separators, floats 1.5 .5 1e3), true, false, nil, lists [a, b]; comments // and /* */;
/// - variables Exporter.IP, Exporter.Name and, for interface rules, Interface.Index,
///   Interface.Name, Interface.Description, Interface.Speed, Interface.VLAN; `let name = value;
///   body` (lets chain; a name is visible in its body only and cannot be redeclared);
/// - operators, loosest first: cond ? a : b; || or; && and; == != < <= > >= (numbers or
///   strings) in matches startsWith endsWith contains and their "not" forms; .. (an int range);
///   + - (+ also joins strings); ! not; * / %; unary - +; ** ^ (right-associative); ??; then
///   a[i] (lists; negative from the end), a[i:j] a[:j] a[i:] (lists and strings, clamped).
///   Ints stay ints (wrapping as Go's int64), a float makes a float, / and ** give a float
///   (x / 0 is ±Inf), % takes ints;
/// - functions: expr's len, lower, upper, trim, trimPrefix, trimSuffix, hasPrefix, hasSuffix,
///   indexOf, lastIndexOf, split, splitAfter, replace, repeat, join, abs, ceil, floor, round,
///   max, min, int, float, string, first, last, reverse, sort(list[, "asc"|"desc"]), uniq,
///   concat, take, type; Akvorado's Format(fmt, args...) and the classification functions
///   (Classify*, Classify*Regex, ClassifyExternal/Internal, SetName, SetDescription, Reject).
///   Regexes use RE2 syntax (the one Akvorado's Go regexp accepts); templates expand like Go's
///   Regexp.ExpandString;
/// - expr's predicate builtins, whose second argument is a closure (braces optional): all, any,
///   none, one, filter, map, find, findIndex, findLast, findLastIndex, count(list[, pred]),
///   sum(list[, expr]), reduce(list, expr[, initial]). In the closure # is the element, #index
///   its index, #acc reduce's accumulator; closures nest, the inner # shadowing the outer.
///   They call the closure as expr's compiler does (all, any, none and the find forms stop at
///   the deciding element); find* give nil when nothing matches, the index forms too;
/// - the pipe, binding loosest but for ?: (`a + b | f(c)` is f(a + b, c)); ?. after Exporter
///   and Interface, and ?.[ on lists (same as . and [: our values are never nil).
/// Not supported: maps (so no .field in closures), member access other than the variables
/// above, groupBy, sortBy and expr's other builtins (get, flatten, mean, median, keys, dates,
/// JSON, base64, bit operations); a regex must be a string literal.
///
/// Rules are type checked when compiled, as expr does for Akvorado: a rule that is not a bool,
/// an operator or a function given the wrong types is a ParseError, not a run-time error. What
/// can only fail while running (% by zero, an index out of range, int("x"), more than a rule's
/// memory budget, which each call of a closure also draws on) stops the rules for that item and
/// is counted in `errors`.
///
/// Classification values are normalised as Akvorado does: lower-cased, every character
/// outside [a-z0-9.+-] removed. The first rule that sets a value wins; a ...Regex form whose
/// value is already set returns true without matching (Akvorado's classifyStringWithRegex).
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/flow.h"

namespace akvo::classifier {

/// A rule that does not parse or does not type check: the message names the rule, the position
/// and what was expected.
class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Kind { kExporter, kInterface };

/// What rules see.
struct ExporterInput {
  std::string_view ip, name;
};
struct InterfaceInput {
  ExporterInput exporter;
  uint32_t index = 0;
  std::string_view name, description;
  uint32_t speed = 0;
  uint32_t vlan = 0;
};

struct ExporterResult {
  std::string group, role, site, region, tenant;
  bool reject = false;
  bool complete() const {
    return !group.empty() && !role.empty() && !site.empty() && !region.empty() && !tenant.empty();
  }
};
struct InterfaceResult {
  std::string connectivity, provider;
  Boundary boundary = Boundary::kUndefined;
  std::string name, description;
  bool reject = false;
  bool complete() const {
    return !connectivity.empty() && !provider.empty() && boundary != Boundary::kUndefined;
  }
};

/// Lower-cases and keeps only [a-z0-9.+-].
std::string normalize(std::string_view s);

struct Node;

/// One compiled rule.
class Rule {
 public:
  /// Compiles and type checks `text`; throws ParseError.
  Rule(std::string text, Kind kind);
  ~Rule();
  Rule(Rule&&) noexcept;
  const std::string& text() const { return text_; }
  /// True when the rule reads Interface.VLAN (results must then be cached per VLAN).
  bool usesVlan() const { return uses_vlan_; }

 private:
  friend class RuleSet;
  std::string text_;
  Kind kind_;
  std::unique_ptr<Node> root_;
  bool uses_vlan_ = false;
  size_t slots_ = 0;   // let variables: the values a run keeps
  size_t frames_ = 0;  // closures: the deepest nesting, the frames a run keeps
};

/// An ordered list of rules of one kind.
class RuleSet {
 public:
  /// Compiles every rule; throws ParseError naming the rule's index.
  RuleSet(const std::vector<std::string>& rules, Kind kind);
  ~RuleSet();
  bool empty() const { return rules_.empty(); }
  bool usesVlan() const;
  /// Runs the rules on an exporter. `errors` counts rules that failed at run time (% by zero,
  /// an index out of range...): the rules after a failed one do not run, as in Akvorado.
  ExporterResult classify(const ExporterInput& in, uint64_t* errors = nullptr) const;
  /// Runs the rules on an interface; name and description default to the input's.
  InterfaceResult classify(const InterfaceInput& in, uint64_t* errors = nullptr) const;

 private:
  std::vector<Rule> rules_;
  Kind kind_;
};

}  // namespace akvo::classifier
