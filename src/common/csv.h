#pragma once
/// A CSV reader (RFC 4180: fields separated by commas (or `sep`), optionally in double quotes,
/// "" for a quote inside quotes, a quoted field may span lines, CRLF or LF line ends), for
/// configuration data (custom dictionaries) and remote sources. Records are read one at a time
/// from text held by the caller.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace akvo {

class CsvParser {
 public:
  /// `trim`: spaces and tabs around unquoted fields are dropped (a quote after them still opens
  /// a quoted field), and lines of only spaces are blank.
  explicit CsvParser(std::string_view text, char sep = ',', bool trim = false)
      : text_(text), sep_(sep), trim_(trim) {}
  /// The next record's fields in `out`; false at the end. Blank lines are skipped. Throws
  /// std::runtime_error naming the line on an unterminated quote.
  bool next(std::vector<std::string>& out);
  /// The line (from 1) the last record started on.
  size_t line() const { return record_line_; }

 private:
  bool record(std::vector<std::string>& out);
  std::string_view text_;
  char sep_;
  bool trim_;
  size_t pos_ = 0, line_ = 1, record_line_ = 0;
  bool quoted_last_ = false;  // the record's last field was quoted
};

/// Reads the file `path` whole; throws std::runtime_error naming it when it cannot.
std::string readTextFile(const std::string& path);

}  // namespace akvo
