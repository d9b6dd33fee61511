#include "console/query.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "common/http_server.h"
#include "console/filter.h"
#include "console/test_flows.h"
#include "testing/test_store.h"

namespace akvo::console {
namespace {

using nlohmann::json;

TEST(ConsoleQuery, Rfc3339) {
  EXPECT_EQ(parseRfc3339("2026-11-27T00:00:00Z"), 1795737600);
  EXPECT_EQ(parseRfc3339("2026-11-27T01:00:00+01:00"), 1795737600);
  EXPECT_EQ(parseRfc3339("2026-11-27T00:00:00.123Z"), 1795737600);
  EXPECT_EQ(formatRfc3339(1795737600), "2026-11-27T00:00:00Z");
  EXPECT_THROW(parseRfc3339("yesterday"), std::invalid_argument);
  EXPECT_THROW(parseRfc3339("2026-11-27T00:00:00"), std::invalid_argument);
  EXPECT_THROW(parseRfc3339("2026-02-31T00:00:00Z"), std::invalid_argument);  // not March 3
  EXPECT_THROW(parseRfc3339("2026-02-29T00:00:00Z"), std::invalid_argument);
  EXPECT_EQ(parseRfc3339("2028-02-29T00:00:00Z"), 1835395200);  // a leap year
  EXPECT_THROW(parseRfc3339("0001-01-01T00:00:00Z"), std::invalid_argument);
  EXPECT_THROW(parseRfc3339("2200-01-01T00:00:00Z"), std::invalid_argument);
}

TEST(ConsoleQuery, SeriesStats) {
  std::vector<double> p = {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
  SeriesStats s = seriesStats(p);
  EXPECT_DOUBLE_EQ(s.average, 50);
  EXPECT_DOUBLE_EQ(s.min, 10);  // smallest non-zero
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.last, 90);  // second-to-last: the last bucket is partial
  EXPECT_DOUBLE_EQ(s.p95, 95);   // linear interpolation between 90 and 100
  EXPECT_DOUBLE_EQ(seriesStats({7}).last, 7);
}

TEST(ConsoleQuery, PreviousPeriodAsAkvorado) {
  const int64_t t = 1795737600, h = 3600, d = 86400;
  EXPECT_EQ(previousPeriod(t, t + 90 * 60).second, "hour");  // under 2 hours
  EXPECT_EQ(previousPeriod(t, t + 2 * h).second, "day");
  EXPECT_EQ(previousPeriod(t, t + 47 * h).first, d);
  EXPECT_EQ(previousPeriod(t, t + 2 * d).second, "week");
  EXPECT_EQ(previousPeriod(t, t + 13 * d).first, 7 * d);
  EXPECT_EQ(previousPeriod(t, t + 30 * d), std::make_pair(28 * d, std::string("month")));
  EXPECT_EQ(previousPeriod(t, t + 56 * d).second, "year");
  EXPECT_EQ(previousPeriod(t, t + 90 * d).first, 365 * d);  // 2025-11-27 to 2026-11-27
}

std::vector<TableInfo> tables(int64_t oldest) {
  return {{"flows", 0, 15 * 86400, oldest},
          {"flows_1m0s", 60, 7 * 86400, oldest},
          {"flows_5m0s", 300, 90 * 86400, oldest},
          {"flows_1h0m0s", 3600, 0, oldest}};
}

// OBS-3: the table label of a query: the flows table it reads, whatever the nesting.
TEST(ConsoleQuery, QueriedTable) {
  const std::vector<std::string> t = {"flows", "flows_1m0s", "flows_5m0s", "flows_1h0m0s"};
  EXPECT_EQ(queriedTable("SELECT count() FROM flows WHERE 1", t), "flows");
  EXPECT_EQ(queriedTable("SELECT 1 FROM `flows_1m0s`", t), "flows_1m0s");
  EXPECT_EQ(queriedTable("WITH top AS (SELECT a FROM flows_5m0s GROUP BY a) SELECT b FROM (SELECT "
                         "x FROM flows_5m0s)", t), "flows_5m0s");
  EXPECT_EQ(queriedTable("select x\nfrom\tflows_1h0m0s\n", t), "flows_1h0m0s");
  EXPECT_EQ(queriedTable("SELECT fromage FROM (SELECT 1 AS fromage) UNION ALL SELECT 2 FROM flows", t), "flows");
  EXPECT_EQ(queriedTable("SELECT name FROM system.tables WHERE name = 'flows'", t), "other");
  EXPECT_EQ(queriedTable("SELECT dictGet('asns', 'name', 1) FROM asns_data", t), "other");
  EXPECT_EQ(queriedTable("SELECT 1 FROM flows_raw_errors", t), "other");  // not ours: no label
  EXPECT_EQ(queriedTable("SELECT 1 FROM", t), "other");
  EXPECT_EQ(queriedTable("", t), "other");
}

TEST(ConsoleQuery, TableChoice) {
  int64_t now = 1795737600;
  // 6 hours, 200 points: 108 s per point, the 1-minute table fits; interval 120 s.
  auto c = chooseTable(tables(0), now - 6 * 3600, now, 200, false, now);
  EXPECT_EQ(c.table, "flows_1m0s");
  EXPECT_EQ(c.resolution, 60);
  EXPECT_EQ(c.interval, 120);
  // 30 days: 12960 s per point; the 1-minute table's TTL does not reach, hourly fits.
  c = chooseTable(tables(0), now - 30 * 86400, now, 200, false, now);
  EXPECT_EQ(c.table, "flows_1h0m0s");
  EXPECT_EQ(c.interval, 14400);
  // 1 hour at 200 points: 18 s, only the raw table is fine enough.
  c = chooseTable(tables(0), now - 3600, now, 200, false, now);
  EXPECT_EQ(c.table, "flows");
  EXPECT_EQ(c.resolution, 1);
  EXPECT_EQ(c.interval, 18);
  // A main-only column forces the raw table.
  c = chooseTable(tables(0), now - 30 * 86400, now, 200, true, now);
  EXPECT_EQ(c.table, "flows");
  // 10 days: the raw table's TTL (15 d) covers it, the 1-minute one does not: 5-minute fits.
  c = chooseTable(tables(0), now - 10 * 86400, now, 200, false, now);
  EXPECT_EQ(c.table, "flows_1h0m0s");
  c = chooseTable(tables(0), now - 10 * 86400, now, 2000, false, now);
  EXPECT_EQ(c.table, "flows_5m0s");
  // Nothing covers the start: every table holds the same recent data, the resolution decides.
  std::vector<TableInfo> t = tables(now - 3600);
  t[3].oldest = now - 1800;
  c = chooseTable(t, now - 86400, now, 200, false, now);
  EXPECT_EQ(c.table, "flows_5m0s");
  // A young store (minutes of data; hourly buckets look older by rounding): one hour at 100
  // points is drawn from the raw table, not from two hourly points.
  t = tables(now - 300);
  t[3].oldest = now / 3600 * 3600;
  t[2].oldest = now / 300 * 300;
  c = chooseTable(t, now - 3600, now, 100, false, now);
  EXPECT_EQ(c.table, "flows");
  EXPECT_EQ(c.interval, 36);
  // Started 12 s ago, 28 minutes into the hour: the hourly table's first bucket (the start of
  // the hour) is older than the range, but partial; the last 10 minutes at 10 points come
  // from the 1-minute table.
  const int64_t later = now + 28 * 60, first = later - 12;
  t = tables(first);
  t[1].oldest = first / 60 * 60;
  t[2].oldest = first / 300 * 300;
  t[3].oldest = first / 3600 * 3600;
  c = chooseTable(t, later - 600, later, 10, false, later);
  EXPECT_EQ(c.table, "flows_1m0s");
  EXPECT_EQ(c.interval, 60);
}

TEST(ConsoleQuery, RequestValidation) {
  Schema schema;
  auto bad = [&](const char* body) {
    try {
      GraphRequest::fromJson(json::parse(body), schema, 50, true);
    } catch (const HttpError& e) {
      EXPECT_EQ(e.status, 400);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(bad(R"({"end":"2026-11-27T00:00:00Z"})"), "missing \"start\"");
  EXPECT_EQ(bad(R"({"start":"2026-11-27T00:00:00Z","end":"2026-11-26T00:00:00Z"})"),
            "\"end\" must be after \"start\"");
  EXPECT_EQ(bad(R"({"start":"2026-11-26T00:00:00Z","end":"2026-11-27T00:00:00Z","dimensions":["Nope"]})"),
            "unknown dimension \"Nope\"");
  EXPECT_EQ(bad(R"({"start":"2026-11-26T00:00:00Z","end":"2026-11-27T00:00:00Z","limit":51})"),
            "\"limit\" must be between 1 and 50");
  EXPECT_EQ(bad(R"({"start":"2026-11-26T00:00:00Z","end":"2026-11-27T00:00:00Z","units":"bps"})"),
            "\"units\" must be one of l3bps, l2bps, pps, fps, inl2%, outl2%");
  EXPECT_EQ(bad(R"({"start":"2026-11-26T00:00:00Z","end":"2026-11-27T00:00:00Z","points":3})"),
            "\"points\" must be between 5 and 2000");
  EXPECT_EQ(bad(R"({"start":"2026-11-26T00:00:00Z","end":"2026-11-27T00:00:00Z","limitType":"min"})"),
            "\"limitType\" must be avg, max or last");
  auto r = GraphRequest::fromJson(
      json::parse(R"({"start":"2026-11-26T00:00:00Z","end":"2026-11-27T00:00:00Z",
        "dimensions":["srcas","InIfProvider"],"limit":5,"limitType":"max","units":"pps",
        "bidirectional":true,"previous-period":true,"truncate-v4":24})"),
      schema, 50, true);
  EXPECT_EQ(r.dimensions, (std::vector<ColumnKey>{ColumnKey::kSrcAS, ColumnKey::kInIfProvider}));
  EXPECT_EQ(r.limit, 5);
  EXPECT_EQ(r.limit_type, LimitType::kMax);
  EXPECT_TRUE(r.bidirectional && r.previous_period);
  EXPECT_EQ(r.truncate_v4, 24);
}

/// A store with the akvo schema and a known data set: 24,000 flows over two hours from T0,
/// 3 exporters, 13 source ASes, 7 destination ASes, sampling rate 10. Interface attributes
/// (boundary, provider, speed) depend on the interface only, as on real routers: consolidated
/// tables do not sort on them.
class ConsoleStore : public ::testing::Test {
 protected:
  static constexpr int64_t kT0 = 1795730400;  // 2026-11-26T22:00:00Z
  static constexpr int kRows = 24000;

  void SetUp() override {
#ifdef AKVO_SANITIZE
    GTEST_SKIP() << "needs chDB: runs in the Release build";
#endif
    conn_ = testing::freshDatabase();
    Metrics metrics;
    Migrations m(config_, schema_, *conn_, metrics);
    m.run();
    insertTestFlows(*conn_, kT0, kRows);
    m.consolidateFromRaw();
    builder_ = std::make_unique<GraphBuilder>(
        schema_, [this](const std::string& sql, const std::string& fmt) { return conn_->query(sql, fmt); },
        [this] {
          return readTables(config_.resolutions, [this](const std::string& sql, const std::string& f) {
            return conn_->query(sql, f);
          });
        });
  }

  GraphRequest request(const std::string& extra) {
    return GraphRequest::fromJson(
        json::parse(fmt::format(R"({{"start":"{}","end":"{}"{}}})", formatRfc3339(kT0),
                                formatRfc3339(kT0 + 7200), extra)),
        schema_, 50, true);
  }

  double scalar(const std::string& sql) { return std::stod(conn_->query(sql, "TSV")); }

  /// Direct per-bucket totals from the raw table.
  std::map<int64_t, double> direct(const std::string& value, const std::string& where,
                                   int64_t start, int64_t interval) {
    std::map<int64_t, double> out;
    std::string r = conn_->query(
        fmt::format("SELECT intDiv(toUInt32(TimeReceived) - {0}, {1}) AS b, sum({2}) / {1} FROM flows "
                    "WHERE TimeReceived >= toDateTime({0}) AND TimeReceived < toDateTime({3}) AND ({4}) "
                    "GROUP BY b ORDER BY b",
                    start, interval, value, start + 7200, where),
        "TSV");
    std::istringstream in(r);
    int64_t b;
    double v;
    while (in >> b >> v) out[b] = v;
    return out;
  }

  ClickHouseConfig config_;
  Schema schema_;
  std::unique_ptr<StoreConnection> conn_;
  std::unique_ptr<GraphBuilder> builder_;
  int64_t now_ = kT0 + 3 * 3600;
};

double sumAxisAt(const json& body, int axis, size_t j) {
  double s = 0;
  for (size_t i = 0; i < body["rows"].size(); i++)
    if (body["axis"][i] == axis) s += body["points"][i][j].get<double>();
  return s;
}

TEST_F(ConsoleStore, LineTopNPlusOtherIsTheTotal) {
  auto req = request(R"(,"dimensions":["SrcAS"],"limit":5,"points":24,"filter":"InIfBoundary = external")");
  auto res = builder_->line(req, now_);
  const json& b = res.body;
  EXPECT_EQ(b["table"], "flows_5m0s");
  EXPECT_EQ(b["interval"], 300);
  ASSERT_EQ(b["t"].size(), 24u);
  EXPECT_EQ(b["t"][0], formatRfc3339(kT0));
  ASSERT_EQ(b["rows"].size(), 6u);
  EXPECT_EQ(b["rows"][5], json::array({"Other"}));
  // The top 5 are the direct SQL's top 5, in order.
  std::string top = conn_->query(
      "SELECT concat(toString(SrcAS), ': ', dictGetOrDefault('asns', 'name', toUInt64(SrcAS), '?\?\?')) "
      "FROM flows WHERE InIfBoundary = 'external' GROUP BY SrcAS ORDER BY sum(Bytes * SamplingRate) "
      "DESC, SrcAS LIMIT 5",
      "TSVRaw");
  std::istringstream in(top);
  std::string line;
  for (size_t i = 0; std::getline(in, line); i++) EXPECT_EQ(b["rows"][i][0], line) << i;
  auto want = direct("Bytes * SamplingRate * 8", "InIfBoundary = 'external'", kT0, 300);
  ASSERT_EQ(want.size(), 24u);
  for (size_t j = 0; j < 24; j++)
    EXPECT_NEAR(sumAxisAt(b, 1, j), want[int64_t(j)], 6.0) << "bucket " << j;
  // Statistics against ClickHouse's own computation of the first series.
  double p95 = scalar(fmt::format(
      "SELECT quantileExactInclusive(0.95)(v) FROM (SELECT round(sum(Bytes * SamplingRate * 8) / 300) AS v "
      "FROM flows WHERE InIfBoundary = 'external' AND concat(toString(SrcAS), ': ', "
      "dictGetOrDefault('asns', 'name', toUInt64(SrcAS), '?\?\?')) = {} GROUP BY intDiv(toUInt32(TimeReceived) - {}, 300))",
      sqlQuote(b["rows"][0][0].get<std::string>()), kT0));
  EXPECT_NEAR(b["95th"][0].get<double>(), p95, 1.0);
  double total_bytes = scalar(
      "SELECT sum(Bytes * SamplingRate) FROM flows WHERE InIfBoundary = 'external'");
  double sum_total = 0;
  for (const auto& t : b["total"]) sum_total += t.get<double>();
  EXPECT_NEAR(sum_total, total_bytes, total_bytes * 1e-4);
  EXPECT_EQ(res.sql.size(), 1u);
}

// limitType "last" ranks on the range's final bucket, as Akvorado does (it used to take the
// one before it).
TEST_F(ConsoleStore, LimitTypeLastRanksOnTheFinalBucket) {
  auto top2 = [&](int64_t from) {
    std::string r = conn_->query(
        fmt::format("SELECT toString(SrcAS) FROM flows WHERE TimeReceived >= toDateTime({}) AND "
                    "TimeReceived < toDateTime({}) GROUP BY SrcAS ORDER BY sum(Bytes * SamplingRate) "
                    "DESC, SrcAS LIMIT 2",
                    from, from + 300),
        "TSV");
    std::set<std::string> out;
    std::istringstream in(r);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  // AS 65999 sends only in the final bucket, more than anyone there, less than the top 2 over
  // the whole range. Raw rows only: the filter on DstPort keeps the query on the raw table.
  conn_->query(fmt::format("INSERT INTO flows (TimeReceived, SamplingRate, SrcAS, DstPort, Bytes, "
                           "Packets) VALUES (toDateTime({}), 10, 65999, 80, 200000, 100)",
                           kT0 + 7200 - 100),
               "TSV");
  auto final_top = top2(kT0 + 7200 - 300), before_top = top2(kT0 + 7200 - 600);
  ASSERT_TRUE(final_top.count("65999"));
  ASSERT_NE(final_top, before_top);
  auto b = builder_->line(
      request(R"(,"dimensions":["SrcAS"],"limit":2,"limitType":"last","points":24,"filter":"DstPort > 0")"),
      now_).body;
  ASSERT_EQ(b["table"], "flows");
  ASSERT_EQ(b["rows"].size(), 3u);
  std::set<std::string> got;
  for (size_t i = 0; i < 2; i++) {
    std::string name = b["rows"][i][0].get<std::string>();
    got.insert(name.substr(0, name.find(':')));
  }
  EXPECT_EQ(got, final_top);
}

TEST_F(ConsoleStore, LimitTypesAndRawTable) {
  for (const char* lt : {"avg", "max", "last"}) {
    auto req = request(fmt::format(R"(,"dimensions":["DstPort","Proto"],"limit":2,"limitType":"{}","points":200)", lt));
    auto res = builder_->line(req, now_);
    EXPECT_EQ(res.body["table"], "flows");  // DstPort is main-table only
    // avg on the raw table ranks with topKWeighted, as Akvorado (bounded memory).
    EXPECT_EQ(res.sql[0].find("topKWeighted") != std::string::npos, std::string(lt) == "avg") << res.sql[0];
    ASSERT_EQ(res.body["rows"].size(), 3u) << lt;
    EXPECT_EQ(res.body["rows"][2], json::array({"Other", "Other"}));
    auto want = direct("Bytes * SamplingRate * 8", "1", kT0, res.body["interval"].get<int64_t>());
    for (size_t j = 0; j < res.body["t"].size(); j++)
      EXPECT_NEAR(sumAxisAt(res.body, 1, j), want[int64_t(j)], 3.0);
  }
}

// Ports as Akvorado shows them: "443/https" for TCP and UDP with the tcp and udp dictionaries'
// names, the number alone without one (UDP 80 here). Series are the shown values: TCP and UDP
// 443 are one "443/https".
TEST_F(ConsoleStore, PortsShowTheirServiceName) {
  auto res = builder_->line(request(R"(,"dimensions":["DstPort"],"limit":10,"points":24)"), now_);
  const json& b = res.body;
  std::map<std::string, double> got;
  for (size_t i = 0; i < b["rows"].size(); i++) got[b["rows"][i][0]] = b["average"][i];
  ASSERT_EQ(got.size(), 3u) << b["rows"];
  ASSERT_TRUE(got.count("443/https") && got.count("80/http") && got.count("80")) << b["rows"];
  auto bps = [&](const char* where) {
    return scalar(fmt::format("SELECT sum(Bytes * SamplingRate * 8) / 7200 FROM flows WHERE {}", where));
  };
  EXPECT_NEAR(got["443/https"], bps("DstPort = 443"), 1.0);
  EXPECT_NEAR(got["80/http"], bps("DstPort = 80 AND Proto = 6"), 1.0);
  EXPECT_NEAR(got["80"], bps("DstPort = 80 AND Proto = 17"), 1.0);
  // The reverse direction shows the source ports the same way (1024 to 1123: 1080/socks...).
  auto bi = builder_->line(request(R"x(,"dimensions":["DstPort"],"points":24,"bidirectional":true,"filter":"DstPort IN (1024, 1080)")x"), now_).body;
  std::set<std::string> reverse;
  for (size_t i = 0; i < bi["rows"].size(); i++)
    if (bi["axis"][i] == 2) reverse.insert(bi["rows"][i][0]);
  EXPECT_EQ(reverse, (std::set<std::string>{"1024", "1080/socks", "1080"})) << bi["rows"];  // 1080/udp: none
  // Sankey: the same values.
  auto sk = builder_->sankey(request(R"(,"dimensions":["Proto","DstPort"],"limit":10)"), now_).body;
  std::set<std::string> nodes;
  for (const auto& n : sk["nodes"]) nodes.insert(n["name"]);
  EXPECT_TRUE(nodes.count("DstPort: 443/https") && nodes.count("DstPort: 80")) << sk["nodes"];
  // Other protocols: the number only.
  EXPECT_EQ(conn_->query(fmt::format("SELECT {} FROM (SELECT 1 AS Proto, 443 AS p)", portExpr("p")), "TSVRaw"), "443\n");
}

// TCP flags as Akvorado shows them: tcpdump's letters, "." for ACK.
TEST_F(ConsoleStore, TCPFlagsShowAsLetters) {
  auto show = [&](int flags) {
    std::string out = conn_->query(
        fmt::format("SELECT {}", GraphBuilder::displayExpr(columnDef(ColumnKey::kTCPFlags),
                                                           fmt::format("toUInt16({})", flags))),
        "TSVRaw");
    return out.substr(0, out.find('\n'));
  };
  EXPECT_EQ(show(2), "S");
  EXPECT_EQ(show(18), "S.");
  EXPECT_EQ(show(17), "F.");
  EXPECT_EQ(show(4 | 16), "R.");
  EXPECT_EQ(show(1 | 2 | 4 | 8 | 16 | 32 | 64 | 128 | 256), "FSRP.UECN");
  EXPECT_EQ(show(0), "");
}

TEST_F(ConsoleStore, L2AndPacketUnits) {
  auto l3 = builder_->line(request(R"(,"points":24)"), now_).body;
  auto l2 = builder_->line(request(R"(,"points":24,"units":"l2bps")"), now_).body;
  auto pps = builder_->line(request(R"(,"points":24,"units":"pps")"), now_).body;
  auto packets = direct("Packets * SamplingRate", "1", kT0, 300);
  for (size_t j = 0; j < 24; j++) {
    EXPECT_NEAR(pps["points"][0][j].get<double>(), packets[int64_t(j)], 1.0);
    // l2 adds 38 bytes per packet.
    EXPECT_NEAR(l2["points"][0][j].get<double>() - l3["points"][0][j].get<double>(),
                packets[int64_t(j)] * 38 * 8, 2.0);
  }
  EXPECT_EQ(l3["rows"], json::array({json::array()}));
}

TEST_F(ConsoleStore, Bidirectional) {
  auto req = request(
      R"(,"dimensions":["SrcAS"],"limit":3,"points":24,"bidirectional":true,"filter":"InIfBoundary = external")");
  auto b = builder_->line(req, now_).body;
  EXPECT_EQ(b["axis-names"]["2"], "Reverse");
  auto reverse = direct("Bytes * SamplingRate * 8", "OutIfBoundary = 'external'", kT0, 300);
  size_t reverse_series = 0;
  for (size_t i = 0; i < b["axis"].size(); i++)
    if (b["axis"][i] == 2) {
      reverse_series++;
      // Reverse rows are destination ASes.
      if (b["rows"][i][0] != "Other") {
        EXPECT_EQ(b["rows"][i][0].get<std::string>().substr(0, 3), "650");
      }
    }
  EXPECT_EQ(reverse_series, 4u);
  for (size_t j = 0; j < 24; j++) EXPECT_NEAR(sumAxisAt(b, 2, j), reverse[int64_t(j)], 4.0);
}

TEST_F(ConsoleStore, PreviousPeriod) {
  // The second hour, compared with the first one.
  auto req = GraphRequest::fromJson(
      json::parse(fmt::format(R"({{"start":"{}","end":"{}","points":12,"previous-period":true,"dimensions":["SrcAS"]}})",
                              formatRfc3339(kT0 + 3600), formatRfc3339(kT0 + 7200))),
      schema_, 50, true);
  auto b = builder_->line(req, now_).body;
  EXPECT_EQ(b["axis-names"]["3"], "Previous hour");
  auto first = direct("Bytes * SamplingRate * 8", "1", kT0, 300);
  size_t found = 0;
  for (size_t i = 0; i < b["axis"].size(); i++)
    if (b["axis"][i] == 3) {
      found++;
      EXPECT_EQ(b["rows"][i], json::array());
      for (size_t j = 0; j < 12; j++)
        EXPECT_NEAR(b["points"][i][j].get<double>(), first[int64_t(j)], 1.0) << j;
    }
  EXPECT_EQ(found, 1u);
}

TEST_F(ConsoleStore, PercentOfInterfaceSpeed) {
  auto b = builder_->line(request(R"(,"points":24,"units":"inl2%")"), now_).body;
  EXPECT_FALSE(b.contains("total"));
  // 3 exporters x 4 interfaces x 1000 Mbps per bucket.
  auto l2 = direct("(Bytes + 38 * Packets) * SamplingRate * 8", "1", kT0, 300);
  for (size_t j = 0; j < 24; j++)
    EXPECT_NEAR(b["points"][0][j].get<double>(), l2[int64_t(j)] / 12e9 * 100, 0.01);
}

TEST_F(ConsoleStore, TruncatedAddresses) {
  auto b = builder_->line(
      request(R"(,"dimensions":["SrcAddr"],"limit":50,"points":24,"truncate-v4":16,"filter":"EType = IPv4")"),
      now_).body;
  // Every IPv4 source is in 10.0.0.0/16.
  ASSERT_EQ(b["rows"].size(), 1u);
  EXPECT_EQ(b["rows"][0][0], "10.0.0.0");
}

TEST_F(ConsoleStore, Sankey) {
  auto req = request(R"(,"dimensions":["SrcCountry","Proto"],"limit":2)");
  auto b = builder_->sankey(req, now_).body;
  double total = scalar("SELECT sum(Bytes * SamplingRate * 8) / 7200 FROM flows");
  double sum = 0;
  for (const auto& x : b["xps"]) sum += x.get<double>();
  EXPECT_NEAR(sum, total, 10.0);
  // Two countries kept, the third folded into Other; two protocols (TCP, UDP).
  bool other = false;
  for (const auto& r : b["rows"]) other |= r[0] == "Other";
  EXPECT_TRUE(other);
  for (const auto& n : b["nodes"]) {
    std::string name = n["name"];
    EXPECT_TRUE(name.starts_with("SrcCountry: ") || name.starts_with("Proto: ")) << name;
  }
  double link_sum = 0;
  for (const auto& l : b["links"]) link_sum += l["xps"].get<double>();
  EXPECT_NEAR(link_sum, total, 10.0);
  EXPECT_TRUE(b["links"][0]["source"].get<std::string>().starts_with("SrcCountry: "));
  // On the raw table (DstPort), the top values come from topKWeighted; the sums still hold.
  auto raw = builder_->sankey(request(R"(,"dimensions":["SrcCountry","DstPort"],"limit":2)"), now_);
  EXPECT_NE(raw.sql[0].find("topKWeighted"), std::string::npos) << raw.sql[0];
  sum = 0;
  for (const auto& x : raw.body["xps"]) sum += x.get<double>();
  EXPECT_NEAR(sum, total, 10.0);
  EXPECT_EQ(raw.body["rows"].size(), 6u);  // (2 countries + Other) x 2 ports
}

TEST_F(ConsoleStore, EveryGoldenFilterRunsInClickHouse) {
  for (const char* f : {"InIfBoundary = external AND InIfProvider = \"cogent\"",
                        "SrcAS IN (AS64501, 64502) OR SrcAS NOTIN (1)", "SrcAddr << 10.0.0.0/24",
                        "DstAddr = 2001:db8::1", "DstPort > 1023", "ExporterName LIKE '%er1'",
                        "ExporterName IUNLIKE 'X%'", "SrcAS != DstAS", "Proto = tcp", "EType = IPv6",
                        "FlowDirection = ingress", "DstASPath = AS174", "DstCommunities = 1:2",
                        "SrcNetPrefix = 10.0.0.0/8", "SrcCountry IN ('FR', 'DE')",
                        "NOT (SrcPort < DstPort)", "ExporterAddress IN (192.0.2.1, 192.0.2.0/30)",
                        "ExporterName = 'a\\'; DROP TABLE flows; --'"}) {
    CompiledFilter c;
    FilterError e;
    ASSERT_TRUE(compileFilter(f, schema_, c, e)) << f;
    EXPECT_NO_THROW(conn_->query("SELECT count() FROM flows WHERE " + c.sql, "TSV")) << c.sql;
    EXPECT_NO_THROW(conn_->query("SELECT count() FROM flows WHERE " + c.reverse_sql, "TSV"));
  }
  EXPECT_EQ(scalar("SELECT count() FROM flows"), kRows);
  CompiledFilter c;
  FilterError e;
  ASSERT_TRUE(compileFilter("SrcAddr << 10.0.0.0/24 AND Proto = udp", schema_, c, e));
  EXPECT_EQ(scalar("SELECT count() FROM flows WHERE " + c.sql),
            scalar("SELECT count() FROM flows WHERE startsWith(IPv6NumToString(SrcAddr), '::ffff:10.0.0.') AND Proto = 17"));
}

}  // namespace
}  // namespace akvo::console
