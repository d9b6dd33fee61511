// Custom dictionaries: the schema section and its mistakes, the column names, the lookups
// (hashed keys, ip_trie's most specific prefix, defaults, match-dimension) and reloads.
#include "outlet/dictionaries/dictionaries.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/native.h"
#include "testing/config.h"

namespace akvo {
namespace {

/// A temporary folder for the CSV files of one test.
class DictionaryFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("akvo-dict-test-{}-{}", getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  /// `schema:` section text with @DIR@ replaced by the folder.
  SchemaConfig read(std::string yaml) {
    for (size_t at; (at = yaml.find("@DIR@")) != std::string::npos;) yaml.replace(at, 5, dir_.string());
    return testing::readSection<SchemaConfig>(yaml, "schema");
  }
  /// The message of the ConfigError reading `yaml` throws.
  std::string error(const std::string& yaml) {
    try {
      read(yaml);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for:\n" << yaml;
    return "";
  }
  std::filesystem::path dir_;
};

const char* kRoles = R"(
custom-dictionaries:
  ips:
    layout: ip_trie
    keys:
      - name: prefix
        type: String
    attributes:
      - name: role
        type: String
        default: unknown
      - name: weight
        type: UInt16
        label: Weight
    source: @DIR@/roles.csv
    dimensions: [SrcAddr, DstAddr]
)";

const char* kRolesCsv =
    "prefix,role,weight\n"
    "192.0.2.0/24,servers,10\n"
    "192.0.2.128/25,databases,20\n"
    "2001:db8::/32,\"v6, servers\",30\n";

TEST_F(DictionaryFiles, ColumnNamesTypesAndTwins) {
  write("roles.csv", kRolesCsv);
  Schema s(read(kRoles));
  const ColumnDef* src = s.find("SrcAddrRole");
  const ColumnDef* dst = s.find("dstaddrrole");
  ASSERT_NE(src, nullptr);
  ASSERT_NE(dst, nullptr);
  EXPECT_EQ(src->name, "SrcAddrRole");
  EXPECT_EQ(src->type, "LowCardinality(String)");
  EXPECT_EQ(src->filter, FilterType::kString);
  EXPECT_TRUE(src->dimension);
  EXPECT_EQ(src->reverse, dst->key);
  EXPECT_EQ(dst->reverse, src->key);
  const ColumnDef* w = s.find("SrcAddrWeight");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->type, "UInt16");
  EXPECT_EQ(w->filter, FilterType::kUInt);
  EXPECT_EQ(s.column(w->key).name, "SrcAddrWeight");
  // In every table, after the fixed columns, sent by the outlet.
  for (const char* n : {"SrcAddrRole", "DstAddrRole", "SrcAddrWeight", "DstAddrWeight"}) {
    ColumnKey k = s.find(n)->key;
    EXPECT_TRUE(s.enabled(k)) << n;
    EXPECT_FALSE(s.mainOnly(k)) << n;
    auto ins = s.insertedColumns();
    EXPECT_NE(std::find(ins.begin(), ins.end(), k), ins.end()) << n;
  }
  EXPECT_EQ(s.columns().back(), s.find("DstAddrWeight")->key);
  ASSERT_EQ(s.customColumns().size(), 4u);
  EXPECT_EQ(s.customColumns()[0].key_columns, std::vector<ColumnKey>{ColumnKey::kSrcAddr});
  // The schema's fingerprint sees them.
  EXPECT_NE(s.hash(), Schema().hash());
  // The batch names them; the default schema has none.
  NativeBatch b(s);
  EXPECT_NE(b.columnList().find("SrcAddrRole"), std::string::npos);
  EXPECT_NE(b.columnList().find("DstAddrWeight"), std::string::npos);
  EXPECT_EQ(NativeBatch(Schema()).columnList().find("AddrRole"), std::string::npos);
  EXPECT_EQ(titleCase("role"), "Role");
  EXPECT_EQ(titleCase("ROLE"), "Role");
}

// main-table-only, not-main-table-only, indexes and no-indexes name custom columns as any
// other (the section custom-dictionaries may come after them); a name that is no column,
// fixed or custom, is refused at its key's line.
TEST_F(DictionaryFiles, MainTableOnlyAndIndexesNameCustomColumns) {
  write("roles.csv", kRolesCsv);
  std::string y = std::string(R"(
main-table-only: [SrcAddrRole, DstAddrWeight]
indexes: {DstAddrRole: set(0), SrcAddrWeight: minmax}
)") + kRoles;
  Schema s(read(y));
  ColumnKey src_role = s.find("SrcAddrRole")->key, dst_role = s.find("DstAddrRole")->key;
  EXPECT_TRUE(s.mainOnly(src_role));
  EXPECT_FALSE(s.mainOnly(dst_role));
  EXPECT_TRUE(s.mainOnly(s.find("DstAddrWeight")->key));
  auto cons = s.consolidatedColumns();
  EXPECT_EQ(std::find(cons.begin(), cons.end(), src_role), cons.end());
  EXPECT_NE(std::find(cons.begin(), cons.end(), dst_role), cons.end());
  // Still in the main table, after the fixed columns.
  EXPECT_NE(std::find(s.columns().begin(), s.columns().end(), src_role), s.columns().end());
  std::map<std::string, std::string> idx;
  for (const auto& i : s.skipIndexes()) idx[std::string(s.column(i.column).name)] = i.type;
  EXPECT_EQ(idx["DstAddrRole"], "set(0)");
  EXPECT_EQ(idx["SrcAddrWeight"], "minmax");
  EXPECT_EQ(idx.count("SrcAddrRole"), 0u);
  // The consolidated batch leaves the main-only ones out.
  NativeBatch b(s);
  b.consolidate(s.consolidatedInsertedColumns(), 60, &s);
  EXPECT_EQ(b.consolidatedColumnList().find("SrcAddrRole"), std::string::npos);
  EXPECT_NE(b.consolidatedColumnList().find("DstAddrRole"), std::string::npos);

  std::string e = error(std::string("no-indexes: [SrcAddrRoles]\n") + kRoles);
  EXPECT_NE(e.find("test.yaml:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("schema.no-indexes: unknown column \"SrcAddrRoles\""), std::string::npos) << e;
  e = error(std::string("indexes: {DstAddrRoles: set(0)}\n") + kRoles);
  EXPECT_NE(e.find("schema.indexes.DstAddrRoles: unknown column"), std::string::npos) << e;
  e = error("main-table-only: [SrcAddrRole]\n");  // no dictionary: no such column
  EXPECT_NE(e.find("schema.main-table-only: unknown column \"SrcAddrRole\""), std::string::npos) << e;
}

TEST_F(DictionaryFiles, ConfigurationMistakesNameFileLineAndChoices) {
  write("roles.csv", kRolesCsv);
  auto with = [](std::string from, const std::string& a, const std::string& b) {
    from.replace(from.find(a), a.size(), b);
    return from;
  };
  std::string e = error(with(kRoles, "[SrcAddr, DstAddr]", "[SrcAdr]"));
  EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("schema.custom-dictionaries.ips.dimensions"), std::string::npos) << e;
  EXPECT_NE(e.find("\"SrcAdr\", which does not exist"), std::string::npos) << e;
  EXPECT_EQ(e.find("dimensions: schema."), std::string::npos) << "the path once: " << e;

  // A missing file is no configuration error (a console or an orchestrator given the same
  // configuration does not need it); the outlet's dictionaries fail to load, naming it.
  Schema without(read(with(kRoles, "roles.csv", "missing.csv")));
  ASSERT_EQ(without.customColumns().size(), 4u);  // the columns are there all the same
  Metrics metrics;
  try {
    CustomDictionaries dicts(without, metrics, Duration(0));
    ADD_FAILURE() << "a missing file loaded";
  } catch (const std::runtime_error& x) {
    EXPECT_NE(std::string(x.what()).find("missing.csv"), std::string::npos) << x.what();
  }

  write("nohead.csv", "prefix,name\n192.0.2.0/24,x\n");
  e = error(with(kRoles, "roles.csv", "nohead.csv"));
  EXPECT_NE(e.find("has no column \"role\" (an attribute); its columns: prefix, name"),
            std::string::npos) << e;

  e = error(with(kRoles, "type: UInt16", "type: Float64"));
  EXPECT_NE(e.find("unknown or unsupported type \"Float64\"; valid types: String, UInt8, UInt16, "
                   "UInt32, UInt64"), std::string::npos) << e;
  EXPECT_NE(e.find("test.yaml:"), std::string::npos) << e;

  e = error(with(kRoles, "layout: ip_trie", "layout: flat"));
  EXPECT_NE(e.find("valid layouts: hashed, complex_key_hashed, ip_trie"), std::string::npos) << e;

  e = error(with(kRoles, "[SrcAddr, DstAddr]", "[InIfName]"));
  EXPECT_NE(e.find("the ip_trie layout matches addresses"), std::string::npos) << e;

  // Several keys: each needs a match option.
  write("ifs.csv", "exporter,ifname,info\n192.0.2.1,eth0,x\n");
  e = error(R"(
custom-dictionaries:
  ifs:
    layout: complex_key_hashed
    keys: [{name: exporter, match-dimension: ExporterAddress}, {name: ifname}]
    attributes: [{name: info}]
    source: @DIR@/ifs.csv
    dimensions: [InIf]
)");
  EXPECT_NE(e.find("needs match-dimension or match-dimension-suffix"), std::string::npos) << e;

  // Too many columns: the limit is said.
  e = error(R"(
custom-dictionaries:
  ips:
    keys: [{name: prefix}]
    attributes: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}]
    source: @DIR@/roles.csv
    dimensions: [SrcAddr, DstAddr]
)");
  EXPECT_NE(e.find("room for 8 String and 4 UInt columns"), std::string::npos) << e;
  EXPECT_NE(e.find("asks for 10 String"), std::string::npos) << e;
}

FlowRecord flow(const char* src, const char* dst) {
  FlowRecord f{};
  f.src_addr = *IPv6Addr::parse(src);
  f.dst_addr = *IPv6Addr::parse(dst);
  return f;
}

TEST_F(DictionaryFiles, IpTrieMostSpecificPrefixAndDefaults) {
  write("roles.csv", kRolesCsv);
  Schema s(read(kRoles));
  Metrics metrics;
  CustomDictionaries dicts(s, metrics, Duration(0));
  CustomDictionaryApplier apply(dicts);
  const size_t src_role = size_t(s.find("SrcAddrRole")->key) - size_t(ColumnKey::kCustomString0);
  const size_t dst_role = size_t(s.find("DstAddrRole")->key) - size_t(ColumnKey::kCustomString0);
  const size_t src_w = size_t(s.find("SrcAddrWeight")->key) - size_t(ColumnKey::kCustomUInt0);
  const size_t dst_w = size_t(s.find("DstAddrWeight")->key) - size_t(ColumnKey::kCustomUInt0);

  FlowRecord f = flow("192.0.2.10", "192.0.2.200");
  apply.apply(f);
  EXPECT_EQ(f.custom_strings[src_role], "servers");
  EXPECT_EQ(f.custom_strings[dst_role], "databases");  // the /25 inside the /24
  EXPECT_EQ(f.custom_uints[src_w], 10u);
  EXPECT_EQ(f.custom_uints[dst_w], 20u);

  f = flow("2001:db8:1::1", "198.51.100.1");
  apply.apply(f);
  EXPECT_EQ(f.custom_strings[src_role], "v6, servers");
  EXPECT_EQ(f.custom_strings[dst_role], "unknown");  // the attribute's default
  EXPECT_EQ(f.custom_uints[dst_w], 0u);              // no default: 0
  // The worker's cache answers the same again.
  apply.apply(f);
  EXPECT_EQ(f.custom_strings[src_role], "v6, servers");
  EXPECT_EQ(f.custom_strings[dst_role], "unknown");
}

TEST_F(DictionaryFiles, LargeIpTrieThroughTheWorkerCache) {
  // Over 1024 prefixes, lookups go through the worker's prefix cache.
  std::string csv = "prefix,role,weight\n10.0.0.0/8,ten,1\n10.3.7.128/25,inner,2\n";
  for (int x = 0; x < 8; x++)
    for (int y = 0; y < 256; y++) csv += fmt::format("10.{}.{}.0/24,r{}-{},3\n", x, y, x, y);
  write("roles.csv", csv);
  Schema s(read(kRoles));
  Metrics metrics;
  CustomDictionaries dicts(s, metrics, Duration(0));
  ASSERT_GT((*dicts.snapshot())[0]->entries(), 1024u);
  CustomDictionaryApplier apply(dicts);
  const size_t src = size_t(s.find("SrcAddrRole")->key) - size_t(ColumnKey::kCustomString0);
  const size_t dst = size_t(s.find("DstAddrRole")->key) - size_t(ColumnKey::kCustomString0);
  for (int round = 0; round < 2; round++) {  // the second from the cache
    FlowRecord f = flow("10.3.7.200", "10.3.7.1");
    apply.apply(f);
    EXPECT_EQ(f.custom_strings[src], "inner");
    EXPECT_EQ(f.custom_strings[dst], "r3-7");
    f = flow("10.200.0.1", "11.0.0.1");
    apply.apply(f);
    EXPECT_EQ(f.custom_strings[src], "ten");
    EXPECT_EQ(f.custom_strings[dst], "unknown");
    f = flow("10.3.7.127", "10.7.255.255");
    apply.apply(f);
    EXPECT_EQ(f.custom_strings[src], "r3-7");
    EXPECT_EQ(f.custom_strings[dst], "r7-255");
  }
}

TEST_F(DictionaryFiles, HashedStringKeysMatchDimensionAndReload) {
  write("exporters.csv", "name,site\nedge1,paris\nedge2,berlin\n");
  write("ifs.csv",
        "exporter,ifname,info,speed\n192.0.2.1,eth0,transit-a,100\n192.0.2.1,eth1,peering,200\n"
        "192.0.2.2,eth0,other-box,300\n");
  Schema s(read(R"(
custom-dictionaries:
  exporters:
    keys: [{name: name}]
    attributes: [{name: site}]
    source: @DIR@/exporters.csv
    dimensions: [ExporterName]
  ifs:
    layout: complex_key_hashed
    keys:
      - {name: exporter, type: IPv6, match-dimension: ExporterAddress}
      - {name: ifname, match-dimension-suffix: Name}
    attributes: [{name: info, label: Info}, {name: speed, type: UInt32, label: LinkSpeed}]
    source: @DIR@/ifs.csv
    dimensions: [InIf, OutIf]
)"));
  for (const char* n : {"ExporterNameSite", "InIfInfo", "OutIfInfo", "InIfLinkSpeed", "OutIfLinkSpeed"})
    ASSERT_NE(s.find(n), nullptr) << n;
  EXPECT_EQ(s.find("InIfInfo")->reverse, s.find("OutIfInfo")->key);
  // The keys of InIf: ExporterAddress (match-dimension) and InIfName (InIf + suffix).
  for (const auto& c : s.customColumns())
    if (s.column(c.key).name == std::string_view("InIfInfo")) {
      EXPECT_EQ(c.key_columns, (std::vector<ColumnKey>{ColumnKey::kExporterAddress, ColumnKey::kInIfName}));
    }
  auto str = [&](const FlowRecord& f, const char* n) {
    return f.custom_strings[size_t(s.find(n)->key) - size_t(ColumnKey::kCustomString0)].str();
  };
  auto num = [&](const FlowRecord& f, const char* n) {
    return f.custom_uints[size_t(s.find(n)->key) - size_t(ColumnKey::kCustomUInt0)];
  };
  Metrics metrics;
  CustomDictionaries dicts(s, metrics, Duration(0));
  CustomDictionaryApplier apply(dicts);
  FlowRecord f{};
  f.exporter_address = *IPv6Addr::parse("192.0.2.1");
  f.exporter_name = IStr("edge2");
  f.in_if_name = IStr("eth1");
  f.out_if_name = IStr("eth0");
  apply.apply(f);
  EXPECT_EQ(str(f, "ExporterNameSite"), "berlin");
  EXPECT_EQ(str(f, "InIfInfo"), "peering");
  EXPECT_EQ(num(f, "InIfLinkSpeed"), 200u);
  EXPECT_EQ(str(f, "OutIfInfo"), "transit-a");
  EXPECT_EQ(num(f, "OutIfLinkSpeed"), 100u);
  // Both keys must match: another exporter's eth1 is not in the file. No default: "None", as
  // Akvorado's dictionaries.
  f.exporter_address = *IPv6Addr::parse("192.0.2.2");
  f.exporter_name = IStr("edge3");
  apply.apply(f);
  EXPECT_EQ(str(f, "ExporterNameSite"), "None");
  EXPECT_EQ(str(f, "InIfInfo"), "None");
  EXPECT_EQ(num(f, "InIfLinkSpeed"), 0u);
  EXPECT_EQ(str(f, "OutIfInfo"), "other-box");

  // The file changes: the next flows see the new entries; a broken file keeps them.
  write("exporters.csv", "name,site\nedge3,madrid\n");
  // Another size at least (the same second may keep the same modification time).
  ASSERT_TRUE(dicts.reloadChanged());
  apply.apply(f);
  EXPECT_EQ(str(f, "ExporterNameSite"), "madrid");
  write("exporters.csv", "name,site\nedge3,madrid,extra field\n");
  EXPECT_FALSE(dicts.reloadChanged());
  apply.apply(f);
  EXPECT_EQ(str(f, "ExporterNameSite"), "madrid");
}

TEST_F(DictionaryFiles, ConsolidatedRowsKeepTheCustomColumnsApart) {
  write("roles.csv", kRolesCsv);
  Schema s(read(kRoles));
  const size_t role = size_t(s.find("SrcAddrRole")->key) - size_t(ColumnKey::kCustomString0);
  const size_t weight = size_t(s.find("DstAddrWeight")->key) - size_t(ColumnKey::kCustomUInt0);
  Consolidator c(s.consolidatedInsertedColumns(), 60, &s);
  FlowRecord f{};
  f.time_received = 120;
  f.bytes = 10;
  f.packets = 1;
  f.custom_strings[role] = IStr("servers");
  c.add(f);
  c.add(f);
  EXPECT_EQ(c.groups(), 1u);
  f.custom_strings[role] = IStr("clients");
  c.add(f);
  EXPECT_EQ(c.groups(), 2u);
  f.custom_uints[weight] = 7;
  c.add(f);
  EXPECT_EQ(c.groups(), 3u);
  c.add(f);
  EXPECT_EQ(c.groups(), 3u);
  // The rows carry them: a batch of the consolidated columns encodes the three groups.
  NativeBatch out(s.consolidatedInsertedColumns(), NativeBatch::kChunkRows, &s);
  c.writeTo(out);
  EXPECT_EQ(out.rows(), 3u);
  EXPECT_NE(out.columnList().find("DstAddrWeight"), std::string::npos);
  const std::string& bytes = out.encode();
  EXPECT_NE(bytes.find("servers"), std::string::npos);
  EXPECT_NE(bytes.find("clients"), std::string::npos);
}

TEST(CustomDictionary, BadEntriesNameTheLine) {
  CustomDictionaryConfig c;
  c.name = "ips";
  c.layout = "hashed";
  c.keys = {CustomDictKey{"addr", "String", "", ""}};
  c.attributes = {CustomDictAttribute{"role", "String", "", "", false},
                  CustomDictAttribute{"n", "UInt8", "", "", false}};
  try {
    CustomDictionary d(c, {"ip"}, "addr,role,n\n192.0.2.1,a,1\n\nnot-an-ip,b,2\n", "x.csv");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("x.csv:4: key addr: \"not-an-ip\" is not an IP address"),
              std::string::npos) << e.what();
  }
  try {
    CustomDictionary d(c, {"ip"}, "addr,role,n\n192.0.2.1,a,300\n", "x.csv");
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("x.csv:2: attribute n: \"300\" is not a UInt8"),
              std::string::npos) << e.what();
  }
  // A hashed String key on an address column matches the address, written as IPv4 or mapped.
  CustomDictionary d(c, {"ip"}, "addr,role,n\n192.0.2.1,a,1\n::ffff:192.0.2.2,b,2\n", "x.csv");
  EXPECT_EQ(d.entries(), 2u);
  uint64_t key[2];
  IPv6Addr a = *IPv6Addr::parse("192.0.2.2");
  std::memcpy(key, a.bytes.data(), 16);
  uint32_t row = d.find(key);
  ASSERT_NE(row, 0u);
  EXPECT_EQ(d.string(row, 0), "b");
  EXPECT_EQ(d.uint(row, 1), 2u);
  a = *IPv6Addr::parse("192.0.2.3");
  std::memcpy(key, a.bytes.data(), 16);
  EXPECT_EQ(d.find(key), 0u);
  EXPECT_EQ(d.string(0, 0), "None");
}

}  // namespace
}  // namespace akvo
