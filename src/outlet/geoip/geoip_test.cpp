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

}  // namespace
}  // namespace akvo
