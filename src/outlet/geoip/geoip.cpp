#include "outlet/geoip/geoip.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <condition_variable>

namespace akvo {

void GeoIP::Config::read(ConfigReader& r) {
  r.field("asn-database", asn_database);
  r.field("geo-database", geo_database);
  std::vector<std::string> legacy;
  r.field("country-database", legacy);  // legacy name of geo-database
  for (auto& f : legacy) geo_database.push_back(f);
  r.field("optional", optional);
  r.field("check-interval", check_interval);
}

namespace {

std::unique_ptr<MMDB_s> openDb(const std::string& path) {
  auto db = std::make_unique<MMDB_s>();
  int rc = MMDB_open(path.c_str(), MMDB_MODE_MMAP, db.get());
  if (rc != MMDB_SUCCESS)
    throw std::runtime_error(fmt::format("geoip: cannot open {}: {}", path, MMDB_strerror(rc)));
  return db;
}

bool lookupEntry(MMDB_s* db, const IPv6Addr& a, MMDB_entry_s& entry, uint8_t& len,
                 uint8_t* entry_len = nullptr) {
  int gai = 0, err = 0;
  MMDB_lookup_result_s r;
  if (a.isV4Mapped()) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, a.bytes.data() + 12, 4);
    r = MMDB_lookup_sockaddr(db, reinterpret_cast<sockaddr*>(&sa), &err);
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    std::memcpy(&sa.sin6_addr, a.bytes.data(), 16);
    r = MMDB_lookup_sockaddr(db, reinterpret_cast<sockaddr*>(&sa), &err);
  }
  (void)gai;
  if (err != MMDB_SUCCESS) return false;
  // The network the answer covers (or the empty one around the address), on the IPv6 form.
  uint8_t mask = uint8_t(r.netmask);
  // libmaxminddb gives IPv4 lookups in an IPv6 database an IPv6-relative netmask already.
  if (db->metadata.ip_version == 4) mask = uint8_t(mask + 96);
  if (mask > len) len = mask;
  if (entry_len) *entry_len = mask;
  if (!r.found_entry) return false;
  entry = r.entry;
  return true;
}

template <class... Path>
bool getString(MMDB_entry_s& e, std::string_view& out, Path... path) {
  MMDB_entry_data_s d;
  if (MMDB_get_value(&e, &d, path..., nullptr) != MMDB_SUCCESS || !d.has_data ||
      d.type != MMDB_DATA_TYPE_UTF8_STRING)
    return false;
  out = std::string_view(d.utf8_string, d.data_size);
  return true;
}

}  // namespace

GeoDatabases::GeoDatabases(const std::vector<std::string>& asn_files,
                           const std::vector<std::string>& geo_files) {
  for (const auto& f : asn_files) asn_.push_back(openDb(f));
  for (const auto& f : geo_files) geo_.push_back(openDb(f));
}

GeoDatabases::~GeoDatabases() {
  for (auto& d : asn_) MMDB_close(d.get());
  for (auto& d : geo_) MMDB_close(d.get());
}

GeoInfo GeoDatabases::lookup(const IPv6Addr& a, uint8_t* prefix_len) const {
  GeoInfo g;
  MMDB_entry_s e;
  uint8_t len = 0;
  uint8_t entry_len = 0;
  for (const auto& db : asn_) {
    if (!lookupEntry(db.get(), a, e, len, &entry_len)) continue;
    MMDB_entry_data_s d;
    uint32_t before = g.asn;
    if (MMDB_get_value(&e, &d, "autonomous_system_number", nullptr) == MMDB_SUCCESS &&
        d.has_data) {
      if (d.type == MMDB_DATA_TYPE_UINT32) g.asn = d.uint32;
      else if (d.type == MMDB_DATA_TYPE_UINT16) g.asn = d.uint16;
      else if (d.type == MMDB_DATA_TYPE_UINT64) g.asn = uint32_t(d.uint64);
    } else {
      std::string_view s;  // IPinfo: "asn": "AS64496"
      if (getString(e, s, "asn") && s.size() > 2 && (s[0] == 'A' || s[0] == 'a')) {
        uint32_t v = 0;
        auto [p, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v);
        if (ec == std::errc() && p == s.data() + s.size()) g.asn = v;
      }
    }
    if (g.asn != before || (g.asn && !g.asn_len)) g.asn_len = entry_len;
  }
  for (const auto& db : geo_) {
    if (!lookupEntry(db.get(), a, e, len, &entry_len)) continue;
    g.location_len = entry_len;
    std::string_view country, city, state;
    // MaxMind layout first, then IPinfo's flat one.
    if (getString(e, country, "country", "iso_code") || getString(e, country, "country")) {
      if (country.size() >= 2) {
        g.country[0] = country[0];
        g.country[1] = country[1];
      }
    }
    if (getString(e, city, "city", "names", "en") || getString(e, city, "city")) g.city = IStr(city);
    if (getString(e, state, "subdivisions", "0", "iso_code") || getString(e, state, "region"))
      g.state = IStr(state);
  }
  if (prefix_len) *prefix_len = len;
  return g;
}

GeoIP::GeoIP(Config config, Metrics& metrics) : config_(std::move(config)), metrics_(metrics) {
  if (!config_.enabled()) return;
  mtimes_ = mtimes();
  if (!reload() && !config_.optional)
    throw std::runtime_error(
        "geoip: cannot open the databases (set geoip.optional to start without them)");
}

GeoIP::~GeoIP() { stop(); }

std::vector<int64_t> GeoIP::mtimes() const {
  std::vector<int64_t> out;
  for (const auto* list : {&config_.asn_database, &config_.geo_database})
    for (const auto& f : *list) {
      struct stat st{};
      int64_t stamp = -1;
      if (stat(f.c_str(), &st) == 0)
        stamp = (int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec) ^
                (int64_t(st.st_size) << 1) ^ int64_t(st.st_ino);
      out.push_back(stamp);
    }
  return out;
}

bool GeoIP::reload() {
  try {
    auto dbs = std::make_shared<const GeoDatabases>(config_.asn_database, config_.geo_database);
    {
      std::lock_guard lock(mutex_);
      current_ = std::move(dbs);
    }
    generation_.fetch_add(1, std::memory_order_acq_rel);
    metrics_.counter("akvo_outlet_geoip_reloads_total", "GeoIP databases (re)loaded.").inc();
    spdlog::info("geoip: databases loaded ({} ASN, {} geo)", config_.asn_database.size(),
                 config_.geo_database.size());
    return true;
  } catch (const std::exception& e) {
    metrics_.counter("akvo_outlet_geoip_errors_total", "GeoIP databases that failed to load.")
        .inc();
    spdlog::error("{}", e.what());
    return false;
  }
}

void GeoIP::start() {
  if (!config_.enabled() || config_.check_interval.count() <= 0) return;
  watcher_ = std::jthread([this](std::stop_token st) {
    std::mutex m;
    std::condition_variable_any cv;
    while (!st.stop_requested()) {
      {
        std::unique_lock lock(m);
        cv.wait_for(lock, st, config_.check_interval, [] { return false; });
      }
      if (st.stop_requested()) break;
      auto now = mtimes();
      if (now == mtimes_) continue;
      // A file being rewritten may be incomplete: reload only once it stops changing.
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (mtimes() != now) continue;
      spdlog::info("geoip: a database changed on disk, reloading");
      if (reload()) mtimes_ = now;
    }
  });
}

void GeoIP::stop() {
  if (watcher_.joinable()) {
    watcher_.request_stop();
    watcher_.join();
  }
}

std::shared_ptr<const GeoDatabases> GeoIP::snapshot() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace akvo
