#include "outlet/geoip/geoip.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace akvo {
namespace {

const std::string kDir = "../shared/testdata/geoip/";

TEST(GeoIP, KnownAnswersFromTestDatabases) {
  GeoDatabases db({kDir + "GeoLite2-ASN-Test.mmdb"}, {kDir + "GeoLite2-City-Test.mmdb"});
  GeoInfo g = db.lookup(*IPv6Addr::parse("89.160.20.112"));
  EXPECT_EQ(g.asn, 29518u);
  EXPECT_EQ(std::string(g.country, 2), "SE");
  EXPECT_EQ(g.city, "Linköping");
  EXPECT_EQ(g.state, "E");
  GeoInfo l = db.lookup(*IPv6Addr::parse("81.2.69.142"));
  EXPECT_EQ(std::string(l.country, 2), "GB");
  EXPECT_EQ(l.city, "London");
  EXPECT_EQ(l.state, "ENG");
  GeoInfo none = db.lookup(*IPv6Addr::parse("192.0.2.1"));
  EXPECT_EQ(none.asn, 0u);
  EXPECT_EQ(none.country[0], 0);
  EXPECT_TRUE(none.city.empty());
  // IPv6 lookups.
  GeoInfo v6 = db.lookup(*IPv6Addr::parse("2001:1700::1"));
  EXPECT_EQ(v6.asn, 6730u);
}

TEST(GeoIP, CountryDatabaseAndMissingFiles) {
  GeoDatabases db({}, {kDir + "GeoLite2-Country-Test.mmdb"});
  EXPECT_EQ(std::string(db.lookup(*IPv6Addr::parse("89.160.20.112")).country, 2), "SE");
  Metrics m;
  GeoIP::Config c;
  c.geo_database = {"/nonexistent/file.mmdb"};
  EXPECT_THROW(GeoIP(c, m), std::runtime_error);
  c.optional = true;
  GeoIP optional(c, m);
  EXPECT_EQ(optional.snapshot(), nullptr);
}

TEST(GeoIP, ReloadsWhenTheFileChanges) {
  auto dir = std::filesystem::temp_directory_path() /
             ("akvo-geoip-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "geo.mmdb";
  std::filesystem::copy_file(kDir + "GeoLite2-Country-Test.mmdb", file,
                             std::filesystem::copy_options::overwrite_existing);
  Metrics m;
  GeoIP::Config c;
  c.geo_database = {file.string()};
  c.check_interval = Duration(50);
  GeoIP geo(c, m);
  geo.start();
  uint64_t gen = geo.generation();
  auto before = geo.snapshot();
  EXPECT_TRUE(before->lookup(*IPv6Addr::parse("81.2.69.142")).city.empty());
  // Replace it with the City database (a new file renamed over the old one, as updaters do).
  auto tmp = dir / "geo.mmdb.tmp";
  std::filesystem::copy_file(kDir + "GeoLite2-City-Test.mmdb", tmp,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(tmp, file);
  for (int i = 0; i < 100 && geo.generation() == gen; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GT(geo.generation(), gen);
  EXPECT_EQ(geo.snapshot()->lookup(*IPv6Addr::parse("81.2.69.142")).city, "London");
  // The old snapshot is still usable by whoever holds it.
  EXPECT_EQ(std::string(before->lookup(*IPv6Addr::parse("89.160.20.112")).country, 2), "SE");
  geo.stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace akvo

namespace akvo {
namespace {

TEST(GeoIP, CacheAnswersOnlyInsideTheNetwork) {
  GeoDatabases db({"../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb"},
                  {"../shared/testdata/geoip/GeoLite2-City-Test.mmdb"});
  uint8_t len = 0;
  db.lookup(*IPv6Addr::parse("89.160.20.112"), &len);
  EXPECT_EQ(len, 124) << "89.160.20.112/28 in the City database";
  GeoCache cache(16);
  cache.reset(&db);
  // Same /24, different networks: the cache must not mix them.
  for (int round = 0; round < 2; round++) {
    EXPECT_EQ(std::string(cache.lookup(*IPv6Addr::parse("89.160.20.112")).country, 2), "SE");
    EXPECT_EQ(cache.lookup(*IPv6Addr::parse("89.160.20.1")).country[0], 0);
    EXPECT_EQ(cache.lookup(*IPv6Addr::parse("81.2.69.142")).city, "London");
    EXPECT_EQ(cache.lookup(*IPv6Addr::parse("2001:1700::1")).asn, 6730u);
  }
}

// Through the cache, every answer is the database's, whatever the order of the addresses and
// the size of the networks (an address sweep over known and unknown ranges, IPv4 and IPv6).
TEST(GeoCache, SameAnswersAsTheDatabase) {
  GeoDatabases db({"../shared/testdata/geoip/GeoLite2-ASN-Test.mmdb"},
                  {"../shared/testdata/geoip/GeoLite2-City-Test.mmdb"});
  GeoCache cache(64);
  cache.reset(&db);
  std::vector<IPv6Addr> addrs;
  for (const char* base : {"89.160.0.0", "81.2.64.0", "2.125.160.0", "175.16.199.0", "1.0.0.0",
                           "11.0.0.0", "216.160.83.0", "67.43.156.0"})
    for (uint32_t i = 0; i < 4096; i += 7) addrs.push_back(IPv6Addr::fromV4(IPv6Addr::parse(base)->v4() + i * 61));
  for (const char* base : {"2001:1700::", "2001:218::", "2a02:cf40::", "2001:db8::"})
    for (uint16_t i = 0; i < 512; i++) {
      IPv6Addr a = *IPv6Addr::parse(base);
      a.bytes[4] = uint8_t(i >> 4);
      a.bytes[5] = uint8_t(i * 17);
      a.bytes[15] = uint8_t(i);
      addrs.push_back(a);
    }
  size_t known = 0;
  for (int round = 0; round < 3; round++) {
    for (size_t k = 0; k < addrs.size(); k++) {
      const IPv6Addr& a = addrs[(k * 7919 + size_t(round)) % addrs.size()];
      GeoInfo want = db.lookup(a), got = cache.lookup(a);
      ASSERT_EQ(got.asn, want.asn) << a.toString();
      ASSERT_EQ(std::string(got.country, 2), std::string(want.country, 2)) << a.toString();
      ASSERT_EQ(got.city.id(), want.city.id()) << a.toString();
      ASSERT_EQ(got.state.id(), want.state.id()) << a.toString();
      known += want.asn != 0 || want.country[0] != 0;
    }
  }
  EXPECT_GT(known, 100u);  // the sweep does hit networks the databases know
}

}  // namespace
}  // namespace akvo
