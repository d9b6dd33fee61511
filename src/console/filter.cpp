#include "console/filter.h"

#include <fmt/format.h>
#include <strings.h>

#include <charconv>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "common/embedded.h"
#include "common/ip.h"

namespace akvo::console {

std::string sqlQuote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '\'';
  for (unsigned char c : s) {
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02X}", c);
    } else {
      out += char(c);
    }
  }
  out += '\'';
  return out;
}

int protocolNumber(std::string_view name) {
  static const std::map<std::string, int, std::less<>> table = [] {
    std::map<std::string, int, std::less<>> m;
    std::string_view csv = embeddedFile("data/protocols.csv");
    size_t pos = csv.find('\n');  // skip the header
    while (pos != std::string_view::npos && pos + 1 < csv.size()) {
      size_t eol = csv.find('\n', pos + 1);
      std::string_view line = csv.substr(pos + 1, eol == std::string_view::npos ? csv.npos : eol - pos - 1);
      pos = eol;
      size_t c1 = line.find(',');
      if (c1 == std::string_view::npos) continue;
      size_t c2 = line.find(',', c1 + 1);
      int num = 0;
      std::from_chars(line.data(), line.data() + c1, num);
      std::string n(line.substr(c1 + 1, c2 == std::string_view::npos ? line.npos : c2 - c1 - 1));
      for (auto& ch : n) ch = char(tolower(ch));
      if (!n.empty() && !m.contains(n)) m[n] = num;
    }
    return m;
  }();
  std::string key(name);
  for (auto& ch : key) ch = char(tolower(ch));
  auto it = table.find(key);
  return it == table.end() ? -1 : it->second;
}

std::vector<std::string> filterOperators(FilterType type) {
  switch (type) {
    case FilterType::kIP:
      return {"=", "!=", "<<", "!<<", "IN (", "NOTIN ("};
    case FilterType::kString:
      return {"=", "!=", "LIKE", "ILIKE", "UNLIKE", "IUNLIKE", "IN (", "NOTIN ("};
    case FilterType::kUInt:
    case FilterType::kProto:
      return {"=", "!=", "<", "<=", ">", ">=", "IN (", "NOTIN ("};
    case FilterType::kASN:
    case FilterType::kMAC:
      return {"=", "!=", "IN (", "NOTIN ("};
    case FilterType::kBoundary:
    case FilterType::kDirection:
    case FilterType::kEType:
    case FilterType::kPrefix:
    case FilterType::kASPath:
    case FilterType::kCommunity:
    case FilterType::kArrayUInt:
      return {"=", "!="};
    case FilterType::kNone:
      break;
  }
  return {};
}

namespace {

struct ParseFailure {
  size_t offset;
  std::string message;
};

bool identChar(char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string ipLiteral(const IPv6Addr& a) {
  if (a.isV4Mapped()) return fmt::format("toIPv6('::ffff:{}')", a.toString());
  return fmt::format("toIPv6('{}')", a.toString());
}

class Parser {
 public:
  Parser(std::string_view text, const Schema& schema, bool reverse)
      : text_(text), schema_(schema), reverse_(reverse) {}

  std::string parse() {
    skipSpace();
    if (pos_ == text_.size()) return "";
    std::string e = parseOr();
    skipSpace();
    if (pos_ != text_.size()) fail("expecting AND, OR or the end of the filter");
    return e;
  }
  bool mainOnly() const { return main_only_; }

 private:
  [[noreturn]] void fail(std::string message, std::optional<size_t> at = {}) const {
    throw ParseFailure{at.value_or(pos_), std::move(message)};
  }

  void skipSpace() {
    for (;;) {
      while (pos_ < text_.size() && isspace(static_cast<unsigned char>(text_[pos_]))) pos_++;
      if (text_.substr(pos_, 2) == "--") {
        while (pos_ < text_.size() && text_[pos_] != '\n') pos_++;
      } else if (text_.substr(pos_, 2) == "/*") {
        size_t end = text_.find("*/", pos_ + 2);
        if (end == std::string_view::npos) fail("unterminated comment");
        pos_ = end + 2;
      } else {
        return;
      }
    }
  }

  /// Case-insensitive keyword not followed by an identifier character.
  bool keyword(std::string_view kw) {
    if (text_.size() - pos_ < kw.size()) return false;
    if (strncasecmp(text_.data() + pos_, kw.data(), kw.size()) != 0) return false;
    if (pos_ + kw.size() < text_.size() && identChar(text_[pos_ + kw.size()])) return false;
    pos_ += kw.size();
    return true;
  }

  bool literal(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }

  std::string parseOr() {
    std::string e = parseAnd();
    for (;;) {
      skipSpace();
      if (!keyword("OR")) return e;
      skipSpace();
      e = fmt::format("{} OR {}", e, parseAnd());
    }
  }

  std::string parseAnd() {
    std::string e = parseUnit();
    for (;;) {
      skipSpace();
      size_t save = pos_;
      if (!keyword("AND")) {
        pos_ = save;
        return e;
      }
      skipSpace();
      e = fmt::format("{} AND {}", e, parseUnit());
    }
  }

  std::string parseUnit() {
    if (++depth_ > 64) fail("the filter is nested too deeply");
    std::string out;
    skipSpace();
    if (literal("(")) {
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ')') fail("expecting a condition");
      std::string e = parseOr();
      skipSpace();
      if (!literal(")")) fail("expecting \")\"");
      out = fmt::format("({})", e);
    } else if (keyword("NOT")) {
      skipSpace();
      out = fmt::format("NOT ({})", parseUnit());
    } else {
      out = parseCondition();
    }
    depth_--;
    return out;
  }

  // A column name: returns the column (reversed if asked) or nullptr when the word is not one.
  const ColumnDef* columnAt(size_t& end) const {
    size_t p = pos_;
    while (p < text_.size() && isalnum(static_cast<unsigned char>(text_[p]))) p++;
    end = p;
    if (p == pos_) return nullptr;
    const ColumnDef* c = schema_.find(text_.substr(pos_, p - pos_));
    if (!c || !schema_.enabled(c->key) || c->filter == FilterType::kNone) return nullptr;
    return c;
  }

  const ColumnDef& use(const ColumnDef& c) {
    const ColumnDef* r = &c;
    if (reverse_ && c.reverse != ColumnKey::kNone && schema_.enabled(c.reverse))
      r = &schema_.column(c.reverse);
    if (schema_.mainOnly(r->key)) main_only_ = true;
    return *r;
  }

  std::string parseCondition() {
    size_t start = pos_, end;
    const ColumnDef* c = columnAt(end);
    if (!c) {
      if (end == start) fail("expecting a condition (a column name, \"(\" or NOT)");
      fail(fmt::format("unknown column \"{}\"", text_.substr(start, end - start)), start);
    }
    pos_ = end;
    const ColumnDef& col = use(*c);
    skipSpace();
    size_t op_pos = pos_;
    std::string op = parseOperator();
    auto valid = filterOperators(col.filter);
    bool ok = false;
    for (auto& v : valid) {
      std::string base = v.substr(0, v.find(' '));
      if (base == op || (op == "<<" && base == "<<") ) ok = true;
    }
    // `= subnet` and `<< subnet` are the same for IPs.
    if (!ok) {
      std::vector<std::string> names;
      for (auto& v : valid) names.push_back(v.substr(0, v.find(' ')));
      fail(fmt::format("operator {} is not valid for {} (expecting one of {})",
                       op.empty() ? std::string("(none)") : op, c->name, fmt::join(names, ", ")),
           op_pos);
    }
    skipSpace();
    std::string name = fmt::format("`{}`", col.name);
    if (op == "IN" || op == "NOTIN") {
      std::string e = parseList(col, name);
      return op == "NOTIN" ? fmt::format("NOT {}", e) : e;
    }
    return parseValue(col, name, op);
  }

  std::string parseOperator() {
    static const char* kSymbols[] = {"!<<", "<<", "!=", "<=", ">=", "=", "<", ">"};
    for (const char* s : kSymbols)
      if (literal(s)) return s;
    static const char* kWords[] = {"NOTIN", "IN", "IUNLIKE", "UNLIKE", "ILIKE", "LIKE"};
    for (const char* w : kWords)
      if (keyword(w)) return w;
    fail("expecting an operator");
  }

  std::string parseString() {
    if (pos_ >= text_.size() || (text_[pos_] != '"' && text_[pos_] != '\'')) {
      fail("expecting a quoted string");
    }
    char q = text_[pos_];
    size_t start = pos_++;
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != q) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) {
        char n = text_[pos_ + 1];
        if (n == '\'' || n == '"' || n == '\\') {
          out += n;
          pos_ += 2;
          continue;
        }
      }
      out += text_[pos_++];
    }
    if (pos_ >= text_.size()) fail("unterminated string", start);
    pos_++;
    return out;
  }

  /// A bare token: letters, digits and the punctuation of addresses and communities.
  std::string_view token() {
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '.' ||
            text_[pos_] == ':' || text_[pos_] == '/' || text_[pos_] == '-' || text_[pos_] == '_'))
      pos_++;
    return text_.substr(start, pos_ - start);
  }

  uint64_t number(uint64_t max, std::string_view what) {
    size_t start = pos_;
    while (pos_ < text_.size() && isdigit(static_cast<unsigned char>(text_[pos_]))) pos_++;
    if (pos_ == start) fail(fmt::format("expecting {}", what));
    if (pos_ < text_.size() && identChar(text_[pos_])) fail(fmt::format("expecting {}", what), start);
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, v);
    if (ec != std::errc() || v > max)
      fail(fmt::format("{} out of range (0 to {})", text_.substr(start, pos_ - start), max), start);
    return v;
  }

  static uint64_t maxOf(std::string_view type) {
    if (type == "UInt8") return 0xff;
    if (type == "UInt16") return 0xffff;
    if (type == "UInt32") return 0xffffffffull;
    return ~0ull;
  }

  /// Another column of the same class, for column-to-column comparisons.
  const ColumnDef* otherColumn(const ColumnDef& col) {
    size_t end;
    const ColumnDef* c = columnAt(end);
    if (!c) return nullptr;
    if (c->filter != col.filter) return nullptr;
    pos_ = end;
    return &use(*c);
  }

  std::string sqlOp(const std::string& op) const {
    if (op == "<<") return "=";
    if (op == "!<<") return "!=";
    return op;
  }

  std::string parseAsn() {
    size_t save = pos_;
    if (pos_ + 2 <= text_.size() && strncasecmp(text_.data() + pos_, "AS", 2) == 0 &&
        pos_ + 2 < text_.size() && isdigit(static_cast<unsigned char>(text_[pos_ + 2])))
      pos_ += 2;
    (void)save;
    return std::to_string(number(0xffffffffull, "an AS number"));
  }

  std::string parseValue(const ColumnDef& col, const std::string& name, const std::string& op) {
    size_t vpos = pos_;
    std::string o = sqlOp(op);
    switch (col.filter) {
      case FilterType::kIP: {
        std::string_view t = token();
        auto p = IPv6Prefix::parse(t);
        if (t.empty() || !p) fail("expecting an IP address or a subnet", vpos);
        bool neg = o == "!=";
        if (t.find('/') == std::string_view::npos)
          return fmt::format("{} {} {}", name, o, ipLiteral(p->addr));
        return fmt::format("{} {}BETWEEN {}", name, neg ? "NOT " : "", range(*p));
      }
      case FilterType::kPrefix: {
        std::string_view t = token();
        auto p = IPv6Prefix::parse(t);
        if (t.empty() || !p || t.find('/') == std::string_view::npos)
          fail("expecting a subnet", vpos);
        ColumnKey addr = col.key == ColumnKey::kSrcNetPrefix ? ColumnKey::kSrcAddr : ColumnKey::kDstAddr;
        ColumnKey mask = col.key == ColumnKey::kSrcNetPrefix ? ColumnKey::kSrcNetMask : ColumnKey::kDstNetMask;
        // IPv4 masks are stored as IPv4 lengths, also when the prefix is written IPv4-mapped.
        unsigned len = p->addr.isV4Mapped() && p->len >= 96 ? p->len - 96 : p->len;
        std::string e = fmt::format("(`{}` BETWEEN {} AND `{}` = {})", schema_.column(addr).name,
                                    range(*p), schema_.column(mask).name, len);
        return o == "!=" ? fmt::format("NOT {}", e) : e;
      }
      case FilterType::kMAC:
        return fmt::format("{} {} {}", name, o, mac(vpos));
      case FilterType::kString: {
        if (const ColumnDef* other = otherColumn(col)) {
          if (o != "=" && o != "!=") fail("only = and != compare two columns", vpos);
          return fmt::format("{} {} `{}`", name, o, other->name);
        }
        std::string s = sqlQuote(parseString());
        if (o == "LIKE" || o == "ILIKE") return fmt::format("{} {} {}", name, o, s);
        if (o == "UNLIKE") return fmt::format("{} NOT LIKE {}", name, s);
        if (o == "IUNLIKE") return fmt::format("{} NOT ILIKE {}", name, s);
        return fmt::format("{} {} {}", name, o, s);
      }
      case FilterType::kBoundary:
      case FilterType::kDirection: {
        static const char* kBoundary[] = {"external", "internal", "undefined"};
        static const char* kDirection[] = {"ingress", "egress", "undefined"};
        const char** set = col.filter == FilterType::kBoundary ? kBoundary : kDirection;
        for (int i = 0; i < 3; i++)
          if (keyword(set[i])) return fmt::format("{} {} '{}'", name, o, set[i]);
        fail(fmt::format("expecting {}, {} or {}", set[0], set[1], set[2]), vpos);
      }
      case FilterType::kEType:
        if (keyword("IPv4")) return fmt::format("{} {} 2048", name, o);
        if (keyword("IPv6")) return fmt::format("{} {} 34525", name, o);
        fail("expecting IPv4 or IPv6", vpos);
      case FilterType::kUInt: {
        if (const ColumnDef* other = otherColumn(col))
          return fmt::format("{} {} `{}`", name, o, other->name);
        return fmt::format("{} {} {}", name, o, number(maxOf(col.type), "a number or a column"));
      }
      case FilterType::kArrayUInt: {
        uint64_t n = number(0xffffffffull, "a number");
        return fmt::format("{}has({}, {})", o == "!=" ? "NOT " : "", name, n);
      }
      case FilterType::kProto:
        return fmt::format("{} {} {}", name, o, proto(o == "=" || o == "!="));
      case FilterType::kASN: {
        if (const ColumnDef* other = otherColumn(col)) {
          return fmt::format("{} {} `{}`", name, o, other->name);
        }
        return fmt::format("{} {} {}", name, o, parseAsn());
      }
      case FilterType::kASPath: {
        std::string n = parseAsn();
        return fmt::format("{}has({}, {})", o == "!=" ? "NOT " : "", name, n);
      }
      case FilterType::kCommunity: {
        std::string_view t = token();
        uint64_t parts[3];
        int n = 0;
        size_t p = 0;
        bool bad = t.empty();
        while (!bad && p <= t.size() && n < 4) {
          size_t colon = t.find(':', p);
          std::string_view part = t.substr(p, colon == std::string_view::npos ? t.npos : colon - p);
          uint64_t v = 0;
          auto [e, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
          if (part.empty() || ec != std::errc() || e != part.data() + part.size() || n == 3) {
            bad = true;
            break;
          }
          parts[n++] = v;
          if (colon == std::string_view::npos) break;
          p = colon + 1;
        }
        std::string neg = o == "!=" ? "NOT " : "";
        if (!bad && n == 2 && parts[0] <= 0xffff && parts[1] <= 0xffff)
          return fmt::format("{}has({}, {})", neg, name, (parts[0] << 16) | parts[1]);
        if (!bad && n == 3 && parts[0] <= 0xffffffffull && parts[1] <= 0xffffffffull &&
            parts[2] <= 0xffffffffull) {
          ColumnKey large = col.key == ColumnKey::kSrcCommunities ? ColumnKey::kSrcLargeCommunities
                                                                 : ColumnKey::kDstLargeCommunities;
          if (schema_.mainOnly(large)) main_only_ = true;
          return fmt::format(
              "{}has(`{}`, bitShiftLeft(toUInt128({}), 64) + bitShiftLeft(toUInt128({}), 32) + "
              "toUInt128({}))",
              neg, schema_.column(large).name, parts[0], parts[1], parts[2]);
        }
        fail("expecting a community (a:b, 16-bit each, or a:b:c, 32-bit each)", vpos);
      }
      case FilterType::kNone:
        break;
    }
    fail("this column cannot be filtered", vpos);
  }

  static std::string range(const IPv6Prefix& p) {
    IPv6Addr hi = p.addr;
    for (unsigned i = p.len; i < 128; i++) hi.bytes[i / 8] |= uint8_t(0x80 >> (i % 8));
    return fmt::format("{} AND {}", ipLiteral(p.addr), ipLiteral(hi));
  }

  std::string mac(size_t vpos) {
    std::string_view t = token();
    bool ok = t.size() == 17;
    for (size_t i = 0; ok && i < 17; i++)
      ok = (i % 3 == 2) ? t[i] == ':' : isxdigit(static_cast<unsigned char>(t[i])) != 0;
    if (!ok) fail("expecting a MAC address (aa:bb:cc:dd:ee:ff)", vpos);
    std::string m(t);
    for (auto& c : m) c = char(tolower(c));
    return fmt::format("MACStringToNum('{}')", m);
  }

  std::string proto(bool names_allowed) {
    size_t vpos = pos_;
    if (pos_ < text_.size() && isdigit(static_cast<unsigned char>(text_[pos_])))
      return std::to_string(number(255, "a protocol"));
    if (!names_allowed) fail("expecting a protocol number", vpos);
    std::string n;
    if (pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '\'')) {
      n = parseString();
    } else {
      std::string_view t = token();
      n = std::string(t);
    }
    if (n.empty()) fail("expecting a protocol name or number", vpos);
    int v = protocolNumber(n);
    if (v < 0) fail(fmt::format("unknown protocol \"{}\"", n), vpos);
    return std::to_string(v);
  }

  std::string parseList(const ColumnDef& col, const std::string& name) {
    if (!literal("(")) fail("expecting \"(\"");
    std::vector<std::string> values;
    std::vector<std::string> ranges;
    for (;;) {
      skipSpace();
      size_t vpos = pos_;
      switch (col.filter) {
        case FilterType::kIP: {
          std::string_view t = token();
          auto p = IPv6Prefix::parse(t);
          if (t.empty() || !p) fail("expecting an IP address or a subnet", vpos);
          if (t.find('/') == std::string_view::npos) values.push_back(ipLiteral(p->addr));
          else ranges.push_back(fmt::format("{} BETWEEN {}", name, range(*p)));
          break;
        }
        case FilterType::kString:
          values.push_back(sqlQuote(parseString()));
          break;
        case FilterType::kUInt:
          values.push_back(std::to_string(number(maxOf(col.type), "a number")));
          break;
        case FilterType::kProto:
          values.push_back(proto(true));
          break;
        case FilterType::kASN:
          values.push_back(parseAsn());
          break;
        case FilterType::kMAC:
          values.push_back(mac(vpos));
          break;
        default:
          fail("IN is not valid for this column", vpos);
      }
      skipSpace();
      if (literal(")")) break;
      if (!literal(",")) fail("expecting \",\" or \")\"");
    }
    std::vector<std::string> parts;
    if (!values.empty()) parts.push_back(fmt::format("{} IN ({})", name, fmt::join(values, ", ")));
    for (auto& r : ranges) parts.push_back(r);
    return fmt::format("({})", fmt::join(parts, " OR "));
  }

  std::string_view text_;
  const Schema& schema_;
  bool reverse_;
  bool main_only_ = false;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

bool compileFilter(std::string_view text, const Schema& schema, CompiledFilter& out,
                   FilterError& error) {
  try {
    Parser direct(text, schema, false);
    out.sql = direct.parse();
    Parser reverse(text, schema, true);
    out.reverse_sql = reverse.parse();
    out.main_only = direct.mainOnly() || reverse.mainOnly();
    return true;
  } catch (const ParseFailure& f) {
    error.message = f.message;
    error.offset = int(f.offset);
    error.line = 1;
    error.column = 1;
    for (size_t i = 0; i < f.offset && i < text.size(); i++) {
      if (text[i] == '\n') {
        error.line++;
        error.column = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
        error.column++;
      }
    }
    return false;
  }
}

}  // namespace akvo::console
