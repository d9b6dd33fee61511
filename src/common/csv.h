#pragma once
/// A CSV reader (RFC 4180: comma-separated, fields optionally in double quotes, "" for a quote
/// inside quotes, CRLF or LF line ends), for configuration data such as custom dictionaries.
/// Records are read one at a time from text held by the caller.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace akvo {

class CsvParser {
 public:
  explicit CsvParser(std::string_view text) : text_(text) {}
  /// The next record's fields in `out`; false at the end. Blank lines are skipped. Throws
  /// std::runtime_error naming the line on an unterminated quote.
  bool next(std::vector<std::string>& out);
  /// The line (from 1) the last record started on.
  size_t line() const { return record_line_; }

 private:
  std::string_view text_;
  size_t pos_ = 0, line_ = 1, record_line_ = 0;
};

/// Reads the file `path` whole; throws std::runtime_error naming it when it cannot.
std::string readTextFile(const std::string& path);

}  // namespace akvo
