#pragma once
/// The console's query builder: a graph request (time range, dimensions, filter, units...)
/// becomes SQL on the smallest table that can answer it, and the rows that come back become
/// the JSON shapes of Akvorado's /graph/line and /graph/sankey (docs/03-console-api.md).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/schema.h"
#include "orchestrator/clickhouse.h"

namespace akvo::console {

/// Runs a query on the store and returns its output in `format`; throws StoreError.
using QueryFn = std::function<std::string(const std::string& sql, const std::string& format)>;

enum class LimitType { kAvg, kMax, kLast };

/// A graph request, validated (HttpError 400 naming the field otherwise).
struct GraphRequest {
  int64_t start = 0;  ///< unix seconds
  int64_t end = 0;
  std::vector<ColumnKey> dimensions;
  int64_t limit = 10;
  LimitType limit_type = LimitType::kAvg;
  std::string filter;
  std::string units = "l3bps";
  int64_t points = 200;
  bool bidirectional = false;
  bool previous_period = false;
  int64_t truncate_v4 = 32;
  int64_t truncate_v6 = 128;

  /// From the request body. `line` enables `points` and `previous-period`.
  static GraphRequest fromJson(const nlohmann::json& body, const Schema& schema,
                               int64_t dimensions_limit, bool line);
};

/// One table the console can read, with what it knows about its data.
struct TableInfo {
  std::string name;
  int64_t resolution = 0;  ///< seconds, 0 for the raw table
  int64_t ttl = 0;         ///< seconds, 0 for forever
  int64_t oldest = 0;      ///< oldest row (unix seconds); INT64_MAX when empty
};

struct TableChoice {
  std::string table;
  int64_t resolution = 1;  ///< seconds (at least 1)
  int64_t interval = 1;    ///< bucket width, a multiple of resolution
};

/// The flows tables of `resolutions` with their oldest row (one query per table).
std::vector<TableInfo> readTables(const std::vector<Resolution>& resolutions, const QueryFn& query);

/// Picks the table for [start, end) with `points` buckets: `flows` when `main_only`, else the
/// coarsest table covering `start` whose resolution fits (end - start) / points.
TableChoice chooseTable(const std::vector<TableInfo>& tables, int64_t start, int64_t end,
                        int64_t points, bool main_only, int64_t now);

/// The table a query reads, for the console's metrics (bounded labels): the first of `tables`
/// named after a FROM (the graph queries read their table in a subquery), "other" when none is
/// (dictionaries, system tables).
std::string queriedTable(std::string_view sql, const std::vector<std::string>& tables);

/// Parses RFC 3339 ("2026-11-27T00:00:00Z", "+01:00" offsets, fractions); throws
/// std::invalid_argument.
int64_t parseRfc3339(const std::string& text);
std::string formatRfc3339(int64_t t);

/// Builds and runs graph queries against the tables of a ClickHouse configuration.
class GraphBuilder {
 public:
  /// `tables` returns the current table list (resolutions and oldest rows).
  GraphBuilder(const Schema& schema, QueryFn query, std::function<std::vector<TableInfo>()> tables);

  struct Result {
    nlohmann::json body;
    std::vector<std::string> sql;  ///< every query that ran
  };
  /// /graph/line. `now` (unix seconds) for table coverage.
  Result line(const GraphRequest& req, int64_t now);
  /// /graph/sankey.
  Result sankey(const GraphRequest& req, int64_t now);
  /// /graph/table-interval.
  TableChoice tableFor(const GraphRequest& req, int64_t now);

  /// SQL expression rendering a column's value for display (AS names, protocols...).
  static std::string displayExpr(const ColumnDef& col, const std::string& value);

 private:
  struct Series {
    std::vector<std::string> row;
    std::vector<double> points;
    int axis = 1;
  };
  std::vector<Series> lineAxis(const GraphRequest& req, bool reverse, int64_t shift,
                               const TableChoice& choice, int64_t start, int64_t buckets,
                               std::vector<std::string>& sql);
  std::string dimensionExpr(ColumnKey k, const GraphRequest& req) const;
  static std::string unitExpr(const std::string& units);

  const Schema& schema_;
  QueryFn query_;
  std::function<std::vector<TableInfo>()> tables_;
};

/// Statistics the line graph reports per series.
struct SeriesStats {
  double average = 0, min = 0, max = 0, last = 0, p95 = 0, sum = 0;
};
SeriesStats seriesStats(const std::vector<double>& points);
/// The shift of the previous-period series for a range and its name ("hour", "day", "week",
/// "month" (4 weeks), "year"), as Akvorado chooses them.
std::pair<int64_t, std::string> previousPeriod(int64_t start, int64_t end);
/// SQL rendering a port column (`port`, an expression) as Akvorado: "443/https" for TCP and UDP
/// with the service name of the `tcp` or `udp` dictionary, "443" without one or for another
/// protocol. Reads the row's Proto.
std::string portExpr(const std::string& port);

}  // namespace akvo::console
