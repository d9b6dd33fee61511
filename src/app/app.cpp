#include "app/app.h"
#include "app/config_watch.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "orchestrator/kafka.h"
#include "transport/kafka_templates.h"
#include "store/chdb_store.h"
#include "store/clickhouse_endpoint.h"
#include "store/http_store.h"

namespace akvo {

AppConfig AppConfig::load(const std::string& path, bool demo_default) {
  YamlDocument doc = loadYamlFile(path);
  AppConfig c = fromYaml(doc.root, path, demo_default, doc.files);
  if (!path.empty()) c.files = doc.files->files();
  return c;
}

YAML::Node mergeYaml(const YAML::Node& base, const YAML::Node& over) {
  if (!over || over.IsNull()) return YAML::Clone(base);
  // `over`'s own nodes, not copies, keys included: errors about them keep naming their file
  // and line (an unknown key of the local file is never in what the orchestrator serves).
  if (!base || !base.IsMap() || !over.IsMap()) return over;
  YAML::Node out = YAML::Clone(base);
  for (const auto& kv : over) {
    // The key as served, or written another way (`Workers` for `workers`: keyMatches()).
    std::string key = kv.first.as<std::string>();
    if (!base[key])
      for (const auto& b : base)
        if (b.first.IsScalar() && keyMatches(b.first.Scalar(), key)) {
          key = b.first.Scalar();
          break;
        }
    YAML::Node merged = mergeYaml(base[key], kv.second);
    if (base[key]) out[key] = merged;
    else out.force_insert(kv.first, merged);
  }
  return out;
}

YAML::Node serviceConfiguration(const AppConfig& c, const std::string& role,
                                const std::string& host) {
  static const std::map<std::string, std::vector<std::string>> kSections = {
      {"inlet", {"inlet", "kafka"}},
      {"outlet", {"outlet", "kafka", "clickhouse", "schema"}},
      {"console", {"console", "clickhouse", "schema"}},
      {"demo-exporter", {"demo-exporter"}},
  };
  auto it = kSections.find(role);
  if (it == kSections.end()) return YAML::Node();
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& section : it->second)
    if (c.resolved[section]) out[section] = YAML::Clone(c.resolved[section]);
  if (out["clickhouse"] && c.clickhouse.embedded()) {
    // The embedded store is shared through the orchestrator's ClickHouse endpoint.
    out["clickhouse"].remove("path");
    out["clickhouse"].remove("library");
    YAML::Node servers(YAML::NodeType::Sequence);
    servers.push_back(host + "/clickhouse");
    out["clickhouse"]["servers"] = servers;
  }
  return out;
}

AppConfig AppConfig::fetch(const std::string& url, const std::string& role,
                           const std::string& local, std::chrono::milliseconds timeout,
                           bool demo_default) {
  std::string rest = url;
  // As Akvorado: "http://orchestrator:8080#2" asks for the service's configuration number 2.
  std::string index;
  if (auto hash = rest.find('#'); hash != std::string::npos) {
    index = rest.substr(hash + 1);
    rest.erase(hash);
    if (index.empty() || index.find_first_not_of("0123456789") != std::string::npos)
      throw ConfigError(url + ": the fragment must be a configuration index (#0, #1...)");
  }
  if (rest.rfind("http://", 0) == 0) rest = rest.substr(7);
  else if (rest.find("://") != std::string::npos)
    throw ConfigError(url + ": only http:// orchestrator URLs are supported");
  std::string host_port = rest.substr(0, rest.find('/'));
  std::string prefix = rest.size() > host_port.size() ? rest.substr(host_port.size()) : "";
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (host_port.empty() || host_port.find(':') == std::string::npos)
    throw ConfigError(url + ": expected http://host:port of the orchestrator");
  const std::string target =
      prefix + "/api/v0/orchestrator/configuration/" + role + (index.empty() ? "" : "/" + index);
  const std::string full = "http://" + host_port + target;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string last_error;
  for (int attempt = 1;; attempt++) {
    try {
      auto r = httpRequest(host_port, "GET", target, "", 5000);
      if (r.status == 200) {
        YAML::Node remote;
        try {
          remote = YAML::Load(r.body);
        } catch (const YAML::Exception& e) {
          throw ConfigError(fmt::format("{}: invalid YAML from the orchestrator: {}", full,
                                        e.what()));
        }
        YamlDocument over = loadYamlFile(local);
        YAML::Node root = local.empty() ? remote : mergeYaml(remote, over.root);
        spdlog::info("configuration of the {} fetched from {}{}", role, url,
                     local.empty() ? "" : " (with " + local + " over it)");
        return fromYaml(root, full + (local.empty() ? "" : " + " + local), demo_default,
                        over.files);
      }
      if (r.status < 500)
        throw ConfigError(fmt::format("{}: the orchestrator answered {}: {}", full, r.status,
                                      r.body));
      last_error = fmt::format("HTTP {}", r.status);
    } catch (const ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      last_error = e.what();
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw ConfigError(fmt::format("cannot fetch the configuration from the orchestrator at {} "
                                    "after {} attempts: {}", url, attempt, last_error));
    if (attempt == 1 || attempt % 10 == 0)
      spdlog::warn("orchestrator {} not answering ({}), retrying", url, last_error);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(1000, 100 * attempt)));
  }
}

AppConfig AppConfig::fromYaml(const YAML::Node& root, const std::string& path,
                              bool demo_default, std::shared_ptr<const ConfigFiles> files) {
  AppConfig c;
  c.file = path;
  c.demo.enabled = demo_default;
  ConfigReader r(root, path, "", std::move(files));
  r.field("automatic-restart", c.automatic_restart);
  r.section("clickhouse", [&](ConfigReader& s) { c.clickhouse.read(s); });
  r.section("schema", [&](ConfigReader& s) { c.schema.read(s); });
  r.section("http", [&](ConfigReader& s) { c.http.read(s); });
  r.section("inlet", [&](ConfigReader& s) {
    c.inlet.read(s);
    s.field("queue-size", c.queue_size, 16, 1 << 24);
  });
  r.section("outlet", [&](ConfigReader& s) {
    c.outlet.read(s);
    s.section("metadata", [&](ConfigReader& x) { c.metadata.read(x); });
    s.section("geoip", [&](ConfigReader& x) { c.geoip.read(x); });
    s.section("networks", [&](ConfigReader& x) { c.networks.read(x); });
    s.section("core", [&](ConfigReader& x) { c.core.read(x); });
    s.section("routing", [&](ConfigReader& rs) { c.routing.read(rs); });
    s.section("kafka-output", [&](ConfigReader& x) { c.kafka_output.read(x); });
  });
  r.section("console", [&](ConfigReader& s) {
    Schema schema(c.schema);
    c.console.read(s, schema);
    c.web.read(s);
  });
  c.kafka.configured = r.has("kafka");
  r.section("kafka", [&](ConfigReader& s) { c.kafka.read(s); });
  // The demo's defaults come from the inputs, set before its section is read so that the keys
  // given override them and `config check` (and the orchestrator's configuration) show them:
  // it sends to the first NetFlow input, its BMP speaker to the BMP listener when routing uses
  // BMP (a `bmp` section without `target` keeps that), on loopback when they listen on every
  // address.
  auto reachable = [](std::string listen) {
    auto colon = listen.rfind(':');
    if (colon == std::string::npos) return listen;
    std::string host = listen.substr(0, colon);
    if (host.empty() || host == "0.0.0.0") listen = "127.0.0.1" + listen.substr(colon);
    if (host == "[::]") listen = "[::1]" + listen.substr(colon);
    return listen;
  };
  for (const auto& in : c.inlet.inputs)
    if (in.decoder == "netflow") {
      c.demo.target = reachable(in.listen);
      break;
    }
  if (c.routing.type == "bmp") c.demo.bmp.target = reachable(c.routing.bmp.listen);
  r.section("demo-exporter", [&](ConfigReader& s) { c.demo.read(s); });
  r.finish();
  c.resolved = r.resolved();
  return c;
}

StorePool::Lease StorePool::acquire() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return !free_.empty() || created_ < size_; });
  if (!free_.empty()) {
    auto c = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(c));
  }
  created_++;
  lock.unlock();
  try {
    return Lease(*this, store_.connect(read_only_));
  } catch (...) {
    std::lock_guard l(mutex_);
    created_--;
    throw;
  }
}

void StorePool::release(std::unique_ptr<StoreConnection> c) {
  std::lock_guard lock(mutex_);
  if (c) free_.push_back(std::move(c));
  else created_--;
  cv_.notify_one();
}

namespace {
// Also under /api/v0/<service>/ for each service this process runs, as Akvorado.
std::vector<std::string> apiPrefixes(const std::vector<std::string>& services) {
  std::vector<std::string> prefixes = {"/api/v0"};
  for (const auto& s : services) prefixes.push_back("/api/v0/" + s);
  return prefixes;
}

void registerHealthRoutes(HttpServer& http, const Health& health,
                          const std::vector<std::string>& services) {
  for (const auto& p : apiPrefixes(services))
    http.route("GET", p + "/healthcheck", [&health](const HttpRequest&) {
      Health::Status worst;
      nlohmann::json body = health.report(&worst);
      return HttpResponse::fromJson(body, worst == Health::Status::kError ? 503 : 200);
    });
}
}  // namespace

std::vector<std::unique_ptr<HttpServer>> startHealthSockets(
    const HttpServer::Config& http, Metrics& metrics, const Health& health,
    const std::vector<std::string>& services) {
  std::vector<std::unique_ptr<HttpServer>> out;
  if (http.health_socket.empty()) return out;
  std::vector<std::string> names = {http.health_socket};
  for (const auto& s : services) names.push_back(http.health_socket + "/" + s);
  std::vector<std::string> taken;
  std::string why;
  for (const auto& name : names) {
    HttpServer::Config hc = http;
    hc.listen = name;
    hc.max_connections = 4;  // probes, one at a time
    hc.max_body_size = 4096;
    hc.idle_timeout = std::min<Duration>(http.idle_timeout, std::chrono::seconds(5));
    hc.request_timeout = std::min<Duration>(http.request_timeout, std::chrono::seconds(5));
    auto server = std::make_unique<HttpServer>(hc, metrics);
    registerHealthRoutes(*server, health, services);
    try {
      server->start();
      out.push_back(std::move(server));
    } catch (const std::exception& e) {
      taken.push_back(name);
      if (why.empty()) why = e.what();
    }
  }
  // Abstract names are one per network namespace: a second akvo on this host (tests start
  // several) finds them taken. It goes on without them, said once.
  if (!taken.empty())
    spdlog::warn("health sockets {} not available ({}): another akvo in this network namespace "
                 "holds them? This process goes on without them; `akvo healthcheck --http {}` "
                 "reaches it (or give it names of its own with http.health-socket, \"\" for none)",
                 fmt::join(taken, ", "), why, http.listen);
  return out;
}

void registerCommonRoutes(HttpServer& http, Metrics& metrics, const Health& health,
                         const std::vector<std::string>& services) {
  registerHealthRoutes(http, health, services);
  for (const auto& p : apiPrefixes(services)) {
    http.route("GET", p + "/version", [](const HttpRequest&) {
      return HttpResponse::fromJson(nlohmann::json{{"version", AKVO_VERSION}});
    });
    http.route("GET", p + "/metrics", [&metrics](const HttpRequest&) {
      HttpResponse r = HttpResponse::text(metrics.render());
      r.content_type = "text/plain; version=0.0.4";
      return r;
    });
  }
}

void registerSqlRoute(HttpServer& http, StorePool& read_pool, StorePool& write_pool) {
  // The store of a running akvo for `akvo sql`: loopback only, read-only unless asked.
  http.route("POST", "/api/v0/sql", [&read_pool, &write_pool](const HttpRequest& req) {
    if (!req.fromLoopback()) throw HttpError(403, "the SQL endpoint only answers loopback clients");
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const std::exception& e) {
      throw HttpError(400, std::string("invalid JSON: ") + e.what());
    }
    std::string query = body.value("query", "");
    std::string format = body.value("format", "TSV");
    bool write = body.value("write", false);
    if (query.empty()) throw HttpError(400, "missing \"query\"");
    auto conn = (write ? write_pool : read_pool).acquire();
    try {
      return HttpResponse::text(conn->query(query, format));
    } catch (const StoreError& e) {
      throw HttpError(400, e.what());
    }
  });
}

namespace {

std::unique_ptr<Store> openStore(const AppConfig& c, Metrics* metrics = nullptr) {
  if (!c.clickhouse.embedded())
    return std::make_unique<HttpStore>(httpStoreConfig(c.clickhouse), metrics);
  ChdbStore::Config sc;
  sc.path = c.clickhouse.path;
  sc.library = c.clickhouse.library;
  sc.settings = {"log_queries=0"};
  return std::make_unique<ChdbStore>(sc);
}

/// Blocks every signal in the calling thread (and the threads it starts), then waits for
/// SIGINT or SIGTERM.
sigset_t blockSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

/// Waits for SIGINT or SIGTERM (returns the signal), or for SIGHUP (sent by the configuration
/// watcher, or by an operator) with a valid new configuration (returns SIGHUP). A configuration
/// that is not valid is reported and the process goes on with the one it runs.
int waitForSignal(const sigset_t& set, const Reload& reload) {
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      return sig;
    }
    if (sig != SIGHUP) continue;
    if (reload.files.empty() || !reload.validate) {
      spdlog::warn("SIGHUP: this process has no configuration file to read again");
      continue;
    }
    try {
      reload.validate();
    } catch (const std::exception& e) {
      spdlog::error("the configuration changed but is not valid, akvo goes on with the one it "
                    "runs: {}", e.what());
      continue;
    }
    spdlog::info("the configuration changed: restarting");
    return SIGHUP;
  }
}

}  // namespace

/// The outlet is healthy while its inserts succeed; failing ones are retried (a warning), and
/// after a minute of failures it is an error.
void addOutletHealth(Health& health, const Outlet& outlet) {
  health.add("outlet", [&outlet] {
    BatchWriter::Failing f = outlet.writer().failing();
    if (!f.failing) return Health::State{};
    auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::steady_clock::now() - f.since).count();
    return Health::State{secs >= 60 ? Health::Status::kError : Health::Status::kWarning,
                         fmt::format("inserts failing for {} s (retried): {}", secs, f.error)};
  });
}

/// How far back from the newest stored flow the consolidated tables are checked after an
/// unclean stop: only the inserts in flight at the kill can be partial, and they hold the
/// newest flows (the writer inserts one batch at a time, in order, each at most
/// maximum-wait-time old). Ten minutes is generous and costs a 3-column scan of that much raw data.
constexpr Duration kRepairWindow = std::chrono::minutes(10);

int runRole(const std::string& role, const AppConfig& c, const Reload& reload) {
  sigset_t signals = blockSignals();
  Metrics metrics;
  Schema schema(c.schema);
  bool all = role == "all-in-one";
  bool stores = all || role == "outlet" || role == "orchestrator" || role == "console";
  if ((role == "inlet" || role == "outlet") && !c.kafka.configured) {
    spdlog::error("the {} role alone sends or receives flows through Kafka: add a kafka section "
                  "(brokers...) to {}, or run all-in-one", role, c.file.empty() ? "the configuration" : c.file);
    return 2;
  }
  std::unique_ptr<Store> store;
  if (stores) store = openStore(c, &metrics);
  std::filesystem::path running_marker;  // removed once everything is stored, at a clean stop
  Outlet::Config outlet_config = c.outlet;
  outlet_config.startup_delay = c.core.startup_delay;
  // The outlet builds the rows of the first consolidated table itself (no view on `flows`).
  if (c.clickhouse.resolutions.size() >= 2) {
    const Duration iv = c.clickhouse.resolutions[1].interval;
    outlet_config.clickhouse.consolidated_table = flowsTableName(iv);
    outlet_config.clickhouse.consolidated_seconds = uint32_t(iv.count() / 1000);
  }
  // A cluster's servers join the small inserts of the outlets (writer.h).
  outlet_config.clickhouse.async_small_inserts = !c.clickhouse.embedded();

  // Orchestrator: the schema first, so that everything after finds its tables.
  if (store && (all || role == "orchestrator")) {
    auto conn = store->connect();
    Migrations m(c.clickhouse, schema, *conn, metrics);
    m.run();
    // The embedded store lives and dies with this process. A marker left by a run that did not
    // stop cleanly means its last insert may be in `flows` and not in the consolidated tables
    // (each view's insert is its own commit): make them agree again before inserting more.
    if (c.clickhouse.embedded()) {
      running_marker = std::filesystem::path(c.clickhouse.path) / "akvo.running";
      // The writer notes there the TimeReceived range of each batch before inserting it.
      outlet_config.clickhouse.inflight_file =
          (std::filesystem::path(c.clickhouse.path) / "akvo.inflight").string();
      if (std::filesystem::exists(running_marker)) {
        spdlog::warn("the last run did not stop cleanly: checking the consolidated tables");
        std::pair<uint32_t, uint32_t> inflight{0, 0};
        std::ifstream(outlet_config.clickhouse.inflight_file) >> inflight.first >> inflight.second;
        try {
          size_t n = m.repairConsolidated(kRepairWindow, inflight);
          if (n == 0) spdlog::info("consolidated tables agree with the raw flows");
        } catch (const StoreError& e) {
          // Collecting matters more than the repair: say it loudly and go on.
          spdlog::error("could not repair the consolidated tables (they may disagree with the raw "
                        "flows for the last minutes before the unclean stop): {}", e.what());
        }
      }
      std::ofstream(running_marker) << getpid() << "\n";
    }
  }
  if (role == "orchestrator" && c.kafka.configured) {
    if (c.kafka.manage_topic) {
      spdlog::info("kafka: {}", ensureKafkaTopic(c.kafka));
      spdlog::info("kafka: {}", ensureTemplatesTopic(c.kafka));
    } else {
      spdlog::info("kafka: manage-topic is false: topics {} and {} are left as they are",
                   c.kafka.fullTopic(), c.kafka.templatesTopic());
    }
  }
  if (role == "orchestrator" && c.kafka_output.enabled && c.kafka_output.manage_topic)
    spdlog::info("kafka output: {}", ensureOutputTopic(c.kafka_output, c.kafka));

  HttpServer http(c.http, metrics);
  Health health;
  health.add("http", [] { return Health::State{}; });  // it answers: it is up
  const std::vector<std::string> services =
      all ? std::vector<std::string>{"inlet", "outlet", "orchestrator", "console"}
          : std::vector<std::string>{role};
  registerCommonRoutes(http, metrics, health, services);
  if (role == "orchestrator") {
    // One file for every role: the others start with this orchestrator's URL.
    for (std::string service : {"inlet", "outlet", "console", "demo-exporter"}) {
      auto serve = [&c, service](const HttpRequest& req) {
        std::string host = req.header("host");
        if (host.empty()) host = c.http.listen;
        YAML::Emitter out;
        out << serviceConfiguration(c, service, host);
        HttpResponse r = HttpResponse::text(out.c_str());
        r.content_type = "application/yaml";
        return r;
      };
      http.route("GET", "/api/v0/orchestrator/configuration/" + service, serve);
      // Akvorado's /configuration/<service>/<index> (URL fragment #index): akvo's file holds
      // one configuration per service, number 0; lay a local file (-c) over it for variants.
      const std::string under = "/api/v0/orchestrator/configuration/" + service + "/";
      http.prefix("GET", under,
                       [serve, service, under](const HttpRequest& req) {
                         std::string rest = req.path.substr(under.size());
                         if (rest == "0") return serve(req);
                         throw HttpError(404, fmt::format(
                             "no configuration {} for the {}: akvo serves one per service "
                             "(#0); lay a local file over it with -c for variants",
                             rest, service));
                       });
    }
  }
  std::unique_ptr<console::WebAssets> web;
  if (all || role == "console") {
    web = std::make_unique<console::WebAssets>(c.web);
    web->registerRoutes(http);
  }
  std::unique_ptr<StorePool> pool, write_pool;
  if (store) {
    pool = std::make_unique<StorePool>(*store, 3, true);
    write_pool = std::make_unique<StorePool>(*store, 1, false);
    registerSqlRoute(http, *pool, *write_pool);
  }
  // The orchestrator shares its embedded store with outlets and consoles on this host.
  std::unique_ptr<StorePool> endpoint_pool;
  if (store && c.clickhouse.embedded() && (all || role == "orchestrator")) {
    endpoint_pool = std::make_unique<StorePool>(*store, 4, false);
    registerClickHouseEndpoint(http, *endpoint_pool, *pool);
  }

  std::unique_ptr<console::Console> console;
  if (store && (all || role == "console")) {
    console::ConsoleConfig cc = c.console;
    cc.cache_backend = c.http.cache;
    if (cc.database_driver == "sqlite" && cc.database_path.empty() && c.clickhouse.embedded())
      cc.database_path = c.clickhouse.path + "/console.sqlite";
    StorePool* p = pool.get();
    console = std::make_unique<console::Console>(
        cc, schema, c.clickhouse,
        [p](const std::string& sql, const std::string& format) {
          auto conn = p->acquire();
          return conn->query(sql, format);
        },
        metrics);
    console->start();
    console->registerRoutes(http);
  }

  std::unique_ptr<KafkaFlowExport> flow_export;
  if ((all || role == "outlet") && c.kafka_output.enabled) {
    flow_export = std::make_unique<KafkaFlowExport>(c.kafka_output, c.kafka, metrics);
    flow_export->start();
  }
  std::unique_ptr<QueueTransport> transport;
  std::unique_ptr<routing::BmpProvider> bmp;
  std::unique_ptr<routing::CoreRouting> bmp_for_core;
  std::unique_ptr<metadata::Metadata> metadata;
  std::unique_ptr<GeoIP> geoip;
  std::unique_ptr<Networks> networks;
  std::unique_ptr<CustomDictionaries> dictionaries;
  std::unique_ptr<Core> core;
  std::unique_ptr<Outlet> outlet;
  std::unique_ptr<Inlet> inlet;
  // Enrichment (in every process that decodes): metadata (cache + pollers), GeoIP, networks,
  // routing (BMP), then the core that uses them; one enricher per outlet worker.
  Outlet::EnricherFactory enrichers;
  if (all || role == "outlet") {
    metadata = std::make_unique<metadata::Metadata>(c.metadata, metrics);
    metadata->start();
    if (c.geoip.enabled()) {
      geoip = std::make_unique<GeoIP>(c.geoip, metrics);
      geoip->start();
    }
    networks = std::make_unique<Networks>(c.networks, &metrics);
    networks->start();
    if (c.routing.type == "bmp") {
      bmp = std::make_unique<routing::BmpProvider>(c.routing.bmp, metrics);
      bmp->start();
      bmp_for_core = std::make_unique<routing::CoreRouting>(*bmp);
    }
    if (!schema.customDictionaries().empty()) {
      dictionaries = std::make_unique<CustomDictionaries>(schema, metrics);
      dictionaries->start();
    }
    core = std::make_unique<Core>(c.core, metrics, metadata.get(), networks.get(), geoip.get(),
                                  bmp_for_core.get(), dictionaries.get());
    // The core selects AS numbers, masks and next hops (asn-providers, net-providers) with the
    // routing lookups; the routing enricher then adds AS paths and communities.
    enrichers = [&core, p = bmp.get()](size_t) -> std::unique_ptr<FlowEnricher> {
      if (!p) return core->makeEnricher();
      return std::make_unique<routing::RoutingEnricher>(*p, core->makeEnricher());
    };
  }
  if (all) {
    transport = std::make_unique<QueueTransport>(size_t(c.outlet.workers), size_t(c.queue_size));
    for (size_t i = 0; i < transport->size(); i++) {
      DatagramQueue* q = &transport->queue(i);
      metrics.gauge("akvo_inlet_transport_queue_depth", "Datagrams waiting in the queue.",
                    {{"queue", std::to_string(i)}}, [q] { return double(q->depth()); });
    }
    outlet = std::make_unique<Outlet>(outlet_config, schema, *transport, *store, metrics, enrichers);
    outlet->exportTo(flow_export.get());
    outlet->start();
    addOutletHealth(health, *outlet);
    inlet = std::make_unique<Inlet>(c.inlet, *transport, metrics);
    inlet->start();
  }
  // Scale-out: separate inlet and outlet processes joined by Kafka.
  std::unique_ptr<KafkaProducer> producer;
  std::unique_ptr<KafkaConsumer> consumer;
  std::unique_ptr<decoder::SharedTemplates> templates;
  std::unique_ptr<KafkaTemplateExchange> template_exchange;
  if (role == "outlet") {
    // Templates first: read every template the other outlets shared before any flow.
    templates =
        std::make_unique<decoder::SharedTemplates>(size_t(outlet_config.template_max_bytes));
    template_exchange = std::make_unique<KafkaTemplateExchange>(c.kafka, *templates, metrics);
    template_exchange->start();
    consumer = std::make_unique<KafkaConsumer>(c.kafka, metrics);
    outlet = std::make_unique<Outlet>(outlet_config, schema, *consumer, *store, metrics, enrichers);
    outlet->shareTemplates(templates.get());
    outlet->exportTo(flow_export.get());
    consumer->start();
    outlet->start();
    addOutletHealth(health, *outlet);
  }
  if (role == "inlet") {
    producer = std::make_unique<KafkaProducer>(c.kafka, metrics);
    producer->start();
    inlet = std::make_unique<Inlet>(c.inlet, *producer, metrics);
    inlet->start();
  }
  http.start();
  auto health_sockets = startHealthSockets(c.http, metrics, health, services);
  std::unique_ptr<demo::DemoExporter> demo;
  if ((all && c.demo.enabled) || role == "demo-exporter") {
    demo = std::make_unique<demo::DemoExporter>(c.demo, metrics);
    demo->start();
  }
  spdlog::info("akvo {} running ({})", AKVO_VERSION, role);
  std::unique_ptr<ConfigWatcher> watcher;
  if (c.automatic_restart && !reload.files.empty())
    watcher = std::make_unique<ConfigWatcher>(reload.files, [](const std::string& path) {
      spdlog::info("configuration file {} changed", path);
      kill(getpid(), SIGHUP);  // waitForSignal checks it and restarts
    });
  const bool restart = waitForSignal(signals, reload) == SIGHUP;
  watcher.reset();

  // Drain in flow order: stop sending and receiving, decode and store what was received.
  if (demo) demo->stop();
  if (inlet) inlet->stop();
  if (producer) producer->stop();
  if (outlet) outlet->stop();
  if (consumer) consumer->stop();  // after the outlet: its last batches commit on the way out
  if (template_exchange) template_exchange->stop();
  if (flow_export) flow_export->stop();
  if (metadata) metadata->stop();  // saves the cache
  if (geoip) geoip->stop();
  if (networks) networks->stop();
  if (dictionaries) dictionaries->stop();
  if (bmp) bmp->stop();
  health_sockets.clear();  // stops them
  http.stop();
  pool.reset();
  write_pool.reset();
  endpoint_pool.reset();
  if (!running_marker.empty()) std::filesystem::remove(running_marker);
  spdlog::info(restart ? "akvo stopped, starting again" : "akvo stopped");
  return restart ? kRestart : 0;
}

std::vector<HealthTarget> healthcheckTargets(const std::string& http, const std::string& socket,
                                             const std::string& service,
                                             const std::string& config_listen) {
  const std::string path =
      service.empty() ? "/api/v0/healthcheck" : "/api/v0/" + service + "/healthcheck";
  auto over_socket = [&](std::string name) {
    if (!name.starts_with('@')) name = "@" + name;
    return HealthTarget{service.empty() ? name : name + "/" + service, "/api/v0/healthcheck"};
  };
  if (!http.empty()) return {{http, path}};
  if (!socket.empty()) return {over_socket(socket)};
  if (!config_listen.empty()) return {{config_listen, path}};
  const HttpServer::Config defaults;
  return {over_socket(defaults.health_socket), {defaults.listen, path}};
}

int runHealthcheck(const std::vector<HealthTarget>& targets, std::ostream& out,
                   std::ostream& err) {
  std::vector<std::string> failures;
  for (const auto& t : targets) {
    HttpClientResponse r;
    try {
      r = httpRequest(t.address, "GET", t.path, "", 5000);
    } catch (const std::exception& e) {
      failures.push_back(e.what());  // no answer there: the next target, if any
      continue;
    }
    out << r.body << "\n";
    std::string status;
    try {
      status = nlohmann::json::parse(r.body).value("status", "");
    } catch (const std::exception&) {
    }
    return r.status == 200 && (status == "ok" || status == "warning") ? 0 : 1;
  }
  err << fmt::format("akvo healthcheck: no answer: {}\n", fmt::join(failures, "; "));
  return 1;
}

int runSql(const AppConfig& c, const std::string& query, const std::string& format, bool write) {
  // A running akvo holds the store: ask it.
  try {
    // (httpRequest's timeouts hold: a busy process gets 5 s to say it is there; a statement
    // runs as long as it needs, a long ALTER or a large export included.)
    auto health = httpRequest(c.http.listen, "GET", "/api/v0/healthcheck", "", 5000);
    if (health.status == 200) {
      nlohmann::json body{{"query", query}, {"format", format}, {"write", write}};
      auto r = httpRequest(c.http.listen, "POST", "/api/v0/sql", body.dump(), 24 * 3600 * 1000);
      if (r.status != 200) {
        std::string msg = r.body;
        try {
          msg = nlohmann::json::parse(r.body).value("message", r.body);
        } catch (...) {
        }
        std::cerr << "akvo sql: " << msg << "\n";
        return 1;
      }
      std::cout << r.body;
      return 0;
    }
  } catch (const std::exception&) {
    // Nobody listening: open the store ourselves.
  }
  try {
    auto store = openStore(c);
    auto conn = store->connect(/*read_only=*/!write);
    std::cout << conn->query(query, format);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "akvo sql: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace akvo
