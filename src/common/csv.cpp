#include "common/csv.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace akvo {

bool CsvParser::next(std::vector<std::string>& out) {
  // With trim, a record of one empty unquoted field was a line of spaces: blank too.
  while (record(out))
    if (!trim_ || out.size() > 1 || !out[0].empty() || quoted_last_) return true;
  return false;
}

bool CsvParser::record(std::vector<std::string>& out) {
  out.clear();
  // Blank lines are no records.
  while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\n') line_++;
    pos_++;
  }
  if (pos_ >= text_.size()) return false;
  record_line_ = line_;
  std::string field;
  bool quoted = false, was_quoted = false;
  auto endField = [&] {
    if (trim_ && !was_quoted) {
      size_t b = field.find_first_not_of(" \t"), e = field.find_last_not_of(" \t");
      field = b == std::string::npos ? "" : field.substr(b, e - b + 1);
    }
    quoted_last_ = was_quoted;
    out.push_back(std::move(field));
    field.clear();
    was_quoted = false;
  };
  while (pos_ < text_.size()) {
    char c = text_[pos_++];
    if (quoted) {
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field += '"';
          pos_++;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') line_++;
        field += c;
      }
      continue;
    }
    if (trim_ && was_quoted && (c == ' ' || c == '\t')) continue;  // after the closing quote
    const bool blank = field.empty() || (trim_ && field.find_first_not_of(" \t") == std::string::npos);
    if (c == '"' && blank && !was_quoted) {
      field.clear();
      quoted = was_quoted = true;
    } else if (c == sep_) {
      endField();
    } else if (c == '\n') {
      line_++;
      break;
    } else if (c == '\r') {
      if (pos_ < text_.size() && text_[pos_] == '\n') continue;
      break;
    } else {
      field += c;
    }
  }
  if (quoted) throw std::runtime_error(fmt::format("line {}: unterminated quote", record_line_));
  endField();
  return true;
}

std::string readTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace akvo
