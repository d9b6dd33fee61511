#pragma once
/// Wiring of the roles: reads the configuration file (one section per component), builds the
/// components, passes them to each other and runs until SIGINT/SIGTERM.
#include <condition_variable>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <vector>
#include <string>

#include <yaml-cpp/yaml.h>

#include "common/health.h"
#include "common/http_server.h"
#include "common/schema.h"
#include "console/console.h"
#include "console/web/web.h"
#include "demo/demo.h"
#include "inlet/udp.h"
#include "orchestrator/clickhouse.h"
#include "outlet/core/core.h"
#include "outlet/outlet.h"
#include "transport/kafka.h"
#include "transport/kafka_export.h"
#include "outlet/routing/enricher.h"

namespace akvo {

struct AppConfig {
  std::string file;
  /// The files read: the main one, then those it includes (load() only).
  std::vector<std::string> files;
  /// Restart when the configuration file changes and the new one is valid (Akvorado's
  /// orchestrator key, default true).
  bool automatic_restart = true;
  ClickHouseConfig clickhouse;
  SchemaConfig schema;
  HttpServer::Config http;
  InletConfig inlet;
  int64_t queue_size = 16384;  ///< datagrams per outlet worker queue (embedded transport)
  Outlet::Config outlet;
  // Enrichment: the outlet's metadata, geoip, networks and core sections.
  metadata::Metadata::Config metadata;
  GeoIP::Config geoip;
  Networks::Config networks;
  Core::Config core;
  KafkaOutputConfig kafka_output;  ///< outlet.kafka-output: enriched flows to a second topic
  KafkaConfig kafka;  ///< transport between separate inlet and outlet processes
  routing::RoutingConfig routing;  ///< outlet.routing
  demo::DemoExporter::Config demo;
  console::ConsoleConfig console;
  console::WebAssets::Config web;  ///< console.web-root, console.url-prefix
  YAML::Node resolved;  ///< the whole configuration with defaults, for `config check`

  /// Reads `path` (empty: defaults only). Throws ConfigError naming file, line and key.
  static AppConfig load(const std::string& path, bool demo_default = false);
  /// Reads a parsed document; `source` names it in errors, unless `files` knows the file a
  /// node came from (an included file).
  static AppConfig fromYaml(const YAML::Node& root, const std::string& source,
                            bool demo_default = false,
                            std::shared_ptr<const ConfigFiles> files = nullptr);
  /// Fetches the configuration of `role` from the orchestrator at `url` ("http://host:port"),
  /// GET /api/v0/orchestrator/configuration/<role>, retrying while it does not answer (connection
  /// refused, 5xx) for up to `timeout`; then the local file `local` (optional) is laid over it
  /// (its keys win: e.g. http.listen of this process). Throws ConfigError with the URL and the
  /// reason when the orchestrator never answers or refuses.
  static AppConfig fetch(const std::string& url, const std::string& role,
                         const std::string& local, std::chrono::milliseconds timeout,
                         bool demo_default = false);
};

/// What the orchestrator serves to `role` (inlet, outlet, console, demo-exporter): the sections
/// of its configuration that role reads (with defaults), without `http` (each process has its
/// own). When the orchestrator's store is embedded, outlets and consoles get its ClickHouse
/// endpoint, `http://<host>/clickhouse`, `host` being how they reached the orchestrator.
/// Returns a null node for an unknown role.
YAML::Node serviceConfiguration(const AppConfig& c, const std::string& role,
                                const std::string& host);

/// Lays `over` on `base`: mappings merge key by key, anything else is replaced. `base` is not
/// modified; the result shares `over`'s nodes.
YAML::Node mergeYaml(const YAML::Node& base, const YAML::Node& over);

/// How a process reloads its configuration file. `validate` reads the file again as at start
/// (throws ConfigError when it is not valid); `files` are the files it was read from (empty
/// when the configuration came from an orchestrator or defaults: nothing to reload).
struct Reload {
  std::vector<std::string> files;
  std::function<void()> validate;
};
/// runRole's answer when the configuration changed (file written, or SIGHUP) and the new one is
/// valid: everything was stopped as for SIGTERM; the caller starts again (main re-executes).
constexpr int kRestart = -1;

/// Runs `role` ("all-in-one", "inlet", "outlet", "orchestrator", "console", "demo-exporter")
/// until a signal. Returns the process exit code, or kRestart.
int runRole(const std::string& role, const AppConfig& config, const Reload& reload = {});

/// Where `akvo healthcheck` asks.
struct HealthTarget {
  std::string address;  ///< "@name" (abstract Unix socket) or "host:port"
  std::string path;     ///< "/api/v0/healthcheck" or "/api/v0/<service>/healthcheck"
  bool operator==(const HealthTarget&) const = default;
};
/// The targets of `akvo healthcheck [--http H | --socket S | -c file] [--service X]`, in order:
/// --http H (X: /api/v0/X/healthcheck there); --socket S (X: the socket S/X; S with or without
/// its "@"); the configuration's http.listen (`config_listen`, from -c); with none of them,
/// the socket @akvo (@akvo/X), then 127.0.0.1:8081.
std::vector<HealthTarget> healthcheckTargets(const std::string& http, const std::string& socket,
                                             const std::string& service,
                                             const std::string& config_listen);
/// `akvo healthcheck`: GET the health of the first target that answers, printed to `out`; 0
/// when it answers ok or warning, 1 otherwise (error, or no target answers: said on `err`).
int runHealthcheck(const std::vector<HealthTarget>& targets, std::ostream& out = std::cout,
                   std::ostream& err = std::cerr);

/// The health sockets of a process (http.health-socket, docs/03-console-api.md): servers on
/// the abstract Unix sockets `<name>` and `<name>/<service>` for each of `services`, answering
/// /api/v0/healthcheck (and /api/v0/<service>/healthcheck) only, started. A name that cannot be
/// had (another akvo on the host holds it) is left out, with one warning for all: never an
/// error. Empty when http.health-socket is "". Destroying a server stops it.
std::vector<std::unique_ptr<HttpServer>> startHealthSockets(
    const HttpServer::Config& http, Metrics& metrics, const Health& health,
    const std::vector<std::string>& services);

/// `akvo sql`: through the running instance's HTTP API if one answers, else on the store.
int runSql(const AppConfig& config, const std::string& query, const std::string& format,
           bool write);

/// Registers /api/v0/healthcheck, /api/v0/version, /api/v0/metrics, also under
/// /api/v0/<service>/ for each of `services`.
class StorePool;
void registerCommonRoutes(HttpServer& http, Metrics& metrics, const Health& health,
                          const std::vector<std::string>& services);
void registerSqlRoute(HttpServer& http, StorePool& read_pool, StorePool& write_pool);

/// A few connections for HTTP handlers; each request borrows one.
class StorePool {
 public:
  StorePool(Store& store, size_t size, bool read_only = false)
      : store_(store), size_(size), read_only_(read_only) {}
  class Lease {
   public:
    Lease(StorePool& p, std::unique_ptr<StoreConnection> c) : pool_(p), conn_(std::move(c)) {}
    ~Lease() { pool_.release(std::move(conn_)); }
    StoreConnection* operator->() { return conn_.get(); }
    StoreConnection& operator*() { return *conn_; }

   private:
    StorePool& pool_;
    std::unique_ptr<StoreConnection> conn_;
  };
  Lease acquire();

 private:
  void release(std::unique_ptr<StoreConnection> c);
  Store& store_;
  size_t size_;
  bool read_only_;
  std::mutex mutex_;  // guards free_ and created_
  std::condition_variable cv_;
  std::vector<std::unique_ptr<StoreConnection>> free_;
  size_t created_ = 0;
};

}  // namespace akvo
