#include "demo/demo.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <random>

#include "demo/encoder.h"
#include "demo/snmp_agents.h"
#include "inlet/udp.h"

namespace akvo::demo {

void DemoExporter::Config::read(ConfigReader& r) {
  r.field("enabled", enabled);
  r.field("target", target);
  try {
    parseListen(target);
  } catch (const std::exception& e) {
    r.fail("target", e.what());
  }
  r.field("flows-per-second", flows_per_second, 1, 10'000'000);
  r.field("sampling-rate", sampling_rate, 1, INT32_MAX);
  r.field("seed", seed, 0, INT64_MAX);
  // A number of built-in routers, or a list of routers with their own names and recipes.
  if (YAML::Node n = r.raw("routers"); n.IsSequence()) {
    router_list.clear();
    r.list("routers", [&](ConfigReader& s, size_t) { router_list.emplace_back().read(s); });
    if (router_list.empty() || router_list.size() > 200)
      r.fail("routers", fmt::format("expected a number of built-in routers (1 to 200) or a list "
                                    "of 1 to 200 routers, got a list of {}",
                                    router_list.size()));
    routers = int64_t(router_list.size());
  } else {
    r.field("routers", routers, 1, 200);
  }
  r.field("snmp-port", snmp_port, 0, 65535);
  r.section("bmp", [&](ConfigReader& s) { bmp.read(s); });
  r.choice("protocol", protocol, {"netflow-v5", "netflow-v9", "ipfix"});
  // NetFlow v5 has 14 bits for the sampling interval.
  if (protocol == "netflow-v5") {
    if (sampling_rate > 16383)
      r.fail("sampling-rate", fmt::format("{} does not fit NetFlow v5 (16383 at most): use "
                                          "protocol netflow-v9 or ipfix", sampling_rate));
    for (const auto& rc : router_list)
      if (rc.sampling_rate > 16383)
        r.fail("routers", fmt::format("router {}: sampling-rate {} does not fit NetFlow v5 "
                                      "(16383 at most): use protocol netflow-v9 or ipfix",
                                      rc.name, rc.sampling_rate));
  }
}

namespace {
/// snmpd.conf takes names and descriptions between double quotes, one per line.
bool snmpdSafe(const std::string& s) { return s.find_first_of("\"\n\r\\") == std::string::npos; }
}  // namespace

void DemoRouterConfig::read(ConfigReader& r) {
  r.field("name", name);
  if (name.empty()) r.fail("name", "required: the router's name (SNMP sysName)");
  if (!snmpdSafe(name)) r.fail("name", "a name cannot hold a double quote, a backslash or a newline");
  YAML::Node n = r.raw("interfaces");
  if (!n.IsMap() || n.size() == 0)
    r.fail("interfaces", "required: a mapping of interface indexes to descriptions, such as "
                         "{10: \"Transit: Cogent\", 20: core}");
  ConfigReader ifs(r, n, r.path() + ".interfaces");
  for (const auto& key : ifs.keys()) {
    int64_t index = 0;
    auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
    if (ec != std::errc() || p != key.data() + key.size() || index < 1 || index > INT32_MAX)
      ifs.fail(key, "expected an interface index (1 to 2147483647) as the key");
    std::string description;
    ifs.field(key, description);
    if (description.size() < 3 || !snmpdSafe(description))
      ifs.fail(key, "expected a description of 3 characters or more (no double quote, "
                    "backslash or newline)");
    interfaces[uint32_t(index)] = description;
  }
  r.list("flows", [&](ConfigReader& s, size_t) { flows.emplace_back().read(s); });
  if (flows.empty())
    r.fail("flows", "required: a list of at least one flow recipe (per-second, in-if-index, "
                    "out-if-index, peak-hour, multiplier, src-net, dst-net, src-as, dst-as, "
                    "protocol...)");
  r.field("sampling-rate", sampling_rate, 0, INT32_MAX);
  r.field("seed", seed, -1, INT64_MAX);
}

namespace {

/// Remote networks: an AS, its IPv4 /16 (synthetic, stable), how popular it is.
struct RemoteAS {
  uint32_t asn;
  uint32_t v4_prefix;  ///< host order, /16
};

std::vector<RemoteAS> remoteASes() {
  // Well-known content and transit networks first (most popular), then a long tail.
  static const uint32_t kKnown[] = {15169, 2906,  32934, 16509, 13335, 20940, 8075,  36040,
                                    54113, 46489, 714,   6185,  16276, 24940, 14061, 3356,
                                    1299,  174,   6939,  2914,  3257,  6453,  6762,  5511,
                                    3320,  12322, 5410,  3215,  1136,  3209,  6830,  8560};
  std::vector<RemoteAS> out;
  uint32_t next = (11u << 24);  // 11.0.0.0 onwards: well clear of private ranges
  for (uint32_t asn : kKnown) {
    out.push_back({asn, next});
    next += 1u << 16;
  }
  // A tail of a few hundred smaller networks.
  for (uint32_t i = 0; i < 300; i++) {
    out.push_back({uint32_t(30000 + i * 97 % 35000), next});
    next += 1u << 16;
  }
  return out;
}

/// The demo networks as BGP routes: reached through one of four transits, tagged with a
/// community and a large community naming that transit.
std::vector<BmpRoute> demoBmpRoutes(uint32_t peer_asn) {
  static const uint32_t kTransits[] = {174, 1299, 3356, 6939};
  std::vector<BmpRoute> out;
  uint32_t i = 0;
  for (const auto& remote : remoteASes()) {
    BmpRoute r;
    r.prefixes.push_back({IPv6Addr::fromV4(remote.v4_prefix), 96 + 16});
    uint32_t transit = kTransits[i % 4];
    r.as_path = {peer_asn};
    if (transit != remote.asn) r.as_path.push_back(transit);
    r.as_path.push_back(remote.asn);
    r.communities = {(peer_asn & 0xffff) << 16 | (100 + i % 4)};
    r.large_communities = {{peer_asn, 1, i % 4}};
    out.push_back(std::move(r));
    i++;
  }
  return out;
}

}  // namespace

std::vector<DemoRouter> DemoExporter::routers(size_t count) {
  static const char* kSites[] = {"par", "fra", "ams", "lon", "nyc", "sin", "tyo", "syd"};
  static const char* kExternal[][2] = {
      {"Transit: Cogent", "10000"}, {"Transit: Lumen", "10000"},  {"PNI: Google", "100000"},
      {"PNI: Netflix", "100000"},   {"IX: Franceix", "100000"},   {"PNI: Facebook", "40000"},
      {"IX: AMS-IX", "100000"},     {"Transit: Arelion", "10000"}};
  std::vector<DemoRouter> out;
  for (size_t r = 0; r < count; r++) {
    DemoRouter router;
    router.name = fmt::format("{}-edge{}.example.net", kSites[r % 8], r / 8 + 1);
    router.address = fmt::format("127.0.0.{}", 10 + r);
    for (uint32_t i = 0; i < 4; i++) {
      const auto& e = kExternal[(r * 3 + i) % 8];
      router.interfaces.push_back({i + 1, fmt::format("Gi0/0/0/{}", i), e[0], uint32_t(std::stoul(e[1]))});
    }
    for (uint32_t i = 0; i < 4; i++)
      router.interfaces.push_back({i + 11, fmt::format("Te0/1/0/{}", i),
                                   fmt::format("Customer: cust{}", r * 4 + i + 1), 10000});
    out.push_back(std::move(router));
  }
  return out;
}

std::vector<DemoRouter> DemoExporter::routers(const Config& config) {
  if (config.router_list.empty()) return routers(size_t(config.routers));
  std::vector<DemoRouter> out;
  for (size_t r = 0; r < config.router_list.size(); r++) {
    const auto& c = config.router_list[r];
    DemoRouter router{c.name, fmt::format("127.0.0.{}", 10 + r), {}};
    // As Akvorado's demo SNMP agent: Gi0/0/0/<ifIndex>, 10 Gbps, the description as ifAlias.
    for (const auto& [index, description] : c.interfaces)
      router.interfaces.push_back({index, fmt::format("Gi0/0/0/{}", index), description, 10000});
    out.push_back(std::move(router));
  }
  return out;
}

DemoExporter::DemoExporter(Config config, Metrics& metrics)
    : config_(std::move(config)), metrics_(metrics) {}

DemoExporter::~DemoExporter() { stop(); }

void DemoExporter::start() {
  if (config_.snmp_port > 0) {
    snmp_ = std::make_unique<SnmpAgents>(routers(config_),
                                         uint16_t(config_.snmp_port));
    snmp_->start();
  }
  if (!config_.bmp.target.empty()) {
    auto c = config_.bmp;
    if (c.routes.empty()) c.routes = demoBmpRoutes(c.session.peer_asn);
    bmp_ = std::make_unique<BmpSpeaker>(c, metrics_);
    bmp_->start();
    spdlog::info("demo exporter: BMP speaker sending {} routes to {}", c.routes.size(), c.target);
  }
  thread_ = std::jthread([this](std::stop_token st) { run(st); });
  spdlog::info("demo exporter: {} routers sending NetFlow to {}", config_.routers, config_.target);
}

void DemoExporter::stop() {
  if (bmp_) bmp_->stop();
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  if (snmp_) snmp_->stop();
}

void DemoExporter::run(std::stop_token st) {
  auto routers = DemoExporter::routers(config_);
  const auto& recipes = config_.router_list;  // when given, each router sends its recipes' flows
  uint32_t generated_second = 0;
  auto remotes = remoteASes();
  SockAddr target = parseListen(config_.target);
  if (target.ss.ss_family == AF_INET && reinterpret_cast<sockaddr_in*>(&target.ss)->sin_addr.s_addr == 0)
    inet_pton(AF_INET, "127.0.0.1", &reinterpret_cast<sockaddr_in*>(&target.ss)->sin_addr);
  std::vector<int> fds;
  for (const auto& r : routers) {
    int fd = socket(target.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (target.ss.ss_family == AF_INET) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      inet_pton(AF_INET, r.address.c_str(), &src.sin_addr);
      if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
        spdlog::warn("demo exporter: cannot bind {}: {}", r.address, strerror(errno));
    }
    fds.push_back(fd);
  }
  Counter& sent = metrics_.counter("akvo_demo_exporter_flows_total", "Flows sent by the demo exporter.");
  Counter& errors = metrics_.counter("akvo_demo_exporter_errors_total", "Datagrams the demo exporter could not send.");
  std::mt19937_64 rng(uint64_t(config_.seed) ^ 0x5eed);
  // Zipf-like popularity: weight 1/(rank+1).
  std::vector<double> weights;
  for (size_t i = 0; i < remotes.size(); i++) weights.push_back(1.0 / double(i + 1));
  std::discrete_distribution<size_t> pick_as(weights.begin(), weights.end());
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint32_t> sequences(routers.size(), 0);
  auto boot = std::chrono::steady_clock::now();
  auto next = std::chrono::steady_clock::now();
  std::vector<FlowRecord> pending;
  while (!st.stop_requested()) {
    next += std::chrono::milliseconds(100);
    std::this_thread::sleep_until(next);
    auto now_sys = std::chrono::system_clock::now();
    uint32_t unix_secs = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(now_sys.time_since_epoch()).count());
    // Diurnal curve: peak at 20:00 UTC, trough at 30 % of the peak.
    double hour = double(unix_secs % 86400) / 3600.0;
    double curve = 0.65 + 0.35 * std::cos((hour - 20.0) / 24.0 * 2 * M_PI);
    double per_tick = double(config_.flows_per_second) * curve / 10.0;
    size_t n = size_t(per_tick) + (u(rng) < per_tick - std::floor(per_tick) ? 1 : 0);
    uint32_t uptime = uint32_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - boot).count()) + 3600000;
    // Recipes make a second of flows at once, sent as the second begins.
    bool new_second = unix_secs != generated_second;
    generated_second = unix_secs;
    for (size_t ri = 0; ri < routers.size(); ri++) {
      const auto& router = routers[ri];
      pending.clear();
      uint32_t sampling_rate = uint32_t(config_.sampling_rate);
      if (!recipes.empty()) {
        const auto& rc = recipes[ri];
        if (rc.sampling_rate > 0) sampling_rate = uint32_t(rc.sampling_rate);
        if (new_second) generateFlows(rc.flows, rc.seed >= 0 ? rc.seed : config_.seed, unix_secs, pending);
        // NetFlow v5 carries IPv4 only: IPv6 recipes are not sent (docs say so).
        if (config_.protocol == "netflow-v5")
          std::erase_if(pending, [](const FlowRecord& f) { return !f.src_addr.isV4Mapped(); });
      }
      size_t count = !recipes.empty() ? 0 : n / routers.size() + (ri < n % routers.size() ? 1 : 0);
      for (size_t k = 0; k < count; k++) {
        FlowRecord f;
        const RemoteAS& remote = remotes[pick_as(rng)];
        uint32_t remote_ip = remote.v4_prefix | uint32_t(rng() & 0xffff);
        uint32_t local_ip = (203u << 24 | 0u << 16 | 113u << 8) | uint32_t(rng() & 0xff);  // 203.0.113.0/24
        const auto& ext = router.interfaces[rng() % 4];
        const auto& cust = router.interfaces[4 + rng() % 4];
        bool inbound = u(rng) < 0.8;  // most traffic comes from content networks to customers
        double p = u(rng);
        if (p < 0.80) {
          f.proto = 6;
          static const uint16_t kTcp[] = {443, 443, 443, 443, 80, 80, 22, 993, 8080, 25};
          uint16_t service = kTcp[rng() % 10];
          f.packets = 1 + rng() % 20;
          f.bytes = f.packets * (inbound ? 900 + rng() % 600 : 52 + rng() % 100);
          f.src_port = inbound ? service : uint16_t(32768 + rng() % 28000);
          f.dst_port = inbound ? uint16_t(32768 + rng() % 28000) : service;
          f.tcp_flags = 0x18;
        } else if (p < 0.97) {
          f.proto = 17;
          static const uint16_t kUdp[] = {443, 443, 53, 123, 4500, 3478};
          uint16_t service = kUdp[rng() % 6];
          f.packets = 1 + rng() % 10;
          f.bytes = f.packets * (service == 53 ? 80 + rng() % 200 : 600 + rng() % 700);
          f.src_port = inbound ? service : uint16_t(32768 + rng() % 28000);
          f.dst_port = inbound ? uint16_t(32768 + rng() % 28000) : service;
        } else {
          f.proto = 1;
          f.packets = 1 + rng() % 3;
          f.bytes = f.packets * 84;
          f.icmpv4_type = (rng() % 2) ? 8 : 0;
        }
        f.src_addr = IPv6Addr::fromV4(inbound ? remote_ip : local_ip);
        f.dst_addr = IPv6Addr::fromV4(inbound ? local_ip : remote_ip);
        f.in_if = inbound ? ext.index : cust.index;
        f.out_if = inbound ? cust.index : ext.index;
        f.src_as = inbound ? remote.asn : 64501;
        f.dst_as = inbound ? 64501 : remote.asn;
        f.src_net_mask = inbound ? 16 : 24;
        f.dst_net_mask = inbound ? 24 : 16;
        f.next_hop = IPv6Addr::fromV4(0xc0000201);  // 192.0.2.1
        if (config_.protocol != "netflow-v5" && rng() % 5 == 0 && f.proto != 1) {
          // The same conversation over IPv6: 2001:db8:<remote /16>::<host> and 2001:db8:cafe::.
          auto v6 = [](uint32_t v4, bool local) {
            IPv6Addr a;
            a.bytes[0] = 0x20, a.bytes[1] = 0x01, a.bytes[2] = 0x0d, a.bytes[3] = 0xb8;
            a.bytes[4] = local ? 0xca : uint8_t(v4 >> 24), a.bytes[5] = local ? 0xfe : uint8_t(v4 >> 16);
            a.bytes[14] = uint8_t(v4 >> 8), a.bytes[15] = uint8_t(v4);
            return a;
          };
          f.src_addr = v6(inbound ? remote_ip : local_ip, !inbound);
          f.dst_addr = v6(inbound ? local_ip : remote_ip, inbound);
          f.src_net_mask = inbound ? 32 : 48;
          f.dst_net_mask = inbound ? 48 : 32;
          f.next_hop = *IPv6Addr::parse("2001:db8::1");
        }
        f.first_switched = unix_secs;
        pending.push_back(f);
      }
      const bool ipfix = config_.protocol == "ipfix", v9 = config_.protocol == "netflow-v9";
      const size_t per_dgram = ipfix || v9 ? 12 : 30;  // v9, IPFIX: under 1500 bytes even all IPv6
      for (size_t off = 0; off < pending.size(); off += per_dgram) {
        size_t m = std::min<size_t>(per_dgram, pending.size() - off);
        std::span<const FlowRecord> chunk(pending.data() + off, m);
        std::vector<uint8_t> dgram;
        if (ipfix) {
          IpfixHeader h{unix_secs, sequences[ri], uint32_t(ri), sampling_rate, true};
          dgram = encodeIpfix(h, chunk);
          sequences[ri] += 1;  // the options record
        } else if (v9) {
          // Sequences count export packets in v9 (records in IPFIX, flows in v5).
          V9Header h{uptime, unix_secs, sequences[ri], uint32_t(ri), sampling_rate, true};
          dgram = encodeNetflowV9(h, chunk);
          sequences[ri] += 1 - uint32_t(m);  // +m below
        } else {
          V5Header h{uptime, unix_secs, sequences[ri], uint16_t(sampling_rate)};
          dgram = encodeNetflowV5(h, chunk);
        }
        sequences[ri] += uint32_t(m);
        if (sendto(fds[ri], dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&target.ss), target.len) < 0)
          errors.inc();
        else
          sent.inc(m);
      }
    }
  }
  for (int fd : fds) close(fd);
}

}  // namespace akvo::demo
