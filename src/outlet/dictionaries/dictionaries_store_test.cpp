// Custom dictionaries end to end on the embedded store: the orchestrator adds the columns to
// tables created without them, flows enriched by the core carry SrcAddrRole/DstAddrRole into
// the raw and the consolidated tables, and the console groups by, filters on and completes the
// new column.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "console/console.h"
#include "orchestrator/clickhouse.h"
#include "outlet/core/core.h"
#include "outlet/dictionaries/dictionaries.h"
#include "testing/config.h"
#include "testing/test_store.h"

namespace akvo {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1795730400;  // 2026-11-26T22:00:00Z

class CustomDictionaryStore : public ::testing::Test {
 protected:
  void SetUp() override {
    AKVO_REQUIRE_STORE();
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("akvo-dict-store-test-{}-{}", getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "roles.csv") << "prefix,role\n"
                                         "192.0.2.0/24,servers\n"
                                         "192.0.2.128/25,databases\n"
                                         "198.51.100.0/24,clients\n";
    schema_config_ = testing::readSection<SchemaConfig>(
        fmt::format(R"(
custom-dictionaries:
  roles:
    layout: ip_trie
    keys: [{{name: prefix, type: String}}]
    attributes: [{{name: role, default: elsewhere}}]
    source: {}/roles.csv
    dimensions: [SrcAddr, DstAddr]
)", dir_.string()),
        "schema");
    schema_ = std::make_unique<Schema>(schema_config_);
    conn_ = testing::freshDatabase();
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  std::string scalar(const std::string& sql) {
    std::string out = conn_->query(sql, "TSVRaw");
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }

  std::filesystem::path dir_;
  SchemaConfig schema_config_;
  std::unique_ptr<Schema> schema_;
  ClickHouseConfig clickhouse_;
  Metrics metrics_;
  std::unique_ptr<StoreConnection> conn_;
};

// A custom column in main-table-only stays out of the consolidated tables (and their sorting
// keys); one in indexes gets its data-skipping index on `flows`.
TEST_F(CustomDictionaryStore, MainTableOnlyAndIndexes) {
  SchemaConfig sc = schema_config_;
  sc.main_table_only = {"SrcAddrRole"};
  sc.indexes = {{"DstAddrRole", "set(0)"}};
  Schema schema(sc);
  Migrations(clickhouse_, schema, *conn_, metrics_).run();
  auto has = [&](const char* table, const char* column) {
    return scalar(fmt::format("SELECT count() FROM system.columns WHERE database = currentDatabase() "
                              "AND table = '{}' AND name = '{}'", table, column)) == "1";
  };
  EXPECT_TRUE(has("flows", "SrcAddrRole"));
  EXPECT_TRUE(has("flows", "DstAddrRole"));
  for (const char* table : {"flows_1m0s", "flows_5m0s", "flows_1h0m0s"}) {
    EXPECT_FALSE(has(table, "SrcAddrRole")) << table;
    EXPECT_TRUE(has(table, "DstAddrRole")) << table;
  }
  EXPECT_EQ(scalar("SELECT type_full FROM system.data_skipping_indices WHERE database = "
                   "currentDatabase() AND table = 'flows' AND name = 'idx_dstaddrrole'"),
            "set(0)");
}

TEST_F(CustomDictionaryStore, FlowsCarryTheColumnsAndTheConsoleUsesThem) {
  // Tables of the default schema first: adding the dictionary migrates them.
  Migrations(clickhouse_, Schema(), *conn_, metrics_).run();
  EXPECT_EQ(scalar("SELECT count() FROM system.columns WHERE database = currentDatabase() AND "
                   "name = 'SrcAddrRole'"),
            "0");
  Migrations m(clickhouse_, *schema_, *conn_, metrics_);
  m.run();
  for (const char* table : {"flows", "flows_1m0s", "flows_5m0s", "flows_1h0m0s"}) {
    EXPECT_EQ(scalar(fmt::format("SELECT type FROM system.columns WHERE database = currentDatabase() "
                                 "AND table = '{}' AND name = 'DstAddrRole'", table)),
              "LowCardinality(String)")
        << table;
    // In the consolidated tables' sorting key: rows of different roles are not summed together.
    if (std::string(table) != "flows") {
      EXPECT_NE(scalar(fmt::format("SELECT sorting_key FROM system.tables WHERE database = "
                                   "currentDatabase() AND name = '{}'", table))
                    .find("SrcAddrRole"),
                std::string::npos)
          << table;
    }
  }

  // Flows through the core, as the outlet enriches them, into a consolidating batch.
  CustomDictionaries dicts(*schema_, metrics_, Duration(0));
  Core core(testing::readSection<Core::Config>("", "core"), metrics_, nullptr, nullptr, nullptr,
            nullptr, &dicts);
  auto enricher = core.makeEnricher();
  NativeBatch batch(*schema_);
  batch.consolidate(schema_->consolidatedInsertedColumns(), 60, schema_.get());
  struct Flow {
    const char *src, *dst;
    uint64_t bytes;
  };
  const Flow flows[] = {{"192.0.2.10", "198.51.100.7", 1000},   // servers -> clients
                        {"192.0.2.200", "198.51.100.8", 300},   // databases -> clients
                        {"192.0.2.11", "203.0.113.1", 50},      // servers -> elsewhere
                        {"192.0.2.12", "198.51.100.9", 2000}};  // servers -> clients
  for (int i = 0; i < 40; i++) {
    for (const Flow& fl : flows) {
      FlowRecord f{};
      f.reset();
      f.time_received = uint32_t(kT0 + 30 * i);
      f.exporter_address = *IPv6Addr::parse("192.0.2.1");
      f.sampling_rate = 1;
      f.in_if = 1;
      f.src_addr = *IPv6Addr::parse(fl.src);
      f.dst_addr = *IPv6Addr::parse(fl.dst);
      f.etype = 0x800;
      f.proto = 6;
      f.bytes = fl.bytes;
      f.packets = 1;
      ASSERT_TRUE(enricher->enrich(f));
      batch.append(f);
    }
  }
  testing::insertBatch(*conn_, batch);
  EXPECT_EQ(scalar("SELECT SrcAddrRole, DstAddrRole, sum(Bytes) FROM flows GROUP BY 1, 2 ORDER BY 1, 2"),
            "databases\tclients\t12000\nservers\tclients\t120000\nservers\telsewhere\t2000");
  EXPECT_EQ(scalar("SELECT SrcAddrRole, DstAddrRole, sum(Bytes) FROM flows_1m0s GROUP BY 1, 2 ORDER BY 1, 2"),
            "databases\tclients\t12000\nservers\tclients\t120000\nservers\telsewhere\t2000");

  // The console: a dimension, filterable, completable.
  console::ConsoleConfig cc;
  console::Console console(cc, *schema_, clickhouse_,
                           [this](const std::string& sql, const std::string& f) {
                             return conn_->query(sql, f);
                           },
                           metrics_);
  console.setClock([] { return kT0 + 3600; });
  console.start();
  auto call = [&](const std::string& route, const std::string& body) {
    HttpRequest r;
    r.method = body.empty() ? "GET" : "POST";
    r.path = std::string(console::Console::kPrefix) + route;
    r.body = body;
    HttpResponse out = console.handle(r);
    EXPECT_EQ(out.status, 200) << out.body;
    return json::parse(out.body);
  };
  json conf = call("configuration", "");
  bool listed = false;
  for (const auto& d : conf["dimensions"]) listed |= d == "DstAddrRole";
  EXPECT_TRUE(listed) << conf["dimensions"];

  auto graphRows = [&](const std::string& filter) {
    json g = call("graph/line",
                  R"({"start":"2026-11-26T22:00:00Z","end":"2026-11-26T22:20:00Z","points":20,)"
                  R"("dimensions":["SrcAddrRole"],"limit":5,"filter":")" + filter + R"("})");
    std::set<std::string> rows;
    for (const auto& r : g["rows"]) rows.insert(r[0].get<std::string>());
    return rows;
  };
  EXPECT_EQ(graphRows("DstAddrRole = 'clients'"), (std::set<std::string>{"databases", "servers"}));
  EXPECT_EQ(graphRows("DstAddrRole = 'elsewhere'"), (std::set<std::string>{"servers"}));
  EXPECT_EQ(graphRows("DstAddrRole LIKE 'cli%' AND SrcAddrRole != 'servers'"),
            (std::set<std::string>{"databases"}));
  // Consolidated data answers it: no main-table-only column is involved.
  json v = call("filter/validate", R"({"filter":"DstAddrRole IN ('clients', 'elsewhere') AND SrcAddrRole != 'databases'"})");
  EXPECT_EQ(v["message"], "ok") << v;
  json bad = call("filter/validate", R"({"filter":"DstAddrRole = 3"})");
  EXPECT_NE(bad["message"], "ok");

  json c = call("filter/complete", R"({"what":"column","prefix":"dstaddrr"})");
  ASSERT_EQ(c["completions"].size(), 1u) << c;
  EXPECT_EQ(c["completions"][0]["label"], "DstAddrRole");
  c = call("filter/complete", R"({"what":"value","column":"SrcAddrRole","prefix":"se"})");
  ASSERT_EQ(c["completions"].size(), 1u) << c;
  EXPECT_EQ(c["completions"][0]["label"], "servers");
  EXPECT_TRUE(c["completions"][0]["quoted"].get<bool>());
}

}  // namespace
}  // namespace akvo
