#include "outlet/classifier/classifier.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>

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
  enum Type { kNil, kBool, kInt, kStr, kList } t = kNil;
  bool b = false;
  int64_t i = 0;
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
      case kStr: return "string";
      default: return "array";
    }
  }
  bool operator==(const Value& o) const {
    if (t != o.t) return false;
    switch (t) {
      case kNil: return true;
      case kBool: return b == o.b;
      case kInt: return i == o.i;
      case kStr: return s == o.s;
      default: return list == o.list;
    }
  }
};

enum class Var { kExporterIP, kExporterName, kIfIndex, kIfName, kIfDescription, kIfSpeed, kIfVlan };

enum class Op {
  kLit, kVar, kCall, kList, kNot, kAnd, kOr, kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn,
  kMatches, kStartsWith, kEndsWith, kContains
};

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
};

const FnDef kFunctions[] = {
    {"Classify", Fn::kGroup, false, 1, 0, 1, 1},
    {"ClassifyRegex", Fn::kGroup, true, 1, 0, 3, 3},
    {"ClassifyGroup", Fn::kGroup, false, 1, 0, 1, 1},
    {"ClassifyGroupRegex", Fn::kGroup, true, 1, 0, 3, 3},
    {"ClassifyRole", Fn::kRole, false, 1, 0, 1, 1},
    {"ClassifyRoleRegex", Fn::kRole, true, 1, 0, 3, 3},
    {"ClassifySite", Fn::kSite, false, 1, 0, 1, 1},
    {"ClassifySiteRegex", Fn::kSite, true, 1, 0, 3, 3},
    {"ClassifyRegion", Fn::kRegion, false, 1, 0, 1, 1},
    {"ClassifyRegionRegex", Fn::kRegion, true, 1, 0, 3, 3},
    {"ClassifyTenant", Fn::kTenant, false, 1, 0, 1, 1},
    {"ClassifyTenantRegex", Fn::kTenant, true, 1, 0, 3, 3},
    {"ClassifyConnectivity", Fn::kConnectivity, false, 0, 1, 1, 1},
    {"ClassifyConnectivityRegex", Fn::kConnectivity, true, 0, 1, 3, 3},
    {"ClassifyProvider", Fn::kProvider, false, 0, 1, 1, 1},
    {"ClassifyProviderRegex", Fn::kProvider, true, 0, 1, 3, 3},
    {"ClassifyExternal", Fn::kExternal, false, 0, 1, 0, 0},
    {"ClassifyInternal", Fn::kInternal, false, 0, 1, 0, 0},
    {"SetName", Fn::kSetName, false, 0, 1, 1, 1},
    {"SetDescription", Fn::kSetDescription, false, 0, 1, 1, 1},
    {"Reject", Fn::kReject, false, 1, 1, 0, 0},
    {"Format", Fn::kFormat, false, 1, 1, 1, 16},
    {"lower", Fn::kLower, false, 1, 1, 1, 1},
    {"upper", Fn::kUpper, false, 1, 1, 1, 1},
    {"trim", Fn::kTrim, false, 1, 1, 1, 1},
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

class Parser {
 public:
  Parser(const std::string& text, Kind kind) : text_(text), kind_(kind) { tokenize(); }

  std::unique_ptr<Node> parse(bool& uses_vlan) {
    auto n = parseOr();
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
        size_t j = i;
        while (j < s.size() && (std::isdigit(uint8_t(s[j])) || s[j] == '_')) j++;
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
            switch (e) {
              case 'n': v.push_back('\n'); break;
              case 't': v.push_back('\t'); break;
              case 'r': v.push_back('\r'); break;
              case '\\': v.push_back('\\'); break;
              case '"': v.push_back('"'); break;
              case '\'': v.push_back('\''); break;
              default:
                // Unknown escapes are kept as written (regexes such as "\d" or "\.").
                v.push_back('\\');
                v.push_back(e);
            }
            j += 2;
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
          if (std::string_view("()[],.!<>").find(c) == std::string_view::npos)
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

  std::unique_ptr<Node> binary(Op op, size_t pos, std::unique_ptr<Node> a,
                               std::unique_ptr<Node> b) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->pos = pos;
    n->args.push_back(std::move(a));
    n->args.push_back(std::move(b));
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
    auto left = parseNot();
    while (isPunct("&&") || isIdent("and")) {
      size_t pos = next().pos;
      left = binary(Op::kAnd, pos, std::move(left), parseNot());
    }
    return left;
  }
  std::unique_ptr<Node> parseNot() {
    if (isPunct("!") || (isIdent("not") && !isIdent("in", 1))) {
      size_t pos = next().pos;
      auto n = std::make_unique<Node>();
      n->op = Op::kNot;
      n->pos = pos;
      n->args.push_back(parseNot());
      return n;
    }
    return parseComparison();
  }
  std::unique_ptr<Node> parseComparison() {
    auto left = parsePrimary();
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
      if (isIdent("not") && isIdent("in", 1)) {
        size_t pos = next().pos;
        next();
        left = binary(Op::kNotIn, pos, std::move(left), parsePrimary());
        continue;
      }
      bool found = false;
      for (const auto& o : kOps) {
        if (o.punct ? isPunct(o.text) : isIdent(o.text)) {
          size_t pos = next().pos;
          auto right = parsePrimary();
          if (o.op == Op::kMatches) {
            if (right->op != Op::kLit || right->lit.t != Value::kStr)
              failAt(right->pos, "matches needs a string literal (a regular expression)");
            auto n = binary(o.op, pos, std::move(left), std::move(right));
            n->re = compile(n->args[1]->lit.s, n->args[1]->pos);
            left = std::move(n);
          } else {
            left = binary(o.op, pos, std::move(left), std::move(right));
          }
          found = true;
          break;
        }
      }
      if (!found) return left;
    }
  }

  std::unique_ptr<RE2> compile(const std::string& pattern, size_t pos) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_unique<RE2>(pattern, opts);
    if (!re->ok()) failAt(pos, fmt::format("invalid regular expression: {}", re->error()));
    return re;
  }

  std::unique_ptr<Node> parsePrimary() {
    Token t = next();
    auto n = std::make_unique<Node>();
    n->pos = t.pos;
    switch (t.type) {
      case Token::kString: n->lit = Value::str(t.text); return n;
      case Token::kNumber: {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
        if (ec != std::errc() || p != t.text.data() + t.text.size()) fail(t, "expected a number");
        n->lit = Value::integer(v);
        return n;
      }
      case Token::kPunct:
        if (t.text == "(") {
          auto inner = parseOr();
          expectPunct(")");
          return inner;
        }
        if (t.text == "[") {
          n->op = Op::kList;
          if (!isPunct("]")) {
            for (;;) {
              n->args.push_back(parseOr());
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
        n->args.push_back(parseOr());
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

// ---- Evaluation -----------------------------------------------------------------------------

/// Expands $1, ${1}, $$ in a Go regexp.Expand-style template.
std::string expand(std::string_view tmpl, const re2::StringPiece* groups, int ngroups) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); i++) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out.push_back(c);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      i++;
      continue;
    }
    size_t j = i + 1;
    bool brace = tmpl[j] == '{';
    if (brace) j++;
    size_t start = j;
    while (j < tmpl.size() && std::isdigit(uint8_t(tmpl[j]))) j++;
    if (j == start || (brace && (j >= tmpl.size() || tmpl[j] != '}'))) {
      out.push_back(c);
      continue;
    }
    int g = std::stoi(std::string(tmpl.substr(start, j - start)));
    if (g < ngroups && groups[g].data()) out.append(groups[g].data(), groups[g].size());
    i = brace ? j : j - 1;
  }
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
  std::string f = asString(eval(*n.args[0], ctx), *n.args[0]);
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
    case Fn::kSetName:
      if (!ctx.ir->name_set) {
        ctx.ir->name = asString(eval(*n.args[0], ctx), *n.args[0]);
        ctx.ir->name_set = true;
      }
      return Value::boolean(true);
    case Fn::kSetDescription:
      if (!ctx.ir->description_set) {
        ctx.ir->description = asString(eval(*n.args[0], ctx), *n.args[0]);
        ctx.ir->description_set = true;
      }
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
  std::string input = asString(eval(*n.args[0], ctx), *n.args[0]);
  std::string tmpl = asString(eval(*n.args[2], ctx), *n.args[2]);
  int ngroups = n.re->NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups{size_t(ngroups)};
  if (!n.re->Match(input, 0, input.size(), RE2::UNANCHORED, groups.data(), ngroups))
    return Value::boolean(false);
  setOnce(*field, normalize(expand(tmpl, groups.data(), ngroups)));
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
    case Op::kAnd:
      if (!truthy(eval(*n.args[0], ctx), *n.args[0]) || ctx.reject) return Value::boolean(false);
      return Value::boolean(truthy(eval(*n.args[1], ctx), *n.args[1]));
    case Op::kOr:
      if (truthy(eval(*n.args[0], ctx), *n.args[0])) return Value::boolean(true);
      if (ctx.reject) return Value::boolean(false);
      return Value::boolean(truthy(eval(*n.args[1], ctx), *n.args[1]));
    default: break;
  }
  Value a = eval(*n.args[0], ctx);
  Value b = eval(*n.args[1], ctx);
  switch (n.op) {
    case Op::kEq: return Value::boolean(a == b);
    case Op::kNe: return Value::boolean(!(a == b));
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      int cmp;
      if (a.t == Value::kInt && b.t == Value::kInt) cmp = a.i < b.i ? -1 : a.i > b.i;
      else if (a.t == Value::kStr && b.t == Value::kStr) cmp = a.s.compare(b.s);
      else
        throw EvalError(fmt::format("at position {}: cannot compare {} and {}", n.pos + 1,
                                    a.typeName(), b.typeName()));
      bool r = n.op == Op::kLt ? cmp < 0 : n.op == Op::kLe ? cmp <= 0 : n.op == Op::kGt ? cmp > 0 : cmp >= 0;
      return Value::boolean(r);
    }
    case Op::kIn:
    case Op::kNotIn: {
      bool found = false;
      if (b.t == Value::kList) {
        for (const auto& x : b.list) found = found || x == a;
      } else if (b.t == Value::kStr && a.t == Value::kStr) {
        found = b.s.find(a.s) != std::string::npos;
      } else {
        throw EvalError(fmt::format("at position {}: in needs an array, got {}", n.pos + 1,
                                    b.typeName()));
      }
      return Value::boolean(n.op == Op::kIn ? found : !found);
    }
    case Op::kMatches: return Value::boolean(RE2::PartialMatch(asString(a, *n.args[0]), *n.re));
    case Op::kStartsWith: {
      const auto& s = asString(a, *n.args[0]);
      const auto& p = asString(b, *n.args[1]);
      return Value::boolean(s.compare(0, p.size(), p) == 0 && s.size() >= p.size());
    }
    case Op::kEndsWith: {
      const auto& s = asString(a, *n.args[0]);
      const auto& p = asString(b, *n.args[1]);
      return Value::boolean(s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0);
    }
    case Op::kContains:
      return Value::boolean(asString(a, *n.args[0]).find(asString(b, *n.args[1])) !=
                            std::string::npos);
    default: break;
  }
  return {};
}

}  // namespace

Rule::Rule(std::string text, Kind kind) : text_(std::move(text)), kind_(kind) {
  Parser p(text_, kind);
  root_ = p.parse(uses_vlan_);
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
    } catch (const EvalError&) {
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
    } catch (const EvalError&) {
      if (errors) (*errors)++;
      break;
    }
    if (ctx.reject) {
      out.reject = true;
      break;
    }
    if (out.complete()) break;
  }
  if (!out.name_set) out.name = std::string(in.name);
  if (!out.description_set) out.description = std::string(in.description);
  return out;
}

}  // namespace akvo::classifier
