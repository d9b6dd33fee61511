// NativeBatch against the embedded engine: every column the registry can insert, read back.
#include "store/native.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "common/metrics.h"
#include "orchestrator/clickhouse.h"
#include "testing/test_store.h"

namespace akvo {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

SchemaConfig everyColumn() {
  SchemaConfig c;
  for (const auto& def : allColumns())
    if (!def.enabled_by_default && !def.name.empty()) c.enabled.push_back(std::string(def.name));
  return c;
}

// A table with every column enabled; returns the batch that feeds it.
struct Fixture {
  std::unique_ptr<StoreConnection> conn = testing::freshDatabase();
  Metrics metrics;
  Schema schema;
  NativeBatch batch;
  explicit Fixture(size_t chunk_rows = NativeBatch::kChunkRows, SchemaConfig config = everyColumn())
      : schema(config), batch(schema, chunk_rows) {
    Migrations(ClickHouseConfig{}, schema, *conn, metrics).run();
    batch.consolidate(schema.consolidatedInsertedColumns(), 60);
  }
  void insert() {
    testing::insertBatch(*conn, batch);
    batch.clear();
  }
  std::string q(const std::string& sql) { return trim(conn->query(sql)); }
  /// Parts stay as inserted (tests count them, or compare rows before SummingMergeTree folds
  /// them).
  void stopMerges() {
    for (const char* t : {"flows", "flows_1m0s", "flows_5m0s", "flows_1h0m0s"})
      conn->query(fmt::format("SYSTEM STOP MERGES {}", t));
  }
};

uint32_t recent() { return uint32_t(time(nullptr)) / 60 * 60 - 600; }

// A flow with every field set (none at its default).
FlowRecord everyFieldSet() {
  FlowRecord f;
  f.time_received = recent();
  f.sampling_rate = 1000;
  f.exporter_address = IPv6Addr::fromV4(0xc0000201);
  f.exporter_name = "edge1";
  f.exporter_group = "g";
  f.exporter_role = "r";
  f.exporter_site = "s";
  f.exporter_region = "reg";
  f.exporter_tenant = "t";
  f.src_addr = IPv6Addr::fromV4(0x0a000001);
  f.dst_addr = *IPv6Addr::parse("2001:db8::2");
  f.src_net_mask = 24;
  f.dst_net_mask = 48;
  f.src_as = 64501;
  f.dst_as = 4200000001u;
  f.src_net_name = "sn";
  f.dst_net_name = "dn";
  f.src_net_role = "sr";
  f.dst_net_role = "dr";
  f.src_net_site = "ss";
  f.dst_net_site = "ds";
  f.src_net_region = "sreg";
  f.dst_net_region = "dreg";
  f.src_net_tenant = "st";
  f.dst_net_tenant = "dt";
  f.src_vlan = 100;
  f.dst_vlan = 200;
  std::memcpy(f.src_country, "FR", 2);
  std::memcpy(f.dst_country, "US", 2);
  f.src_geo_city = "Paris";
  f.dst_geo_city = "Boston";
  f.src_geo_state = "IDF";
  f.dst_geo_state = "MA";
  f.dst_as_path.push(64501);
  f.dst_as_path.push(64502);
  f.src_communities.push(0x00010002);
  f.dst_communities.push(0x00030004);
  f.dst_communities.push(0x00050006);
  f.src_large_communities.push({1, 2, 3});
  f.dst_large_communities.push({4, 5, 6});
  f.next_hop = *IPv6Addr::parse("2001:db8::ff");
  f.in_if_name = "Gi0/1";
  f.out_if_name = "Gi0/2";
  f.in_if_description = "in desc";
  f.out_if_description = "out desc";
  f.in_if_speed = 10000;
  f.out_if_speed = 100000;
  f.in_if_connectivity = "transit";
  f.out_if_connectivity = "pni";
  f.in_if_provider = "cogent";
  f.out_if_provider = "netflix";
  f.in_if_boundary = Boundary::kExternal;
  f.out_if_boundary = Boundary::kInternal;
  f.etype = 0x86dd;
  f.proto = 17;
  f.src_port = 53;
  f.dst_port = 33000;
  f.bytes = 1234;
  f.packets = 5;
  f.forwarding_status = 64;
  f.flow_direction = FlowDirection::kEgress;
  f.src_mac = 0x0011223344556677ull;
  f.dst_mac = 0x8899aabbccddeeffull;
  f.src_addr_nat = IPv6Addr::fromV4(0xc6336401);
  f.dst_addr_nat = IPv6Addr::fromV4(0xc6336402);
  f.src_port_nat = 1000;
  f.dst_port_nat = 2000;
  f.ip_ttl = 64;
  f.ip_tos = 0x2e;
  f.ip_fragment_id = 99999;
  f.ip_fragment_offset = 185;
  f.ipv6_flow_label = 0xabcde;
  f.tcp_flags = 0x12;
  f.icmpv4_type = 8;
  f.icmpv4_code = 1;
  f.icmpv6_type = 128;
  f.icmpv6_code = 2;
  f.mpls_labels.push(16001);
  f.mpls_labels.push(24002);
  f.ingress_vrf_id = 7;
  f.egress_vrf_id = 8;
  return f;
}

TEST(NativeBatch, EveryColumnRoundTrips) {
  AKVO_REQUIRE_STORE();
  Fixture fx;
  FlowRecord f = everyFieldSet();
  fx.batch.append(f);
  // A second row with everything at its default: empty strings, empty arrays, zero addresses.
  FlowRecord empty;
  empty.time_received = f.time_received;
  fx.batch.append(empty);
  fx.insert();

  EXPECT_EQ(fx.q("SELECT count() FROM flows"), "2");
  EXPECT_EQ(fx.q("SELECT SamplingRate, toString(ExporterAddress), ExporterName, ExporterGroup, "
                 "ExporterRole, ExporterSite, ExporterRegion, ExporterTenant FROM flows WHERE Bytes > 0"),
            "1000\t::ffff:192.0.2.1\tedge1\tg\tr\ts\treg\tt");
  EXPECT_EQ(fx.q("SELECT toString(SrcAddr), toString(DstAddr), SrcNetMask, DstNetMask, SrcAS, DstAS, "
                 "SrcNetName, DstNetName, SrcNetRole, DstNetRole, SrcNetSite, DstNetSite, SrcNetRegion, "
                 "DstNetRegion, SrcNetTenant, DstNetTenant FROM flows WHERE Bytes > 0"),
            "::ffff:10.0.0.1\t2001:db8::2\t24\t48\t64501\t4200000001\tsn\tdn\tsr\tdr\tss\tds\tsreg\t"
            "dreg\tst\tdt");
  EXPECT_EQ(fx.q("SELECT SrcVlan, DstVlan, SrcCountry, DstCountry, SrcGeoCity, DstGeoCity, SrcGeoState, "
                 "DstGeoState, DstASPath, SrcCommunities, DstCommunities, "
                 "bitShiftRight(SrcLargeCommunities[1], 64), bitAnd(DstLargeCommunities[1], 0xffffffff), "
                 "toString(NextHop) FROM flows WHERE Bytes > 0"),
            "100\t200\tFR\tUS\tParis\tBoston\tIDF\tMA\t[64501,64502]\t[65538]\t[196612,327686]\t1\t6\t"
            "2001:db8::ff");
  EXPECT_EQ(fx.q("SELECT InIfName, OutIfName, InIfDescription, OutIfDescription, InIfSpeed, OutIfSpeed, "
                 "InIfConnectivity, OutIfConnectivity, InIfProvider, OutIfProvider, InIfBoundary, "
                 "OutIfBoundary FROM flows WHERE Bytes > 0"),
            "Gi0/1\tGi0/2\tin desc\tout desc\t10000\t100000\ttransit\tpni\tcogent\tnetflix\texternal\tinternal");
  EXPECT_EQ(fx.q("SELECT EType, Proto, SrcPort, DstPort, Bytes, Packets, ForwardingStatus, FlowDirection, "
                 "SrcMAC, DstMAC, toString(SrcAddrNAT), toString(DstAddrNAT), SrcPortNAT, DstPortNAT "
                 "FROM flows WHERE Bytes > 0"),
            "34525\t17\t53\t33000\t1234\t5\t64\tegress\t4822678189205111\t9843086184167632639\t"
            "::ffff:198.51.100.1\t::ffff:198.51.100.2\t1000\t2000");
  EXPECT_EQ(fx.q("SELECT IPTTL, IPTos, IPFragmentID, IPFragmentOffset, IPv6FlowLabel, TCPFlags, "
                 "ICMPv4Type, ICMPv4Code, ICMPv6Type, ICMPv6Code, MPLSLabels, IngressVRFID, EgressVRFID "
                 "FROM flows WHERE Bytes > 0"),
            "64\t46\t99999\t185\t703710\t18\t8\t1\t128\t2\t[16001,24002]\t7\t8");
  EXPECT_EQ(fx.q("SELECT ExporterName, InIfName, DstASPath, MPLSLabels, toString(NextHop), SrcCountry = '\\0\\0' "
                 "FROM flows WHERE Bytes = 0"),
            "\t\t[]\t[]\t::\t1");
}

// A column is not written while every row of its chunk leaves it at zero: the rows before
// the first non-zero value become zeros then (here at the first, second and fourth row of a
// chunk), a chunk with no such value writes zeros (not what the previous chunk left in the
// column's buffer), and every kind of column (1 to 16 bytes, LowCardinality strings and
// addresses, arrays) comes back whole. Chunks of 4 rows; Bytes numbers the rows.
TEST(NativeBatch, ColumnsLeftAtZeroInAChunk) {
  AKVO_REQUIRE_STORE();
  Fixture fx(4);
  const FlowRecord full = everyFieldSet();
  FlowRecord empty;
  empty.time_received = full.time_received;
  const std::set<uint64_t> full_rows = {0, 2, 5, 11, 12, 13, 14, 15};
  for (uint64_t i = 0; i < 20; i++) {
    FlowRecord f = full_rows.count(i) ? full : empty;
    f.bytes = i + 1;
    fx.batch.append(f);
  }
  fx.insert();
  std::string row = "toString(tuple(";
  for (ColumnKey k : fx.schema.insertedColumns()) {
    const ColumnDef& def = columnDef(k);
    if (def.alias || k == ColumnKey::kBytes || k == ColumnKey::kDst1stAS ||
        k == ColumnKey::kDst2ndAS || k == ColumnKey::kDst3rdAS)
      continue;
    if (row.back() != '(') row += ", ";
    row += def.name;
  }
  row += "))";
  // Row 12 starts a chunk of full rows; row 1 follows a full row in the first chunk.
  auto like = [&](int reference) {
    return fx.q(fmt::format("SELECT groupArray(Bytes - 1) FROM (SELECT Bytes FROM flows WHERE {} = "
                            "(SELECT {} FROM flows WHERE Bytes = {}) ORDER BY Bytes)",
                            row, row, reference + 1));
  };
  EXPECT_EQ(like(12), "[0,2,5,11,12,13,14,15]");
  EXPECT_EQ(like(1), "[1,3,4,6,7,8,9,10,16,17,18,19]");
  EXPECT_EQ(fx.q("SELECT ExporterName, DstASPath, toString(NextHop), SrcMAC, toString(SrcAddrNAT), "
                 "IPTTL FROM flows WHERE Bytes = 6"),
            "edge1\t[64501,64502]\t2001:db8::ff\t4822678189205111\t::ffff:198.51.100.1\t64");
  EXPECT_EQ(fx.q("SELECT ExporterName, DstASPath, toString(NextHop), SrcMAC, toString(SrcAddrNAT), "
                 "IPTTL FROM flows WHERE Bytes = 17"),
            "\t[]\t::\t0\t::\t0");
}

// The batch remembers dictionary indexes by interned id in a direct-mapped memo: values that
// share a memo slot (more distinct strings than slots, in an order that evicts) must each keep
// their own value, and equal strings built from different buffers are one dictionary entry.
TEST(NativeBatch, InternedStringsKeepTheirValues) {
  AKVO_REQUIRE_STORE();
  Fixture fx;
  FlowRecord f;
  f.time_received = recent();
  f.sampling_rate = 1;
  char buf[16];
  const char* names[] = {"alpha", "bravo", "alpha", "delta", "bravo"};
  for (int i = 0; i < 5; i++) {
    std::memcpy(buf, names[i], 5);  // the same buffer for every value
    f.exporter_name = IStr(std::string_view(buf, 5));
    f.bytes = uint64_t(i + 1);
    fx.batch.append(f);
  }
  std::vector<IStr> owned;
  for (int i = 0; i < 1000; i++) owned.push_back(IStr(fmt::format("name{}", i % 613)));
  for (int i = 0; i < 3000; i++) {
    f.exporter_name = owned[size_t(i * 7 % 1000)];
    f.bytes = uint64_t(100 + i * 7 % 1000);
    fx.batch.append(f);
  }
  fx.insert();
  EXPECT_EQ(fx.q("SELECT groupArray(ExporterName) FROM (SELECT ExporterName FROM flows WHERE Bytes < 100 "
                 "ORDER BY Bytes)"),
            "['alpha','bravo','alpha','delta','bravo']");
  EXPECT_EQ(fx.q("SELECT countIf(ExporterName != concat('name', toString((Bytes - 100) % 613))), "
                 "uniqExact(ExporterName) FROM flows WHERE Bytes >= 100"),
            "0\t613");
}

// LowCardinality(String) rows hold interned ids until encode() maps them in place: a second
// encode (the writer retrying an insert re-encodes nothing, but a caller may) gives the same
// block, and after clear() the batch takes ids again.
TEST(NativeBatch, EncodeTwiceAndReuse) {
  Schema schema{SchemaConfig{}};
  NativeBatch batch{schema};
  FlowRecord f;
  f.time_received = 1700000000;
  f.sampling_rate = 1;
  auto fill = [&](const char* a, const char* b) {
    batch.clear();
    for (int i = 0; i < 100; i++) {
      f.exporter_name = IStr(i % 3 ? a : b);
      f.in_if_description = IStr(i % 2 ? b : a);
      batch.append(f);
    }
  };
  fill("east", "west");
  std::string first, second;
  first = batch.encode();
  second = batch.encode();
  EXPECT_EQ(first, second);
  EXPECT_NE(first.find("east"), std::string::npos);
  fill("north", "south");
  second = batch.encode();
  EXPECT_EQ(second.find("east"), std::string::npos) << "the dictionaries start over";
  EXPECT_NE(second.find("south"), std::string::npos);
  fill("east", "west");
  second = batch.encode();
  EXPECT_EQ(first, second) << "same rows, same block";
}

TEST(IStr, OneIdPerDistinctString) {
  std::string a = "transit", b = std::string("trans") + "it";
  IStr x(a), y(b), z("pni"), empty(std::string_view{});
  EXPECT_EQ(x.id(), y.id());
  EXPECT_EQ(x.data(), y.data());  // stored once
  EXPECT_NE(x.data(), a.data());  // not a view of the caller's buffer
  EXPECT_NE(x.id(), z.id());
  EXPECT_EQ(empty.id(), 0u);
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(x, "transit");
  EXPECT_EQ(fmt::format("{}", z), "pni");
  uint64_t before = internedStrings();
  IStr again("transit");
  EXPECT_EQ(internedStrings(), before);
  IStr fresh(fmt::format("fresh-{}", before));
  EXPECT_EQ(internedStrings(), before + 1);
}

// Batches are reused after clear(), and a batch spans many chunks (here of 1,000 rows, one
// Native block each, every block with its own dictionaries and array offsets): the rows come
// back intact across the block boundaries, and the engine stores the insert as one part (in
// the raw table and in each consolidated one).
TEST(NativeBatch, ClearAndManyBlocks) {
  AKVO_REQUIRE_STORE();
  Fixture fx(1000);
  FlowRecord f;
  f.time_received = recent();
  f.sampling_rate = 1;
  f.exporter_name = "before";
  fx.batch.append(f);
  fx.batch.clear();
  EXPECT_EQ(fx.batch.rows(), 0u);
  for (uint32_t i = 0; i < 20500; i++) {
    // A new name in every block, and names shared by all blocks.
    f.exporter_name = i % 2 ? IStr("odd") : IStr(fmt::format("even{}", i / 1000));
    f.next_hop = IPv6Addr::fromV4(0x0a000000u + i % 3);
    f.dst_as_path.clear();
    for (uint32_t k = 0; k < i % 4; k++) f.dst_as_path.push(i);
    f.bytes = i;
    fx.batch.append(f);
  }
  EXPECT_EQ(fx.batch.rows(), 20500u);
  EXPECT_EQ(fx.batch.blocks(), 20u);
  fx.stopMerges();
  fx.insert();
  EXPECT_EQ(fx.q("SELECT count(), countIf(ExporterName = 'before'), "
                 "countIf(ExporterName = if(Bytes % 2 = 1, 'odd', concat('even', toString(intDiv(Bytes, 1000))))), "
                 "countIf(toString(NextHop) = concat('::ffff:10.0.0.', toString(Bytes % 3))), "
                 "countIf(length(DstASPath) = Bytes % 4 AND (length(DstASPath) = 0 OR DstASPath[1] = Bytes)) FROM flows"),
            "20500\t0\t20500\t20500\t20500");
  // One part in each table: the views ran once, on the squashed block, not once per block.
  EXPECT_EQ(fx.q("SELECT groupArray(table) FROM (SELECT table FROM system.parts WHERE database = "
                 "currentDatabase() AND table LIKE 'flows%' AND active ORDER BY table)"),
            "['flows','flows_1h0m0s','flows_1m0s','flows_5m0s']");
}

// LowCardinality indexes go out in the narrowest width that holds a chunk's dictionary: UInt8
// up to 256 keys, UInt16 up to 65,536, else UInt32; each round-trips, at the edges too.
TEST(NativeBatch, LowCardinalityIndexWidths) {
  AKVO_REQUIRE_STORE();
  // One chunk of 70,000 rows. Counting the empty value every dictionary starts with:
  // ExporterName 256 keys (UInt8, full), InIfDescription 257 (UInt16), InIfName 65,536 (UInt16,
  // full), OutIfName 65,537 (UInt32), NextHop 70,001 (UInt32).
  Fixture fx(70000);
  FlowRecord f;
  f.time_received = recent();
  f.sampling_rate = 1;
  for (uint32_t i = 0; i < 70000; i++) {
    f.exporter_name = i % 256 ? IStr(fmt::format("e{}", i % 256)) : IStr();
    f.in_if_description = IStr(fmt::format("d{}", i % 256));
    f.in_if_name = IStr(fmt::format("n{}", i % 65535));
    f.out_if_name = IStr(fmt::format("o{}", i % 65536));
    f.next_hop = IPv6Addr::fromV4(0x0a000000u + i);
    f.bytes = i;
    fx.batch.append(f);
  }
  EXPECT_EQ(fx.batch.blocks(), 0u);
  fx.insert();
  EXPECT_EQ(fx.q("SELECT count(), "
                 "countIf(ExporterName = if(Bytes % 256 = 0, '', concat('e', toString(Bytes % 256)))), "
                 "countIf(InIfDescription = concat('d', toString(Bytes % 256))), "
                 "countIf(InIfName = concat('n', toString(Bytes % 65535))), "
                 "countIf(OutIfName = concat('o', toString(Bytes % 65536))), "
                 "countIf(NextHop = toIPv6(IPv4NumToString(toUInt32(167772160 + Bytes)))), "
                 "uniqExact(InIfDescription), uniqExact(InIfName), uniqExact(OutIfName) FROM flows"),
            "70000\t70000\t70000\t70000\t70000\t70000\t256\t65535\t65536");
}

// The outlet's consolidated rows are exactly the rows the view on the raw table computed: the
// same groups (every consolidated column of the full schema, Dst1stAS..3rdAS from paths with
// repeats) and the same sums, compared both ways with EXCEPT against the view's SELECT run on
// the raw rows; and one row per group, not per flow.
// With every column, the consolidated columns are more than FlowRecord's consolidated block:
// the key is built field by field. With the default schema they are the block, copied whole.
// Flows come in runs of 1 to `max_run` flows of one group, as a datagram's do (the
// consolidator compares the last group first, and stops doing so where runs are rare).
void consolidateAndCompare(SchemaConfig schema_config, uint32_t max_run) {
  Fixture fx(1000, schema_config);
  const IStr names[] = {IStr("par-edge1"), IStr("fra-edge2"), IStr{}};
  const IStr ifs[] = {IStr("Gi0/0/1"), IStr("Te0/1/0"), IStr{}};
  const uint32_t paths[][4] = {{64501, 64501, 15169, 0}, {3356, 174, 174, 1299}, {0, 0, 0, 0},
                               {65000, 65000, 65000, 65001}};
  std::mt19937 rng(11);
  FlowRecord f;
  const uint32_t now = recent();
  uint32_t run = 0, p = 0, time_received = 0;
  for (int i = 0; i < 6000; i++) {
    f.reset();
    if (run == 0) {
      run = 1 + uint32_t(rng() % max_run);
      time_received = now - uint32_t(rng() % 240);  // about five 1-minute buckets
      // 48 combinations of the grouped columns, each a different mix.
      p = uint32_t(rng() % 48);
    }
    run--;
    f.time_received = time_received;
    f.sampling_rate = p % 2 ? 1000 : 100;
    f.exporter_address = IPv6Addr::fromV4(0xc0000201u + p % 3);
    f.exporter_name = names[p % 3];
    f.in_if_name = ifs[p % 3];
    f.out_if_name = ifs[(p / 3) % 3];
    f.in_if_speed = p % 4 < 2 ? 10000 : 100000;
    f.out_if_provider = p % 6 < 3 ? IStr("cogent") : IStr{};
    // Columns outside the tables' sorting key (exporter and interface details) follow one
    // that is in it, as in real traffic: else SummingMergeTree folds groups that differ only
    // in them.
    f.exporter_tenant = p % 3 == 1 ? IStr("t1") : IStr{};
    f.dst_geo_city = p % 7 < 2 ? IStr("Paris") : IStr{};
    f.src_net_name = p % 3 ? IStr("customers") : IStr{};
    f.forwarding_status = p % 4 ? 64 : 128;
    f.in_if_boundary = p % 2 ? Boundary::kExternal : Boundary::kInternal;
    f.src_as = 64500 + p % 4;
    f.dst_as = 15169;
    f.src_country[0] = 'F', f.src_country[1] = p % 16 < 8 ? 'R' : 'I';
    f.next_hop = IPv6Addr::fromV4(0x0a000001u + p % 2);
    f.etype = p % 8 ? 0x800 : 0x86dd;
    f.proto = p % 3 ? 6 : 17;
    f.flow_direction = p % 2 ? FlowDirection::kIngress : FlowDirection::kEgress;
    for (uint32_t a : paths[p % 4])
      if (a) f.dst_as_path.push(a);
    f.src_addr = IPv6Addr::fromV4(uint32_t(rng()));  // main-only: not part of the groups
    f.src_port = uint16_t(rng());
    f.bytes = 40 + rng() % 1500;
    f.packets = 1 + rng() % 5;
    fx.batch.append(f);
  }
  const size_t groups = fx.batch.consolidatedRows();
  EXPECT_GT(groups, 100u);
  EXPECT_LE(groups, 48u * 5);
  fx.stopMerges();
  fx.insert();
  ClickHouseConfig config;  // Migrations keeps a reference
  Migrations m(config, fx.schema, *fx.conn, fx.metrics);
  const std::string expected = m.consumerSelectSQL(1);
  std::string actual = expected;
  actual.replace(actual.find(" FROM flows "), 12, " FROM flows_1m0s ");
  EXPECT_EQ(fx.q("SELECT count() FROM flows_1m0s"), std::to_string(groups));
  EXPECT_EQ(fx.q(fmt::format("SELECT count() FROM ({})", expected)), std::to_string(groups));
  EXPECT_EQ(fx.q(fmt::format("SELECT count() FROM ({} EXCEPT {})", expected, actual)), "0");
  EXPECT_EQ(fx.q(fmt::format("SELECT count() FROM ({} EXCEPT {})", actual, expected)), "0");
  EXPECT_EQ(fx.q("SELECT sum(Bytes) = (SELECT sum(Bytes) FROM flows) FROM flows_1h0m0s"), "1");
  EXPECT_EQ(fx.q("SELECT uniqExact(Dst2ndAS) FROM flows_1m0s"), "4");  // 0, 15169, 174, 65001
}

TEST(Consolidator, RowsEqualTheViewsGroupBy) {
  AKVO_REQUIRE_STORE();
  consolidateAndCompare(everyColumn(), 4);
}

TEST(Consolidator, RowsEqualTheViewsGroupByDefaultSchema) {
  AKVO_REQUIRE_STORE();
  consolidateAndCompare(SchemaConfig{}, 4);
}

// No two flows of one group in a row: the last group's compare stops after 1024 flows.
TEST(Consolidator, RowsEqualTheViewsGroupByWithoutRuns) {
  AKVO_REQUIRE_STORE();
  consolidateAndCompare(SchemaConfig{}, 1);
}

// The benchmarks' front end (discard with a consolidated table): flows are grouped, counted, and
// no per-flow row is written.
TEST(Consolidator, ConsolidatedOnlyWritesNoFlowRow) {
  Schema schema{SchemaConfig{}};
  NativeBatch full(schema), only(schema);
  for (NativeBatch* b : {&full, &only}) b->consolidate(schema.consolidatedInsertedColumns(), 60);
  only.consolidatedOnly();
  FlowRecord f;
  f.sampling_rate = 1;
  for (uint32_t i = 0; i < 5000; i++) {
    f.time_received = 1700000000 + i % 120;  // two minutes
    f.src_port = uint16_t(i);
    f.bytes = 10;
    full.append(f);
    only.append(f);
  }
  EXPECT_EQ(only.rows(), 5000u);
  EXPECT_EQ(only.consolidatedRows(), full.consolidatedRows());
  EXPECT_EQ(only.consolidatedRows(), 3u);  // 1699999980, 1700000040, 1700000100
  EXPECT_EQ(only.encodeConsolidated(), full.encodeConsolidated());
  EXPECT_EQ(only.blocks(), 0u);
  EXPECT_LT(only.encode().size(), 4096u);  // one empty block: names and types only
  // TimeReceived, SamplingRate, SrcPort and Bytes: the columns not left at zero (22 bytes).
  EXPECT_GT(full.encode().size(), 5000u * 22);
  only.clear();
  EXPECT_EQ(only.rows(), 0u);
  EXPECT_EQ(only.consolidatedRows(), 0u);
}

}  // namespace
}  // namespace akvo
