#include "outlet/metadata/gnmi.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "gnmi.grpc.pb.h"
#include "outlet/networks/subnet_map.h"

namespace akvo::metadata {

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kUnits = {"bps", "mbps", "ethernet", "human"};

GnmiProvider::SpeedUnit unitOf(const std::string& s) {
  if (s == "bps") return GnmiProvider::SpeedUnit::kBps;
  if (s == "mbps") return GnmiProvider::SpeedUnit::kMbps;
  if (s == "ethernet") return GnmiProvider::SpeedUnit::kEthernet;
  return GnmiProvider::SpeedUnit::kHuman;
}

std::optional<uint64_t> parseUint(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// One value read from the device: its path without keys nor module prefixes, the keys met
/// along it ("name=et-0/0/0,index=0", in path order, sorted within one element), its value.
struct Event {
  std::string path, keys, value;
};

Event pathToEvent(const gnmi::Path& p, const Event& prefix) {
  Event e = prefix;
  for (const auto& elem : p.elem()) {
    const std::string& name = elem.name();
    auto colon = name.find(':');
    e.path += "/";
    e.path += colon == std::string::npos ? name : name.substr(colon + 1);
    std::vector<std::pair<std::string, std::string>> keys(elem.key().begin(), elem.key().end());
    std::sort(keys.begin(), keys.end());
    for (const auto& [k, v] : keys) {
      if (!e.keys.empty()) e.keys += ",";
      e.keys += k + "=" + v;
    }
  }
  return e;
}

/// A JSON value below `e`: objects add their member names to the path (module prefixes
/// dropped); lists and booleans are not followed (no model needs them).
void jsonToEvents(const nlohmann::json& v, const Event& e, std::vector<Event>& out) {
  if (v.is_object()) {
    for (const auto& [k, member] : v.items()) {
      Event sub = e;
      auto colon = k.find(':');
      sub.path += "/" + (colon == std::string::npos ? k : k.substr(colon + 1));
      jsonToEvents(member, sub, out);
    }
    return;
  }
  Event leaf = e;
  if (v.is_string()) leaf.value = v.get<std::string>();
  else if (v.is_number_unsigned()) leaf.value = std::to_string(v.get<uint64_t>());
  else if (v.is_number_integer()) leaf.value = std::to_string(v.get<int64_t>());
  else if (v.is_number_float()) leaf.value = std::to_string(int64_t(v.get<double>()));
  else return;
  out.push_back(std::move(leaf));
}

void notificationToEvents(const gnmi::Notification& n, std::vector<Event>& out) {
  Event prefix = pathToEvent(n.prefix(), Event{});
  for (const auto& u : n.update()) {
    Event e = pathToEvent(u.path(), prefix);
    const gnmi::TypedValue& val = u.val();
    switch (val.value_case()) {
      case gnmi::TypedValue::kStringVal: e.value = val.string_val(); break;
      case gnmi::TypedValue::kAsciiVal: e.value = val.ascii_val(); break;
      case gnmi::TypedValue::kIntVal: e.value = std::to_string(val.int_val()); break;
      case gnmi::TypedValue::kUintVal: e.value = std::to_string(val.uint_val()); break;
      case gnmi::TypedValue::kJsonVal:
      case gnmi::TypedValue::kJsonIetfVal: {
        const std::string& text =
            val.value_case() == gnmi::TypedValue::kJsonVal ? val.json_val() : val.json_ietf_val();
        auto json = nlohmann::json::parse(text, nullptr, false);
        if (!json.is_discarded()) jsonToEvents(json, e, out);
        continue;
      }
      default: continue;
    }
    out.push_back(std::move(e));
  }
}

bool among(const std::string& path, const std::vector<std::string>& paths) {
  return std::find(paths.begin(), paths.end(), path) != paths.end();
}

/// What a device said, read with a model.
struct DeviceState {
  std::string name;
  std::unordered_map<uint32_t, InterfaceInfo> interfaces;
};

/// Builds the state from the events, as Akvorado's collector: indexes and speeds are found by
/// the keys of their path, names and descriptions are matched to an index by the same keys; an
/// interface without a name from a path takes the value of one of if-name-keys; a
/// subinterface without a speed takes its parent's (the longest keys prefix that has one).
DeviceState buildState(const std::vector<Event>& events, const GnmiProvider::Model& model) {
  DeviceState s;
  std::map<std::string, uint32_t> indexes;
  std::map<std::string, uint32_t> speeds;
  for (const auto& e : events) {
    if (among(e.path, model.system_name_paths)) {
      s.name = e.value;
      continue;
    }
    if (among(e.path, model.if_index_paths)) {
      auto v = parseUint(e.value);
      if (v && *v <= UINT32_MAX) indexes[e.keys] = uint32_t(*v);
    }
    for (const auto& sp : model.if_speed_paths)
      if (e.path == sp.path)
        if (auto v = GnmiProvider::speedMbps(e.value, sp.unit)) speeds[e.keys] = *v;
  }
  for (const auto& e : events) {
    auto it = indexes.find(e.keys);
    if (it == indexes.end()) continue;
    if (among(e.path, model.if_name_paths)) s.interfaces[it->second].name = e.value;
    else if (among(e.path, model.if_description_paths))
      s.interfaces[it->second].description = e.value;
  }
  for (const auto& [keys, index] : indexes) {
    InterfaceInfo& iface = s.interfaces[index];
    if (iface.name.empty()) {
      // Keys in path order: the first one among if-name-keys names the interface.
      size_t start = 0;
      while (start < keys.size() && iface.name.empty()) {
        size_t end = keys.find(',', start);
        if (end == std::string::npos) end = keys.size();
        std::string_view kv(keys.data() + start, end - start);
        for (const auto& k : model.if_name_keys)
          if (kv.size() > k.size() && kv.substr(0, k.size()) == k && kv[k.size()] == '=') {
            iface.name = std::string(kv.substr(k.size() + 1));
            break;
          }
        start = end + 1;
      }
    }
    if (iface.name.empty()) {
      s.interfaces.erase(index);
      continue;
    }
    for (std::string k = keys; iface.speed == 0;) {
      if (auto sp = speeds.find(k); sp != speeds.end()) iface.speed = sp->second;
      if (k.empty()) break;
      auto comma = k.rfind(',');
      k = comma == std::string::npos ? std::string() : k.substr(0, comma);
    }
  }
  return s;
}

/// "/interfaces/interface/state/ifindex" as a gNMI path (no keys: every list entry).
void toPath(const std::string& text, gnmi::Path* p) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('/', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) p->add_elem()->set_name(text.substr(start, end - start));
    start = end + 1;
  }
}

std::vector<std::string> modelPaths(const GnmiProvider::Model& m) {
  std::vector<std::string> paths;
  for (const auto* list : {&m.system_name_paths, &m.if_index_paths, &m.if_name_paths,
                           &m.if_description_paths})
    paths.insert(paths.end(), list->begin(), list->end());
  for (const auto& sp : m.if_speed_paths) paths.push_back(sp.path);
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

GnmiProvider::Authentication parseAuthentication(const ConfigReader& parent,
                                                 const YAML::Node& n) {
  GnmiProvider::Authentication a;
  ConfigReader r(parent, n, parent.path() + ".authentication-parameters");
  r.field("username", a.username);
  r.field("password", a.password);
  // Akvorado's former keys, moved into `tls` (read when given, as its migration does).
  bool insecure = false;
  r.field("insecure", insecure);
  r.field("skip-verify", a.tls.skip_verify);
  r.field("tls-ca", a.tls.ca_file);
  r.field("tls-cert", a.tls.cert_file);
  r.field("tls-key", a.tls.key_file);
  if (insecure) a.tls.enable = false;
  r.section("tls", [&](ConfigReader& t) { a.tls.read(t); });
  r.finish();
  if (!a.username.empty() && a.password.empty())
    r.fail("password", "required with username");
  return a;
}

/// Reads one model and checks it (reports unknown keys).
GnmiProvider::Model readModel(ConfigReader& m) {
  GnmiProvider::Model model;
  m.field("name", model.name);
  m.field("system-name-paths", model.system_name_paths);
  m.field("if-index-paths", model.if_index_paths);
  m.field("if-name-keys", model.if_name_keys);
  m.field("if-name-paths", model.if_name_paths);
  m.field("if-description-paths", model.if_description_paths);
  m.list("if-speed-paths", [&](ConfigReader& s, size_t) {
    GnmiProvider::SpeedPath sp;
    std::string unit = "bps";
    s.field("path", sp.path);
    s.choice("unit", unit, kUnits);
    if (sp.path.empty()) s.fail("path", "required");
    sp.unit = unitOf(unit);
    model.if_speed_paths.push_back(std::move(sp));
  });
  m.finish();  // an unknown key is the first thing to say
  if (model.name.empty()) m.fail("name", "required");
  if (model.system_name_paths.empty()) m.fail("system-name-paths", "at least one path");
  if (model.if_index_paths.empty()) m.fail("if-index-paths", "at least one path");
  if (model.if_name_keys.empty() && model.if_name_paths.empty())
    m.fail("if-name-keys", "if-name-keys or if-name-paths is required");
  if (model.if_description_paths.empty()) m.fail("if-description-paths", "at least one path");
  if (model.if_speed_paths.empty()) m.fail("if-speed-paths", "at least one path");
  return model;
}

}  // namespace

std::optional<uint32_t> GnmiProvider::speedMbps(std::string_view value, SpeedUnit unit) {
  auto clamp = [](uint64_t mbps) -> std::optional<uint32_t> {
    if (mbps == 0 || mbps > UINT32_MAX) return std::nullopt;
    return uint32_t(mbps);
  };
  switch (unit) {
    case SpeedUnit::kBps: {
      auto v = parseUint(value);
      return v ? clamp(*v / 1000000) : std::nullopt;
    }
    case SpeedUnit::kMbps: {
      auto v = parseUint(value);
      return v ? clamp(*v) : std::nullopt;
    }
    case SpeedUnit::kEthernet: {
      // openconfig-if-ethernet ETHERNET_SPEED: SPEED_10MB ... SPEED_800GB, maybe prefixed by
      // its module ("openconfig-if-ethernet:SPEED_10GB").
      if (auto colon = value.rfind(':'); colon != std::string_view::npos)
        value.remove_prefix(colon + 1);
      if (value.substr(0, 6) != "SPEED_" || value.size() < 9) return std::nullopt;
      std::string_view suffix = value.substr(value.size() - 2);
      auto v = parseUint(value.substr(6, value.size() - 8));
      if (!v) return std::nullopt;
      if (suffix == "MB") return clamp(*v);
      if (suffix == "GB") return clamp(*v * 1000);
      return std::nullopt;
    }
    case SpeedUnit::kHuman: {
      // SR Linux: "10M", "100G", "1T"...
      if (value.empty()) return std::nullopt;
      uint64_t factor = 0;
      switch (value.back()) {
        case 'M': factor = 1; break;
        case 'G': factor = 1000; break;
        case 'T': factor = 1000000; break;
        default: return std::nullopt;
      }
      auto v = parseUint(value.substr(0, value.size() - 1));
      return v ? clamp(*v * factor) : std::nullopt;
    }
  }
  return std::nullopt;
}

std::vector<GnmiProvider::Model> GnmiProvider::defaultModels() {
  using U = SpeedUnit;
  return {
      {"Nokia SR OS",
       {"/configure/system/name"},
       {"/state/port/if-index", "/state/lag/if-index"},
       {"port-id", "lag-name"},
       {},
       {"/configure/port/description", "/configure/lag/description"},
       {{"/state/port/ethernet/oper-speed", U::kMbps}, {"/state/lag/bandwidth", U::kBps}}},
      {"Nokia SR Linux",
       {"/system/name/host-name"},
       {"/interface/ifindex", "/interface/subinterface/ifindex"},
       {"name"},
       {"/interface/subinterface/name"},
       {"/interface/description", "/interface/subinterface/description"},
       {{"/interface/ethernet/port-speed", U::kHuman}, {"/interface/lag/lag-speed", U::kBps}}},
      {"OpenConfig",
       {"/system/config/hostname"},
       {"/interfaces/interface/state/ifindex",
        "/interfaces/interface/subinterfaces/subinterface/state/ifindex"},
       {"name"},
       {"/interfaces/interface/subinterfaces/subinterface/state/name"},
       {"/interfaces/interface/state/description",
        "/interfaces/interface/subinterfaces/subinterface/state/description"},
       {{"/interfaces/interface/aggregation/state/lag-speed", U::kMbps},
        {"/interfaces/interface/ethernet/state/negotiated-port-speed", U::kEthernet},
        {"/interfaces/interface/ethernet/state/port-speed", U::kEthernet}}},
      {"IETF",
       {"/system/hostname"},
       {"/interfaces/interface/if-index"},
       {},
       {"/interfaces/interface/name"},
       {"/interfaces/interface/description"},
       {{"/interfaces/interface/speed", U::kBps}}},
  };
}

GnmiProvider::Config::Config() : models(defaultModels()) {
  ports.insert(*IPv6Prefix::parse("::/0"), 9339);
}

void GnmiProvider::Config::read(ConfigReader& r) {
  YAML::Node p = r.raw("ports", "{'::/0': 9339}");
  if (p.IsDefined() && !p.IsNull()) {
    ports = readSubnetMap<uint16_t>(r, "ports", p, [](const YAML::Node& n) {
      const std::string text = n.IsScalar() ? n.Scalar() : "";
      auto v = parseUint(text);
      if (!v || *v < 1 || *v > 65535)
        throw ValueError(n, fmt::format("\"{}\" is not a port (1 to 65535)", text));
      return uint16_t(*v);
    });
  }
  YAML::Node t = r.raw("targets", "{}");
  targets = readSubnetMap<IPv6Addr>(r, "targets", t, [](const YAML::Node& n) {
    auto a = n.IsScalar() ? IPv6Addr::parse(n.Scalar()) : std::nullopt;
    if (!a) throw ValueError(n, "expected the IP address of the gNMI target");
    return *a;
  });
  YAML::Node st = r.raw("set-target", "{}");
  set_target = readSubnetMap<uint8_t>(r, "set-target", st, [](const YAML::Node& n) {
    if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false"))
      return uint8_t(n.Scalar() == "true");
    throw ValueError(n, fmt::format("\"{}\" is not a boolean (true or false)",
                                    n.IsScalar() ? n.Scalar() : ""));
  });
  YAML::Node a = r.raw("authentication-parameters", "{}");
  authentication_parameters = readSubnetMap<Authentication>(
      r, "authentication-parameters", a,
      [&](const YAML::Node& n) { return parseAuthentication(r, n); });
  YAML::Node m = r.raw("models", "[defaults]");
  if (m.IsDefined() && !m.IsNull()) {
    if (!m.IsSequence()) r.fail("models", "expected a list of models (or \"defaults\")");
    models.clear();
    size_t i = 0;
    for (const auto& e : m) {
      if (e.IsScalar()) {
        if (e.Scalar() != "defaults")
          r.failAt(e, fmt::format("models[{}]", i),
                   fmt::format("\"{}\" is not a model; expected a mapping or \"defaults\"",
                               e.Scalar()));
        for (auto& d : defaultModels()) models.push_back(std::move(d));
      } else {
        ConfigReader mr(r, e, fmt::format("{}.models[{}]", r.path(), i));
        models.push_back(readModel(mr));
      }
      i++;
    }
    if (models.empty()) r.fail("models", "at least one model");
  }
  r.field("timeout", timeout);
  r.field("minimal-refresh-interval", minimal_refresh_interval);
  if (timeout.count() < 100) r.fail("timeout", "at least 100ms");
  if (minimal_refresh_interval.count() < 1000) r.fail("minimal-refresh-interval", "at least 1s");
}

/// A device and what was read from it. `mutex` is held during a collection, so that the
/// queries for its interfaces wait for that one collection instead of each making theirs.
struct GnmiProvider::Device {
  std::mutex mutex;  // guards everything below
  bool ready = false;  ///< `state` holds an answer from the device
  DeviceState state;
  Clock::time_point collected{};   ///< last successful collection
  Clock::time_point next_retry{};  ///< after a failure: not asked again before
  Clock::duration backoff{};       ///< doubles on each failure in a row (1 s to refresh interval)
  int model = -1;                  ///< index in config_.models, once detected
  gnmi::Encoding encoding = gnmi::JSON_IETF;
};

GnmiProvider::GnmiProvider(Config config, Metrics& metrics)
    : config_(std::move(config)),
      metrics_(metrics),
      requests_(metrics.counter("akvo_outlet_metadata_gnmi_requests_total",
                                "gNMI Subscribe ONCE requests sent to targets.")),
      errors_(metrics.counter("akvo_outlet_metadata_gnmi_errors_total",
                              "gNMI collections that failed: no model could be read from the "
                              "target (unreachable, refused, authentication...).")),
      timeouts_(metrics.counter("akvo_outlet_metadata_gnmi_timeouts_total",
                                "gNMI Subscribe requests that reached the timeout.")),
      collections_(metrics.counter("akvo_outlet_metadata_gnmi_collections_total",
                                   "gNMI collections of a whole device that succeeded.")),
      refused_(metrics.counter("akvo_outlet_metadata_gnmi_devices_refused_total",
                               "Queries for a new exporter not asked to any device: the "
                               "provider already reads its maximum of devices.")) {}

GnmiProvider::~GnmiProvider() = default;

GnmiProvider::Device* GnmiProvider::device(const IPv6Addr& exporter) {
  std::lock_guard lock(devices_mutex_);
  auto it = devices_.find(exporter);
  if (it != devices_.end()) return it->second.get();
  if (devices_.size() >= max_devices_) {
    static RateLimitedLog log(1, std::chrono::seconds(60));
    refused_.inc();
    log.warn("gnmi: {} devices known already, exporter {} is not asked (are exporter "
             "addresses forged?)",
             devices_.size(), exporter.toString());
    return nullptr;
  }
  return devices_.emplace(exporter, std::make_unique<Device>()).first->second.get();
}

Gauge& GnmiProvider::readyGauge(const IPv6Addr& exporter) {
  return metrics_.gauge("akvo_outlet_metadata_gnmi_ready",
                        "1 once the exporter's device was read (its answers are in use), 0 "
                        "while it never was.",
                        {{"exporter", exporter.toString()}});
}

bool GnmiProvider::collect(const IPv6Addr& exporter, Device& d) {
  static RateLimitedLog log;
  const IPv6Addr* target_ip = config_.targets.lookup(exporter);
  IPv6Addr target = target_ip ? *target_ip : exporter;
  const uint16_t* port = config_.ports.lookup(exporter);
  std::string address = target.isV4Mapped()
                            ? fmt::format("{}:{}", target.toString(), port ? *port : 9339)
                            : fmt::format("[{}]:{}", target.toString(), port ? *port : 9339);
  static const Authentication kNone{};
  const Authentication* auth = config_.authentication_parameters.lookup(exporter);
  if (!auth) auth = &kNone;
  const uint8_t* set_target = config_.set_target.lookup(exporter);

  std::shared_ptr<grpc::ChannelCredentials> creds;
  try {
    if (!auth->tls.enable) {
      creds = grpc::InsecureChannelCredentials();
    } else if (auth->tls.skip_verify) {
      grpc::experimental::TlsChannelCredentialsOptions o;
      o.set_verify_server_certs(false);
      o.set_check_call_host(false);
      if (!auth->tls.cert_file.empty()) {
        std::string key = readFile(auth->tls.key_file.empty() ? auth->tls.cert_file
                                                              : auth->tls.key_file);
        o.set_certificate_provider(
            std::make_shared<grpc::experimental::StaticDataCertificateProvider>(
                std::vector<grpc::experimental::IdentityKeyCertPair>{
                    {key, readFile(auth->tls.cert_file)}}));
        o.watch_identity_key_cert_pairs();
      }
      creds = grpc::experimental::TlsCredentials(o);
    } else {
      grpc::SslCredentialsOptions o;
      if (!auth->tls.ca_file.empty()) o.pem_root_certs = readFile(auth->tls.ca_file);
      if (!auth->tls.cert_file.empty()) {
        o.pem_cert_chain = readFile(auth->tls.cert_file);
        o.pem_private_key = readFile(auth->tls.key_file.empty() ? auth->tls.cert_file
                                                                : auth->tls.key_file);
      }
      creds = grpc::SslCredentials(o);
    }
  } catch (const std::exception& e) {
    errors_.inc();
    log.warn("gnmi: exporter {} (target {}): TLS: {}", exporter.toString(), address, e.what());
    return false;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  auto stub = gnmi::gNMI::NewStub(grpc::CreateCustomChannel(address, creds, args));

  // One Subscribe ONCE: the updates until sync_response, then the end of the stream.
  auto subscribe = [&](const Model& model, gnmi::Encoding encoding, std::vector<Event>& events,
                       std::string& error) -> grpc::StatusCode {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + config_.timeout);
    if (!auth->username.empty()) {
      ctx.AddMetadata("username", auth->username);
      ctx.AddMetadata("password", auth->password);
    }
    gnmi::SubscribeRequest req;
    gnmi::SubscriptionList* list = req.mutable_subscribe();
    list->set_mode(gnmi::SubscriptionList::ONCE);
    list->set_encoding(encoding);
    if (set_target && *set_target) list->mutable_prefix()->set_target(exporter.toString());
    for (const auto& path : modelPaths(model))
      toPath(path, list->add_subscription()->mutable_path());
    requests_.inc();
    auto stream = stub->Subscribe(&ctx);
    stream->Write(req);
    gnmi::SubscribeResponse resp;
    while (stream->Read(&resp)) {
      if (resp.has_update()) notificationToEvents(resp.update(), events);
      if (resp.has_sync_response()) break;
    }
    stream->WritesDone();
    while (stream->Read(&resp)) {
      if (resp.has_update()) notificationToEvents(resp.update(), events);
    }
    grpc::Status status = stream->Finish();
    if (!status.ok()) {
      error = fmt::format("{} ({})", status.error_message(), int(status.error_code()));
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) timeouts_.inc();
    }
    return status.error_code();
  };

  // The detected model first; else each model, json_ietf then json. A target that cannot be
  // reached or refuses us ends the detection: no other model would do better.
  std::vector<std::pair<int, gnmi::Encoding>> tries;
  if (d.model >= 0) tries.emplace_back(d.model, d.encoding);
  for (int i = 0; i < int(config_.models.size()); i++)
    for (auto enc : {gnmi::JSON_IETF, gnmi::JSON})
      if (i != d.model || enc != d.encoding) tries.emplace_back(i, enc);
  std::string error = "no model gave a system name and an interface";
  for (const auto& [i, enc] : tries) {
    std::vector<Event> events;
    std::string err;
    grpc::StatusCode code = subscribe(config_.models[size_t(i)], enc, events, err);
    if (code != grpc::StatusCode::OK) {
      error = err;
      if (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::UNAUTHENTICATED ||
          code == grpc::StatusCode::PERMISSION_DENIED ||
          code == grpc::StatusCode::DEADLINE_EXCEEDED)
        break;
      continue;
    }
    DeviceState s = buildState(events, config_.models[size_t(i)]);
    if (s.name.empty() || s.interfaces.empty()) continue;
    if (d.model != i || d.encoding != enc) {
      spdlog::info("gnmi: exporter {} (target {}): model \"{}\", encoding {}, {} interfaces",
                   exporter.toString(), address, config_.models[size_t(i)].name,
                   enc == gnmi::JSON_IETF ? "json_ietf" : "json", s.interfaces.size());
      // As Akvorado's per-exporter gauges: the model and encoding in use are the series at 1.
      auto model = [&](int m, gnmi::Encoding e) -> Gauge& {
        return metrics_.gauge("akvo_outlet_metadata_gnmi_model",
                              "The model and encoding read from each exporter's device (1).",
                              {{"exporter", exporter.toString()},
                               {"model", config_.models[size_t(m)].name},
                               {"encoding", e == gnmi::JSON_IETF ? "json_ietf" : "json"}});
      };
      if (d.model >= 0) model(d.model, d.encoding).set(0);
      model(i, enc).set(1);
    }
    readyGauge(exporter).set(1);
    d.model = i;
    d.encoding = enc;
    d.state = std::move(s);
    d.ready = true;
    collections_.inc();
    return true;
  }
  errors_.inc();
  if (!d.ready) readyGauge(exporter).set(0);  // a device read before still answers
  log.warn("gnmi: exporter {} (target {}): cannot collect: {}", exporter.toString(), address,
           error);
  return false;
}

Provider::Result GnmiProvider::query(const Query& q, Answer& out) {
  Device* dp = device(q.exporter);
  if (!dp) return Result::kFailed;
  Device& d = *dp;
  std::lock_guard lock(d.mutex);
  auto now = Clock::now();
  bool due = d.ready ? now - d.collected >= config_.minimal_refresh_interval : now >= d.next_retry;
  if (due) {
    if (collect(q.exporter, d)) {
      d.collected = Clock::now();
      d.backoff = {};
    } else {
      // Failed: other queries for this device do not try again at once (Akvorado backs off
      // from 1 s to a minute); a device read before keeps answering from what it said.
      auto cap = std::chrono::duration_cast<Clock::duration>(config_.minimal_refresh_interval);
      d.backoff = std::min<Clock::duration>(
          cap, d.backoff == Clock::duration{} ? std::chrono::seconds(1) : d.backoff * 2);
      d.next_retry = Clock::now() + d.backoff;
      if (d.ready) d.collected = Clock::now() - std::chrono::duration_cast<Clock::duration>(
                                                    config_.minimal_refresh_interval) +
                                 d.backoff;
    }
  }
  if (!d.ready) return Result::kFailed;
  auto it = d.state.interfaces.find(q.ifindex);
  if (it == d.state.interfaces.end()) return Result::kSkip;  // as Akvorado: not found
  out.found = true;
  out.exporter.name = d.state.name;
  out.iface = it->second;
  return Result::kAnswered;
}

}  // namespace akvo::metadata
