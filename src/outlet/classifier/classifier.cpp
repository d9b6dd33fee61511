#include "outlet/classifier/classifier.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <unordered_set>

namespace akvo::classifier {

std::string normalize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    char l = char(std::tolower(uint8_t(c)));
    if ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '.' || l == '+' || l == '-')
      out.push_back(l);
  }
  return out;
}

namespace {

/// Bytes one rule may produce while it runs on one item (strings, lists, copies read from let
/// variables), as expr's memory budget: past it the rule fails at run time instead of taking
/// the process down. Real rules produce a few hundred bytes.
constexpr size_t kMemoryBudget = size_t(16) << 20;
/// expr's limit on repeat()'s count.
constexpr int64_t kMaxRepeat = 1000000;
/// Deepest expression accepted (nesting and operator chains): parsing, checking and evaluation
/// recurse that deep.
constexpr size_t kMaxDepth = 500;

struct Value {
  enum Type { kNil, kBool, kInt, kFloat, kStr, kList } t = kNil;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<Value> list;
  static Value boolean(bool v) {
    Value x;
    x.t = kBool;
    x.b = v;
    return x;
  }
  static Value integer(int64_t v) {
    Value x;
    x.t = kInt;
    x.i = v;
    return x;
  }
  static Value floating(double v) {
    Value x;
    x.t = kFloat;
    x.f = v;
    return x;
  }
  static Value str(std::string v) {
    Value x;
    x.t = kStr;
    x.s = std::move(v);
    return x;
  }
  static Value array(std::vector<Value> v) {
    Value x;
    x.t = kList;
    x.list = std::move(v);
    return x;
  }
  const char* typeName() const {
    switch (t) {
      case kNil: return "nil";
      case kBool: return "bool";
      case kInt: return "int";
      case kFloat: return "float";
      case kStr: return "string";
      default: return "list";
    }
  }
  bool isNumber() const { return t == kInt || t == kFloat; }
  double asDouble() const { return t == kInt ? double(i) : f; }
  /// expr's runtime equality: numbers compare by value whatever their type.
  bool operator==(const Value& o) const {
    if (isNumber() && o.isNumber())
      return t == kInt && o.t == kInt ? i == o.i : asDouble() == o.asDouble();
    if (t != o.t) return false;
    switch (t) {
      case kNil: return true;
      case kBool: return b == o.b;
      case kStr: return s == o.s;
      default: return list == o.list;
    }
  }
  /// What the value holds in memory, counted against kMemoryBudget.
  size_t footprint() const {
    size_t n = sizeof(Value) + s.size();
    for (const auto& x : list) n += x.footprint();
    return n;
  }
};

enum class Var { kExporterIP, kExporterName, kIfIndex, kIfName, kIfDescription, kIfSpeed, kIfVlan };

enum class Op {
  kLit, kVar, kLocal, kLet, kCall, kList, kNot, kNeg, kPos, kAnd, kOr, kCond, kEq, kNe, kLt, kLe,
  kGt, kGe, kIn, kMatches, kStartsWith, kEndsWith, kContains, kAdd, kSub, kMul, kDiv, kMod, kPow,
  kRange, kCoalesce, kIndex, kSlice, kPointer
};

/// What a closure's pointer names: # (the element), #index (its index), #acc (reduce's
/// accumulator).
enum class Pointer { kElement, kIndex, kAcc };

/// Static types of the checker (expr's natures, reduced to what rules can express). kUnknown is
/// expr's interface{}: checked when the rule runs.
enum class Type { kNil, kBool, kInt, kFloat, kString, kList, kUnknown };

const char* typeName(Type t) {
  switch (t) {
    case Type::kNil: return "nil";
    case Type::kBool: return "bool";
    case Type::kInt: return "int";
    case Type::kFloat: return "float";
    case Type::kString: return "string";
    case Type::kList: return "list";
    default: return "unknown";
  }
}
bool isNumber(Type t) { return t == Type::kInt || t == Type::kFloat; }

/// Built-in functions.
enum class Fn {
  kGroup, kRole, kSite, kRegion, kTenant, kConnectivity, kProvider,  // ClassifyX (+Regex)
  kExternal, kInternal, kSetName, kSetDescription, kReject, kFormat, kLower, kUpper, kTrim,
  kTrimPrefix, kTrimSuffix, kHasPrefix, kHasSuffix, kIndexOf, kLastIndexOf, kSplit, kSplitAfter,
  kReplace, kRepeat, kJoin, kLen, kAbs, kCeil, kFloor, kRound, kMax, kMin, kInt, kFloat, kString,
  kFirst, kLast, kAll, kAny, kNone, kOne, kFilter, kMap, kFind, kFindIndex, kFindLast,
  kFindLastIndex, kCount, kSum, kReduce, kReverse, kSort, kUniq, kConcat, kTake, kType
};

/// What a function accepts as one argument.
enum class Arg {
  kString, kInt, kNumber, kNumberOrString, kStringOrList, kList, kNumberOrList, kAny,
  kPredicate  // a closure, checked by the checker with its list's element type
};

const char* argName(Arg a) {
  switch (a) {
    case Arg::kString: return "a string";
    case Arg::kInt: return "an int";
    case Arg::kNumber: return "a number";
    case Arg::kNumberOrString: return "a number or a string";
    case Arg::kStringOrList: return "a string or a list";
    case Arg::kList: return "a list";
    case Arg::kNumberOrList: return "a number or a list of numbers";
    case Arg::kPredicate: return "a predicate";
    default: return "any value";
  }
}
bool accepts(Arg a, Type t) {
  if (t == Type::kUnknown) return true;  // checked at run time
  switch (a) {
    case Arg::kString: return t == Type::kString;
    case Arg::kInt: return t == Type::kInt;
    case Arg::kNumber: return isNumber(t);
    case Arg::kNumberOrString: return isNumber(t) || t == Type::kString;
    case Arg::kStringOrList: return t == Type::kString || t == Type::kList;
    case Arg::kList: return t == Type::kList;
    case Arg::kNumberOrList: return isNumber(t) || t == Type::kList;
    default: return true;
  }
}

struct FnDef {
  const char* name;
  Fn fn;
  bool regex;  // the ...Regex(input, regex, template) form
  int exporter_ok, interface_ok;
  int min_args, max_args;
  Type result;  // kUnknown: derived from the arguments by the checker
  std::array<Arg, 4> args;  // what argument k accepts; past the fourth, what the fourth does
  bool closure = false;     // argument 2 is a predicate evaluated for each element of argument 1
};

constexpr Type kB = Type::kBool, kS = Type::kString, kI = Type::kInt, kF = Type::kFloat,
               kDerived = Type::kUnknown;
constexpr Arg aS = Arg::kString, aI = Arg::kInt, aN = Arg::kNumber, aNS = Arg::kNumberOrString,
              aSL = Arg::kStringOrList, aL = Arg::kList, aNL = Arg::kNumberOrList,
              aAny = Arg::kAny, aP = Arg::kPredicate;

// Signatures are Akvorado's (outlet/core/classifier.go) and expr's builtins (builtin/builtin.go).
const FnDef kFunctions[] = {
    {"Classify", Fn::kGroup, false, 1, 0, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyRegex", Fn::kGroup, true, 1, 0, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyGroup", Fn::kGroup, false, 1, 0, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyGroupRegex", Fn::kGroup, true, 1, 0, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyRole", Fn::kRole, false, 1, 0, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyRoleRegex", Fn::kRole, true, 1, 0, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifySite", Fn::kSite, false, 1, 0, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifySiteRegex", Fn::kSite, true, 1, 0, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyRegion", Fn::kRegion, false, 1, 0, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyRegionRegex", Fn::kRegion, true, 1, 0, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyTenant", Fn::kTenant, false, 1, 0, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyTenantRegex", Fn::kTenant, true, 1, 0, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyConnectivity", Fn::kConnectivity, false, 0, 1, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyConnectivityRegex", Fn::kConnectivity, true, 0, 1, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyProvider", Fn::kProvider, false, 0, 1, 1, 1, kB, {aS, aS, aS, aS}},
    {"ClassifyProviderRegex", Fn::kProvider, true, 0, 1, 3, 3, kB, {aS, aS, aS, aS}},
    {"ClassifyExternal", Fn::kExternal, false, 0, 1, 0, 0, kB, {aS, aS, aS, aS}},
    {"ClassifyInternal", Fn::kInternal, false, 0, 1, 0, 0, kB, {aS, aS, aS, aS}},
    {"SetName", Fn::kSetName, false, 0, 1, 1, 1, kB, {aS, aS, aS, aS}},
    {"SetDescription", Fn::kSetDescription, false, 0, 1, 1, 1, kB, {aS, aS, aS, aS}},
    {"Reject", Fn::kReject, false, 1, 1, 0, 0, kB, {aS, aS, aS, aS}},
    {"Format", Fn::kFormat, false, 1, 1, 1, 16, kS, {aS, aAny, aAny, aAny}},
    {"lower", Fn::kLower, false, 1, 1, 1, 1, kS, {aS, aS, aS, aS}},
    {"upper", Fn::kUpper, false, 1, 1, 1, 1, kS, {aS, aS, aS, aS}},
    {"trim", Fn::kTrim, false, 1, 1, 1, 2, kS, {aS, aS, aS, aS}},
    {"trimPrefix", Fn::kTrimPrefix, false, 1, 1, 1, 2, kS, {aS, aS, aS, aS}},
    {"trimSuffix", Fn::kTrimSuffix, false, 1, 1, 1, 2, kS, {aS, aS, aS, aS}},
    {"hasPrefix", Fn::kHasPrefix, false, 1, 1, 2, 2, kB, {aS, aS, aS, aS}},
    {"hasSuffix", Fn::kHasSuffix, false, 1, 1, 2, 2, kB, {aS, aS, aS, aS}},
    {"indexOf", Fn::kIndexOf, false, 1, 1, 2, 2, kI, {aS, aS, aS, aS}},
    {"lastIndexOf", Fn::kLastIndexOf, false, 1, 1, 2, 2, kI, {aS, aS, aS, aS}},
    {"split", Fn::kSplit, false, 1, 1, 2, 3, kDerived, {aS, aS, aI, aI}},
    {"splitAfter", Fn::kSplitAfter, false, 1, 1, 2, 3, kDerived, {aS, aS, aI, aI}},
    {"replace", Fn::kReplace, false, 1, 1, 3, 4, kS, {aS, aS, aS, aI}},
    {"repeat", Fn::kRepeat, false, 1, 1, 2, 2, kS, {aS, aI, aI, aI}},
    {"join", Fn::kJoin, false, 1, 1, 1, 2, kS, {aL, aS, aS, aS}},
    {"len", Fn::kLen, false, 1, 1, 1, 1, kI, {aSL, aSL, aSL, aSL}},
    {"abs", Fn::kAbs, false, 1, 1, 1, 1, kDerived, {aN, aN, aN, aN}},
    {"ceil", Fn::kCeil, false, 1, 1, 1, 1, kF, {aN, aN, aN, aN}},
    {"floor", Fn::kFloor, false, 1, 1, 1, 1, kF, {aN, aN, aN, aN}},
    {"round", Fn::kRound, false, 1, 1, 1, 1, kF, {aN, aN, aN, aN}},
    {"max", Fn::kMax, false, 1, 1, 1, 64, kDerived, {aNL, aNL, aNL, aNL}},
    {"min", Fn::kMin, false, 1, 1, 1, 64, kDerived, {aNL, aNL, aNL, aNL}},
    {"int", Fn::kInt, false, 1, 1, 1, 1, kI, {aNS, aNS, aNS, aNS}},
    {"float", Fn::kFloat, false, 1, 1, 1, 1, kF, {aNS, aNS, aNS, aNS}},
    {"string", Fn::kString, false, 1, 1, 1, 1, kS, {aAny, aAny, aAny, aAny}},
    {"first", Fn::kFirst, false, 1, 1, 1, 1, kDerived, {aL, aL, aL, aL}},
    {"last", Fn::kLast, false, 1, 1, 1, 1, kDerived, {aL, aL, aL, aL}},
    // expr's predicate builtins (compiler.go's BuiltinNode): the second argument is a closure.
    {"all", Fn::kAll, false, 1, 1, 2, 2, kB, {aL, aP, aP, aP}, true},
    {"any", Fn::kAny, false, 1, 1, 2, 2, kB, {aL, aP, aP, aP}, true},
    {"none", Fn::kNone, false, 1, 1, 2, 2, kB, {aL, aP, aP, aP}, true},
    {"one", Fn::kOne, false, 1, 1, 2, 2, kB, {aL, aP, aP, aP}, true},
    {"filter", Fn::kFilter, false, 1, 1, 2, 2, kDerived, {aL, aP, aP, aP}, true},
    {"map", Fn::kMap, false, 1, 1, 2, 2, kDerived, {aL, aP, aP, aP}, true},
    {"find", Fn::kFind, false, 1, 1, 2, 2, kDerived, {aL, aP, aP, aP}, true},
    {"findIndex", Fn::kFindIndex, false, 1, 1, 2, 2, kI, {aL, aP, aP, aP}, true},
    {"findLast", Fn::kFindLast, false, 1, 1, 2, 2, kDerived, {aL, aP, aP, aP}, true},
    {"findLastIndex", Fn::kFindLastIndex, false, 1, 1, 2, 2, kI, {aL, aP, aP, aP}, true},
    {"count", Fn::kCount, false, 1, 1, 1, 2, kI, {aL, aP, aP, aP}, true},
    {"sum", Fn::kSum, false, 1, 1, 1, 2, kDerived, {aL, aP, aP, aP}, true},
    {"reduce", Fn::kReduce, false, 1, 1, 2, 3, kDerived, {aL, aP, aAny, aAny}, true},
    {"reverse", Fn::kReverse, false, 1, 1, 1, 1, kDerived, {aL, aL, aL, aL}},
    {"sort", Fn::kSort, false, 1, 1, 1, 2, kDerived, {aL, aS, aS, aS}},
    {"uniq", Fn::kUniq, false, 1, 1, 1, 1, kDerived, {aL, aL, aL, aL}},
    {"concat", Fn::kConcat, false, 1, 1, 1, 64, kDerived, {aL, aL, aL, aL}},
    {"take", Fn::kTake, false, 1, 1, 2, 2, kDerived, {aL, aI, aI, aI}},
    {"type", Fn::kType, false, 1, 1, 1, 1, kS, {aAny, aAny, aAny, aAny}},
};

/// expr's other builtins: recognised to say they are not available, and reserved as in expr
/// (a let variable cannot take their name).
const char* const kUnsupportedBuiltins[] = {
    "groupBy", "sortBy", "mean", "median", "toJSON", "fromJSON", "toBase64", "fromBase64", "now",
    "duration", "date", "timezone", "get", "flatten", "keys", "values", "toPairs", "fromPairs",
    "bitand", "bitor", "bitxor", "bitnand", "bitnot", "bitshl", "bitshr", "bitushr"};

struct EvalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

struct Node {
  Op op = Op::kLit;
  size_t pos = 0;
  Value lit;
  Var var = Var::kExporterIP;
  const FnDef* fn = nullptr;
  bool negate = false;  // "not in", "not matches", "not contains", "not startsWith", "not endsWith"
  size_t slot = 0;      // kLet, kLocal: the variable's slot in Context::locals; kPointer and
                        // closure calls: the closure's nesting depth, its Context::frames slot
  Pointer pointer = Pointer::kElement;  // kPointer
  size_t depth = 1;     // height of the tree under this node, bounded by kMaxDepth
  // Operands in order; kSlice's bounds are null when left out (s[:2], s[1:]).
  std::vector<std::unique_ptr<Node>> args;
  std::unique_ptr<RE2> re;  // compiled at parse time when the regex is a literal
};

namespace {

// ---- Tokenizer and parser -------------------------------------------------------------------

struct Token {
  enum Type { kEnd, kIdent, kNumber, kString, kPunct } type = kEnd;
  std::string text;
  size_t pos = 0;
};

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(char(cp));
  } else if (cp < 0x800) {
    out.push_back(char(0xC0 | (cp >> 6)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(char(0xE0 | (cp >> 12)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(char(0xF0 | (cp >> 18)));
    out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(char(0x80 | (cp & 0x3F)));
  }
}

/// Operators that "not" negates when it stands between two operands (expr's
/// AllowedNegateSuffix).
bool negatable(const Token& t) {
  return t.type == Token::kIdent && (t.text == "in" || t.text == "matches" ||
                                     t.text == "contains" || t.text == "startsWith" ||
                                     t.text == "endsWith");
}

/// Recursive descent following expr's grammar and precedences: ?: (lowest, right-associative),
/// || or, && and, comparisons (== != < <= > >= in matches contains startsWith endsWith and their
/// "not" forms, left-associative), then the unary ! not - + which bind tighter than comparisons
/// (so `!a == b` is `(!a) == b`, as in expr).
class Parser {
 public:
  Parser(const std::string& text, Kind kind) : text_(text), kind_(kind) { tokenize(); }

  /// Parses the rule; `slots` is the number of let variables it declares, `frames` the deepest
  /// nesting of its closures.
  std::unique_ptr<Node> parse(bool& uses_vlan, size_t& slots, size_t& frames) {
    auto n = parseExpression();
    if (peek().type != Token::kEnd) fail(peek(), "expected an operator or the end of the rule");
    uses_vlan = uses_vlan_;
    slots = slots_;
    frames = frames_;
    return n;
  }

 private:
  [[noreturn]] void fail(const Token& t, const std::string& expected) const {
    std::string got = t.type == Token::kEnd ? "end of rule" : fmt::format("\"{}\"", t.text);
    throw ParseError(fmt::format("at position {}: {}, got {}", t.pos + 1, expected, got));
  }
  [[noreturn]] void failAt(size_t pos, const std::string& message) const {
    throw ParseError(fmt::format("at position {}: {}", pos + 1, message));
  }

  /// Reads `count` hex digits at s[at...] as a code point; fails with the escape's position.
  uint32_t hexEscape(const std::string& s, size_t at, int count, size_t escape_pos) const {
    uint32_t v = 0;
    for (int k = 0; k < count; k++) {
      int d = at + k < s.size() ? hexDigit(s[at + k]) : -1;
      if (d < 0)
        failAt(escape_pos,
               fmt::format("invalid escape \\{}: expected {} hex digits", s[at - 1], count));
      v = v * 16 + uint32_t(d);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
      failAt(escape_pos, fmt::format("invalid escape: U+{:X} is not a Unicode code point", v));
    return v;
  }

  void tokenize() {
    size_t i = 0;
    const std::string& s = text_;
    while (i < s.size()) {
      char c = s[i];
      if (std::isspace(uint8_t(c))) {
        i++;
        continue;
      }
      if (c == '/' && i + 1 < s.size() && (s[i + 1] == '/' || s[i + 1] == '*')) {  // a comment
        bool line = s[i + 1] == '/';
        size_t end = line ? s.find('\n', i) : s.find("*/", i + 2);
        if (end == std::string::npos && !line) failAt(i, "unterminated comment");
        i = end == std::string::npos ? s.size() : end + (line ? 1 : 2);
        continue;
      }
      Token t;
      t.pos = i;
      if (std::isalpha(uint8_t(c)) || c == '_') {
        size_t j = i;
        while (j < s.size() && (std::isalnum(uint8_t(s[j])) || s[j] == '_')) j++;
        t.type = Token::kIdent;
        t.text = s.substr(i, j - i);
        i = j;
      } else if (std::isdigit(uint8_t(c)) ||
                 (c == '.' && i + 1 < s.size() && std::isdigit(uint8_t(s[i + 1])))) {
        // expr's scanNumber: 0x/0o/0b prefixes, digits and _, a fraction, an exponent.
        size_t j = i;
        auto run = [&](bool hex) {
          while (j < s.size() && (std::isdigit(uint8_t(s[j])) || s[j] == '_' ||
                                  (hex && std::isxdigit(uint8_t(s[j])))))
            j++;
        };
        bool prefixed = c == '0' && j + 1 < s.size() &&
                        std::string_view("xXoObB").find(s[j + 1]) != std::string_view::npos;
        if (prefixed) {
          j += 2;
          run(s[i + 1] == 'x' || s[i + 1] == 'X');
        } else {
          run(false);
          // A fraction, unless ".." follows: 1..3 is a range.
          if (j < s.size() && s[j] == '.' && !(j + 1 < s.size() && s[j + 1] == '.')) {
            j++;
            run(false);
          }
          if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
            j++;
            if (j < s.size() && (s[j] == '+' || s[j] == '-')) j++;
            run(false);
          }
        }
        if (j < s.size() && (std::isalnum(uint8_t(s[j])) || s[j] == '_'))
          failAt(i, fmt::format("invalid number \"{}\"", s.substr(i, j + 1 - i)));
        t.type = Token::kNumber;
        t.text = s.substr(i, j - i);
        t.text.erase(std::remove(t.text.begin(), t.text.end(), '_'), t.text.end());
        i = j;
      } else if (c == '"' || c == '\'' || c == '`') {
        char q = c;
        size_t j = i + 1;
        std::string v;
        bool closed = false;
        while (j < s.size()) {
          char d = s[j];
          if (d == q) {
            closed = true;
            j++;
            break;
          }
          if (d == '\\' && q != '`' && j + 1 < s.size()) {
            char e = s[j + 1];
            size_t len = 2;
            switch (e) {
              case 'a': v.push_back('\a'); break;
              case 'f': v.push_back('\f'); break;
              case 'n': v.push_back('\n'); break;
              case 'r': v.push_back('\r'); break;
              case 't': v.push_back('\t'); break;
              case 'v': v.push_back('\v'); break;
              case '\\': v.push_back('\\'); break;
              case '"': v.push_back('"'); break;
              case '\'': v.push_back('\''); break;
              case 'u':
                appendUtf8(v, hexEscape(s, j + 2, 4, j));
                len = 6;
                break;
              case 'U':
                appendUtf8(v, hexEscape(s, j + 2, 8, j));
                len = 10;
                break;
              default:
                // Escapes Go would reject are kept as written, for RE2 ("\d", "\.", "\b"...).
                v.push_back('\\');
                v.push_back(e);
            }
            j += len;
            continue;
          }
          v.push_back(d);
          j++;
        }
        if (!closed) failAt(i, "unterminated string");
        t.type = Token::kString;
        t.text = v;
        i = j;
      } else {
        static const char* kTwo[] = {"&&", "||", "==", "!=", "<=", ">=", "**", "..", "??", "?."};
        t.type = Token::kPunct;
        for (const char* two : kTwo)
          if (s.compare(i, 2, two) == 0) t.text = two;
        // As expr's lexer: `a?.5:1` is a ternary, not optional chaining.
        if (t.text == "?." && i + 2 < s.size() && std::isdigit(uint8_t(s[i + 2]))) t.text.clear();
        if (t.text.empty()) {
          if (std::string_view("()[],.!<>-+?:*/%^;=#{}|").find(c) == std::string_view::npos)
            failAt(i, fmt::format("unexpected character '{}'", c));
          t.text = std::string(1, c);
        }
        i += t.text.size();
      }
      tokens_.push_back(t);
    }
    Token end;
    end.pos = s.size();
    tokens_.push_back(end);
  }

  const Token& peek(size_t k = 0) const { return tokens_[std::min(at_ + k, tokens_.size() - 1)]; }
  Token next() { return tokens_[std::min(at_++, tokens_.size() - 1)]; }
  bool isPunct(const char* p, size_t k = 0) const {
    return peek(k).type == Token::kPunct && peek(k).text == p;
  }
  bool isIdent(const char* p, size_t k = 0) const {
    return peek(k).type == Token::kIdent && peek(k).text == p;
  }
  void expectPunct(const char* p) {
    if (!isPunct(p)) fail(peek(), fmt::format("expected \"{}\"", p));
    next();
  }


  static std::unique_ptr<Node> node(Op op, size_t pos) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->pos = pos;
    return n;
  }
  /// Sets the depth of a node whose operands are complete; refuses trees deeper than kMaxDepth.
  std::unique_ptr<Node> seal(std::unique_ptr<Node> n) const {
    size_t deepest = 0;
    for (const auto& a : n->args)
      if (a) deepest = std::max(deepest, a->depth);
    n->depth = deepest + 1;
    if (n->depth > kMaxDepth)
      failAt(n->pos, fmt::format("the expression is too deep (more than {} levels)", kMaxDepth));
    return n;
  }
  std::unique_ptr<Node> binary(Op op, size_t pos, std::unique_ptr<Node> a,
                               std::unique_ptr<Node> b) const {
    auto n = node(op, pos);
    n->args.push_back(std::move(a));
    n->args.push_back(std::move(b));
    return seal(std::move(n));
  }

  /// Bounds the parser's own recursion (parentheses and calls that build no node of their own).
  struct Nesting {
    Parser& p;
    Nesting(Parser& parser, size_t pos) : p(parser) {
      if (++p.nesting_ > kMaxDepth)
        p.failAt(pos, fmt::format("the expression is too deep (more than {} levels)", kMaxDepth));
    }
    ~Nesting() { p.nesting_--; }
  };

  struct BinaryOp {
    const char* text;
    bool punct;
    Op op;
    int precedence;
    bool right;  // right-associative
  };
  /// expr's binary operators and precedences (parser/operator/operator.go).
  static const BinaryOp* binaryOp(const Token& t) {
    static const BinaryOp kOps[] = {
        {"||", true, Op::kOr, 10, false},          {"or", false, Op::kOr, 10, false},
        {"&&", true, Op::kAnd, 15, false},         {"and", false, Op::kAnd, 15, false},
        {"==", true, Op::kEq, 20, false},          {"!=", true, Op::kNe, 20, false},
        {"<", true, Op::kLt, 20, false},           {">", true, Op::kGt, 20, false},
        {"<=", true, Op::kLe, 20, false},          {">=", true, Op::kGe, 20, false},
        {"in", false, Op::kIn, 20, false},         {"matches", false, Op::kMatches, 20, false},
        {"contains", false, Op::kContains, 20, false},
        {"startsWith", false, Op::kStartsWith, 20, false},
        {"endsWith", false, Op::kEndsWith, 20, false},
        {"..", true, Op::kRange, 25, false},       {"+", true, Op::kAdd, 30, false},
        {"-", true, Op::kSub, 30, false},          {"*", true, Op::kMul, 60, false},
        {"/", true, Op::kDiv, 60, false},          {"%", true, Op::kMod, 60, false},
        {"**", true, Op::kPow, 100, true},         {"^", true, Op::kPow, 100, true},
        {"??", true, Op::kCoalesce, 500, false}};
    if (t.type != Token::kPunct && t.type != Token::kIdent) return nullptr;
    for (const auto& o : kOps)
      if ((t.type == Token::kPunct) == o.punct && t.text == o.text) return &o;
    return nullptr;
  }
  static constexpr int kComparisonPrecedence = 20, kNotPrecedence = 50, kSignPrecedence = 90;

  /// expr's parseExpression: precedence climbing over the binary operators whose precedence is
  /// at least `precedence`; at 0, a `let` may start the expression and a ?: may end it.
  std::unique_ptr<Node> parseExpression(int precedence = 0) {
    Nesting nesting(*this, peek().pos);
    if (precedence == 0 && isIdent("let")) return parseLet();
    auto left = parseUnary();
    bool after_coalesce = false;
    for (;;) {
      size_t pos = peek().pos;
      if (precedence == 0 && isPunct("|")) {
        // expr's pipe binds loosest (precedence 0, below ||): `a || b | f(c)` is f(a || b, c);
        // only ?: is looser. It may follow ?? (expr checks the pipe first).
        next();
        Token name = next();
        if (name.type != Token::kIdent || !isPunct("("))
          fail(name.type == Token::kIdent ? peek() : name, "expected a function call after |");
        std::vector<std::unique_ptr<Node>> first;
        first.push_back(std::move(left));
        left = parseCall(name, std::move(first));
        after_coalesce = false;
        continue;
      }
      bool negate = false;
      if (isIdent("not")) {  // "a not in b", "a not matches b"...
        if (!negatable(peek(1)))
          fail(peek(1), "expected in, matches, contains, startsWith or endsWith after not");
        if (kComparisonPrecedence < precedence) break;
        negate = true;
      }
      const BinaryOp* op = binaryOp(peek(negate ? 1 : 0));
      if (!op || op->precedence < precedence) break;
      if (after_coalesce && op->op != Op::kCoalesce)
        failAt(pos, fmt::format("{} and ?? cannot be mixed without parentheses", op->text));
      if (negate) next();
      next();
      auto right = parseExpression(op->right ? op->precedence : op->precedence + 1);
      if (op->op == Op::kMatches && (right->op != Op::kLit || right->lit.t != Value::kStr))
        failAt(right->pos, "matches needs a string literal (a regular expression)");
      auto n = binary(op->op, pos, std::move(left), std::move(right));
      n->negate = negate;
      if (op->op == Op::kMatches) n->re = compile(n->args[1]->lit.s, n->args[1]->pos);
      left = std::move(n);
      after_coalesce = op->op == Op::kCoalesce;
    }
    if (precedence == 0 && isPunct("?")) {
      auto n = node(Op::kCond, next().pos);
      n->args.push_back(std::move(left));
      n->args.push_back(parseExpression());
      expectPunct(":");
      n->args.push_back(parseExpression());
      left = seal(std::move(n));
    }
    return left;
  }

  /// Names a let variable cannot take: they mean something else (expr refuses to redeclare them).
  std::string reservedName(const std::string& name) const {
    static const char* const kWords[] = {"true", "false", "nil", "let", "not", "and", "or", "in",
                                         "matches", "contains", "startsWith", "endsWith",
                                         "Exporter", "Interface"};
    for (const char* w : kWords)
      if (name == w) return "a keyword or a variable of the rules";
    for (const auto& f : kFunctions)
      if (name == f.name) return "a function";
    for (const char* b : kUnsupportedBuiltins)
      if (name == b) return "an expr builtin";
    for (const auto& [scoped, slot] : scope_)
      if (name == scoped) return "a variable already declared";
    return "";
  }

  /// let name = value; body — name is visible in body only.
  std::unique_ptr<Node> parseLet() {
    auto n = node(Op::kLet, next().pos);
    Token name = next();
    if (name.type != Token::kIdent) fail(name, "expected a variable name after let");
    if (std::string why = reservedName(name.text); !why.empty())
      failAt(name.pos, fmt::format("cannot declare {}: it is {}", name.text, why));
    n->pos = name.pos;
    expectPunct("=");
    n->args.push_back(parseExpression());
    expectPunct(";");
    n->slot = slots_++;
    scope_.emplace_back(name.text, n->slot);
    n->args.push_back(parseExpression());
    scope_.pop_back();
    return seal(std::move(n));
  }

  /// The unary operators bind as in expr: ! and not take what binds tighter than 50 (* / % **
  /// ??), so `!a == b` is `(!a) == b`; - and + take what binds tighter than 90 (** and ??), so
  /// `-2 ** 2` is -4.
  std::unique_ptr<Node> parseUnary() {
    if (isPunct("!") || isIdent("not")) {
      auto n = node(Op::kNot, next().pos);
      n->args.push_back(parseExpression(kNotPrecedence));
      return seal(std::move(n));
    }
    if (isPunct("-") || isPunct("+")) {
      Token sign = next();
      auto operand = parseExpression(kSignPrecedence);
      if (operand->op == Op::kLit && operand->lit.isNumber()) {  // a literal: fold it
        if (sign.text == "-") {
          // Wraps like Go's int64 negation instead of overflowing.
          if (operand->lit.t == Value::kInt) operand->lit.i = int64_t(0 - uint64_t(operand->lit.i));
          else operand->lit.f = -operand->lit.f;
        }
        operand->pos = sign.pos;
        return operand;
      }
      auto n = node(sign.text == "-" ? Op::kNeg : Op::kPos, sign.pos);
      n->args.push_back(std::move(operand));
      return seal(std::move(n));
    }
    return parsePostfix(parsePrimary());
  }

  /// Indexing and slicing: a[i], a[i:j], a[:j], a[i:], a[:].
  std::unique_ptr<Node> parsePostfix(std::unique_ptr<Node> base) {
    for (;;) {
      if (isPunct("?.") && isPunct("[", 1)) next();  // a?.[i]: our values are never nil
      if (!isPunct("[")) break;
      size_t pos = next().pos;
      std::unique_ptr<Node> from, to;
      if (!isPunct(":")) from = parseExpression();
      if (!isPunct(":")) {
        expectPunct("]");
        base = binary(Op::kIndex, pos, std::move(base), std::move(from));
        continue;
      }
      next();
      if (!isPunct("]")) to = parseExpression();
      expectPunct("]");
      auto n = node(Op::kSlice, pos);
      n->args.push_back(std::move(base));
      n->args.push_back(std::move(from));
      n->args.push_back(std::move(to));
      base = seal(std::move(n));
    }
    return base;
  }

  std::unique_ptr<RE2> compile(const std::string& pattern, size_t pos) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_unique<RE2>(pattern, opts);
    if (!re->ok()) failAt(pos, fmt::format("invalid regular expression: {}", re->error()));
    return re;
  }

  Value number(const Token& t) const {
    const std::string& x = t.text;
    const char* end = x.data() + x.size();
    int base = 10;
    size_t skip = 0;
    if (x.size() > 1 && x[0] == '0' &&
        std::string_view("xXoObB").find(x[1]) != std::string_view::npos) {
      base = x[1] == 'x' || x[1] == 'X' ? 16 : x[1] == 'o' || x[1] == 'O' ? 8 : 2;
      skip = 2;
    }
    if (base == 10 && x.find_first_of(".eE") != std::string::npos) {
      std::string f = x.back() == '.' ? x + "0" : x;  // "3." is 3.0, as in Go
      if (f[0] == '.') f = "0" + f;                   // ".5" is 0.5
      double v = 0;
      auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
      if (ec != std::errc() || p != f.data() + f.size()) fail(t, "expected a number");
      return Value::floating(v);
    }
    int64_t v = 0;
    auto [p, ec] = std::from_chars(x.data() + skip, end, v, base);
    if (ec != std::errc() || p != end || skip == x.size())
      fail(t, "expected a number (integers are 64-bit)");
    return Value::integer(v);
  }

  std::unique_ptr<Node> parsePrimary() {
    Token t = next();
    auto n = std::make_unique<Node>();
    n->pos = t.pos;
    switch (t.type) {
      case Token::kString: n->lit = Value::str(t.text); return n;
      case Token::kNumber: n->lit = number(t); return n;
      case Token::kPunct:
        if (t.text == "(") {
          auto inner = parseExpression();
          expectPunct(")");
          return inner;
        }
        if (t.text == "#") return parsePointer(t);
        if (t.text == "." && !closures_.empty())
          failAt(t.pos, "elements have no fields (.name is #.name, for maps, which rules do not "
                        "have)");
        if (t.text == "[") {
          n->op = Op::kList;
          if (!isPunct("]")) {
            for (;;) {
              n->args.push_back(parseExpression());
              if (isPunct(",")) {
                next();
                if (isPunct("]")) break;  // trailing comma
                continue;
              }
              break;
            }
          }
          expectPunct("]");
          return seal(std::move(n));
        }
        break;
      case Token::kIdent: {
        if (t.text == "true" || t.text == "false") {
          n->lit = Value::boolean(t.text == "true");
          return n;
        }
        if (t.text == "nil") return n;
        if (t.text == "let")
          failAt(t.pos,
                 "let must start the expression (put it in parentheses: 1 + (let x = 2; x))");
        if (isPunct("(")) return parseCall(t);
        if (t.text == "Exporter" || t.text == "Interface") {
          // Exporter?.Name is Exporter.Name: the variables are never nil.
          if (!isPunct("?.")) expectPunct(".");
          else next();
          Token f = next();
          if (f.type != Token::kIdent) fail(f, "expected a field name");
          std::string name = t.text + "." + f.text;
          static const std::pair<const char*, Var> kVars[] = {
              {"Exporter.IP", Var::kExporterIP},
              {"Exporter.Name", Var::kExporterName},
              {"Interface.Index", Var::kIfIndex},
              {"Interface.Name", Var::kIfName},
              {"Interface.Description", Var::kIfDescription},
              {"Interface.Speed", Var::kIfSpeed},
              {"Interface.VLAN", Var::kIfVlan}};
          for (const auto& [vn, v] : kVars) {
            if (name == vn) {
              if (kind_ == Kind::kExporter && t.text == "Interface")
                failAt(t.pos, fmt::format("{} is not available in exporter classifiers "
                                          "(valid: Exporter.IP, Exporter.Name)",
                                          name));
              n->op = Op::kVar;
              n->var = v;
              if (v == Var::kIfVlan) uses_vlan_ = true;
              return n;
            }
          }
          failAt(t.pos, fmt::format("unknown variable {}; valid: Exporter.IP, Exporter.Name{}",
                                    name,
                                    kind_ == Kind::kInterface
                                        ? ", Interface.Index, Interface.Name, "
                                          "Interface.Description, Interface.Speed, "
                                          "Interface.VLAN"
                                        : ""));
        }
        for (auto it = scope_.rbegin(); it != scope_.rend(); ++it) {
          if (it->first == t.text) {
            n->op = Op::kLocal;
            n->slot = it->second;
            return n;
          }
        }
        failAt(t.pos, fmt::format("unknown name \"{}\" (expected Exporter.*{}, a variable declared "
                                  "with let, a function call, a string or a number)",
                                  t.text, kind_ == Kind::kInterface ? ", Interface.*" : ""));
      }
      default: break;
    }
    fail(t, "expected a value (string, number, variable, function call, list or parenthesis)");
  }

  /// `# name`: expr's PointerNode. A name that is an operator ("# in [...]") is not one.
  std::unique_ptr<Node> parsePointer(const Token& hash) {
    if (closures_.empty())
      failAt(hash.pos,
             "# is only valid in the predicate of all, any, none, one, filter, map, find, "
             "findIndex, findLast, findLastIndex, count, sum or reduce");
    auto n = node(Op::kPointer, hash.pos);
    n->slot = closures_.size() - 1;
    static const char* const kOperators[] = {"in",       "matches",  "contains", "startsWith",
                                             "endsWith", "not",      "and",      "or"};
    if (peek().type == Token::kIdent &&
        std::none_of(std::begin(kOperators), std::end(kOperators),
                     [&](const char* op) { return peek().text == op; })) {
      Token name = next();
      if (name.text == "index") {
        n->pointer = Pointer::kIndex;
      } else if (name.text == "acc" && closures_.back() == Fn::kReduce) {
        n->pointer = Pointer::kAcc;
      } else {
        failAt(hash.pos, fmt::format("unknown pointer #{} (valid: #, #index{})", name.text,
                                     closures_.back() == Fn::kReduce ? ", #acc" : ""));
      }
    }
    return n;
  }

  /// A closure: an expression, optionally in braces (expr's `{# > 1}`), where # is the element.
  std::unique_ptr<Node> parsePredicate(Fn fn) {
    bool braces = isPunct("{");
    if (braces) next();
    closures_.push_back(fn);
    frames_ = std::max(frames_, closures_.size());
    auto body = parseExpression();
    closures_.pop_back();
    if (braces) expectPunct("}");
    return body;
  }

  /// A call; `args` holds the value piped into it (x | f(a) is f(x, a)), if any.
  std::unique_ptr<Node> parseCall(const Token& name,
                                  std::vector<std::unique_ptr<Node>> args = {}) {
    auto n = std::make_unique<Node>();
    n->op = Op::kCall;
    n->pos = name.pos;
    n->args = std::move(args);
    n->slot = closures_.size();
    for (const auto& f : kFunctions)
      if (name.text == f.name) n->fn = &f;
    if (!n->fn || !(kind_ == Kind::kExporter ? n->fn->exporter_ok : n->fn->interface_ok)) {
      for (const char* b : kUnsupportedBuiltins)
        if (name.text == b)
          failAt(name.pos, fmt::format("expr's builtin {} is not available in classifiers",
                                       name.text));
      std::vector<std::string> valid;
      for (const auto& f : kFunctions)
        if (kind_ == Kind::kExporter ? f.exporter_ok : f.interface_ok) valid.push_back(f.name);
      failAt(name.pos, fmt::format("unknown function {} in {} classifiers; valid: {}", name.text,
                                   kind_ == Kind::kExporter ? "exporter" : "interface",
                                   fmt::join(valid, ", ")));
    }
    // A closure call uses its frame even without a predicate (count(list), sum(list)).
    if (n->fn->closure) frames_ = std::max(frames_, closures_.size() + 1);
    expectPunct("(");
    while (!isPunct(")")) {
      bool predicate = n->fn->closure && n->args.size() == 1;
      n->args.push_back(predicate ? parsePredicate(n->fn->fn) : parseExpression());
      if (!isPunct(",")) break;
      next();  // a trailing comma is allowed, as in expr
    }
    expectPunct(")");
    int count = int(n->args.size());
    if (count < n->fn->min_args || count > n->fn->max_args)
      failAt(name.pos, n->fn->min_args == n->fn->max_args
                           ? fmt::format("{} takes {} argument(s), got {}", name.text,
                                         n->fn->min_args, count)
                           : fmt::format("{} takes {} to {} arguments, got {}", name.text,
                                         n->fn->min_args, n->fn->max_args, count));
    if (n->fn->regex) {
      const Node& re = *n->args[1];
      if (re.op != Op::kLit || re.lit.t != Value::kStr)
        failAt(re.pos, "the regular expression must be a string literal");
      n->re = compile(re.lit.s, re.pos);
    }
    return seal(std::move(n));
  }

  const std::string& text_;
  Kind kind_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
  bool uses_vlan_ = false;
  size_t nesting_ = 0;
  size_t slots_ = 0;
  size_t frames_ = 0;      // deepest closure nesting
  std::vector<Fn> closures_;  // the closures being parsed, innermost last
  std::vector<std::pair<std::string, size_t>> scope_;  // let variables visible here, innermost last
};

// ---- Type checking --------------------------------------------------------------------------

/// Akvorado compiles rules with expr's checker and expr.AsBool(): a rule whose types do not fit
/// is a configuration error, not a run-time one. The rules are expr's (checker.go), reduced to
/// the types rules can express; a value whose type is only known when the rule runs (an element
/// of a list mixing types, first() of such a list...) is kUnknown and checked then, as expr does
/// with interface{}. The first error found (depth first, left to right) is reported, at the
/// operator's position, or at the offending operand's for && || and function arguments.
class TypeChecker {
 public:
  explicit TypeChecker(const std::string& text) : text_(text) {}

  void checkRule(const Node& root) {
    Type t = check(root).type;
    const Node* value = &root;  // what gives the rule its value: the body of its lets
    while (value->op == Op::kLet) value = value->args[1].get();
    if (t != Type::kBool && t != Type::kUnknown)
      failAt(value->pos, fmt::format("the rule must be a bool expression, got {} (a comparison or "
                                   "a function such as ClassifyProvider(...))",
                                   typeName(t)));
  }

 private:
  struct Checked {
    Type type;
    Type elem = Type::kUnknown;  // for lists: the type of every element, or unknown
  };

  [[noreturn]] void failAt(size_t pos, const std::string& message) const {
    throw ParseError(fmt::format("at position {}: {}", pos + 1, message));
  }
  /// The operator as written ("and" or "&&", "not in", "**" or "^"...).
  std::string opText(const Node& n) const {
    char first = n.pos < text_.size() ? text_[n.pos] : ' ';
    std::string op;
    switch (n.op) {
      case Op::kNot: return first == '!' ? "!" : "not";
      case Op::kNeg: return "-";
      case Op::kPos: return "+";
      case Op::kAnd: return first == '&' ? "&&" : "and";
      case Op::kOr: return first == '|' ? "||" : "or";
      case Op::kEq: return "==";
      case Op::kNe: return "!=";
      case Op::kLt: return "<";
      case Op::kLe: return "<=";
      case Op::kGt: return ">";
      case Op::kGe: return ">=";
      case Op::kAdd: return "+";
      case Op::kSub: return "-";
      case Op::kMul: return "*";
      case Op::kDiv: return "/";
      case Op::kMod: return "%";
      case Op::kPow: return first == '^' ? "^" : "**";
      case Op::kRange: return "..";
      case Op::kCoalesce: return "??";
      case Op::kIn: op = "in"; break;
      case Op::kMatches: op = "matches"; break;
      case Op::kStartsWith: op = "startsWith"; break;
      case Op::kEndsWith: op = "endsWith"; break;
      case Op::kContains: op = "contains"; break;
      default: break;
    }
    return n.negate ? "not " + op : op;
  }
  static bool comparable(Type l, Type r) {
    return l == Type::kUnknown || r == Type::kUnknown || l == Type::kNil || r == Type::kNil ||
           l == r || (isNumber(l) && isNumber(r));
  }
  /// Checks that `n` is of type `want`; the error is reported at `pos` (n's by default).
  void expect(const Node& n, Type want, const std::string& what, size_t pos = SIZE_MAX) {
    Type got = check(n).type;
    if (got != want && got != Type::kUnknown)
      failAt(pos == SIZE_MAX ? n.pos : pos, fmt::format("{}, got {}", what, typeName(got)));
  }
  /// An operand that must be an integer (an index, a bound of a range).
  void expectInt(const Node& n, const std::string& what) {
    Type got = check(n).type;
    if (got != Type::kInt && got != Type::kUnknown)
      failAt(n.pos, fmt::format("{} must be an int, got {}", what, typeName(got)));
  }

  [[noreturn]] void mismatch(const Node& n, const Checked& l, const Checked& r,
                             const char* needs) const {
    failAt(n.pos, fmt::format("{} needs {}, got {} and {}", opText(n), needs, typeName(l.type),
                              typeName(r.type)));
  }

  Checked check(const Node& n) {
    switch (n.op) {
      case Op::kLit:
        switch (n.lit.t) {
          case Value::kBool: return {Type::kBool};
          case Value::kInt: return {Type::kInt};
          case Value::kFloat: return {Type::kFloat};
          case Value::kStr: return {Type::kString};
          default: return {Type::kNil};
        }
      case Op::kVar:
        switch (n.var) {
          case Var::kIfIndex:
          case Var::kIfSpeed:
          case Var::kIfVlan: return {Type::kInt};
          default: return {Type::kString};
        }
      case Op::kLet: {
        Checked value = check(*n.args[0]);
        if (locals_.size() <= n.slot) locals_.resize(n.slot + 1, {Type::kUnknown});
        locals_[n.slot] = value;
        return check(*n.args[1]);
      }
      case Op::kLocal: return n.slot < locals_.size() ? locals_[n.slot] : Checked{Type::kUnknown};
      case Op::kPointer:
        // expr's checker: # has the type of the list's elements, #index is an int, #acc unknown.
        if (n.pointer == Pointer::kIndex) return {Type::kInt};
        if (n.pointer == Pointer::kAcc || n.slot >= closures_.size()) return {Type::kUnknown};
        return closures_[n.slot];
      case Op::kList: {
        Checked out{Type::kList};
        for (size_t k = 0; k < n.args.size(); k++) {
          Type t = check(*n.args[k]).type;
          out.elem = k == 0 || t == out.elem ? t : Type::kUnknown;
        }
        return out;
      }
      case Op::kNot:
        expect(*n.args[0], Type::kBool, fmt::format("{} needs a bool", opText(n)), n.pos);
        return {Type::kBool};
      case Op::kNeg:
      case Op::kPos: {
        Type t = check(*n.args[0]).type;
        if (!isNumber(t) && t != Type::kUnknown)
          failAt(n.pos, fmt::format("{} needs a number, got {}", opText(n), typeName(t)));
        return {t};
      }
      case Op::kAnd:
      case Op::kOr:
        expect(*n.args[0], Type::kBool, fmt::format("{} needs a bool", opText(n)));
        expect(*n.args[1], Type::kBool, fmt::format("{} needs a bool", opText(n)));
        return {Type::kBool};
      case Op::kCond: {
        expect(*n.args[0], Type::kBool, "the condition of ?: must be a bool");
        Checked a = check(*n.args[1]), b = check(*n.args[2]);
        if (a.type == Type::kNil) return b;
        if (b.type == Type::kNil) return a;
        if (isNumber(a.type) && isNumber(b.type) && a.type != b.type) return {Type::kUnknown};
        if (a.type != b.type && a.type != Type::kUnknown && b.type != Type::kUnknown)
          failAt(n.pos, fmt::format("the two branches of ?: must have the same type, got {} and {}",
                                    typeName(a.type), typeName(b.type)));
        if (a.type != b.type) return {Type::kUnknown};
        if (a.elem != b.elem) a.elem = Type::kUnknown;
        return a;
      }
      case Op::kCall: return checkCall(n);
      case Op::kIndex: {
        Checked base = check(*n.args[0]);
        expectInt(*n.args[1], "an index");
        if (base.type == Type::kList) return {base.elem};
        if (base.type == Type::kString)
          failAt(n.pos, "a string cannot be indexed (as in expr); take a slice such as s[0:1]");
        if (base.type != Type::kUnknown)
          failAt(n.pos, fmt::format("cannot index a value of type {}", typeName(base.type)));
        return {Type::kUnknown};
      }
      case Op::kSlice: {
        Checked base = check(*n.args[0]);
        if (n.args[1]) expectInt(*n.args[1], "a slice bound");
        if (n.args[2]) expectInt(*n.args[2], "a slice bound");
        if (base.type != Type::kList && base.type != Type::kString && base.type != Type::kUnknown)
          failAt(n.pos, fmt::format("cannot slice a value of type {}", typeName(base.type)));
        return base;
      }
      default: break;
    }
    Checked l = check(*n.args[0]), r = check(*n.args[1]);
    std::string op = opText(n);
    bool unknown = l.type == Type::kUnknown || r.type == Type::kUnknown;
    switch (n.op) {
      case Op::kEq:
      case Op::kNe:
        if (!comparable(l.type, r.type))
          failAt(n.pos, fmt::format("cannot compare {} and {} with {}", typeName(l.type),
                                    typeName(r.type), op));
        break;
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe: {
        bool ok = unknown || (isNumber(l.type) && isNumber(r.type)) ||
                  (l.type == Type::kString && r.type == Type::kString);
        if (!ok) mismatch(n, l, r, "two numbers or two strings");
        break;
      }
      case Op::kIn:
        if (r.type != Type::kList && r.type != Type::kUnknown)
          failAt(n.pos, fmt::format("{} needs a list [...] on its right, got {}", op,
                                    typeName(r.type)));
        if (!comparable(l.type, r.elem))
          failAt(n.pos, fmt::format("cannot look for a {} in a list of {}", typeName(l.type),
                                    typeName(r.elem)));
        break;
      case Op::kAdd:
        if (l.type == Type::kString && r.type == Type::kString) return {Type::kString};
        if (isNumber(l.type) && isNumber(r.type))
          return {l.type == Type::kInt && r.type == Type::kInt ? Type::kInt : Type::kFloat};
        if (unknown) {
          Type known = l.type == Type::kUnknown ? r.type : l.type;
          if (known == Type::kUnknown || isNumber(known) || known == Type::kString)
            return {Type::kUnknown};
        }
        mismatch(n, l, r, "two numbers or two strings");
      case Op::kSub:
      case Op::kMul:
        if (isNumber(l.type) && isNumber(r.type))
          return {l.type == Type::kInt && r.type == Type::kInt ? Type::kInt : Type::kFloat};
        if (unknown && (isNumber(l.type) || isNumber(r.type) || l.type == r.type))
          return {Type::kUnknown};
        mismatch(n, l, r, "two numbers");
      case Op::kDiv:
      case Op::kPow:  // always a float, as in expr
        if ((isNumber(l.type) || l.type == Type::kUnknown) &&
            (isNumber(r.type) || r.type == Type::kUnknown))
          return {Type::kFloat};
        mismatch(n, l, r, "two numbers");
      case Op::kMod:
        if ((l.type == Type::kInt || l.type == Type::kUnknown) &&
            (r.type == Type::kInt || r.type == Type::kUnknown)) {
          // expr folds constants and refuses this one when it compiles the rule.
          if (n.args[0]->op == Op::kLit && n.args[1]->op == Op::kLit && r.type == Type::kInt &&
              n.args[1]->lit.i == 0)
            failAt(n.pos, "integer divide by zero");
          return {unknown ? Type::kUnknown : Type::kInt};
        }
        mismatch(n, l, r, "two ints");
      case Op::kRange:
        if ((l.type == Type::kInt || l.type == Type::kUnknown) &&
            (r.type == Type::kInt || r.type == Type::kUnknown))
          return {Type::kList, Type::kInt};
        mismatch(n, l, r, "two ints");
      case Op::kCoalesce:
        if (l.type == Type::kNil) return r;
        if (r.type == Type::kNil || (l.type == r.type && l.elem == r.elem)) return l;
        if (l.type == r.type) return {l.type};
        return {Type::kUnknown};
      default:  // matches, contains, startsWith, endsWith
        if (l.type != Type::kString && l.type != Type::kUnknown)
          failAt(n.pos, fmt::format("{} needs a string on its left, got {}", op, typeName(l.type)));
        if (r.type != Type::kString && r.type != Type::kUnknown)
          failAt(n.pos,
                 fmt::format("{} needs a string on its right, got {}", op, typeName(r.type)));
    }
    return {Type::kBool};
  }

  /// expr's checker for the predicate builtins: the first argument must be a list, the predicate
  /// is checked with # of the list's element type and must give a bool where expr wants one.
  Checked checkClosure(const Node& n) {
    const FnDef& f = *n.fn;
    Checked list = check(*n.args[0]);
    if (list.type != Type::kList && list.type != Type::kUnknown)
      failAt(n.args[0]->pos, fmt::format("{} expects a list as argument 1, got {}", f.name,
                                         typeName(list.type)));
    Checked elem{list.type == Type::kList ? list.elem : Type::kUnknown};
    Checked pred{Type::kUnknown};
    bool has_pred = n.args.size() > 1;
    if (has_pred) {
      closures_.push_back(elem);
      pred = check(*n.args[1]);
      closures_.pop_back();
    }
    if (f.fn == Fn::kReduce && n.args.size() > 2) check(*n.args[2]);
    auto wantBool = [&] {
      if (pred.type != Type::kBool && pred.type != Type::kUnknown)
        failAt(n.args[1]->pos, fmt::format("the predicate of {} must be a bool, got {}", f.name,
                                           typeName(pred.type)));
    };
    switch (f.fn) {
      case Fn::kFilter: wantBool(); return {Type::kList, elem.type};
      case Fn::kMap: return {Type::kList, pred.type};
      case Fn::kFind:
      case Fn::kFindLast: wantBool(); return elem;
      case Fn::kFindIndex:
      case Fn::kFindLastIndex: wantBool(); return {Type::kInt};
      case Fn::kCount:
        if (has_pred) {
          wantBool();
        } else if (elem.type != Type::kBool && elem.type != Type::kUnknown) {
          failAt(n.args[0]->pos,
                 fmt::format("count without a predicate counts the true elements of a list of "
                             "bool, got a list of {}",
                             typeName(elem.type)));
        }
        return {Type::kInt};
      case Fn::kSum: {
        Type t = has_pred ? pred.type : elem.type;
        if (!isNumber(t) && t != Type::kUnknown)
          failAt(n.args[has_pred ? 1 : 0]->pos,
                 has_pred ? fmt::format("the predicate of sum must be a number, got {}",
                                        typeName(t))
                          : fmt::format("sum expects a list of numbers as argument 1, got a list "
                                        "of {}",
                                        typeName(t)));
        return {t};
      }
      case Fn::kReduce: return pred;
      default: wantBool(); return {Type::kBool};  // all, any, none, one
    }
  }

  Checked checkCall(const Node& n) {
    const FnDef& f = *n.fn;
    if (f.closure) return checkClosure(n);
    std::vector<Checked> args;
    for (size_t k = 0; k < n.args.size(); k++) {
      Checked c = check(*n.args[k]);
      Arg want = f.args[std::min<size_t>(k, f.args.size() - 1)];
      if (!accepts(want, c.type))
        failAt(n.args[k]->pos, fmt::format("{} expects {} as argument {}, got {}", f.name,
                                           argName(want), k + 1, typeName(c.type)));
      bool numbers = want == Arg::kNumberOrList;
      if (c.type == Type::kList && c.elem != Type::kUnknown &&
          (numbers ? !isNumber(c.elem) : f.fn == Fn::kJoin && c.elem != Type::kString))
        failAt(n.args[k]->pos,
               fmt::format("{} expects a list of {} as argument {}, got a list of {}", f.name,
                           numbers ? "numbers" : "strings", k + 1, typeName(c.elem)));
      args.push_back(c);
    }
    switch (f.fn) {
      case Fn::kSplit:
      case Fn::kSplitAfter: return {Type::kList, Type::kString};
      case Fn::kAbs: return {args[0].type};
      case Fn::kFirst:
      case Fn::kLast: return {args[0].type == Type::kList ? args[0].elem : Type::kUnknown};
      case Fn::kSort: {
        Type e = args[0].type == Type::kList ? args[0].elem : Type::kUnknown;
        if (e != Type::kUnknown && !isNumber(e) && e != Type::kString)
          failAt(n.args[0]->pos,
                 fmt::format("sort expects a list of numbers or strings as argument 1, got a "
                             "list of {}",
                             typeName(e)));
        return {Type::kList, e};
      }
      case Fn::kReverse:
      case Fn::kUniq:
      case Fn::kTake:
        return {Type::kList, args[0].type == Type::kList ? args[0].elem : Type::kUnknown};
      case Fn::kConcat: {
        Checked out{Type::kList, args[0].type == Type::kList ? args[0].elem : Type::kUnknown};
        for (const auto& a : args)
          if (a.type != Type::kList || a.elem != out.elem) out.elem = Type::kUnknown;
        return out;
      }
      case Fn::kMax:
      case Fn::kMin: {
        // The type of the numbers compared when they all have the same, else known at run time.
        Type t = args[0].type == Type::kList ? args[0].elem : args[0].type;
        for (const auto& a : args)
          if ((a.type == Type::kList ? a.elem : a.type) != t) t = Type::kUnknown;
        return {t};
      }
      default: return {f.result};
    }
  }

  const std::string& text_;
  std::vector<Checked> locals_;    // the type of each let variable, by slot
  std::vector<Checked> closures_;  // the type of # in each closure being checked, by depth
};

// ---- Regex templates ------------------------------------------------------------------------

/// Go's unicode.IsLetter || unicode.IsDigit for the rune at the start of `s`; returns its length
/// in bytes, 0 when it is neither (or is not valid UTF-8).
size_t letterOrDigit(std::string_view s) {
  uint8_t c = uint8_t(s[0]);
  if (c < 0x80) return std::isalnum(c) ? 1 : 0;
  static const RE2 kLetterOrDigit("[\\pL\\p{Nd}]");
  re2::StringPiece m;
  if (!kLetterOrDigit.Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), RE2::ANCHOR_START,
                            &m, 1))
    return 0;
  return m.size();
}

/// Expands a template like Go's Regexp.ExpandString (which Akvorado calls): $name or ${name},
/// where name is the longest run of letters, digits and _; an all-digit name (without leading
/// zero) is a group number, another a named group (?P<name>...); unknown groups expand to
/// nothing; $$ is a $; a $ not followed by a valid name is copied as is.
std::string expand(std::string_view tmpl, const RE2& re, const re2::StringPiece* groups,
                   int ngroups) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(i, dollar - i));
    i = dollar + 1;
    if (i < tmpl.size() && tmpl[i] == '$') {
      out.push_back('$');
      i++;
      continue;
    }
    // Go's extract().
    size_t j = i;
    bool brace = j < tmpl.size() && tmpl[j] == '{';
    if (brace) j++;
    size_t start = j;
    while (j < tmpl.size()) {
      size_t len = tmpl[j] == '_' ? 1 : letterOrDigit(tmpl.substr(j));
      if (len == 0) break;
      j += len;
    }
    std::string_view name = tmpl.substr(start, j - start);
    if (name.empty() || (brace && (j >= tmpl.size() || tmpl[j] != '}'))) {
      out.push_back('$');  // malformed: the $ is text
      continue;
    }
    i = brace ? j + 1 : j;
    int64_t num = 0;
    for (char d : name) {
      if (d < '0' || d > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (d - '0');
    }
    if (name[0] == '0' && name.size() > 1) num = -1;
    if (num < 0) {
      num = -1;
      for (const auto& [group, index] : re.NamedCapturingGroups())
        if (group == name) num = index;
    }
    if (num >= 0 && num < ngroups && groups[num].data())
      out.append(groups[num].data(), groups[num].size());
  }
  if (i < tmpl.size()) out.append(tmpl.substr(i));
  return out;
}


/// What a closure's pointers read while it runs: set before each call of its predicate.
struct Frame {
  const Value* element = nullptr;
  int64_t index = 0;
  Value acc;  // reduce's #acc
};

struct Context {
  Kind kind;
  const ExporterInput* exporter = nullptr;
  const InterfaceInput* iface = nullptr;
  ExporterResult* er = nullptr;
  InterfaceResult* ir = nullptr;
  bool reject = false;
  std::vector<Value> locals;        // the let variables of the rule running, by slot
  std::vector<Frame> frames;        // the closures running, by nesting depth
  size_t budget = kMemoryBudget;    // bytes the rule running may still produce
};

[[noreturn]] void evalFail(const Node& n, const std::string& message) {
  throw EvalError(fmt::format("at position {}: {}", n.pos + 1, message));
}

/// Refuses to build a value of `bytes` when the rule's budget cannot hold it: checked before
/// the functions whose result can be much larger than their arguments allocate it.
void fits(const Context& ctx, size_t bytes, const Node& n) {
  if (bytes > ctx.budget) evalFail(n, "memory budget exceeded");
}

Value eval(const Node& n, Context& ctx);

// The checker guarantees most of the types below; these checks keep a value whose type was
// unknown when the rule was compiled (or a bug) from becoming a crash.
bool truthy(const Value& v, const Node& n) {
  if (v.t != Value::kBool) evalFail(n, fmt::format("expected a bool, got {}", v.typeName()));
  return v.b;
}
const std::string& asString(const Value& v, const Node& n) {
  if (v.t != Value::kStr) evalFail(n, fmt::format("expected a string, got {}", v.typeName()));
  return v.s;
}
int64_t asInt(const Value& v, const Node& n) {
  if (v.t != Value::kInt) evalFail(n, fmt::format("expected an int, got {}", v.typeName()));
  return v.i;
}
const std::vector<Value>& asList(const Value& v, const Node& n) {
  if (v.t != Value::kList) evalFail(n, fmt::format("expected a list, got {}", v.typeName()));
  return v.list;
}

// ---- Go's string functions, which expr's builtins call --------------------------------------

/// utf8.DecodeRuneInString: the code point at the start of `s` and its length; an invalid
/// sequence is U+FFFD of length 1. `s` must not be empty.
std::pair<uint32_t, size_t> decodeRune(std::string_view s) {
  uint8_t c0 = uint8_t(s[0]);
  if (c0 < 0x80) return {c0, 1};
  size_t more;
  uint32_t cp;
  uint8_t lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    more = 1;
    cp = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    more = 2;
    cp = c0 & 0x0F;
    if (c0 == 0xE0) lo = 0xA0;
    if (c0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    more = 3;
    cp = c0 & 0x07;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;  // up to U+10FFFF
  } else {
    return {0xFFFD, 1};
  }
  if (s.size() <= more) return {0xFFFD, 1};
  for (size_t k = 1; k <= more; k++) {
    uint8_t c = uint8_t(s[k]);
    if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) return {0xFFFD, 1};
    cp = (cp << 6) | (c & 0x3F);
  }
  return {cp, more + 1};
}

/// utf8.DecodeLastRuneInString. `s` must not be empty.
std::pair<uint32_t, size_t> decodeLastRune(std::string_view s) {
  size_t end = s.size(), start = end - 1;
  if (uint8_t(s[start]) < 0x80) return {uint8_t(s[start]), 1};
  size_t lim = end >= 4 ? end - 4 : 0;
  while (start > lim && (uint8_t(s[start]) & 0xC0) == 0x80) start--;
  auto [cp, size] = decodeRune(s.substr(start));
  if (start + size != end) return {0xFFFD, 1};
  return {cp, size};
}

/// unicode.IsSpace.
bool isSpace(uint32_t c) {
  return (c >= '\t' && c <= '\r') || c == ' ' || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

/// strings.TrimSpace, or strings.Trim(s, cutset) when `cutset` is given.
std::string trim(std::string_view s, const std::string* cutset) {
  std::vector<uint32_t> set;
  if (cutset) {
    if (cutset->empty()) return std::string(s);
    for (std::string_view c = *cutset; !c.empty();) {
      auto [cp, size] = decodeRune(c);
      set.push_back(cp);
      c.remove_prefix(size);
    }
  }
  auto drop = [&](uint32_t cp) {
    return cutset ? std::find(set.begin(), set.end(), cp) != set.end() : isSpace(cp);
  };
  while (!s.empty()) {
    auto [cp, size] = decodeRune(s);
    if (!drop(cp)) break;
    s.remove_prefix(size);
  }
  while (!s.empty()) {
    auto [cp, size] = decodeLastRune(s);
    if (!drop(cp)) break;
    s.remove_suffix(size);
  }
  return std::string(s);
}

/// strings.SplitN (keep = 0) and strings.SplitAfterN (keep = the separator's length): at most
/// n pieces (all when n < 0, none when n == 0); an empty separator splits into code points.
Value split(std::string_view s, std::string_view sep, size_t keep, int64_t n, const Context& ctx,
            const Node& node) {
  std::vector<Value> out;
  auto push = [&](std::string_view piece) {
    fits(ctx, (out.size() + 1) * sizeof(Value) + s.size(), node);
    out.push_back(Value::str(std::string(piece)));
  };
  if (n == 0) return Value::array({});
  if (sep.empty()) {
    while (!s.empty() && (n < 0 || int64_t(out.size()) < n - 1)) {
      size_t size = decodeRune(s).second;
      push(s.substr(0, size));
      s.remove_prefix(size);
    }
    if (!s.empty()) push(s);
    return Value::array(std::move(out));
  }
  while (n < 0 || int64_t(out.size()) < n - 1) {
    size_t m = s.find(sep);
    if (m == std::string_view::npos) break;
    push(s.substr(0, m + keep));
    s.remove_prefix(m + sep.size());
  }
  push(s);
  return Value::array(std::move(out));
}

/// strings.Replace: the first n occurrences of `old` (all when n < 0); an empty `old` matches
/// before every code point and at the end.
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t n,
                    const Context& ctx, const Node& node) {
  if (old == with || n == 0) return std::string(s);
  int64_t count = 0;  // strings.Count
  if (old.empty()) {
    for (std::string_view r = s; !r.empty(); r.remove_prefix(decodeRune(r).second)) count++;
    count++;
  } else {
    for (size_t at = s.find(old); at != std::string_view::npos; at = s.find(old, at + old.size()))
      count++;
  }
  if (count == 0) return std::string(s);
  if (n < 0 || count < n) n = count;
  if (with.size() > old.size())
    fits(ctx, s.size() + size_t(n) * (with.size() - old.size()), node);
  std::string out;
  size_t start = 0;
  for (int64_t i = 0; i < n; i++) {
    size_t j = start;
    if (old.empty()) {
      if (i > 0) j += decodeRune(s.substr(start)).second;
    } else {
      j = s.find(old, start);
    }
    out.append(s.substr(start, j - start));
    out.append(with);
    start = j + old.size();
  }
  out.append(s.substr(start));
  return out;
}

/// Go's %v of a float64 (strconv.FormatFloat(f, 'g', -1, 64)): the shortest representation
/// that reads back the same, with an exponent when it is below -4 or at least 6 (1e+06).
std::string goFloat(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string sci(buf, end);  // d.ddde±XX
  size_t e = sci.find('e');
  int exp = std::atoi(sci.c_str() + e + 1);
  if (exp < -4 || exp >= 6) return sci;  // both write at least two exponent digits
  auto [fend, fec] = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  return std::string(buf, fend);
}

/// fmt.Sprintf("%v", v), which expr's string() and Akvorado's Format() use.
std::string goString(const Value& v) {
  switch (v.t) {
    case Value::kNil: return "<nil>";
    case Value::kBool: return v.b ? "true" : "false";
    case Value::kInt: return std::to_string(v.i);
    case Value::kFloat: return goFloat(v.f);
    case Value::kStr: return v.s;
    default: {
      std::string out = "[";
      for (size_t k = 0; k < v.list.size(); k++) {
        if (k) out.push_back(' ');
        out += goString(v.list[k]);
      }
      return out + "]";
    }
  }
}

/// strconv.Atoi, which expr's int() calls on strings.
std::optional<int64_t> parseInt(const std::string& s) {
  std::string_view d = s;
  bool negative = !d.empty() && d[0] == '-';
  if (!d.empty() && (d[0] == '-' || d[0] == '+')) d.remove_prefix(1);
  if (d.empty() || d[0] == '-' || d[0] == '+') return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
  if (ec != std::errc() || p != d.data() + d.size()) return std::nullopt;
  if (v > uint64_t(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0)) return std::nullopt;
  return negative ? int64_t(0 - v) : int64_t(v);
}

/// strconv.ParseFloat, which expr's float() calls on strings (decimal forms, inf and nan).
std::optional<double> parseFloat(const std::string& s) {
  std::string_view d = s;
  bool negative = !d.empty() && d[0] == '-';
  if (!d.empty() && (d[0] == '-' || d[0] == '+')) d.remove_prefix(1);
  std::string lower(d);
  for (auto& c : lower) c = char(std::tolower(uint8_t(c)));
  double v = 0;
  if (lower == "inf" || lower == "infinity") {
    v = std::numeric_limits<double>::infinity();
  } else if (lower == "nan") {
    v = std::numeric_limits<double>::quiet_NaN();
  } else {
    if (d.empty() || !(std::isdigit(uint8_t(d[0])) || d[0] == '.')) return std::nullopt;
    auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
    if (ec != std::errc() || p != d.data() + d.size()) return std::nullopt;
  }
  return negative ? -v : v;
}

// ---- Evaluation -----------------------------------------------------------------------------

void setOnce(std::string& field, std::string value) {
  if (field.empty()) field = std::move(value);
}

std::string* classField(Fn fn, Context& ctx) {
  switch (fn) {
    case Fn::kGroup: return &ctx.er->group;
    case Fn::kRole: return &ctx.er->role;
    case Fn::kSite: return &ctx.er->site;
    case Fn::kRegion: return &ctx.er->region;
    case Fn::kTenant: return &ctx.er->tenant;
    case Fn::kConnectivity: return &ctx.ir->connectivity;
    case Fn::kProvider: return &ctx.ir->provider;
    default: return nullptr;
  }
}

/// Akvorado's Format: fmt.Sprintf, every verb printing its argument as %v.
std::string format(const Node& n, const std::vector<Value>& args) {
  const std::string& f = asString(args[0], *n.args[0]);
  std::string out;
  size_t arg = 1;
  for (size_t i = 0; i < f.size(); i++) {
    if (f[i] != '%' || i + 1 >= f.size()) {
      out.push_back(f[i]);
      continue;
    }
    char verb = f[++i];
    if (verb == '%') {
      out.push_back('%');
      continue;
    }
    if (arg >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    out += goString(args[arg++]);
  }
  return out;
}

/// runtime.Less for max() and min(): numbers of any type.
bool less(const Value& a, const Value& b) {
  if (a.t == Value::kInt && b.t == Value::kInt) return a.i < b.i;
  return a.asDouble() < b.asDouble();
}

/// expr's max and min: the largest (smallest) number of the arguments and of the lists among
/// them; nil when there is none.
void minMax(const Value& v, bool max, Value& best, const Node& n) {
  if (v.t == Value::kList) {
    for (const auto& x : v.list) minMax(x, max, best, n);
    return;
  }
  if (!v.isNumber())
    evalFail(n, fmt::format("invalid argument for {} (type {})", max ? "max" : "min",
                            v.typeName()));
  if (best.t == Value::kNil || (max ? less(best, v) : less(v, best))) best = v;
}

/// runtime.Add for sum(): ints stay ints (wrapping), a float makes a float.
Value add(const Value& a, const Value& b, const Node& n) {
  if (a.t == Value::kInt && b.t == Value::kInt)
    return Value::integer(int64_t(uint64_t(a.i) + uint64_t(b.i)));
  if (!a.isNumber() || !b.isNumber())
    evalFail(n, fmt::format("invalid operation: {} + {}", a.typeName(), b.typeName()));
  return Value::floating(a.asDouble() + b.asDouble());
}

/// expr's predicate builtins, as its compiler emits them: all, any, none and the find forms
/// stop at the first element that decides; one, count, filter, map, sum and reduce call the
/// predicate on every element (it may classify: the calls are what expr makes). Each call
/// counts against the rule's budget as one list element, so that a closure cannot run for long
/// without producing anything.
Value closure(const Node& n, Context& ctx) {
  Fn fn = n.fn->fn;
  Value list_value = eval(*n.args[0], ctx);
  const auto& list = asList(list_value, *n.args[0]);
  const Node* body = n.args.size() > 1 ? n.args[1].get() : nullptr;
  const Node& where = body ? *body : *n.args[0];
  Frame& frame = ctx.frames[n.slot];
  auto invoke = [&](size_t k) -> Value {
    if (ctx.budget < sizeof(Value)) evalFail(n, "memory budget exceeded");
    ctx.budget -= sizeof(Value);
    frame.element = &list[k];
    frame.index = int64_t(k);
    return body ? eval(*body, ctx) : list[k];
  };
  auto test = [&](size_t k) { return truthy(invoke(k), where); };
  size_t size = list.size();
  switch (fn) {
    case Fn::kAll:
    case Fn::kNone:
      for (size_t k = 0; k < size; k++)
        if (test(k) != (fn == Fn::kAll)) return Value::boolean(false);
      return Value::boolean(true);
    case Fn::kAny:
      for (size_t k = 0; k < size; k++)
        if (test(k)) return Value::boolean(true);
      return Value::boolean(false);
    case Fn::kOne:
    case Fn::kCount: {
      int64_t count = 0;
      for (size_t k = 0; k < size; k++) count += test(k);
      return fn == Fn::kOne ? Value::boolean(count == 1) : Value::integer(count);
    }
    case Fn::kFilter:
    case Fn::kMap: {
      std::vector<Value> out;
      for (size_t k = 0; k < size; k++) {
        if (fn == Fn::kMap) out.push_back(invoke(k));
        else if (test(k)) out.push_back(list[k]);
      }
      return Value::array(std::move(out));
    }
    // Not found: nil, for the index forms too (expr's compiler emits OpNil).
    case Fn::kFind:
    case Fn::kFindIndex:
      for (size_t k = 0; k < size; k++)
        if (test(k)) return fn == Fn::kFind ? list[k] : Value::integer(int64_t(k));
      return Value();
    case Fn::kFindLast:
    case Fn::kFindLastIndex:
      for (size_t k = size; k-- > 0;)
        if (test(k)) return fn == Fn::kFindLast ? list[k] : Value::integer(int64_t(k));
      return Value();
    case Fn::kSum: {
      Value acc = Value::integer(0);
      for (size_t k = 0; k < size; k++) acc = add(acc, invoke(k), where);
      return acc;
    }
    default: break;  // reduce
  }
  // reduce(list, predicate[, initial]): without an initial value the first element is, and the
  // predicate runs from the second; an empty list then fails as in expr.
  size_t start = 0;
  if (n.args.size() > 2) {
    Value initial = eval(*n.args[2], ctx);
    frame.acc = std::move(initial);
  } else {
    if (size == 0) evalFail(n, "reduce of an empty list without an initial value");
    frame.acc = list[0];
    start = 1;
  }
  for (size_t k = start; k < size; k++) {
    Value next = invoke(k);
    frame.acc = std::move(next);
  }
  return std::move(frame.acc);
}

/// expr's runtime.Less for sort(): numbers of any type (compared exactly: long double holds
/// every int64 and every double; NaN first, as Go's sort.Float64s), or strings.
bool sortLess(const Value& a, const Value& b) {
  if (a.t == Value::kStr) return a.s < b.s;
  if (a.t == Value::kInt && b.t == Value::kInt) return a.i < b.i;
  long double x = a.t == Value::kInt ? (long double)a.i : (long double)a.f;
  long double y = b.t == Value::kInt ? (long double)b.i : (long double)b.f;
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && !std::isnan(y);
  return x < y;
}

/// A key equal for values expr's runtime.Equal says are equal (1 and 1.0 too), for uniq();
/// empty for a value equal to nothing (NaN, or a list holding one).
std::string uniqKey(const Value& v) {
  switch (v.t) {
    case Value::kNil: return "n";
    case Value::kBool: return v.b ? "t" : "f";
    case Value::kInt: return "i" + std::to_string(v.i);
    case Value::kFloat:
      if (std::isnan(v.f)) return "";
      if (v.f >= -9223372036854775808.0 && v.f < 9223372036854775808.0 &&
          std::floor(v.f) == v.f)
        return "i" + std::to_string(int64_t(v.f));
      return "f" + goFloat(v.f);
    case Value::kStr: return "s" + std::to_string(v.s.size()) + ":" + v.s;
    default: {
      std::string out = "l" + std::to_string(v.list.size()) + ":";
      for (const auto& x : v.list) {
        std::string k = uniqKey(x);
        if (k.empty()) return "";
        out += std::to_string(k.size()) + ":" + k;
      }
      return out;
    }
  }
}

/// expr's builtins and the classification functions, once their arguments are evaluated.
Value call(const Node& n, Context& ctx) {
  Fn fn = n.fn->fn;
  if (n.fn->closure) return closure(n, ctx);
  switch (fn) {
    case Fn::kReject: ctx.reject = true; return Value::boolean(false);
    case Fn::kExternal:
    case Fn::kInternal:
      if (ctx.ir->boundary == Boundary::kUndefined)
        ctx.ir->boundary = fn == Fn::kExternal ? Boundary::kExternal : Boundary::kInternal;
      return Value::boolean(true);
    default: break;
  }
  std::vector<Value> args;
  args.reserve(n.args.size());
  for (const auto& a : n.args) args.push_back(eval(*a, ctx));
  auto str = [&](size_t k) -> const std::string& { return asString(args[k], *n.args[k]); };
  auto integer = [&](size_t k) { return asInt(args[k], *n.args[k]); };
  auto number = [&](size_t k) -> const Value& {
    if (!args[k].isNumber())
      evalFail(*n.args[k], fmt::format("expected a number, got {}", args[k].typeName()));
    return args[k];
  };
  switch (fn) {
    // As Akvorado: set while still empty (an empty value sets nothing), the interface's own
    // name and description filling what is still empty at the end.
    case Fn::kSetName:
      if (ctx.ir->name.empty()) ctx.ir->name = str(0);
      return Value::boolean(true);
    case Fn::kSetDescription:
      if (ctx.ir->description.empty()) ctx.ir->description = str(0);
      return Value::boolean(true);
    case Fn::kFormat: return Value::str(format(n, args));
    case Fn::kLower:
    case Fn::kUpper: {
      std::string s = str(0);
      for (auto& c : s)
        c = char(fn == Fn::kLower ? std::tolower(uint8_t(c)) : std::toupper(uint8_t(c)));
      return Value::str(std::move(s));
    }
    case Fn::kTrim: return Value::str(trim(str(0), args.size() > 1 ? &str(1) : nullptr));
    case Fn::kTrimPrefix:
    case Fn::kTrimSuffix: {
      const std::string& s = str(0);
      std::string affix = args.size() > 1 ? str(1) : " ";  // expr's default
      if (s.size() < affix.size()) return args[0];
      if (fn == Fn::kTrimPrefix)
        return s.compare(0, affix.size(), affix) == 0 ? Value::str(s.substr(affix.size()))
                                                      : args[0];
      return s.compare(s.size() - affix.size(), affix.size(), affix) == 0
                 ? Value::str(s.substr(0, s.size() - affix.size()))
                 : args[0];
    }
    case Fn::kHasPrefix:
    case Fn::kHasSuffix: {
      std::string_view s = str(0), affix = str(1);
      return Value::boolean(fn == Fn::kHasPrefix ? s.starts_with(affix) : s.ends_with(affix));
    }
    case Fn::kIndexOf:
    case Fn::kLastIndexOf: {
      size_t at = fn == Fn::kIndexOf ? str(0).find(str(1)) : str(0).rfind(str(1));
      return Value::integer(at == std::string::npos ? -1 : int64_t(at));
    }
    case Fn::kSplit:
    case Fn::kSplitAfter:
      return split(str(0), str(1), fn == Fn::kSplitAfter ? str(1).size() : 0,
                   args.size() > 2 ? integer(2) : -1, ctx, n);
    case Fn::kReplace:
      return Value::str(replace(str(0), str(1), str(2), args.size() > 3 ? integer(3) : -1, ctx, n));
    case Fn::kRepeat: {
      int64_t count = integer(1);
      if (count < 0)
        evalFail(n, fmt::format("invalid argument for repeat (expected positive integer, got {})",
                                count));
      if (count > kMaxRepeat) evalFail(n, "memory budget exceeded");
      fits(ctx, str(0).size() * size_t(count), n);
      std::string out;
      for (int64_t k = 0; k < count; k++) out += str(0);
      return Value::str(std::move(out));
    }
    case Fn::kJoin: {
      const auto& list = asList(args[0], *n.args[0]);
      std::string glue = args.size() > 1 ? str(1) : "";
      size_t size = glue.size() * list.size();
      for (const auto& x : list) size += asString(x, *n.args[0]).size();
      fits(ctx, size, n);
      std::string out;
      for (size_t k = 0; k < list.size(); k++) {
        if (k) out += glue;
        out += list[k].s;
      }
      return Value::str(std::move(out));
    }
    case Fn::kLen:
      if (args[0].t == Value::kStr) return Value::integer(int64_t(args[0].s.size()));
      return Value::integer(int64_t(asList(args[0], *n.args[0]).size()));
    case Fn::kAbs: {
      const Value& v = number(0);
      if (v.t == Value::kInt) return Value::integer(v.i < 0 ? int64_t(0 - uint64_t(v.i)) : v.i);
      return Value::floating(v.f < 0 ? -v.f : v.f);
    }
    case Fn::kCeil: return Value::floating(std::ceil(number(0).asDouble()));
    case Fn::kFloor: return Value::floating(std::floor(number(0).asDouble()));
    case Fn::kRound: return Value::floating(std::round(number(0).asDouble()));
    case Fn::kMax:
    case Fn::kMin: {
      Value best;
      for (size_t k = 0; k < args.size(); k++) minMax(args[k], fn == Fn::kMax, best, *n.args[k]);
      return best;
    }
    case Fn::kInt: {
      const Value& v = args[0];
      if (v.t == Value::kInt) return v;
      if (v.t == Value::kFloat) {
        // Go's conversion truncates; out of range it is undefined: an error here.
        if (!(v.f >= -9223372036854775808.0 && v.f < 9223372036854775808.0))
          evalFail(n, fmt::format("invalid operation: int({})", goFloat(v.f)));
        return Value::integer(int64_t(v.f));
      }
      if (auto i = parseInt(str(0))) return Value::integer(*i);
      evalFail(n, fmt::format("invalid operation: int({})", str(0)));
    }
    case Fn::kFloat: {
      const Value& v = args[0];
      if (v.isNumber()) return Value::floating(v.asDouble());
      if (auto f = parseFloat(str(0))) return Value::floating(*f);
      evalFail(n, fmt::format("invalid operation: float({})", str(0)));
    }
    case Fn::kString: return Value::str(goString(args[0]));
    case Fn::kFirst:
    case Fn::kLast: {
      const auto& list = asList(args[0], *n.args[0]);
      if (list.empty()) return Value();  // nil, as expr
      return fn == Fn::kFirst ? list.front() : list.back();
    }
    case Fn::kReverse: {
      std::vector<Value> list = asList(args[0], *n.args[0]);
      std::reverse(list.begin(), list.end());
      return Value::array(std::move(list));
    }
    case Fn::kTake: {
      const auto& list = asList(args[0], *n.args[0]);
      int64_t count = integer(1);
      if (count < 0) evalFail(n, fmt::format("cannot take {} elements", count));
      if (uint64_t(count) >= list.size()) return args[0];
      return Value::array(std::vector<Value>(list.begin(), list.begin() + count));
    }
    case Fn::kSort: {
      std::vector<Value> list = asList(args[0], *n.args[0]);
      bool desc = false;
      if (args.size() > 1) {
        if (str(1) != "asc" && str(1) != "desc")
          evalFail(*n.args[1], fmt::format("invalid order {}, expected asc or desc", str(1)));
        desc = str(1) == "desc";
      }
      // All numbers or all strings: runtime.Less fails on anything else.
      for (const auto& x : list)
        if (!(list[0].isNumber() ? x.isNumber() : list[0].t == Value::kStr && x.t == Value::kStr))
          evalFail(n, fmt::format("cannot sort a list holding {} and {}", list[0].typeName(),
                                  x.typeName()));
      std::stable_sort(list.begin(), list.end(), [desc](const Value& a, const Value& b) {
        return desc ? sortLess(b, a) : sortLess(a, b);
      });
      return Value::array(std::move(list));
    }
    case Fn::kUniq: {
      const auto& list = asList(args[0], *n.args[0]);
      std::unordered_set<std::string> seen;  // the keys stay within the list's footprint
      std::vector<Value> out;
      for (const auto& x : list) {
        std::string key = uniqKey(x);
        if (!key.empty() && !seen.insert(std::move(key)).second) continue;
        out.push_back(x);
      }
      return Value::array(std::move(out));
    }
    case Fn::kConcat: {
      size_t size = 0;
      for (size_t k = 0; k < args.size(); k++) size += asList(args[k], *n.args[k]).size();
      fits(ctx, size * sizeof(Value), n);
      std::vector<Value> out;
      out.reserve(size);
      for (auto& a : args)
        for (auto& x : a.list) out.push_back(std::move(x));
      return Value::array(std::move(out));
    }
    case Fn::kType: return Value::str(args[0].t == Value::kList ? "array" : args[0].typeName());
    default: break;
  }
  std::string* field = classField(fn, ctx);
  if (!n.fn->regex) {
    setOnce(*field, normalize(str(0)));
    return Value::boolean(true);
  }
  // Akvorado's classifyStringWithRegex: the arguments are evaluated (expr does it before the
  // call), then a value already set makes the function return true without matching.
  const std::string& input = str(0);
  const std::string& tmpl = str(2);
  if (!field->empty()) return Value::boolean(true);
  int ngroups = n.re->NumberOfCapturingGroups() + 1;
  std::array<re2::StringPiece, 10> small;
  std::vector<re2::StringPiece> large;
  re2::StringPiece* groups = small.data();
  if (size_t(ngroups) > small.size()) {
    large.resize(size_t(ngroups));
    groups = large.data();
  }
  if (!n.re->Match(input, 0, input.size(), RE2::UNANCHORED, groups, ngroups))
    return Value::boolean(false);
  *field = normalize(expand(tmpl, *n.re, groups, ngroups));
  return Value::boolean(true);
}

Value variable(Var v, Context& ctx) {
  const ExporterInput& e = ctx.kind == Kind::kExporter ? *ctx.exporter : ctx.iface->exporter;
  switch (v) {
    case Var::kExporterIP: return Value::str(std::string(e.ip));
    case Var::kExporterName: return Value::str(std::string(e.name));
    case Var::kIfIndex: return Value::integer(ctx.iface->index);
    case Var::kIfName: return Value::str(std::string(ctx.iface->name));
    case Var::kIfDescription: return Value::str(std::string(ctx.iface->description));
    case Var::kIfSpeed: return Value::integer(ctx.iface->speed);
    case Var::kIfVlan: return Value::integer(ctx.iface->vlan);
  }
  return {};
}

/// expr's arithmetic: ints stay ints (wrapping on overflow, as Go), a float makes a float, / and
/// ** always give a float (1 / 0 is +Inf), % takes ints only and fails on 0, + joins strings.
Value arithmetic(const Node& n, const Value& a, const Value& b, const Context& ctx) {
  if (n.op == Op::kAdd && a.t == Value::kStr && b.t == Value::kStr) {
    fits(ctx, a.s.size() + b.s.size(), n);
    return Value::str(a.s + b.s);
  }
  static const char* const kSymbols[] = {"+", "-", "*", "/", "%", "**"};
  const char* symbol = kSymbols[int(n.op) - int(Op::kAdd)];
  if (!a.isNumber() || !b.isNumber())
    evalFail(n, fmt::format("invalid operation: {} {} {}", a.typeName(), symbol, b.typeName()));
  bool ints = a.t == Value::kInt && b.t == Value::kInt;
  uint64_t x = uint64_t(a.i), y = uint64_t(b.i);
  double p = a.asDouble(), q = b.asDouble();
  switch (n.op) {
    case Op::kAdd: return ints ? Value::integer(int64_t(x + y)) : Value::floating(p + q);
    case Op::kSub: return ints ? Value::integer(int64_t(x - y)) : Value::floating(p - q);
    case Op::kMul: return ints ? Value::integer(int64_t(x * y)) : Value::floating(p * q);
    case Op::kDiv: return Value::floating(p / q);
    case Op::kPow: return Value::floating(std::pow(p, q));
    default: break;
  }
  if (!ints)
    evalFail(n, fmt::format("invalid operation: {} % {}", a.typeName(), b.typeName()));
  if (b.i == 0) evalFail(n, "integer divide by zero");
  if (b.i == -1) return Value::integer(0);  // Go's x % -1, even for the most negative x
  return Value::integer(a.i % b.i);
}

/// The bounds of a..b.
std::pair<int64_t, int64_t> range(const Node& n, Context& ctx) {
  return {asInt(eval(*n.args[0], ctx), *n.args[0]), asInt(eval(*n.args[1], ctx), *n.args[1])};
}

Value compare(const Node& n, const Value& a, const Value& b) {
  int cmp;
  if (a.t == Value::kInt && b.t == Value::kInt) {
    cmp = a.i < b.i ? -1 : a.i > b.i;
  } else if (a.isNumber() && b.isNumber()) {
    double x = a.asDouble(), y = b.asDouble();
    if (x != x || y != y) return Value::boolean(false);  // NaN compares false, as in Go
    cmp = x < y ? -1 : x > y;
  } else if (a.t == Value::kStr && b.t == Value::kStr) {
    cmp = a.s.compare(b.s);
  } else {
    evalFail(n, fmt::format("cannot compare {} and {}", a.typeName(), b.typeName()));
  }
  switch (n.op) {
    case Op::kLt: return Value::boolean(cmp < 0);
    case Op::kLe: return Value::boolean(cmp <= 0);
    case Op::kGt: return Value::boolean(cmp > 0);
    default: return Value::boolean(cmp >= 0);
  }
}

Value index(const Node& n, const Value& base, const Value& at) {
  const auto& list = asList(base, *n.args[0]);
  int64_t i = asInt(at, *n.args[1]), size = int64_t(list.size());
  if (i < 0) i += size;
  if (i < 0 || i >= size)
    evalFail(n, fmt::format("index out of range: {} (array length is {})", i, size));
  return list[size_t(i)];
}

/// runtime.Slice: negative bounds count from the end, bounds past the ends are clamped.
Value slice(const Node& n, Context& ctx) {
  Value base = eval(*n.args[0], ctx);
  if (base.t != Value::kStr && base.t != Value::kList)
    evalFail(n, fmt::format("cannot slice a {}", base.typeName()));
  int64_t size = int64_t(base.t == Value::kStr ? base.s.size() : base.list.size());
  int64_t from = n.args[1] ? asInt(eval(*n.args[1], ctx), *n.args[1]) : 0;
  int64_t to = n.args[2] ? asInt(eval(*n.args[2], ctx), *n.args[2]) : size;
  if (from < 0) from = std::max<int64_t>(size + from, 0);
  if (to < 0) to = std::max<int64_t>(size + to, 0);
  to = std::min(to, size);
  from = std::min(from, to);
  if (base.t == Value::kStr) return Value::str(base.s.substr(size_t(from), size_t(to - from)));
  return Value::array(std::vector<Value>(base.list.begin() + from, base.list.begin() + to));
}

Value evalNode(const Node& n, Context& ctx) {
  switch (n.op) {
    case Op::kLit: return n.lit;
    case Op::kVar: return variable(n.var, ctx);
    case Op::kLocal: return ctx.locals[n.slot];
    case Op::kPointer: {
      const Frame& f = ctx.frames[n.slot];
      if (n.pointer == Pointer::kIndex) return Value::integer(f.index);
      if (n.pointer == Pointer::kAcc) return f.acc;
      if (!f.element) evalFail(n, "# outside its closure");  // the parser prevents it
      return *f.element;
    }
    case Op::kLet:
      ctx.locals[n.slot] = eval(*n.args[0], ctx);
      return eval(*n.args[1], ctx);
    case Op::kCall: return call(n, ctx);
    case Op::kList: {
      std::vector<Value> list;
      for (const auto& a : n.args) list.push_back(eval(*a, ctx));
      return Value::array(std::move(list));
    }
    case Op::kNot: return Value::boolean(!truthy(eval(*n.args[0], ctx), *n.args[0]));
    case Op::kNeg:
    case Op::kPos: {
      Value v = eval(*n.args[0], ctx);
      if (!v.isNumber()) evalFail(n, fmt::format("expected a number, got {}", v.typeName()));
      if (n.op == Op::kNeg) {
        if (v.t == Value::kInt) v.i = int64_t(0 - uint64_t(v.i));
        else v.f = -v.f;
      }
      return v;
    }
    case Op::kAnd:
      if (!truthy(eval(*n.args[0], ctx), *n.args[0]) || ctx.reject) return Value::boolean(false);
      return Value::boolean(truthy(eval(*n.args[1], ctx), *n.args[1]));
    case Op::kOr:
      if (truthy(eval(*n.args[0], ctx), *n.args[0])) return Value::boolean(true);
      if (ctx.reject) return Value::boolean(false);
      return Value::boolean(truthy(eval(*n.args[1], ctx), *n.args[1]));
    case Op::kCond:
      return eval(truthy(eval(*n.args[0], ctx), *n.args[0]) ? *n.args[1] : *n.args[2], ctx);
    case Op::kCoalesce: {
      Value v = eval(*n.args[0], ctx);
      return v.t != Value::kNil ? v : eval(*n.args[1], ctx);
    }
    case Op::kSlice: return slice(n, ctx);
    case Op::kRange: {
      auto [lo, hi] = range(n, ctx);
      if (hi < lo) return Value::array({});
      if (uint64_t(hi) - uint64_t(lo) >= ctx.budget / sizeof(Value))
        evalFail(n, "memory budget exceeded");
      std::vector<Value> list;
      for (int64_t k = lo;; k++) {
        list.push_back(Value::integer(k));
        if (k == hi) break;
      }
      return Value::array(std::move(list));
    }
    case Op::kIn:
      if (n.args[1]->op == Op::kList) {  // a literal: compare element by element, no list built
        Value a = eval(*n.args[0], ctx);
        bool found = false;
        for (const auto& x : n.args[1]->args)
          if (eval(*x, ctx) == a) {
            found = true;
            break;
          }
        return Value::boolean(found != n.negate);
      }
      if (n.args[1]->op == Op::kRange) {  // x in a..b: compare with the bounds, no list built
        Value a = eval(*n.args[0], ctx);
        auto [lo, hi] = range(*n.args[1], ctx);
        bool found = (a.t == Value::kInt && a.i >= lo && a.i <= hi) ||
                     (a.t == Value::kFloat && a.f >= double(lo) && a.f <= double(hi) &&
                      std::floor(a.f) == a.f);
        return Value::boolean(found != n.negate);
      }
      break;
    default: break;
  }
  Value a = eval(*n.args[0], ctx);
  Value b = eval(*n.args[1], ctx);
  bool r = false;
  switch (n.op) {
    case Op::kEq: return Value::boolean(a == b);
    case Op::kNe: return Value::boolean(!(a == b));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: return compare(n, a, b);
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod:
    case Op::kPow: return arithmetic(n, a, b, ctx);
    case Op::kIndex: return index(n, a, b);
    case Op::kIn:
      for (const auto& x : asList(b, *n.args[1])) r = r || x == a;
      break;
    case Op::kMatches: r = RE2::PartialMatch(asString(a, *n.args[0]), *n.re); break;
    case Op::kStartsWith:
      r = std::string_view(asString(a, *n.args[0])).starts_with(asString(b, *n.args[1]));
      break;
    case Op::kEndsWith:
      r = std::string_view(asString(a, *n.args[0])).ends_with(asString(b, *n.args[1]));
      break;
    case Op::kContains:
      r = asString(a, *n.args[0]).find(asString(b, *n.args[1])) != std::string::npos;
      break;
    default: return {};
  }
  return Value::boolean(r != n.negate);
}

/// Evaluates a node and charges what it produced to the rule's budget.
Value eval(const Node& n, Context& ctx) {
  Value v = evalNode(n, ctx);
  if (v.t == Value::kStr || v.t == Value::kList) {
    size_t bytes = v.footprint();
    if (bytes > ctx.budget) evalFail(n, "memory budget exceeded");
    ctx.budget -= bytes;
  }
  return v;
}

}  // namespace

Rule::Rule(std::string text, Kind kind) : text_(std::move(text)), kind_(kind) {
  Parser p(text_, kind);
  root_ = p.parse(uses_vlan_, slots_, frames_);
  TypeChecker(text_).checkRule(*root_);
}
Rule::~Rule() = default;
Rule::Rule(Rule&&) noexcept = default;

RuleSet::RuleSet(const std::vector<std::string>& rules, Kind kind) : kind_(kind) {
  for (size_t i = 0; i < rules.size(); i++) {
    try {
      rules_.emplace_back(rules[i], kind);
    } catch (const ParseError& e) {
      throw ParseError(fmt::format("{} classifier rule {} \"{}\": {}",
                                   kind == Kind::kExporter ? "exporter" : "interface", i,
                                   rules[i], e.what()));
    }
  }
}
RuleSet::~RuleSet() = default;

bool RuleSet::usesVlan() const {
  for (const auto& r : rules_)
    if (r.usesVlan()) return true;
  return false;
}

namespace {

/// Runs a rule; false when it failed at run time (counted in `errors`): the caller stops there,
/// as Akvorado does.
bool run(const Node& root, size_t slots, size_t frames, Context& ctx, uint64_t* errors) {
  ctx.locals.assign(slots, Value());
  ctx.frames.assign(frames, Frame());
  ctx.budget = kMemoryBudget;
  try {
    Value v = eval(root, ctx);
    (void)v;  // the rule's value is not used, as in Akvorado: what counts is what it classified
  } catch (const std::exception&) {  // EvalError, or anything unexpected: never past here
    if (errors) (*errors)++;
    return false;
  }
  return true;
}

}  // namespace

ExporterResult RuleSet::classify(const ExporterInput& in, uint64_t* errors) const {
  ExporterResult out;
  Context ctx{Kind::kExporter, &in, nullptr, &out, nullptr};
  for (const auto& r : rules_) {
    if (!run(*r.root_, r.slots_, r.frames_, ctx, errors)) break;
    if (ctx.reject) {
      out.reject = true;
      break;
    }
    if (out.complete()) break;
  }
  return out;
}

InterfaceResult RuleSet::classify(const InterfaceInput& in, uint64_t* errors) const {
  InterfaceResult out;
  Context ctx{Kind::kInterface, nullptr, &in, nullptr, &out};
  for (const auto& r : rules_) {
    if (!run(*r.root_, r.slots_, r.frames_, ctx, errors)) break;
    if (ctx.reject) {
      out.reject = true;
      break;
    }
    if (out.complete()) break;
  }
  if (out.name.empty()) out.name = std::string(in.name);
  if (out.description.empty()) out.description = std::string(in.description);
  return out;
}

}  // namespace akvo::classifier
