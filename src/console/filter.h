#pragma once
/// The console's filter language (Akvorado's): SQL-like boolean expressions over the schema's
/// columns, e.g. `InIfBoundary = external AND SrcAS IN (AS15169, 36040)`. A hand-written
/// recursive-descent parser checks each value against its column's class and compiles the
/// expression into a ClickHouse WHERE expression. Every value is validated and re-emitted in a
/// canonical form (numbers, addresses, escaped string literals), so no input reaches the SQL
/// unescaped. docs/04-filter-language.md is the user's reference.
#include <string>
#include <string_view>
#include <vector>

#include "common/schema.h"

namespace akvo::console {

/// One parse error, positioned (line and column from 1, offset in bytes from 0).
struct FilterError {
  std::string message;
  int line = 1;
  int column = 1;
  int offset = 0;
};

/// A compiled filter: the direct expression and its reverse (Src<->Dst, In<->Out) for
/// bidirectional graphs. An empty filter compiles to empty strings (no condition).
struct CompiledFilter {
  std::string sql;
  std::string reverse_sql;
  /// A column only present in the raw table is used: the query must read `flows`.
  bool main_only = false;
};

/// Compiles `text` against the enabled columns of `schema`. On error returns false and fills
/// `error` (the first error found).
bool compileFilter(std::string_view text, const Schema& schema, CompiledFilter& out,
                   FilterError& error);

/// The operators the language accepts for a column class (for completion), in display order.
std::vector<std::string> filterOperators(FilterType type);

/// A ClickHouse string literal for `s`: single quotes, backslash escapes, control bytes as
/// \xHH. Safe for any input.
std::string sqlQuote(std::string_view s);

/// Protocol number for a name ("tcp", "IPv6-ICMP", case-insensitive), -1 when unknown.
int protocolNumber(std::string_view name);

}  // namespace akvo::console
