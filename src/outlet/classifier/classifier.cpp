#include "outlet/classifier/classifier.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>

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
  const char* typeName() const {
    switch (t) {
      case kNil: return "nil";
      case kBool: return "bool";
      case kInt: return "int";
      case kFloat: return "float";
      case kStr: return "string";
      default: return "array";
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
};

enum class Var { kExporterIP, kExporterName, kIfIndex, kIfName, kIfDescription, kIfSpeed, kIfVlan };

enum class Op {
  kLit, kVar, kCall, kList, kNot, kNeg, kPos, kAnd, kOr, kCond, kEq, kNe, kLt, kLe, kGt, kGe,
  kIn, kMatches, kStartsWith, kEndsWith, kContains
};

/// Static types of the checker (expr's natures, reduced to what rules can express).
enum class Type { kNil, kBool, kNumber, kString, kList, kUnknown };

const char* typeName(Type t) {
  switch (t) {
    case Type::kNil: return "nil";
    case Type::kBool: return "bool";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kList: return "list";
    default: return "unknown";
  }
}

/// Built-in functions.
enum class Fn {
  kGroup, kRole, kSite, kRegion, kTenant, kConnectivity, kProvider,  // ClassifyX (+Regex)
  kExternal, kInternal, kSetName, kSetDescription, kReject, kFormat, kLower, kUpper, kTrim
};

struct FnDef {
  const char* name;
  Fn fn;
  bool regex;  // the ...Regex(input, regex, template) form
  int exporter_ok, interface_ok;
  int min_args, max_args;
  Type result;
  Type first_arg;   // the type of the first argument
  Type other_args;  // the type of the others (kUnknown: any type, as Format's)
};

constexpr Type kB = Type::kBool, kS = Type::kString, kAny = Type::kUnknown;

// Signatures are Akvorado's (outlet/core/classifier.go) and expr's builtins.
const FnDef kFunctions[] = {
    {"Classify", Fn::kGroup, false, 1, 0, 1, 1, kB, kS, kS},
    {"ClassifyRegex", Fn::kGroup, true, 1, 0, 3, 3, kB, kS, kS},
    {"ClassifyGroup", Fn::kGroup, false, 1, 0, 1, 1, kB, kS, kS},
    {"ClassifyGroupRegex", Fn::kGroup, true, 1, 0, 3, 3, kB, kS, kS},
    {"ClassifyRole", Fn::kRole, false, 1, 0, 1, 1, kB, kS, kS},
    {"ClassifyRoleRegex", Fn::kRole, true, 1, 0, 3, 3, kB, kS, kS},
    {"ClassifySite", Fn::kSite, false, 1, 0, 1, 1, kB, kS, kS},
    {"ClassifySiteRegex", Fn::kSite, true, 1, 0, 3, 3, kB, kS, kS},
    {"ClassifyRegion", Fn::kRegion, false, 1, 0, 1, 1, kB, kS, kS},
    {"ClassifyRegionRegex", Fn::kRegion, true, 1, 0, 3, 3, kB, kS, kS},
    {"ClassifyTenant", Fn::kTenant, false, 1, 0, 1, 1, kB, kS, kS},
    {"ClassifyTenantRegex", Fn::kTenant, true, 1, 0, 3, 3, kB, kS, kS},
    {"ClassifyConnectivity", Fn::kConnectivity, false, 0, 1, 1, 1, kB, kS, kS},
    {"ClassifyConnectivityRegex", Fn::kConnectivity, true, 0, 1, 3, 3, kB, kS, kS},
    {"ClassifyProvider", Fn::kProvider, false, 0, 1, 1, 1, kB, kS, kS},
    {"ClassifyProviderRegex", Fn::kProvider, true, 0, 1, 3, 3, kB, kS, kS},
    {"ClassifyExternal", Fn::kExternal, false, 0, 1, 0, 0, kB, kS, kS},
    {"ClassifyInternal", Fn::kInternal, false, 0, 1, 0, 0, kB, kS, kS},
    {"SetName", Fn::kSetName, false, 0, 1, 1, 1, kB, kS, kS},
    {"SetDescription", Fn::kSetDescription, false, 0, 1, 1, 1, kB, kS, kS},
    {"Reject", Fn::kReject, false, 1, 1, 0, 0, kB, kS, kS},
    {"Format", Fn::kFormat, false, 1, 1, 1, 16, kS, kS, kAny},
    {"lower", Fn::kLower, false, 1, 1, 1, 1, kS, kS, kS},
    {"upper", Fn::kUpper, false, 1, 1, 1, 1, kS, kS, kS},
    {"trim", Fn::kTrim, false, 1, 1, 1, 1, kS, kS, kS},
};

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

  std::unique_ptr<Node> parse(bool& uses_vlan) {
    auto n = parseExpression();
    if (peek().type != Token::kEnd) fail(peek(), "expected an operator or the end of the rule");
    uses_vlan = uses_vlan_;
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
      Token t;
      t.pos = i;
      if (std::isalpha(uint8_t(c)) || c == '_') {
        size_t j = i;
        while (j < s.size() && (std::isalnum(uint8_t(s[j])) || s[j] == '_')) j++;
        t.type = Token::kIdent;
        t.text = s.substr(i, j - i);
        i = j;
      } else if (std::isdigit(uint8_t(c))) {
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
          if (j < s.size() && s[j] == '.') {
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
        static const char* kTwo[] = {"&&", "||", "==", "!=", "<=", ">="};
        t.type = Token::kPunct;
        for (const char* two : kTwo)
          if (s.compare(i, 2, two) == 0) t.text = two;
        if (t.text.empty()) {
          if (std::string_view("()[],.!<>-+?:").find(c) == std::string_view::npos)
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
  std::unique_ptr<Node> binary(Op op, size_t pos, std::unique_ptr<Node> a,
                               std::unique_ptr<Node> b) {
    auto n = node(op, pos);
    n->args.push_back(std::move(a));
    n->args.push_back(std::move(b));
    return n;
  }

  std::unique_ptr<Node> parseExpression() {
    auto cond = parseOr();
    if (!isPunct("?")) return cond;
    auto n = node(Op::kCond, next().pos);
    n->args.push_back(std::move(cond));
    n->args.push_back(parseExpression());
    expectPunct(":");
    n->args.push_back(parseExpression());
    return n;
  }
  std::unique_ptr<Node> parseOr() {
    auto left = parseAnd();
    while (isPunct("||") || isIdent("or")) {
      size_t pos = next().pos;
      left = binary(Op::kOr, pos, std::move(left), parseAnd());
    }
    return left;
  }
  std::unique_ptr<Node> parseAnd() {
    auto left = parseComparison();
    while (isPunct("&&") || isIdent("and")) {
      size_t pos = next().pos;
      left = binary(Op::kAnd, pos, std::move(left), parseComparison());
    }
    return left;
  }
  std::unique_ptr<Node> parseComparison() {
    auto left = parseUnary();
    struct {
      const char* text;
      bool punct;
      Op op;
    } static const kOps[] = {{"==", true, Op::kEq},           {"!=", true, Op::kNe},
                             {"<=", true, Op::kLe},           {">=", true, Op::kGe},
                             {"<", true, Op::kLt},            {">", true, Op::kGt},
                             {"in", false, Op::kIn},          {"matches", false, Op::kMatches},
                             {"startsWith", false, Op::kStartsWith},
                             {"endsWith", false, Op::kEndsWith},
                             {"contains", false, Op::kContains}};
    for (;;) {
      bool negate = false;
      size_t pos = peek().pos;
      if (isIdent("not")) {
        if (!negatable(peek(1)))
          fail(peek(1), "expected in, matches, contains, startsWith or endsWith after not");
        negate = true;
        next();
      }
      bool found = false;
      for (const auto& o : kOps) {
        if (o.punct ? isPunct(o.text) : isIdent(o.text)) {
          next();
          auto right = parseUnary();
          if (o.op == Op::kMatches &&
              (right->op != Op::kLit || right->lit.t != Value::kStr))
            failAt(right->pos, "matches needs a string literal (a regular expression)");
          auto n = binary(o.op, pos, std::move(left), std::move(right));
          n->negate = negate;
          if (o.op == Op::kMatches) n->re = compile(n->args[1]->lit.s, n->args[1]->pos);
          left = std::move(n);
          found = true;
          break;
        }
      }
      if (!found) return left;
    }
  }
  std::unique_ptr<Node> parseUnary() {
    if (isPunct("!") || isIdent("not")) {
      auto n = node(Op::kNot, next().pos);
      n->args.push_back(parseUnary());
      return n;
    }
    if (isPunct("-") || isPunct("+")) {
      Token sign = next();
      auto operand = parseUnary();
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
      return n;
    }
    return parsePrimary();
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
          return n;
        }
        break;
      case Token::kIdent: {
        if (t.text == "true" || t.text == "false") {
          n->lit = Value::boolean(t.text == "true");
          return n;
        }
        if (t.text == "nil") return n;
        if (isPunct("(")) return parseCall(t);
        if (t.text == "Exporter" || t.text == "Interface") {
          expectPunct(".");
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
        failAt(t.pos, fmt::format("unknown name \"{}\" (expected Exporter.*{}, a function call, "
                                  "a string or a number)",
                                  t.text, kind_ == Kind::kInterface ? ", Interface.*" : ""));
      }
      default: break;
    }
    fail(t, "expected a value (string, number, variable, function call, list or parenthesis)");
  }

  std::unique_ptr<Node> parseCall(const Token& name) {
    auto n = std::make_unique<Node>();
    n->op = Op::kCall;
    n->pos = name.pos;
    for (const auto& f : kFunctions)
      if (name.text == f.name) n->fn = &f;
    if (!n->fn || !(kind_ == Kind::kExporter ? n->fn->exporter_ok : n->fn->interface_ok)) {
      std::vector<std::string> valid;
      for (const auto& f : kFunctions)
        if (kind_ == Kind::kExporter ? f.exporter_ok : f.interface_ok) valid.push_back(f.name);
      failAt(name.pos, fmt::format("unknown function {} in {} classifiers; valid: {}", name.text,
                                   kind_ == Kind::kExporter ? "exporter" : "interface",
                                   fmt::join(valid, ", ")));
    }
    expectPunct("(");
    if (!isPunct(")")) {
      for (;;) {
        n->args.push_back(parseExpression());
        if (!isPunct(",")) break;
        next();
      }
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
    return n;
  }

  const std::string& text_;
  Kind kind_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
  bool uses_vlan_ = false;
};

// ---- Type checking --------------------------------------------------------------------------

/// Akvorado compiles rules with expr's checker and expr.AsBool(): a rule whose types do not fit
/// is a configuration error, not a run-time one. The rules are expr's (checker.go), reduced to
/// the types rules can express (one number type: expr compares ints and floats freely). The
/// first error found (depth first, left to right) is reported, at the operator's position, or at
/// the offending operand's for && || and function arguments.
class TypeChecker {
 public:
  explicit TypeChecker(const std::string& text) : text_(text) {}

  void checkRule(const Node& root) {
    Type t = check(root).type;
    if (t != Type::kBool)
      failAt(root.pos, fmt::format("the rule must be a bool expression, got {} (a comparison or "
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
  /// The operator as written ("and" or "&&", "not in"...).
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
           l == r;
  }
  /// Checks that `n` is of type `want`; the error is reported at `pos` (n's by default).
  void expect(const Node& n, Type want, const std::string& what, size_t pos = SIZE_MAX) {
    Type got = check(n).type;
    if (got != want && got != Type::kUnknown)
      failAt(pos == SIZE_MAX ? n.pos : pos, fmt::format("{}, got {}", what, typeName(got)));
  }

  Checked check(const Node& n) {
    switch (n.op) {
      case Op::kLit:
        switch (n.lit.t) {
          case Value::kBool: return {Type::kBool};
          case Value::kInt:
          case Value::kFloat: return {Type::kNumber};
          case Value::kStr: return {Type::kString};
          default: return {Type::kNil};
        }
      case Op::kVar:
        switch (n.var) {
          case Var::kIfIndex:
          case Var::kIfSpeed:
          case Var::kIfVlan: return {Type::kNumber};
          default: return {Type::kString};
        }
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
      case Op::kPos:
        expect(*n.args[0], Type::kNumber, fmt::format("{} needs a number", opText(n)), n.pos);
        return {Type::kNumber};
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
        if (a.type != b.type)
          failAt(n.pos, fmt::format("the two branches of ?: must have the same type, got {} and {}",
                                    typeName(a.type), typeName(b.type)));
        if (a.elem != b.elem) a.elem = Type::kUnknown;
        return a;
      }
      case Op::kCall: {
        const FnDef& f = *n.fn;
        for (size_t k = 0; k < n.args.size(); k++) {
          Type want = k == 0 ? f.first_arg : f.other_args;
          if (want == Type::kUnknown) {
            check(*n.args[k]);
            continue;
          }
          expect(*n.args[k], want,
                 fmt::format("{} expects a {} as argument {}", f.name, typeName(want), k + 1));
        }
        return {f.result};
      }
      default: break;
    }
    Checked l = check(*n.args[0]), r = check(*n.args[1]);
    std::string op = opText(n);
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
        bool ok = l.type == Type::kUnknown || r.type == Type::kUnknown ||
                  (l.type == r.type && (l.type == Type::kNumber || l.type == Type::kString));
        if (!ok)
          failAt(n.pos, fmt::format("{} needs two numbers or two strings, got {} and {}", op,
                                    typeName(l.type), typeName(r.type)));
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
      default:  // matches, contains, startsWith, endsWith
        if (l.type != Type::kString && l.type != Type::kUnknown)
          failAt(n.pos, fmt::format("{} needs a string on its left, got {}", op, typeName(l.type)));
        if (r.type != Type::kString && r.type != Type::kUnknown)
          failAt(n.pos,
                 fmt::format("{} needs a string on its right, got {}", op, typeName(r.type)));
    }
    return {Type::kBool};
  }

  const std::string& text_;
};

// ---- Evaluation -----------------------------------------------------------------------------

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

struct Context {
  Kind kind;
  const ExporterInput* exporter = nullptr;
  const InterfaceInput* iface = nullptr;
  ExporterResult* er = nullptr;
  InterfaceResult* ir = nullptr;
  bool reject = false;
};

Value eval(const Node& n, Context& ctx);

// The checker guarantees the types below; these checks only keep a bug from becoming a crash.
bool truthy(const Value& v, const Node& n) {
  if (v.t != Value::kBool)
    throw EvalError(fmt::format("at position {}: expected a bool, got {}", n.pos + 1, v.typeName()));
  return v.b;
}
const std::string& asString(const Value& v, const Node& n) {
  if (v.t != Value::kStr)
    throw EvalError(
        fmt::format("at position {}: expected a string, got {}", n.pos + 1, v.typeName()));
  return v.s;
}

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

std::string format(const Node& n, Context& ctx) {
  Value fv = eval(*n.args[0], ctx);
  const std::string& f = asString(fv, *n.args[0]);
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
    if (arg >= n.args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    Value v = eval(*n.args[arg++], ctx);
    switch (v.t) {
      case Value::kStr: out += v.s; break;
      case Value::kInt: out += std::to_string(v.i); break;
      case Value::kFloat: out += fmt::format("{}", v.f); break;
      case Value::kBool: out += v.b ? "true" : "false"; break;
      default: out += "<nil>";
    }
  }
  return out;
}

Value call(const Node& n, Context& ctx) {
  Fn fn = n.fn->fn;
  switch (fn) {
    case Fn::kReject: ctx.reject = true; return Value::boolean(false);
    case Fn::kExternal:
    case Fn::kInternal:
      if (ctx.ir->boundary == Boundary::kUndefined)
        ctx.ir->boundary = fn == Fn::kExternal ? Boundary::kExternal : Boundary::kInternal;
      return Value::boolean(true);
    // As Akvorado: set while still empty (an empty value sets nothing), the interface's own
    // name and description filling what is still empty at the end.
    case Fn::kSetName:
      if (ctx.ir->name.empty()) ctx.ir->name = asString(eval(*n.args[0], ctx), *n.args[0]);
      return Value::boolean(true);
    case Fn::kSetDescription:
      if (ctx.ir->description.empty())
        ctx.ir->description = asString(eval(*n.args[0], ctx), *n.args[0]);
      return Value::boolean(true);
    case Fn::kFormat: return Value::str(format(n, ctx));
    case Fn::kLower:
    case Fn::kUpper:
    case Fn::kTrim: {
      std::string s = asString(eval(*n.args[0], ctx), *n.args[0]);
      if (fn == Fn::kTrim) {
        size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
        return Value::str(b == std::string::npos ? "" : s.substr(b, e - b + 1));
      }
      for (auto& c : s) c = char(fn == Fn::kLower ? std::tolower(uint8_t(c)) : std::toupper(uint8_t(c)));
      return Value::str(s);
    }
    default: break;
  }
  std::string* field = classField(fn, ctx);
  if (!n.fn->regex) {
    setOnce(*field, normalize(asString(eval(*n.args[0], ctx), *n.args[0])));
    return Value::boolean(true);
  }
  // Akvorado's classifyStringWithRegex: the arguments are evaluated (expr does it before the
  // call), then a value already set makes the function return true without matching.
  Value input_value = eval(*n.args[0], ctx);
  Value tmpl_value = eval(*n.args[2], ctx);
  const std::string& input = asString(input_value, *n.args[0]);
  const std::string& tmpl = asString(tmpl_value, *n.args[2]);
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

Value eval(const Node& n, Context& ctx) {
  switch (n.op) {
    case Op::kLit: return n.lit;
    case Op::kVar: return variable(n.var, ctx);
    case Op::kCall: return call(n, ctx);
    case Op::kList: {
      Value v;
      v.t = Value::kList;
      for (const auto& a : n.args) v.list.push_back(eval(*a, ctx));
      return v;
    }
    case Op::kNot: return Value::boolean(!truthy(eval(*n.args[0], ctx), *n.args[0]));
    case Op::kNeg:
    case Op::kPos: {
      Value v = eval(*n.args[0], ctx);
      if (!v.isNumber())
        throw EvalError(fmt::format("at position {}: expected a number, got {}", n.pos + 1,
                                    v.typeName()));
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
    case Op::kGe: {
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
        throw EvalError(fmt::format("at position {}: cannot compare {} and {}", n.pos + 1,
                                    a.typeName(), b.typeName()));
      }
      r = n.op == Op::kLt   ? cmp < 0
          : n.op == Op::kLe ? cmp <= 0
          : n.op == Op::kGt ? cmp > 0
                            : cmp >= 0;
      return Value::boolean(r);
    }
    case Op::kIn:
      if (b.t != Value::kList)
        throw EvalError(fmt::format("at position {}: in needs a list, got {}", n.pos + 1,
                                    b.typeName()));
      for (const auto& x : b.list) r = r || x == a;
      break;
    case Op::kMatches: r = RE2::PartialMatch(asString(a, *n.args[0]), *n.re); break;
    case Op::kStartsWith: {
      const auto& s = asString(a, *n.args[0]);
      const auto& p = asString(b, *n.args[1]);
      r = s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
      break;
    }
    case Op::kEndsWith: {
      const auto& s = asString(a, *n.args[0]);
      const auto& p = asString(b, *n.args[1]);
      r = s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
      break;
    }
    case Op::kContains:
      r = asString(a, *n.args[0]).find(asString(b, *n.args[1])) != std::string::npos;
      break;
    default: return {};
  }
  return Value::boolean(r != n.negate);
}

}  // namespace

Rule::Rule(std::string text, Kind kind) : text_(std::move(text)), kind_(kind) {
  Parser p(text_, kind);
  root_ = p.parse(uses_vlan_);
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

ExporterResult RuleSet::classify(const ExporterInput& in, uint64_t* errors) const {
  ExporterResult out;
  Context ctx{Kind::kExporter, &in, nullptr, &out, nullptr};
  for (const auto& r : rules_) {
    try {
      Value v = eval(*r.root_, ctx);
      (void)v;
    } catch (const std::exception&) {  // EvalError, or anything unexpected: never past here
      if (errors) (*errors)++;
      break;
    }
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
    try {
      Value v = eval(*r.root_, ctx);
      (void)v;
    } catch (const std::exception&) {  // EvalError, or anything unexpected: never past here
      if (errors) (*errors)++;
      break;
    }
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
