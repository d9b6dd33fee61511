// akvo: the command line. `akvo` alone runs all the roles in one process.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <linux/close_range.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

#include "app/akvorado_import.h"
#include "app/app.h"
#include "common/schema.h"
#include "tools/replay.h"
#include "transport/kafka.h"
#include "outlet/decoder/decode_tool.h"

static bool orchestrator_role(const std::string& r) {
  return r == "all-in-one" || r == "orchestrator";
}

// Log lines: time, level (coloured on a terminal), message.
constexpr const char* kLogPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

int main(int argc, char** argv) {
  CLI::App app{"akvo: network flow collector and visualizer"};
  app.require_subcommand(0, 1);
  std::string config_file;
  app.add_option("-c,--config", config_file, "configuration file (YAML)");
  bool demo_flag = false;
  app.add_flag("--demo", demo_flag, "run the demo exporter too (all-in-one)");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");

  std::vector<std::string> roles = {"all-in-one", "inlet", "outlet", "orchestrator", "console",
                                    "demo-exporter"};
  std::string chosen = "all-in-one";
  std::string orchestrator_url;
  std::string orchestrator_timeout = "2m";
  bool check_only = false, dump_config = false;
  for (const auto& r : roles) {
    auto* sub = app.add_subcommand(r, "run the " + r + " role");
    sub->add_option("-c,--config", config_file,
                    orchestrator_role(r) ? "configuration file (YAML)"
                                         : "configuration file (YAML); with an orchestrator URL, "
                                           "laid over what the orchestrator serves");
    if (!orchestrator_role(r)) {
      sub->add_option("url,--orchestrator", orchestrator_url,
                      "fetch the configuration from the orchestrator at this URL "
                      "(http://host:port), as Akvorado does");
      sub->add_option("--orchestrator-timeout", orchestrator_timeout,
                      "how long to retry while the orchestrator does not answer (default 2m)");
    }
    sub->add_flag("--demo", demo_flag, "run the demo exporter too");
    sub->add_flag("--check", check_only, "check the configuration and exit (as Akvorado's --check)");
    sub->add_flag("--dump", dump_config,
                  "print the configuration in force, defaults included, and exit (as Akvorado's "
                  "--dump)");
    sub->callback([&chosen, r] { chosen = r; });
  }
  auto* version = app.add_subcommand("version", "print the version");
  bool list_columns = false;
  version->add_flag("-d", list_columns, "also list the schema's columns");

  auto* healthcheck = app.add_subcommand(
      "healthcheck", "ask a running akvo whether it is healthy (exit 0: ok or warning)");
  std::string health_target, health_socket, health_service;
  auto* health_http = healthcheck->add_option(
      "--http", health_target,
      "host:port of its HTTP API (default: http.listen of -c, else the socket @akvo, then "
      "127.0.0.1:8081)");
  healthcheck
      ->add_option("--socket", health_socket,
                   "name of its abstract Unix socket (http.health-socket; default @akvo)")
      ->excludes(health_http);
  healthcheck
      ->add_option("--service", health_service,
                   "ask this service's socket (@akvo/<service>), or under /api/v0/<service>/ "
                   "with --http")
      ->check(CLI::IsMember({"inlet", "outlet", "orchestrator", "console", "demo-exporter"}));
  healthcheck->add_option("-c,--config", config_file, "configuration file (YAML)");

  auto* config_cmd = app.add_subcommand("config", "configuration tools");
  auto* check = config_cmd->add_subcommand("check", "validate a file and print it with defaults");
  std::string check_file;
  check->add_option("file", check_file, "configuration file")->required();
  auto* import_akvorado = config_cmd->add_subcommand(
      "import-akvorado",
      "convert an Akvorado configuration (orchestrator file and its includes) into an akvo one "
      "(exit 0: all carried over, 2: some settings left out, listed on stderr, 1: error)");
  std::string import_file, import_output;
  akvo::AkvoradoImportOptions import_options;
  import_akvorado->add_option("file", import_file, "Akvorado's configuration file")->required();
  import_akvorado->add_option("-o,--output", import_output,
                              "write the akvo configuration here (default: standard output)");
  import_akvorado->add_option("--index", import_options.index,
                              "entry of the inlet, outlet and console lists to convert (default 0)");
  config_cmd->require_subcommand(1);

  auto* sql = app.add_subcommand("sql", "run a query on the store (through a running akvo if any)");
  std::string query, format = "TSV";
  bool write = false;
  sql->add_option("query", query, "SQL query")->required();
  sql->add_option("-c,--config", config_file, "configuration file (YAML)");
  sql->add_option("--format", format, "output format: TSV, JSON, CSV... (ClickHouse formats)");
  sql->add_flag("--write", write, "allow statements that write (default: read-only)");

  auto* replay = app.add_subcommand("replay", "send the UDP payloads of captures to a collector, at a rate");
  akvo::tools::ReplayOptions ro;
  replay->add_option("--pcap", ro.pcaps, "capture files (templates are sent first)")->required();
  replay->add_option("--target", ro.target, "collector host:port");
  replay->add_option("--rate", ro.flows_per_second, "flows per second (0: as fast as possible)");
  replay->add_option("--seconds", ro.seconds, "how long to send");
  replay->add_option("--exporters", ro.exporters, "distinct exporters (sources 127.0.1.x)");
  replay->add_option("--max-flows", ro.max_flows, "stop after this many flows");
  auto* decode = app.add_subcommand("decode", "decode the flows of a capture and print them");
  akvo::decoder::DecodeToolOptions decode_options;
  std::string decode_ts = "input";
  decode->add_option("--pcap", decode_options.pcap, "pcap file of NetFlow/IPFIX/sFlow datagrams")
      ->required();
  decode->add_option("--format", decode_options.format, "json (one object per flow) or table");
  decode->add_option("--decoder", decode_options.decoder, "auto (by version field), netflow, sflow");
  decode->add_option("--timestamp-source", decode_ts,
                     "input (capture time), netflow-packet or netflow-first-switched");
  decode->add_option("--decapsulation-protocol", decode_options.decapsulation,
                     "none, ipip, gre, vxlan or srv6 (as the input option)");

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern(kLogPattern);

  try {
    if (*version) {
      std::cout << "akvo " << AKVO_VERSION << "\n";
      std::cout << "  Kafka client: " << akvo::kafka::library() << "\n";
      if (list_columns)
        for (const auto& c : akvo::allColumns())
          if (!c.name.empty())  // custom dictionary slots are named by the configuration
          std::cout << (c.enabled_by_default ? "  + " : "  - ") << c.name << " " << c.type << "\n";
      return 0;
    }
    if (*decode) {
      spdlog::set_level(spdlog::level::warn);
      if (decode_ts == "netflow-packet")
        decode_options.timestamp_source = akvo::TimestampSource::kNetflowPacket;
      else if (decode_ts == "netflow-first-switched")
        decode_options.timestamp_source = akvo::TimestampSource::kNetflowFirstSwitched;
      else if (decode_ts != "input")
        throw std::invalid_argument("--timestamp-source: expected input, netflow-packet or "
                                    "netflow-first-switched, got '" + decode_ts + "'");
      return akvo::decoder::runDecodeTool(decode_options, std::cout, std::cerr);
    }
    if (*healthcheck) {
      std::string config_listen;
      if (health_target.empty() && health_socket.empty() && !config_file.empty())
        config_listen = akvo::AppConfig::load(config_file).http.listen;
      return akvo::runHealthcheck(akvo::healthcheckTargets(health_target, health_socket,
                                                           health_service, config_listen));
    }
    if (*import_akvorado)
      return akvo::runImportAkvorado(import_file, import_output, import_options, std::cout,
                                     std::cerr);
    if (*check) {
      // The configuration is the output: log lines (warnings) go to stderr.
      spdlog::set_default_logger(spdlog::stderr_color_st("akvo"));
      spdlog::set_pattern(kLogPattern);
      auto c = akvo::AppConfig::load(check_file);
      YAML::Emitter out;
      out << c.resolved;
      std::cout << out.c_str() << "\n";
      return 0;
    }
    if (*replay) {
      auto r = akvo::tools::replay(ro);
      std::cout << fmt::format("sent {} flows in {} datagrams ({} bytes, {} errors) in {:.2f} s: {:.0f} flows/s; "
                               "packets in flows {} (warm-up {}); warm-up flows {}\n",
                               r.flows, r.datagrams, r.bytes, r.errors, r.seconds,
                               r.seconds > 0 ? double(r.flows) / r.seconds : 0, r.packets,
                               r.warmup_packets, r.warmup_flows);
      return r.errors ? 1 : 0;
    }
    if (*sql) {
      if (format == "json") format = "JSON";
      if (format == "tsv") format = "TSV";
      auto c = akvo::AppConfig::load(config_file);
      // The query's result is the output: log lines (the store's warnings) go to stderr.
      spdlog::set_default_logger(spdlog::stderr_color_st("akvo"));
      spdlog::set_pattern(kLogPattern);
      spdlog::set_level(spdlog::level::warn);
      return akvo::runSql(c, query, format, write);
    }
    if (check_only || dump_config) {  // the configuration is the output: logs to stderr
      spdlog::set_default_logger(spdlog::stderr_color_st("akvo"));
      spdlog::set_pattern(kLogPattern);
    }
    auto c = orchestrator_url.empty()
                 ? akvo::AppConfig::load(config_file, demo_flag)
                 : akvo::AppConfig::fetch(orchestrator_url, chosen, config_file,
                                          akvo::parseDuration(orchestrator_timeout), demo_flag);
    if (demo_flag) c.demo.enabled = true;
    if (dump_config) {
      YAML::Emitter out;
      out << c.resolved;
      std::cout << out.c_str() << "\n";
    }
    if (check_only || dump_config) return 0;  // a bad configuration threw ConfigError: exit 2
    akvo::Reload reload;
    if (orchestrator_url.empty() && !config_file.empty()) {
      reload.files = c.files;  // the file and those it includes
      reload.validate = [&] { akvo::AppConfig::load(config_file, demo_flag); };
    }
    int rc = akvo::runRole(chosen, c, reload);
    if (rc != akvo::kRestart) return rc;
    // Start again with the new configuration: the same command line, a fresh process image
    // (the embedded store cannot be opened twice in one process). Every descriptor is closed
    // on exec, so that no socket or store lock outlives the old image.
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    execv("/proc/self/exe", argv);
    spdlog::critical("cannot restart (execv /proc/self/exe): {}", std::strerror(errno));
    return 1;
  } catch (const akvo::ConfigError& e) {
    std::cerr << "akvo: configuration error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
