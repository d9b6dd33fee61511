#include "common/jq.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

namespace akvo::jq {

// ---------------------------------------------------------------------------------------------
// The tree.

enum class Op {
  kIdentity,
  kLiteral,
  kString,   ///< interpolated: parts around kids
  kIndex,    ///< kids: target, key
  kSlice,    ///< kids: target, from (may be null), to (may be null)
  kIterate,  ///< kids: target
  kPipe,
  kComma,
  kNeg,
  kBinary,  ///< name: + - * / % == != < <= > >=
  kAnd,
  kOr,
  kAlt,     ///< //
  kIf,      ///< kids: cond, then, [cond, then]..., else (may be null)
  kTry,     ///< kids: body, handler (may be null)
  kCall,    ///< fn, kids: arguments
  kVar,     ///< name
  kBind,    ///< name; kids: source, body
  kReduce,  ///< name; kids: source, init, update
  kArray,   ///< kids: the collected expression (none: [])
  kObject,  ///< kids: key, value, key, value...
};

enum class Fn {
  kEmpty,
  kNot,
  kLength,
  kUtf8ByteLength,
  kKeys,
  kKeysUnsorted,
  kValues,
  kToEntries,
  kFromEntries,
  kAsciiDowncase,
  kAsciiUpcase,
  kToString,
  kToNumber,
  kToJson,
  kFromJson,
  kType,
  kFirst,
  kLast,
  kAdd,
  kAny,
  kAll,
  kReverse,
  kSort,
  kUnique,
  kMin,
  kMax,
  kFloor,
  kCeil,
  kRound,
  kFabs,
  kSqrt,
  kError,
  kRecurse,
  kArrays,
  kObjects,
  kIterables,
  kBooleans,
  kNumbers,
  kStrings,
  kNulls,
  kScalars,
  kFlatten,
  kTrim,
  kLtrim,
  kRtrim,
  // one argument
  kMap,
  kMapValues,
  kSelect,
  kHas,
  kIn,
  kContains,
  kSplit,
  kJoin,
  kTest,
  kStartsWith,
  kEndsWith,
  kLtrimStr,
  kRtrimStr,
  kFirstOf,
  kLastOf,
  kErrorOf,
  kWithEntries,
  kSortBy,
  kGroupBy,
  kUniqueBy,
  kMinBy,
  kMaxBy,
  kAnyOf,
  kAllOf,
  kFlattenDepth,
  kRange,
  kIsEmpty,
  // two or three arguments
  kTestFlags,
  kLimit,
  kRange2,
  kSplitRegex,
  kSub,
  kGsub,
  kSubFlags,
  kGsubFlags,
};

struct Builtin {
  const char* name;
  int arity;
  Fn fn;
};

constexpr Builtin kBuiltins[] = {
    {"empty", 0, Fn::kEmpty},
    {"not", 0, Fn::kNot},
    {"length", 0, Fn::kLength},
    {"utf8bytelength", 0, Fn::kUtf8ByteLength},
    {"keys", 0, Fn::kKeys},
    {"keys_unsorted", 0, Fn::kKeysUnsorted},
    {"values", 0, Fn::kValues},
    {"to_entries", 0, Fn::kToEntries},
    {"from_entries", 0, Fn::kFromEntries},
    {"ascii_downcase", 0, Fn::kAsciiDowncase},
    {"ascii_upcase", 0, Fn::kAsciiUpcase},
    {"tostring", 0, Fn::kToString},
    {"tonumber", 0, Fn::kToNumber},
    {"tojson", 0, Fn::kToJson},
    {"fromjson", 0, Fn::kFromJson},
    {"type", 0, Fn::kType},
    {"first", 0, Fn::kFirst},
    {"last", 0, Fn::kLast},
    {"add", 0, Fn::kAdd},
    {"any", 0, Fn::kAny},
    {"all", 0, Fn::kAll},
    {"reverse", 0, Fn::kReverse},
    {"sort", 0, Fn::kSort},
    {"unique", 0, Fn::kUnique},
    {"min", 0, Fn::kMin},
    {"max", 0, Fn::kMax},
    {"floor", 0, Fn::kFloor},
    {"ceil", 0, Fn::kCeil},
    {"round", 0, Fn::kRound},
    {"fabs", 0, Fn::kFabs},
    {"sqrt", 0, Fn::kSqrt},
    {"error", 0, Fn::kError},
    {"recurse", 0, Fn::kRecurse},
    {"arrays", 0, Fn::kArrays},
    {"objects", 0, Fn::kObjects},
    {"iterables", 0, Fn::kIterables},
    {"booleans", 0, Fn::kBooleans},
    {"numbers", 0, Fn::kNumbers},
    {"strings", 0, Fn::kStrings},
    {"nulls", 0, Fn::kNulls},
    {"scalars", 0, Fn::kScalars},
    {"flatten", 0, Fn::kFlatten},
    {"trim", 0, Fn::kTrim},
    {"ltrim", 0, Fn::kLtrim},
    {"rtrim", 0, Fn::kRtrim},
    {"map", 1, Fn::kMap},
    {"map_values", 1, Fn::kMapValues},
    {"select", 1, Fn::kSelect},
    {"has", 1, Fn::kHas},
    {"in", 1, Fn::kIn},
    {"contains", 1, Fn::kContains},
    {"split", 1, Fn::kSplit},
    {"join", 1, Fn::kJoin},
    {"test", 1, Fn::kTest},
    {"startswith", 1, Fn::kStartsWith},
    {"endswith", 1, Fn::kEndsWith},
    {"ltrimstr", 1, Fn::kLtrimStr},
    {"rtrimstr", 1, Fn::kRtrimStr},
    {"first", 1, Fn::kFirstOf},
    {"last", 1, Fn::kLastOf},
    {"error", 1, Fn::kErrorOf},
    {"with_entries", 1, Fn::kWithEntries},
    {"sort_by", 1, Fn::kSortBy},
    {"group_by", 1, Fn::kGroupBy},
    {"unique_by", 1, Fn::kUniqueBy},
    {"min_by", 1, Fn::kMinBy},
    {"max_by", 1, Fn::kMaxBy},
    {"any", 1, Fn::kAnyOf},
    {"all", 1, Fn::kAllOf},
    {"flatten", 1, Fn::kFlattenDepth},
    {"range", 1, Fn::kRange},
    {"isempty", 1, Fn::kIsEmpty},
    {"test", 2, Fn::kTestFlags},
    {"limit", 2, Fn::kLimit},
    {"range", 2, Fn::kRange2},
    {"split", 2, Fn::kSplitRegex},
    {"sub", 2, Fn::kSub},
    {"gsub", 2, Fn::kGsub},
    {"sub", 3, Fn::kSubFlags},
    {"gsub", 3, Fn::kGsubFlags},
};

struct Node {
  Op op;
  size_t pos = 0;  ///< byte offset in the program, for messages
  std::string name;
  Value literal;
  Fn fn = Fn::kEmpty;
  std::vector<std::unique_ptr<Node>> kids;  ///< some may be null (see Op)
  std::vector<std::string> parts;           ///< kString: kids.size() + 1 literal parts
  size_t depth = 1;
};

namespace {

/// Deeper trees are refused: evaluation recurses along the tree.
constexpr size_t kMaxDepth = 256;
/// Strings and arrays built by the program stay below these sizes.
constexpr size_t kMaxStringBytes = size_t(64) << 20;
constexpr size_t kMaxArrayElements = size_t(16) << 20;

using NodePtr = std::unique_ptr<Node>;

// ---------------------------------------------------------------------------------------------
// Values.

int typeRank(const Value& v) {
  switch (v.type()) {
    case Value::value_t::null:
      return 0;
    case Value::value_t::boolean:
      return v.get<bool>() ? 2 : 1;
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned:
    case Value::value_t::number_float:
      return 3;
    case Value::value_t::string:
      return 4;
    case Value::value_t::array:
      return 5;
    case Value::value_t::object:
      return 6;
    default:
      return 0;
  }
}

const char* typeName(const Value& v) {
  switch (typeRank(v)) {
    case 0:
      return "null";
    case 1:
    case 2:
      return "boolean";
    case 3:
      return "number";
    case 4:
      return "string";
    case 5:
      return "array";
    default:
      return "object";
  }
}

std::string dump(const Value& v) { return v.dump(-1, ' ', false, Value::error_handler_t::replace); }

/// "string (\"abc\")", as jq describes a value in its messages (long values cut).
std::string describe(const Value& v) {
  std::string d = dump(v);
  if (d.size() > 30) d = d.substr(0, 27) + "...";
  return fmt::format("{} ({})", typeName(v), d);
}

bool truthy(const Value& v) { return !(v.is_null() || (v.is_boolean() && !v.get<bool>())); }

/// jq numbers are doubles: integral ones are kept as integers so that they print as jq does.
Value number(double d) {
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e17) return Value(int64_t(d));
  return Value(d);
}

double toDouble(const Value& v) { return v.get<double>(); }

int64_t toInt(double d) {
  if (std::isnan(d)) return 0;
  if (d >= 9.2e18) return INT64_MAX;
  if (d <= -9.2e18) return INT64_MIN;
  return int64_t(d);
}

/// Code points of a UTF-8 string (bytes that start no sequence count as one).
std::vector<std::string_view> codepoints(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t codepointCount(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void checkString(const std::string& s) {
  if (s.size() > kMaxStringBytes)
    throw Error(fmt::format("string too long ({} bytes, at most {})", s.size(), kMaxStringBytes));
}

void checkArray(const Value& a) {
  if (a.size() > kMaxArrayElements)
    throw Error(
        fmt::format("array too long ({} elements, at most {})", a.size(), kMaxArrayElements));
}

std::vector<std::string> sortedKeys(const Value& o) {
  std::vector<std::string> keys;
  for (auto it = o.begin(); it != o.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  return keys;
}

Value deepMerge(const Value& a, const Value& b) {
  Value out = a;
  for (auto it = b.begin(); it != b.end(); ++it) {
    auto found = out.find(it.key());
    if (found != out.end() && found->is_object() && it->is_object())
      *found = deepMerge(*found, *it);
    else
      out[it.key()] = *it;
  }
  return out;
}

Value binary(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return compare(a, b) == 0;
  if (op == "!=") return compare(a, b) != 0;
  if (op == "<") return compare(a, b) < 0;
  if (op == "<=") return compare(a, b) <= 0;
  if (op == ">") return compare(a, b) > 0;
  if (op == ">=") return compare(a, b) >= 0;
  bool numbers = a.is_number() && b.is_number();
  if (op == "+") {
    if (a.is_null()) return b;
    if (b.is_null()) return a;
    if (numbers) return number(toDouble(a) + toDouble(b));
    if (a.is_string() && b.is_string()) {
      std::string s = a.get_ref<const std::string&>() + b.get_ref<const std::string&>();
      checkString(s);
      return s;
    }
    if (a.is_array() && b.is_array()) {
      Value out = a;
      out.insert(out.end(), b.begin(), b.end());
      checkArray(out);
      return out;
    }
    if (a.is_object() && b.is_object()) {
      Value out = a;
      for (auto it = b.begin(); it != b.end(); ++it) out[it.key()] = *it;
      return out;
    }
    throw Error(fmt::format("{} and {} cannot be added", describe(a), describe(b)));
  }
  if (op == "-") {
    if (numbers) return number(toDouble(a) - toDouble(b));
    if (a.is_array() && b.is_array()) {
      Value out = Value::array();
      for (const auto& x : a)
        if (std::none_of(b.begin(), b.end(), [&](const Value& y) { return compare(x, y) == 0; }))
          out.push_back(x);
      return out;
    }
    throw Error(fmt::format("{} and {} cannot be subtracted", describe(a), describe(b)));
  }
  if (op == "*") {
    if (numbers) return number(toDouble(a) * toDouble(b));
    if ((a.is_string() && b.is_number()) || (a.is_number() && b.is_string())) {
      const Value& s = a.is_string() ? a : b;
      double n = toDouble(a.is_string() ? b : a);
      if (n <= 0) return nullptr;
      int64_t times = n < 1 ? 1 : toInt(n);
      const std::string& text = s.get_ref<const std::string&>();
      if (!text.empty() && uint64_t(times) > kMaxStringBytes / text.size())
        throw Error(fmt::format("string too long (at most {} bytes)", kMaxStringBytes));
      std::string out;
      for (int64_t i = 0; i < times; i++) out += text;
      return out;
    }
    if (a.is_object() && b.is_object()) return deepMerge(a, b);
    throw Error(fmt::format("{} and {} cannot be multiplied", describe(a), describe(b)));
  }
  if (op == "/") {
    if (numbers) {
      if (toDouble(b) == 0)
        throw Error(fmt::format("{} and {} cannot be divided because the divisor is zero",
                                describe(a), describe(b)));
      return number(toDouble(a) / toDouble(b));
    }
    if (a.is_string() && b.is_string()) {
      Value out = Value::array();
      const std::string& s = a.get_ref<const std::string&>();
      const std::string& sep = b.get_ref<const std::string&>();
      if (s.empty()) return out;
      if (sep.empty()) {
        for (auto c : codepoints(s)) out.push_back(std::string(c));
        return out;
      }
      size_t start = 0;
      for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + sep.size())
        out.push_back(s.substr(start, at - start));
      out.push_back(s.substr(start));
      return out;
    }
    throw Error(fmt::format("{} and {} cannot be divided", describe(a), describe(b)));
  }
  if (op == "%") {
    if (numbers) {
      int64_t x = toInt(toDouble(a)), y = toInt(toDouble(b));
      if (y == 0)
        throw Error(fmt::format("{} and {} cannot be divided because the divisor is zero",
                                describe(a), describe(b)));
      if (y == -1) return 0;  // INT64_MIN % -1 overflows
      return number(double(x % y));
    }
    throw Error(fmt::format("{} and {} cannot be divided", describe(a), describe(b)));
  }
  throw Error("unknown operator " + op);
}

Value index(const Value& t, const Value& k) {
  if (t.is_null() && (k.is_string() || k.is_number() || k.is_null())) return nullptr;
  if (t.is_object() && k.is_string()) {
    auto it = t.find(k.get_ref<const std::string&>());
    return it == t.end() ? Value() : *it;
  }
  if (t.is_array() && k.is_number()) {
    double d = std::floor(toDouble(k));
    double n = double(t.size());
    if (d < 0) d += n;
    if (d < 0 || d >= n) return nullptr;
    return t[size_t(d)];
  }
  if (k.is_string())
    throw Error(
        fmt::format("Cannot index {} with \"{}\"", typeName(t), k.get_ref<const std::string&>()));
  throw Error(fmt::format("Cannot index {} with {}", typeName(t), typeName(k)));
}

Value slice(const Value& t, const Value& from, const Value& to) {
  if (t.is_null()) return nullptr;
  if ((!from.is_null() && !from.is_number()) || (!to.is_null() && !to.is_number()))
    throw Error("Start and end indices of an array slice must be numbers");
  std::vector<std::string_view> cps;
  double n;
  if (t.is_array()) {
    n = double(t.size());
  } else if (t.is_string()) {
    cps = codepoints(t.get_ref<const std::string&>());
    n = double(cps.size());
  } else {
    throw Error(fmt::format("Cannot index {} with object", typeName(t)));
  }
  double s = from.is_null() ? 0 : std::floor(toDouble(from));
  double e = to.is_null() ? n : std::ceil(toDouble(to));
  if (s < 0) s = std::max(0.0, s + n);
  if (e < 0) e = std::max(0.0, e + n);
  s = std::min(s, n);
  e = std::min(std::max(e, s), n);
  if (t.is_array()) return Value(t.begin() + ptrdiff_t(s), t.begin() + ptrdiff_t(e));
  std::string out;
  for (size_t i = size_t(s); i < size_t(e); i++) out += cps[i];
  return out;
}

/// jq's containment: a mismatch of types is an error at the top, false below it.
bool contains(const Value& a, const Value& b, bool top = true) {
  if (std::strcmp(typeName(a), typeName(b)) != 0) {
    if (!top) return false;
    throw Error(
        fmt::format("{} and {} cannot have their containment checked", describe(a), describe(b)));
  }
  if (a.is_object()) {
    for (auto it = b.begin(); it != b.end(); ++it) {
      auto f = a.find(it.key());
      if (f == a.end() || !contains(*f, *it, false)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    for (const auto& y : b)
      if (std::none_of(a.begin(), a.end(), [&](const Value& x) { return contains(x, y, false); }))
        return false;
    return true;
  }
  if (a.is_string())
    return a.get_ref<const std::string&>().find(b.get_ref<const std::string&>()) !=
           std::string::npos;
  return compare(a, b) == 0;
}

void flatten(const Value& a, double depth, Value& out) {
  for (const auto& x : a) {
    if (x.is_array() && depth > 0)
      flatten(x, depth - 1, out);
    else
      out.push_back(x);
  }
}

std::string trimSpace(const std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  if (left)
    while (b < e && space(s[b])) b++;
  if (right)
    while (e > b && space(s[e - 1])) e--;
  return s.substr(b, e - b);
}

// ---------------------------------------------------------------------------------------------
// Evaluation: each node calls `out` once per output (jq's generators as callbacks).

using Out = std::function<void(const Value&)>;

struct Env {
  const std::string& name;
  Value value;
  const Env* up;
};

/// The step budget is spent: not an Error, so that no `try` in the program can swallow it.
struct BudgetExceeded {};
/// An error raised after a `try`'s body produced a value (by what follows the try): it goes
/// through that try unchanged.
struct Passthrough {
  uint64_t token;
  Error error;
};
/// Ends a generator early (first(f), limit(n; f), isempty(f)).
struct Stop {
  uint64_t token;
};

class Interp {
 public:
  explicit Interp(uint64_t max_steps) : max_steps_(max_steps) {}

  void eval(const Node& n, const Value& in, const Env* env, const Out& out);

 private:
  void step() {
    if (++steps_ > max_steps_) throw BudgetExceeded{};
  }
  /// Runs `n`, giving `on` its outputs; returns false when `n` raised an error (which is
  /// swallowed). Errors raised by `on` go up unchanged.
  bool guarded(const Node& n, const Value& in, const Env* env, const Out& on);
  /// Every output of `n`, in order.
  std::vector<Value> collect(const Node& n, const Value& in, const Env* env) {
    std::vector<Value> out;
    eval(n, in, env, [&](const Value& v) {
      step();
      out.push_back(v);
    });
    return out;
  }
  void call(const Node& n, const Value& in, const Env* env, const Out& out);
  void evalIf(const Node& n, size_t i, const Value& in, const Env* env, const Out& out);
  const RE2& regex(const Value& re, const Value& flags);
  void sub(const Node& n, const Value& in, const Env* env, const Out& out, bool global,
           const Node* flags_node);
  Value sortedBy(const Node& f, const Value& in, const Env* env,
                 std::vector<std::pair<Value, Value>>& keyed);

  uint64_t steps_ = 0, max_steps_;
  uint64_t tokens_ = 0;
  std::map<std::string, std::unique_ptr<RE2>> regexes_;
};

bool Interp::guarded(const Node& n, const Value& in, const Env* env, const Out& on) {
  uint64_t token = ++tokens_;
  try {
    eval(n, in, env, [&](const Value& v) {
      try {
        on(v);
      } catch (Error& e) {
        throw Passthrough{token, std::move(e)};
      }
    });
    return true;
  } catch (Passthrough& p) {
    if (p.token != token) throw;
    throw std::move(p.error);
  } catch (Error&) {
    return false;
  }
}

void Interp::evalIf(const Node& n, size_t i, const Value& in, const Env* env, const Out& out) {
  if (i + 1 >= n.kids.size()) {  // the else branch
    if (n.kids[i])
      eval(*n.kids[i], in, env, out);
    else
      out(in);
    return;
  }
  eval(*n.kids[i], in, env, [&](const Value& c) {
    if (truthy(c))
      eval(*n.kids[i + 1], in, env, out);
    else
      evalIf(n, i + 2, in, env, out);
  });
}

void Interp::eval(const Node& n, const Value& in, const Env* env, const Out& out) {
  step();
  switch (n.op) {
    case Op::kIdentity:
      out(in);
      return;
    case Op::kLiteral:
      out(n.literal);
      return;
    case Op::kString: {
      // Later interpolations vary slowest, as in jq.
      std::function<void(size_t, const std::string&)> rec = [&](size_t i, const std::string& tail) {
        if (i == 0) {
          checkString(tail);
          out(Value(tail));
          return;
        }
        eval(*n.kids[i - 1], in, env,
             [&](const Value& v) { rec(i - 1, n.parts[i - 1] + toString(v) + tail); });
      };
      rec(n.kids.size(), n.parts.back());
      return;
    }
    case Op::kIndex:
      eval(*n.kids[1], in, env, [&](const Value& k) {
        eval(*n.kids[0], in, env, [&](const Value& t) { out(index(t, k)); });
      });
      return;
    case Op::kSlice: {
      static const Value null_value;
      auto with_to = [&](const Value& from) {
        auto apply = [&](const Value& to) {
          eval(*n.kids[0], in, env, [&](const Value& t) { out(slice(t, from, to)); });
        };
        if (n.kids[2])
          eval(*n.kids[2], in, env, apply);
        else
          apply(null_value);
      };
      if (n.kids[1])
        eval(*n.kids[1], in, env, with_to);
      else
        with_to(null_value);
      return;
    }
    case Op::kIterate:
      eval(*n.kids[0], in, env, [&](const Value& t) {
        if (!t.is_array() && !t.is_object())
          throw Error(fmt::format("Cannot iterate over {}", describe(t)));
        for (const auto& v : t) {
          step();
          out(v);
        }
      });
      return;
    case Op::kPipe:
      eval(*n.kids[0], in, env, [&](const Value& v) { eval(*n.kids[1], v, env, out); });
      return;
    case Op::kComma:
      eval(*n.kids[0], in, env, out);
      eval(*n.kids[1], in, env, out);
      return;
    case Op::kNeg:
      eval(*n.kids[0], in, env, [&](const Value& v) {
        if (!v.is_number()) throw Error(fmt::format("{} cannot be negated", describe(v)));
        out(number(-toDouble(v)));
      });
      return;
    case Op::kBinary:
      // The right operand varies slowest, as in jq.
      eval(*n.kids[1], in, env, [&](const Value& b) {
        eval(*n.kids[0], in, env, [&](const Value& a) { out(binary(n.name, a, b)); });
      });
      return;
    case Op::kAnd:
    case Op::kOr:
      eval(*n.kids[0], in, env, [&](const Value& a) {
        bool t = truthy(a);
        if (n.op == Op::kAnd ? !t : t) {
          out(Value(t));
          return;
        }
        eval(*n.kids[1], in, env, [&](const Value& b) { out(Value(truthy(b))); });
      });
      return;
    case Op::kAlt: {
      // Errors on the left count as no value (jq 1.7, gojq).
      bool any = false;
      guarded(*n.kids[0], in, env, [&](const Value& v) {
        if (!truthy(v)) return;
        any = true;
        out(v);
      });
      if (!any) eval(*n.kids[1], in, env, out);
      return;
    }
    case Op::kIf:
      evalIf(n, 0, in, env, out);
      return;
    case Op::kTry: {
      uint64_t token = ++tokens_;
      try {
        eval(*n.kids[0], in, env, [&](const Value& v) {
          try {
            out(v);
          } catch (Error& e) {
            throw Passthrough{token, std::move(e)};
          }
        });
      } catch (Passthrough& p) {
        if (p.token != token) throw;
        throw std::move(p.error);
      } catch (Error& e) {
        if (n.kids[1]) eval(*n.kids[1], e.value, env, out);
      }
      return;
    }
    case Op::kVar:
      for (const Env* e = env; e; e = e->up)
        if (e->name == n.name) {
          out(e->value);
          return;
        }
      throw Error(fmt::format("${} is not defined", n.name));
    case Op::kBind:
      eval(*n.kids[0], in, env, [&](const Value& v) {
        Env e{n.name, v, env};
        eval(*n.kids[1], in, &e, out);
      });
      return;
    case Op::kReduce:
      eval(*n.kids[1], in, env, [&](const Value& init) {
        Value acc = init;
        eval(*n.kids[0], in, env, [&](const Value& x) {
          Env e{n.name, x, env};
          Value last;
          eval(*n.kids[2], acc, &e, [&](const Value& v) { last = v; });
          acc = std::move(last);
        });
        out(acc);
      });
      return;
    case Op::kArray: {
      Value a = Value::array();
      if (!n.kids.empty())
        eval(*n.kids[0], in, env, [&](const Value& v) {
          step();
          a.push_back(v);
          if (a.size() > kMaxArrayElements) checkArray(a);
        });
      out(a);
      return;
    }
    case Op::kObject: {
      std::function<void(size_t, const Value&)> rec = [&](size_t i, const Value& obj) {
        if (i == n.kids.size()) {
          out(obj);
          return;
        }
        eval(*n.kids[i], in, env, [&](const Value& k) {
          if (!k.is_string())
            throw Error(fmt::format("Object keys must be strings, not {}", describe(k)));
          eval(*n.kids[i + 1], in, env, [&](const Value& v) {
            Value o = obj;
            o[k.get_ref<const std::string&>()] = v;
            rec(i + 2, o);
          });
        });
      };
      rec(0, Value::object());
      return;
    }
    case Op::kCall:
      call(n, in, env, out);
      return;
  }
}

const RE2& Interp::regex(const Value& re, const Value& flags) {
  if (!re.is_string())
    throw Error(fmt::format("{} cannot be matched, as it is not a string", describe(re)));
  if (!flags.is_null() && !flags.is_string())
    throw Error(fmt::format("{} is not a string", describe(flags)));
  std::string f = flags.is_string() ? flags.get<std::string>() : "";
  std::string key = f + '/' + re.get<std::string>();
  auto it = regexes_.find(key);
  if (it != regexes_.end()) return *it->second;
  RE2::Options o;
  o.set_log_errors(false);
  for (char c : f) {
    if (c == 'i')
      o.set_case_sensitive(false);
    else if (c == 's')
      o.set_dot_nl(true);
    else if (c == 'l')
      o.set_longest_match(true);
    else if (c != 'g' && c != 'n')
      throw Error(
          fmt::format("{} is not a valid modifier string (akvo supports g, i, l, n, s)", f));
  }
  auto r = std::make_unique<RE2>(re.get<std::string>(), o);
  if (!r->ok())
    throw Error(fmt::format("{} is not a valid regex: {}", re.get<std::string>(), r->error()));
  if (regexes_.size() > 256) regexes_.clear();
  return *regexes_.emplace(key, std::move(r)).first->second;
}

void Interp::sub(const Node& n, const Value& in, const Env* env, const Out& out, bool global,
                 const Node* flags_node) {
  if (!in.is_string())
    throw Error(fmt::format("{} cannot be matched, as it is not a string", describe(in)));
  auto run = [&](const Value& flags) {
    eval(*n.kids[0], in, env, [&](const Value& re_text) {
      const RE2& re = regex(re_text, flags);
      bool g =
          global || (flags.is_string() && flags.get<std::string>().find('g') != std::string::npos);
      const std::string& s = in.get_ref<const std::string&>();
      int groups = re.NumberOfCapturingGroups();
      std::vector<re2::StringPiece> m(size_t(groups) + 1);
      std::vector<std::pair<size_t, size_t>> spans;  // matches, start and end
      std::vector<Value> captures;
      size_t at = 0;
      while (at <= s.size() && re.Match(s, at, s.size(), RE2::UNANCHORED, m.data(), groups + 1)) {
        step();
        size_t b = size_t(m[0].data() - s.data()), e = b + m[0].size();
        Value cap = Value::object();
        for (const auto& [name, i] : re.NamedCapturingGroups())
          cap[name] = m[size_t(i)].data() ? Value(std::string(m[size_t(i)])) : Value();
        spans.emplace_back(b, e);
        captures.push_back(std::move(cap));
        if (!g) break;
        at = e > b ? e : e + 1;
      }
      // Each replacement may have several outputs: the first match's vary slowest.
      std::function<void(size_t, const std::string&)> rec = [&](size_t i, const std::string& acc) {
        size_t from = i == 0 ? 0 : spans[i - 1].second;
        if (i == spans.size()) {
          out(Value(acc + s.substr(std::min(from, s.size()))));
          return;
        }
        eval(*n.kids[1], captures[i], env, [&](const Value& r) {
          if (!r.is_string())
            throw Error(fmt::format("{} cannot be added to a string", describe(r)));
          std::string next = acc + s.substr(from, spans[i].first - from) + r.get<std::string>();
          checkString(next);
          rec(i + 1, next);
        });
      };
      rec(0, "");
    });
  };
  if (flags_node)
    eval(*flags_node, in, env, run);
  else
    run(Value());
}

Value Interp::sortedBy(const Node& f, const Value& in, const Env* env,
                       std::vector<std::pair<Value, Value>>& keyed) {
  if (!in.is_array()) throw Error(fmt::format("Cannot index {} with number", typeName(in)));
  for (const auto& x : in) {
    Value key = Value::array();
    for (auto& k : collect(f, x, env)) key.push_back(std::move(k));
    keyed.emplace_back(std::move(key), x);
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return compare(a.first, b.first) < 0; });
  return nullptr;
}

void Interp::call(const Node& n, const Value& in, const Env* env, const Out& out) {
  auto arg = [&](size_t i, const std::function<void(const Value&)>& fn) {
    eval(*n.kids[i], in, env, fn);
  };
  auto needString = [&](const char* what) {
    if (!in.is_string()) throw Error(fmt::format("{} cannot be {}", describe(in), what));
    return in.get_ref<const std::string&>();
  };
  auto byType = [&](bool keep) {
    if (keep) out(in);
  };
  switch (n.fn) {
    case Fn::kEmpty:
      return;
    case Fn::kNot:
      out(Value(!truthy(in)));
      return;
    case Fn::kLength:
      if (in.is_null())
        out(0);
      else if (in.is_boolean())
        throw Error(fmt::format("{} has no length", describe(in)));
      else if (in.is_number())
        out(number(std::fabs(toDouble(in))));
      else if (in.is_string())
        out(int64_t(codepointCount(in.get_ref<const std::string&>())));
      else
        out(int64_t(in.size()));
      return;
    case Fn::kUtf8ByteLength:
      out(int64_t(needString("measured (only strings have a UTF-8 byte length)").size()));
      return;
    case Fn::kKeys:
    case Fn::kKeysUnsorted: {
      Value keys = Value::array();
      if (in.is_object()) {
        if (n.fn == Fn::kKeys)
          for (auto& k : sortedKeys(in)) keys.push_back(k);
        else
          for (auto it = in.begin(); it != in.end(); ++it) keys.push_back(it.key());
      } else if (in.is_array()) {
        for (size_t i = 0; i < in.size(); i++) keys.push_back(int64_t(i));
      } else {
        throw Error(fmt::format("{} has no keys", describe(in)));
      }
      out(keys);
      return;
    }
    case Fn::kValues:
      byType(!in.is_null());
      return;
    case Fn::kToEntries: {
      Value a = Value::array();
      if (in.is_object()) {
        for (auto it = in.begin(); it != in.end(); ++it)
          a.push_back(Value{{"key", it.key()}, {"value", *it}});
      } else if (in.is_array()) {
        for (size_t i = 0; i < in.size(); i++)
          a.push_back(Value{{"key", int64_t(i)}, {"value", in[i]}});
      } else {
        throw Error(fmt::format("{} has no keys", describe(in)));
      }
      out(a);
      return;
    }
    case Fn::kFromEntries: {
      if (!in.is_array()) throw Error(fmt::format("Cannot iterate over {}", describe(in)));
      Value o = Value::object();
      for (const auto& e : in) {
        if (!e.is_object()) throw Error(fmt::format("Cannot index {} with \"key\"", typeName(e)));
        // jq 1.7: .key unless null, else .k // .name // .Name // .K // .Key.
        Value key = e.contains("key") ? e["key"] : Value();
        if (key.is_null())
          for (const char* k : {"k", "name", "Name", "K", "Key"}) {
            auto it = e.find(k);
            if (it != e.end() && truthy(*it)) {
              key = *it;
              break;
            }
          }
        std::string ks = key.is_string() ? key.get<std::string>() : dump(key);
        auto v = e.find("value");
        if (v == e.end()) v = e.find("v");
        o[ks] = v == e.end() ? Value() : *v;
      }
      out(o);
      return;
    }
    case Fn::kAsciiDowncase:
    case Fn::kAsciiUpcase: {
      std::string s = needString("case-converted (it is not a string)");
      for (char& c : s) {
        if (n.fn == Fn::kAsciiDowncase && c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
        if (n.fn == Fn::kAsciiUpcase && c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
      }
      out(Value(s));
      return;
    }
    case Fn::kToString:
      out(Value(toString(in)));
      return;
    case Fn::kToNumber: {
      if (in.is_number()) {
        out(in);
        return;
      }
      const std::string& s = needString("parsed as a number");
      double d = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (s.empty() || ec != std::errc() || p != s.data() + s.size())
        throw Error(fmt::format("Cannot parse '{}' as a number", s));
      out(number(d));
      return;
    }
    case Fn::kToJson:
      out(Value(dump(in)));
      return;
    case Fn::kFromJson: {
      const std::string& s = needString("parsed as JSON (it is not a string)");
      try {
        out(Value::parse(s));
      } catch (const nlohmann::json::exception& e) {
        throw Error(fmt::format("{} (while parsing '{}')", e.what(), s.substr(0, 40)));
      }
      return;
    }
    case Fn::kType:
      out(Value(typeName(in)));
      return;
    case Fn::kFirst:
      out(index(in, 0));
      return;
    case Fn::kLast:
      out(index(in, -1));
      return;
    case Fn::kAdd: {
      if (!in.is_array() && !in.is_object() && !in.is_null())
        throw Error(fmt::format("Cannot iterate over {}", describe(in)));
      Value acc;
      for (const auto& x : in) {
        step();
        acc = binary("+", acc, x);
      }
      out(acc);
      return;
    }
    case Fn::kAny:
    case Fn::kAll: {
      if (!in.is_array() && !in.is_object())
        throw Error(fmt::format("Cannot iterate over {}", describe(in)));
      bool all = n.fn == Fn::kAll;
      bool r = all;
      for (const auto& x : in)
        if (truthy(x) != all) {
          r = !all;
          break;
        }
      out(Value(r));
      return;
    }
    case Fn::kReverse:
      if (in.is_null())
        out(Value::array());
      else if (in.is_string()) {
        auto cps = codepoints(in.get_ref<const std::string&>());
        std::string s;
        for (auto it = cps.rbegin(); it != cps.rend(); ++it) s += *it;
        out(Value(s));
      } else if (in.is_array()) {
        Value r = Value::array();
        for (auto it = in.rbegin(); it != in.rend(); ++it) r.push_back(*it);
        out(r);
      } else {
        throw Error(fmt::format("Cannot reverse {}", describe(in)));
      }
      return;
    case Fn::kSort:
    case Fn::kUnique:
    case Fn::kMin:
    case Fn::kMax: {
      if (!in.is_array())
        throw Error(fmt::format("{} cannot be sorted, as it is not an array", describe(in)));
      std::vector<Value> v(in.begin(), in.end());
      std::stable_sort(v.begin(), v.end(),
                       [](const Value& a, const Value& b) { return compare(a, b) < 0; });
      if (n.fn == Fn::kMin || n.fn == Fn::kMax) {
        out(v.empty() ? Value() : n.fn == Fn::kMin ? v.front() : v.back());
        return;
      }
      if (n.fn == Fn::kUnique)
        v.erase(std::unique(v.begin(), v.end(),
                            [](const Value& a, const Value& b) { return compare(a, b) == 0; }),
                v.end());
      out(Value(v));
      return;
    }
    case Fn::kFloor:
    case Fn::kCeil:
    case Fn::kRound:
    case Fn::kFabs:
    case Fn::kSqrt: {
      if (!in.is_number()) throw Error(fmt::format("{} number required", describe(in)));
      double d = toDouble(in);
      double r = n.fn == Fn::kFloor   ? std::floor(d)
                 : n.fn == Fn::kCeil  ? std::ceil(d)
                 : n.fn == Fn::kRound ? std::round(d)
                 : n.fn == Fn::kFabs  ? std::fabs(d)
                                      : std::sqrt(d);
      out(number(r));
      return;
    }
    case Fn::kError:
      throw Error(in.is_string() ? in.get<std::string>() : dump(in) + " (not a string)", in);
    case Fn::kErrorOf:
      arg(0, [&](const Value& m) {
        throw Error(m.is_string() ? m.get<std::string>() : dump(m) + " (not a string)", m);
      });
      return;
    case Fn::kRecurse: {
      std::function<void(const Value&)> rec = [&](const Value& v) {
        step();
        out(v);
        if (v.is_array() || v.is_object())
          for (const auto& c : v) rec(c);
      };
      rec(in);
      return;
    }
    case Fn::kArrays:
      byType(in.is_array());
      return;
    case Fn::kObjects:
      byType(in.is_object());
      return;
    case Fn::kIterables:
      byType(in.is_array() || in.is_object());
      return;
    case Fn::kBooleans:
      byType(in.is_boolean());
      return;
    case Fn::kNumbers:
      byType(in.is_number());
      return;
    case Fn::kStrings:
      byType(in.is_string());
      return;
    case Fn::kNulls:
      byType(in.is_null());
      return;
    case Fn::kScalars:
      byType(!in.is_array() && !in.is_object());
      return;
    case Fn::kFlatten:
    case Fn::kFlattenDepth: {
      auto run = [&](double depth) {
        if (!in.is_array()) throw Error(fmt::format("Cannot iterate over {}", describe(in)));
        if (depth < 0) throw Error("flatten depth must not be negative");
        Value o = Value::array();
        flatten(in, depth, o);
        out(o);
      };
      if (n.fn == Fn::kFlatten)
        run(1e9);
      else
        arg(0, [&](const Value& d) {
          if (!d.is_number()) throw Error("flatten depth must not be negative");
          run(toDouble(d));
        });
      return;
    }
    case Fn::kTrim:
    case Fn::kLtrim:
    case Fn::kRtrim: {
      const std::string& s = needString("trimmed, as it is not a string");
      out(Value(trimSpace(s, n.fn != Fn::kRtrim, n.fn != Fn::kLtrim)));
      return;
    }
    case Fn::kMap: {
      if (!in.is_array() && !in.is_object())
        throw Error(fmt::format("Cannot iterate over {}", describe(in)));
      Value a = Value::array();
      for (const auto& x : in)
        eval(*n.kids[0], x, env, [&](const Value& v) {
          step();
          a.push_back(v);
        });
      checkArray(a);
      out(a);
      return;
    }
    case Fn::kMapValues: {
      if (!in.is_array() && !in.is_object())
        throw Error(fmt::format("Cannot iterate over {}", describe(in)));
      Value o = in.is_array() ? Value::array() : Value::object();
      for (auto it = in.begin(); it != in.end(); ++it) {
        uint64_t token = ++tokens_;
        std::optional<Value> first;
        try {
          eval(*n.kids[0], *it, env, [&](const Value& v) {
            first = v;
            throw Stop{token};
          });
        } catch (Stop& s) {
          if (s.token != token) throw;
        }
        if (!first) continue;
        if (in.is_array())
          o.push_back(*first);
        else
          o[it.key()] = *first;
      }
      out(o);
      return;
    }
    case Fn::kSelect:
      arg(0, [&](const Value& c) {
        if (truthy(c)) out(in);
      });
      return;
    case Fn::kHas:
      arg(0, [&](const Value& k) {
        if (in.is_object() && k.is_string())
          out(Value(in.contains(k.get<std::string>())));
        else if (in.is_array() && k.is_number())
          out(Value(toDouble(k) >= 0 && toDouble(k) < double(in.size())));
        else
          throw Error(
              fmt::format("Cannot check whether {} has a {} key", typeName(in), typeName(k)));
      });
      return;
    case Fn::kIn:
      arg(0, [&](const Value& o) {
        if (o.is_object() && in.is_string())
          out(Value(o.contains(in.get<std::string>())));
        else if (o.is_array() && in.is_number())
          out(Value(toDouble(in) >= 0 && toDouble(in) < double(o.size())));
        else
          throw Error(
              fmt::format("Cannot check whether {} has a {} key", typeName(o), typeName(in)));
      });
      return;
    case Fn::kContains:
      arg(0, [&](const Value& b) { out(Value(contains(in, b))); });
      return;
    case Fn::kSplit:
      arg(0, [&](const Value& sep) {
        if (!in.is_string() || !sep.is_string())
          throw Error("split input and separator must be strings");
        out(binary("/", in, sep));
      });
      return;
    case Fn::kJoin:
      arg(0, [&](const Value& sep) {
        if (!in.is_array() && !in.is_object())
          throw Error(fmt::format("Cannot iterate over {}", describe(in)));
        if (!sep.is_string() && !(sep.is_null() && in.empty()))
          throw Error(fmt::format("{} is not a valid separator", describe(sep)));
        std::string s;
        bool first = true;
        for (const auto& x : in) {
          step();
          if (!first) s += sep.get<std::string>();
          first = false;
          if (x.is_null()) continue;
          if (x.is_string())
            s += x.get_ref<const std::string&>();
          else if (x.is_number() || x.is_boolean())
            s += dump(x);
          else
            throw Error(fmt::format("Cannot join with {}", typeName(x)));
          checkString(s);
        }
        out(Value(s));
      });
      return;
    case Fn::kTest:
    case Fn::kTestFlags: {
      auto run = [&](const Value& flags) {
        arg(0, [&](const Value& re) {
          if (!in.is_string())
            throw Error(fmt::format("{} cannot be matched, as it is not a string", describe(in)));
          out(Value(RE2::PartialMatch(in.get_ref<const std::string&>(), regex(re, flags))));
        });
      };
      if (n.fn == Fn::kTestFlags)
        arg(1, run);
      else
        run(Value());
      return;
    }
    case Fn::kSplitRegex:
      arg(1, [&](const Value& flags) {
        arg(0, [&](const Value& re_text) {
          if (!in.is_string())
            throw Error(fmt::format("{} cannot be matched, as it is not a string", describe(in)));
          const RE2& re = regex(re_text, flags);
          const std::string& s = in.get_ref<const std::string&>();
          Value parts = Value::array();
          re2::StringPiece m;
          size_t at = 0, from = 0;
          while (at <= s.size() && re.Match(s, at, s.size(), RE2::UNANCHORED, &m, 1)) {
            step();
            size_t b = size_t(m.data() - s.data()), e = b + m.size();
            parts.push_back(s.substr(from, b - from));
            from = e;
            at = e > b ? e : e + 1;
          }
          parts.push_back(s.substr(std::min(from, s.size())));
          out(parts);
        });
      });
      return;
    case Fn::kStartsWith:
    case Fn::kEndsWith:
      arg(0, [&](const Value& p) {
        const char* name = n.fn == Fn::kStartsWith ? "startswith" : "endswith";
        if (!in.is_string() || !p.is_string())
          throw Error(fmt::format("{}() requires string inputs", name));
        const std::string& s = in.get_ref<const std::string&>();
        const std::string& x = p.get_ref<const std::string&>();
        bool r = s.size() >= x.size() &&
                 (n.fn == Fn::kStartsWith ? s.compare(0, x.size(), x) == 0
                                          : s.compare(s.size() - x.size(), x.size(), x) == 0);
        out(Value(r));
      });
      return;
    case Fn::kLtrimStr:
    case Fn::kRtrimStr:
      arg(0, [&](const Value& p) {
        if (!in.is_string() || !p.is_string()) {
          out(in);
          return;
        }
        const std::string& s = in.get_ref<const std::string&>();
        const std::string& x = p.get_ref<const std::string&>();
        if (n.fn == Fn::kLtrimStr && s.compare(0, x.size(), x) == 0 && s.size() >= x.size())
          out(Value(s.substr(x.size())));
        else if (n.fn == Fn::kRtrimStr && s.size() >= x.size() &&
                 s.compare(s.size() - x.size(), x.size(), x) == 0)
          out(Value(s.substr(0, s.size() - x.size())));
        else
          out(in);
      });
      return;
    case Fn::kFirstOf:
    case Fn::kIsEmpty: {
      uint64_t token = ++tokens_;
      bool any = false;
      try {
        eval(*n.kids[0], in, env, [&](const Value& v) {
          any = true;
          if (n.fn == Fn::kFirstOf) out(v);
          throw Stop{token};
        });
      } catch (Stop& s) {
        if (s.token != token) throw;
      }
      if (n.fn == Fn::kIsEmpty) out(Value(!any));
      return;
    }
    case Fn::kLastOf: {
      std::optional<Value> last;
      eval(*n.kids[0], in, env, [&](const Value& v) { last = v; });
      if (last) out(*last);
      return;
    }
    case Fn::kLimit:
      arg(0, [&](const Value& count) {
        if (!count.is_number()) throw Error("Invalid limit: it must be a number");
        double max = toDouble(count);
        if (max <= 0) return;
        uint64_t token = ++tokens_;
        double seen = 0;
        try {
          eval(*n.kids[1], in, env, [&](const Value& v) {
            seen++;
            out(v);
            if (seen >= max) throw Stop{token};
          });
        } catch (Stop& s) {
          if (s.token != token) throw;
        }
      });
      return;
    case Fn::kWithEntries: {
      Node entries{Op::kCall};
      entries.fn = Fn::kToEntries;
      call(entries, in, env, [&](const Value& e) {
        Value mapped = Value::array();
        for (const auto& x : e)
          eval(*n.kids[0], x, env, [&](const Value& v) {
            step();
            mapped.push_back(v);
          });
        Node from{Op::kCall};
        from.fn = Fn::kFromEntries;
        call(from, mapped, env, out);
      });
      return;
    }
    case Fn::kSortBy:
    case Fn::kGroupBy:
    case Fn::kUniqueBy:
    case Fn::kMinBy:
    case Fn::kMaxBy: {
      std::vector<std::pair<Value, Value>> keyed;
      sortedBy(*n.kids[0], in, env, keyed);
      if (n.fn == Fn::kSortBy) {
        Value a = Value::array();
        for (auto& [k, v] : keyed) a.push_back(std::move(v));
        out(a);
      } else if (n.fn == Fn::kMinBy || n.fn == Fn::kMaxBy) {
        if (keyed.empty())
          out(Value());
        else if (n.fn == Fn::kMinBy)
          out(keyed.front().second);
        else {
          // The last of the largest keys, as jq.
          out(keyed.back().second);
        }
      } else {
        Value groups = Value::array();
        for (size_t i = 0; i < keyed.size(); i++) {
          if (i == 0 || compare(keyed[i - 1].first, keyed[i].first) != 0) {
            if (n.fn == Fn::kGroupBy)
              groups.push_back(Value::array());
            else
              groups.push_back(keyed[i].second);
          }
          if (n.fn == Fn::kGroupBy) groups.back().push_back(keyed[i].second);
        }
        out(groups);
      }
      return;
    }
    case Fn::kAnyOf:
    case Fn::kAllOf: {
      if (!in.is_array() && !in.is_object())
        throw Error(fmt::format("Cannot iterate over {}", describe(in)));
      bool all = n.fn == Fn::kAllOf;
      bool r = all;
      for (const auto& x : in) {
        eval(*n.kids[0], x, env, [&](const Value& v) {
          if (truthy(v) != all) r = !all;
        });
        if (r != all) break;
      }
      out(Value(r));
      return;
    }
    case Fn::kRange:
    case Fn::kRange2: {
      auto run = [&](const Value& from, const Value& upto) {
        if (!from.is_number() || !upto.is_number()) throw Error("Range bounds must be numeric");
        for (double i = toDouble(from); i < toDouble(upto); i++) {
          step();
          out(number(i));
        }
      };
      if (n.fn == Fn::kRange)
        arg(0, [&](const Value& upto) { run(Value(0), upto); });
      else
        arg(0, [&](const Value& from) { arg(1, [&](const Value& upto) { run(from, upto); }); });
      return;
    }
    case Fn::kSub:
      sub(n, in, env, out, false, nullptr);
      return;
    case Fn::kGsub:
      sub(n, in, env, out, true, nullptr);
      return;
    case Fn::kSubFlags:
      sub(n, in, env, out, false, n.kids[2].get());
      return;
    case Fn::kGsubFlags:
      sub(n, in, env, out, true, n.kids[2].get());
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing: recursive descent with jq's precedences (lowest first): `|`, `,`, `//`, `or`,
// `and`, comparisons (non-associative), `+ -`, `* / %`, unary `-`, postfix terms.

enum class Tok { kEnd, kIdent, kField, kVar, kNumber, kString, kFormat, kPunct };

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;  ///< identifier, field or variable name, punctuation
  size_t pos = 0, end = 0;
  double number = 0;
};

bool identStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool identChar(char c) { return identStart(c) || (c >= '0' && c <= '9'); }

const char* const kKeywords[] = {"if",      "then",    "elif", "else",  "end",    "as",
                                 "reduce",  "foreach", "try",  "catch", "label",  "import",
                                 "include", "def",     "and",  "or",    "__loc__"};

bool isKeyword(const std::string& s) {
  return std::any_of(std::begin(kKeywords), std::end(kKeywords),
                     [&](const char* k) { return s == k; });
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) { cur_ = lex(0); }

  NodePtr parseProgram() {
    NodePtr n = parsePipe();
    if (cur_.kind != Tok::kEnd) fail(cur_.pos, "expected an operator or end of input");
    return n;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : p(p) {
      if (++p.depth_ > kMaxDepth) p.fail(p.cur_.pos, "expression nested too deeply");
    }
    ~DepthGuard() { p.depth_--; }
    Parser& p;
  };

  [[noreturn]] void fail(size_t pos, const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < text_.size(); i++) {
      if (text_[i] == '\n')
        line++, col = 1;
      else
        col++;
    }
    throw ParseError(fmt::format("{}:{}: {}", line, col, what), pos, line, col);
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::kEnd:
        return "end of input";
      case Tok::kIdent:
        return fmt::format("'{}'", t.text);
      case Tok::kField:
        return fmt::format("'.{}'", t.text);
      case Tok::kVar:
        return fmt::format("'${}'", t.text);
      case Tok::kNumber:
        return fmt::format("number '{}'", text_.substr(t.pos, t.end - t.pos));
      case Tok::kString:
        return "a string";
      case Tok::kFormat:
        return fmt::format("'@{}'", t.text);
      case Tok::kPunct:
        return fmt::format("'{}'", t.text);
    }
    return "?";
  }

  [[noreturn]] void expected(const std::string& what) const {
    fail(cur_.pos, fmt::format("expected {} but found {}", what, describe(cur_)));
  }

  Token lex(size_t p) const {
    for (;;) {
      while (p < text_.size() && std::isspace(static_cast<unsigned char>(text_[p]))) p++;
      if (p < text_.size() && text_[p] == '#') {
        while (p < text_.size() && text_[p] != '\n') p++;
        continue;
      }
      break;
    }
    Token t;
    t.pos = p;
    if (p >= text_.size()) {
      t.end = p;
      return t;
    }
    char c = text_[p];
    auto at = [&](size_t i) { return p + i < text_.size() ? text_[p + i] : '\0'; };
    auto ident = [&](size_t from) {
      size_t e = from;
      while (e < text_.size() && identChar(text_[e])) e++;
      return e;
    };
    if (c == '"') {
      t.kind = Tok::kString;
      t.end = p + 1;
      return t;
    }
    if ((c >= '0' && c <= '9') || (c == '.' && at(1) >= '0' && at(1) <= '9')) {
      size_t e = p;
      while (e < text_.size() && ((text_[e] >= '0' && text_[e] <= '9') || text_[e] == '.')) e++;
      if (e < text_.size() && (text_[e] == 'e' || text_[e] == 'E')) {
        size_t x = e + 1;
        if (x < text_.size() && (text_[x] == '+' || text_[x] == '-')) x++;
        if (x < text_.size() && text_[x] >= '0' && text_[x] <= '9') {
          e = x;
          while (e < text_.size() && text_[e] >= '0' && text_[e] <= '9') e++;
        }
      }
      std::string digits(text_.substr(p, e - p));
      auto [q, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), t.number);
      if (ec != std::errc() || q != digits.data() + digits.size())
        fail(p, fmt::format("'{}' is not a number", digits));
      t.kind = Tok::kNumber;
      t.end = e;
      return t;
    }
    if (c == '.' && identStart(at(1))) {
      t.kind = Tok::kField;
      t.end = ident(p + 1);
      t.text = std::string(text_.substr(p + 1, t.end - p - 1));
      return t;
    }
    if ((c == '$' || c == '@') && identStart(at(1))) {
      t.kind = c == '$' ? Tok::kVar : Tok::kFormat;
      t.end = ident(p + 1);
      t.text = std::string(text_.substr(p + 1, t.end - p - 1));
      return t;
    }
    if (identStart(c)) {
      t.kind = Tok::kIdent;
      t.end = ident(p);
      while (t.end + 2 < text_.size() && text_[t.end] == ':' && text_[t.end + 1] == ':' &&
             identStart(text_[t.end + 2]))
        t.end = ident(t.end + 2);
      t.text = std::string(text_.substr(p, t.end - p));
      return t;
    }
    t.kind = Tok::kPunct;
    for (const char* op : {"?//=", "?//", "//=", "|=", "+=", "-=", "*=", "/=", "%=", "==", "!=",
                           "<=", ">=", "//", ".."}) {
      size_t len = std::strlen(op);
      if (text_.substr(p, len) == op) {
        t.text = op;
        t.end = p + len;
        return t;
      }
    }
    if (std::strchr("|,()[]{}:;+-*/%<>=?.", c) && c != '\0') {
      t.text = std::string(1, c);
      t.end = p + 1;
      return t;
    }
    fail(p, fmt::format("unexpected character '{}'", c));
  }

  void next() { cur_ = lex(cur_.end); }
  bool punct(const char* p) const { return cur_.kind == Tok::kPunct && cur_.text == p; }
  bool keyword(const char* k) const { return cur_.kind == Tok::kIdent && cur_.text == k; }
  void expect(const char* p) {
    if (!punct(p)) expected(fmt::format("'{}'", p));
    next();
  }
  void expectKeyword(const char* k) {
    if (!keyword(k)) expected(fmt::format("'{}'", k));
    next();
  }

  NodePtr mk(Op op, size_t pos, std::vector<NodePtr> kids = {}) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->pos = pos;
    size_t depth = 0;
    for (const auto& k : kids)
      if (k) depth = std::max(depth, k->depth);
    n->depth = depth + 1;
    if (n->depth > kMaxDepth) fail(pos, "expression nested too deeply");
    n->kids = std::move(kids);
    return n;
  }
  NodePtr literal(Value v, size_t pos) {
    NodePtr n = mk(Op::kLiteral, pos);
    n->literal = std::move(v);
    return n;
  }
  static std::vector<NodePtr> list(NodePtr a, NodePtr b = nullptr, NodePtr c = nullptr) {
    std::vector<NodePtr> v;
    v.push_back(std::move(a));
    if (b) v.push_back(std::move(b));
    if (c) v.push_back(std::move(c));
    return v;
  }

  void checkAssignment() {
    if (cur_.kind != Tok::kPunct) return;
    for (const char* op : {"=", "|=", "+=", "-=", "*=", "/=", "%=", "//=", "?//=", "?//"})
      if (cur_.text == op)
        fail(cur_.pos, fmt::format("'{}' is not supported (no assignment nor destructuring)", op));
  }

  NodePtr parsePipe() {
    DepthGuard g(*this);
    size_t pos = cur_.pos;
    if (keyword("def")) fail(pos, "'def' is not supported (no function definitions)");
    if (keyword("label")) fail(pos, "'label' is not supported");
    NodePtr lhs;
    if (!punct("-")) {
      NodePtr term = parsePostfix();
      if (keyword("as")) {
        next();
        if (cur_.kind != Tok::kVar) expected("a variable ($name; destructuring is not supported)");
        std::string name = cur_.text;
        next();
        expect("|");
        scope_.push_back(name);
        NodePtr body = parsePipe();
        scope_.pop_back();
        NodePtr n = mk(Op::kBind, pos, list(std::move(term), std::move(body)));
        n->name = name;
        return n;
      }
      lhs = parseComma(std::move(term));
    } else {
      lhs = parseComma(nullptr);
    }
    checkAssignment();
    if (punct("|")) {
      next();
      NodePtr rhs = parsePipe();
      return mk(Op::kPipe, pos, list(std::move(lhs), std::move(rhs)));
    }
    return lhs;
  }

  NodePtr parseComma(NodePtr first) {
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = parseAlt(std::move(first));
    while (punct(",")) {
      next();
      lhs = mk(Op::kComma, pos, list(std::move(lhs), parseAlt(nullptr)));
    }
    return lhs;
  }

  NodePtr parseAlt(NodePtr first) {
    DepthGuard g(*this);
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = parseOr(std::move(first));
    checkAssignment();
    if (punct("//")) {
      next();
      return mk(Op::kAlt, pos, list(std::move(lhs), parseAlt(nullptr)));
    }
    return lhs;
  }

  NodePtr parseOr(NodePtr first) {
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = parseAnd(std::move(first));
    while (keyword("or")) {
      next();
      lhs = mk(Op::kOr, pos, list(std::move(lhs), parseAnd(nullptr)));
    }
    return lhs;
  }

  NodePtr parseAnd(NodePtr first) {
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = parseCompare(std::move(first));
    while (keyword("and")) {
      next();
      lhs = mk(Op::kAnd, pos, list(std::move(lhs), parseCompare(nullptr)));
    }
    return lhs;
  }

  bool comparison() const {
    return cur_.kind == Tok::kPunct &&
           (cur_.text == "==" || cur_.text == "!=" || cur_.text == "<" || cur_.text == "<=" ||
            cur_.text == ">" || cur_.text == ">=");
  }

  NodePtr parseCompare(NodePtr first) {
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = parseAdditive(std::move(first));
    if (!comparison()) return lhs;
    std::string op = cur_.text;
    next();
    NodePtr n = mk(Op::kBinary, pos, list(std::move(lhs), parseAdditive(nullptr)));
    n->name = op;
    if (comparison()) fail(cur_.pos, "comparisons do not chain: add parentheses");
    return n;
  }

  NodePtr parseAdditive(NodePtr first) {
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = parseMultiplicative(std::move(first));
    while (punct("+") || punct("-")) {
      std::string op = cur_.text;
      next();
      lhs = mk(Op::kBinary, pos, list(std::move(lhs), parseMultiplicative(nullptr)));
      lhs->name = op;
    }
    return lhs;
  }

  NodePtr parseMultiplicative(NodePtr first) {
    size_t pos = first ? first->pos : cur_.pos;
    NodePtr lhs = first ? std::move(first) : parseUnary();
    while (punct("*") || punct("/") || punct("%")) {
      std::string op = cur_.text;
      next();
      lhs = mk(Op::kBinary, pos, list(std::move(lhs), parseUnary()));
      lhs->name = op;
    }
    return lhs;
  }

  NodePtr parseUnary() {
    DepthGuard g(*this);
    if (punct("-")) {
      size_t pos = cur_.pos;
      next();
      return mk(Op::kNeg, pos, list(parseUnary()));
    }
    return parsePostfix();
  }

  /// `[...]` after a term: iteration, index or slice of `target`.
  NodePtr parseBracket(NodePtr target, size_t pos) {
    expect("[");
    if (punct("]")) {
      next();
      return mk(Op::kIterate, pos, list(std::move(target)));
    }
    NodePtr from, to;
    bool is_slice = false;
    if (punct(":")) {
      is_slice = true;
      next();
      to = parsePipe();
    } else {
      from = parsePipe();
      if (punct(":")) {
        is_slice = true;
        next();
        if (!punct("]")) to = parsePipe();
      }
    }
    expect("]");
    if (!is_slice) return mk(Op::kIndex, pos, list(std::move(target), std::move(from)));
    std::vector<NodePtr> kids;
    kids.push_back(std::move(target));
    kids.push_back(std::move(from));
    kids.push_back(std::move(to));
    return mk(Op::kSlice, pos, std::move(kids));
  }

  NodePtr parsePostfix() {
    DepthGuard g(*this);
    size_t pos = cur_.pos;
    NodePtr n = parsePrimary();
    for (;;) {
      if (cur_.kind == Tok::kField) {
        NodePtr key = literal(Value(cur_.text), cur_.pos);
        next();
        n = mk(Op::kIndex, pos, list(std::move(n), std::move(key)));
      } else if (punct(".")) {
        Token dot = cur_;
        next();
        if (cur_.kind == Tok::kString && cur_.pos == dot.end)
          n = mk(Op::kIndex, pos, list(std::move(n), parseString()));
        else if (punct("["))
          n = parseBracket(std::move(n), pos);
        else
          expected("a field name, a string or '[' after '.'");
      } else if (punct("[")) {
        n = parseBracket(std::move(n), pos);
      } else if (punct("?")) {
        next();
        std::vector<NodePtr> kids;
        kids.push_back(std::move(n));
        kids.push_back(nullptr);
        n = mk(Op::kTry, pos, std::move(kids));
      } else {
        return n;
      }
    }
  }

  /// A string literal; cur_ is its opening quote. `\(...)` interpolates.
  NodePtr parseString() {
    size_t pos = cur_.pos;
    size_t p = cur_.end;
    std::vector<std::string> parts(1);
    std::vector<NodePtr> kids;
    for (;;) {
      if (p >= text_.size()) fail(pos, "unterminated string");
      char c = text_[p];
      if (c == '"') break;
      if (c != '\\') {
        parts.back() += c;
        p++;
        continue;
      }
      if (p + 1 >= text_.size()) fail(pos, "unterminated string");
      char e = text_[p + 1];
      p += 2;
      switch (e) {
        case 'n':
          parts.back() += '\n';
          break;
        case 't':
          parts.back() += '\t';
          break;
        case 'r':
          parts.back() += '\r';
          break;
        case 'b':
          parts.back() += '\b';
          break;
        case 'f':
          parts.back() += '\f';
          break;
        case '/':
          parts.back() += '/';
          break;
        case '\\':
          parts.back() += '\\';
          break;
        case '"':
          parts.back() += '"';
          break;
        case 'u': {
          auto hex4 = [&](size_t at) -> uint32_t {
            if (at + 4 > text_.size()) fail(at, "expected 4 hexadecimal digits after \\u");
            uint32_t v = 0;
            for (size_t i = at; i < at + 4; i++) {
              char h = text_[i];
              v <<= 4;
              if (h >= '0' && h <= '9')
                v |= uint32_t(h - '0');
              else if (h >= 'a' && h <= 'f')
                v |= uint32_t(h - 'a' + 10);
              else if (h >= 'A' && h <= 'F')
                v |= uint32_t(h - 'A' + 10);
              else
                fail(i, "expected 4 hexadecimal digits after \\u");
            }
            return v;
          };
          uint32_t cp = hex4(p);
          p += 4;
          if (cp >= 0xD800 && cp < 0xDC00 && p + 6 <= text_.size() && text_[p] == '\\' &&
              text_[p + 1] == 'u') {
            uint32_t lo = hex4(p + 2);
            if (lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              p += 6;
            }
          }
          if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
          std::string& s = parts.back();
          if (cp < 0x80)
            s += char(cp);
          else if (cp < 0x800)
            s += char(0xC0 | (cp >> 6)), s += char(0x80 | (cp & 0x3F));
          else if (cp < 0x10000)
            s += char(0xE0 | (cp >> 12)), s += char(0x80 | ((cp >> 6) & 0x3F)),
                s += char(0x80 | (cp & 0x3F));
          else
            s += char(0xF0 | (cp >> 18)), s += char(0x80 | ((cp >> 12) & 0x3F)),
                s += char(0x80 | ((cp >> 6) & 0x3F)), s += char(0x80 | (cp & 0x3F));
          break;
        }
        case '(': {
          cur_ = lex(p);
          kids.push_back(parsePipe());
          if (!punct(")")) expected("')' to end the interpolation");
          p = cur_.end;
          parts.emplace_back();
          break;
        }
        default:
          fail(p - 2, fmt::format("invalid escape '\\{}' in a string", e));
      }
    }
    cur_ = lex(p + 1);
    if (kids.empty()) return literal(Value(parts[0]), pos);
    NodePtr n = mk(Op::kString, pos, std::move(kids));
    n->parts = std::move(parts);
    return n;
  }

  /// An object value: terms joined by `|` (as jq: `{a: .b | f}`, not `{a: 1 + 2}`).
  NodePtr parseObjectValue() {
    DepthGuard g(*this);
    size_t pos = cur_.pos;
    NodePtr lhs;
    if (punct("-")) {
      next();
      lhs = mk(Op::kNeg, pos, list(parsePostfix()));
    } else {
      lhs = parsePostfix();
    }
    if (punct("|")) {
      next();
      return mk(Op::kPipe, pos, list(std::move(lhs), parseObjectValue()));
    }
    return lhs;
  }

  NodePtr parseObject() {
    size_t pos = cur_.pos;
    expect("{");
    std::vector<NodePtr> kids;
    while (!punct("}")) {
      size_t kpos = cur_.pos;
      NodePtr key, value;
      if (cur_.kind == Tok::kIdent) {
        std::string name = cur_.text;
        next();
        key = literal(Value(name), kpos);
        if (!punct(":"))
          value = mk(Op::kIndex, kpos, list(mk(Op::kIdentity, kpos), literal(Value(name), kpos)));
      } else if (cur_.kind == Tok::kVar) {
        std::string name = cur_.text;
        key = literal(Value(name), kpos);
        value = parseVar();
        if (punct(":")) fail(cur_.pos, "expected ',' or '}' after a variable key");
      } else if (cur_.kind == Tok::kString) {
        key = parseString();
        if (!punct(":")) {
          if (key->op != Op::kLiteral)
            fail(kpos, "a key with interpolation needs a value ('\"\\(.a)\": .b')");
          value = mk(Op::kIndex, kpos, list(mk(Op::kIdentity, kpos), literal(key->literal, kpos)));
        }
      } else if (punct("(")) {
        next();
        key = parsePipe();
        expect(")");
        if (!punct(":")) expected("':' after a computed key");
      } else if (cur_.kind == Tok::kFormat) {
        fail(kpos, "formats (@base64, @csv...) are not supported");
      } else {
        expected("an object key (name, \"string\", $variable or (expression))");
      }
      if (!value) {
        expect(":");
        value = parseObjectValue();
      }
      kids.push_back(std::move(key));
      kids.push_back(std::move(value));
      if (punct(","))
        next();
      else if (!punct("}"))
        expected("',' or '}' in an object");
    }
    next();
    return mk(Op::kObject, pos, std::move(kids));
  }

  NodePtr parseVar() {
    size_t pos = cur_.pos;
    std::string name = cur_.text;
    if (name == "__loc__" || name == "ENV") fail(pos, fmt::format("${} is not supported", name));
    if (std::find(scope_.begin(), scope_.end(), name) == scope_.end())
      fail(pos, fmt::format("${} is not defined", name));
    next();
    NodePtr n = mk(Op::kVar, pos);
    n->name = name;
    return n;
  }

  NodePtr parseIf() {
    size_t pos = cur_.pos;
    next();  // if
    std::vector<NodePtr> kids;
    kids.push_back(parsePipe());
    expectKeyword("then");
    kids.push_back(parsePipe());
    for (;;) {
      if (keyword("elif")) {
        next();
        kids.push_back(parsePipe());
        expectKeyword("then");
        kids.push_back(parsePipe());
      } else if (keyword("else")) {
        next();
        kids.push_back(parsePipe());
        expectKeyword("end");
        break;
      } else if (keyword("end")) {
        next();
        kids.push_back(nullptr);
        break;
      } else {
        expected("'elif', 'else' or 'end'");
      }
    }
    return mk(Op::kIf, pos, std::move(kids));
  }

  NodePtr parseCall() {
    size_t pos = cur_.pos;
    std::string name = cur_.text;
    next();
    std::vector<NodePtr> args;
    if (punct("(")) {
      next();
      args.push_back(parsePipe());
      while (punct(";")) {
        next();
        args.push_back(parsePipe());
      }
      expect(")");
    }
    for (const Builtin& b : kBuiltins)
      if (name == b.name && size_t(b.arity) == args.size()) {
        NodePtr n = mk(Op::kCall, pos, std::move(args));
        n->name = name;
        n->fn = b.fn;
        return n;
      }
    fail(pos, fmt::format("{}/{} is not a known function", name, args.size()));
  }

  NodePtr parsePrimary() {
    DepthGuard g(*this);
    size_t pos = cur_.pos;
    switch (cur_.kind) {
      case Tok::kEnd:
        expected("a term");
      case Tok::kNumber: {
        double d = cur_.number;
        next();
        return literal(number(d), pos);
      }
      case Tok::kString:
        return parseString();
      case Tok::kFormat:
        fail(pos, "formats (@base64, @csv...) are not supported");
      case Tok::kField: {
        NodePtr key = literal(Value(cur_.text), pos);
        next();
        return mk(Op::kIndex, pos, list(mk(Op::kIdentity, pos), std::move(key)));
      }
      case Tok::kVar:
        return parseVar();
      case Tok::kIdent: {
        const std::string& w = cur_.text;
        if (w == "true" || w == "false" || w == "null") {
          Value v = w == "null" ? Value() : Value(w == "true");
          next();
          return literal(std::move(v), pos);
        }
        if (w == "if") return parseIf();
        if (w == "try") {
          next();
          std::vector<NodePtr> kids;
          kids.push_back(parsePostfix());
          if (keyword("catch")) {
            next();
            kids.push_back(parsePostfix());
          } else {
            kids.push_back(nullptr);
          }
          return mk(Op::kTry, pos, std::move(kids));
        }
        if (w == "reduce") {
          next();
          NodePtr source = parsePostfix();
          expectKeyword("as");
          if (cur_.kind != Tok::kVar) expected("a variable ($name)");
          std::string name = cur_.text;
          next();
          expect("(");
          NodePtr init = parsePipe();
          expect(";");
          scope_.push_back(name);
          NodePtr update = parsePipe();
          scope_.pop_back();
          expect(")");
          NodePtr n =
              mk(Op::kReduce, pos, list(std::move(source), std::move(init), std::move(update)));
          n->name = name;
          return n;
        }
        if (w == "def" || w == "foreach" || w == "label" || w == "import" || w == "include")
          fail(pos, fmt::format("'{}' is not supported", w));
        if (isKeyword(w)) expected("a term");
        return parseCall();
      }
      case Tok::kPunct:
        break;
    }
    if (punct(".")) {
      next();
      if (cur_.kind == Tok::kString && cur_.pos == pos + 1)
        return mk(Op::kIndex, pos, list(mk(Op::kIdentity, pos), parseString()));
      return mk(Op::kIdentity, pos);
    }
    if (punct("..")) {
      next();
      NodePtr n = mk(Op::kCall, pos);
      n->name = "recurse";
      n->fn = Fn::kRecurse;
      return n;
    }
    if (punct("(")) {
      next();
      NodePtr n = parsePipe();
      expect(")");
      return n;
    }
    if (punct("[")) {
      next();
      if (punct("]")) {
        next();
        return mk(Op::kArray, pos);
      }
      NodePtr n = mk(Op::kArray, pos, list(parsePipe()));
      expect("]");
      return n;
    }
    if (punct("{")) return parseObject();
    expected("a term");
  }

  std::string_view text_;
  Token cur_;
  size_t depth_ = 0;
  std::vector<std::string> scope_;  ///< variables bound here (innermost last)
};

}  // namespace

int compare(const Value& a, const Value& b) {
  int ra = typeRank(a), rb = typeRank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 3: {
      double x = toDouble(a), y = toDouble(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 4: {
      int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    case 5: {
      for (size_t i = 0; i < a.size() && i < b.size(); i++)
        if (int c = compare(a[i], b[i])) return c;
      return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
    }
    case 6: {
      auto ka = sortedKeys(a), kb = sortedKeys(b);
      if (ka != kb) return ka < kb ? -1 : 1;
      for (const auto& k : ka)
        if (int c = compare(a[k], b[k])) return c;
      return 0;
    }
    default:
      return 0;
  }
}

std::string toString(const Value& v) { return v.is_string() ? v.get<std::string>() : dump(v); }

Program Program::compile(std::string_view text) {
  Program p;
  p.text_ = std::string(text);
  Parser parser(p.text_);
  p.root_ = parser.parseProgram();
  return p;
}

void Program::run(const Value& input, const std::function<void(const Value&)>& out,
                  uint64_t max_steps) const {
  Interp interp(max_steps);
  try {
    interp.eval(*root_, input, nullptr, out);
  } catch (BudgetExceeded&) {
    throw Error(fmt::format("the program ran over its budget of {} steps", max_steps));
  } catch (Passthrough& p) {  // not expected: a try unwraps its own
    throw std::move(p.error);
  } catch (Stop&) {  // not expected: each stop is caught by its generator
  }
}

std::vector<Value> Program::all(const Value& input, uint64_t max_steps) const {
  std::vector<Value> out;
  run(input, [&](const Value& v) { out.push_back(v); }, max_steps);
  return out;
}

}  // namespace akvo::jq
