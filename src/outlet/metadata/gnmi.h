#pragma once
/// The gNMI metadata provider (Akvorado's `gnmi`): per exporter, a gNMI Subscribe in mode ONCE
/// (gNMI specification 3.5.1.5.1) for the paths of a model (system name, interface indexes,
/// names, descriptions, speeds) reads the whole device at once; lookups are answered from that
/// state, which is read again at most every `minimal-refresh-interval`. The model is detected by
/// trying each configured model, with the json_ietf encoding then json, until one yields a
/// system name and at least one interface. Collections run on the metadata poller threads (this
/// provider is asynchronous): a flow never waits for them.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "outlet/metadata/provider.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo::metadata {

class GnmiProvider : public Provider {
 public:
  /// How a speed path's value reads: bits per second, Mbps, OpenConfig's ETHERNET_SPEED
  /// identities ("SPEED_10GB") or a human size ("10G").
  enum class SpeedUnit { kBps, kMbps, kEthernet, kHuman };
  struct SpeedPath {
    std::string path;
    SpeedUnit unit = SpeedUnit::kBps;
  };
  /// Where a family of devices keeps what we need. Paths have no keys ("/interfaces/interface/
  /// state/ifindex"); module prefixes ("openconfig-interfaces:") are ignored when matching.
  struct Model {
    std::string name;
    std::vector<std::string> system_name_paths, if_index_paths;
    /// Keys of an interface's path whose value is its name (when no if-name-paths value).
    std::vector<std::string> if_name_keys;
    std::vector<std::string> if_name_paths, if_description_paths;
    std::vector<SpeedPath> if_speed_paths;
  };
  struct Authentication {
    std::string username, password;  ///< sent as gRPC metadata when set
    TlsConfig tls = [] {
      TlsConfig t;
      t.enable = true;  // gNMI: TLS unless disabled
      return t;
    }();
  };
  struct Config {
    PrefixTree<uint16_t> ports;           ///< default ::/0 → 9339
    PrefixTree<IPv6Addr> targets;         ///< exporter → address of the gNMI target
    PrefixTree<uint8_t> set_target;  ///< 1: put the exporter address in the path prefix target
    PrefixTree<Authentication> authentication_parameters;  ///< default: TLS, no user
    std::vector<Model> models;            ///< default: defaultModels()
    Duration timeout{1000};               ///< per Subscribe request
    Duration minimal_refresh_interval{60000};
    Config();
    void read(ConfigReader& r);
  };
  /// Nokia SR OS, Nokia SR Linux, OpenConfig, IETF (Akvorado's built-ins, in its order).
  static std::vector<Model> defaultModels();
  /// The speed in Mbps of `value` read in `unit`; nullopt when it does not read.
  static std::optional<uint32_t> speedMbps(std::string_view value, SpeedUnit unit);

  /// Devices read at most: past them, new exporters are not asked (a failure, counted).
  static constexpr size_t kMaxDevices = 10000;
  /// Tests: a lower bound than kMaxDevices (before the first query).
  void setMaxDevices(size_t n) { max_devices_ = n; }

  GnmiProvider(Config config, Metrics& metrics);
  ~GnmiProvider() override;
  std::string_view name() const override { return "gnmi"; }
  bool synchronous() const override { return false; }
  /// Collects the exporter's device first when never done or older than
  /// minimal-refresh-interval (other queries for it wait for that one collection); kFailed when
  /// the device never answered, kSkip when it does not know the ifIndex.
  Result query(const Query& q, Answer& out) override;

 private:
  struct Device;
  /// The exporter's device, created on its first query; null once kMaxDevices are known (a
  /// flood of forged exporter addresses must not open a connection and metric series each).
  Device* device(const IPv6Addr& exporter);
  /// Reads the whole device into `d` (its mutex held). False when it could not.
  bool collect(const IPv6Addr& exporter, Device& d);
  Gauge& readyGauge(const IPv6Addr& exporter);

  Config config_;
  std::mutex devices_mutex_;  // guards devices_ (the map; each Device has its own mutex)
  std::unordered_map<IPv6Addr, std::unique_ptr<Device>, IPv6AddrHash> devices_;
  Metrics& metrics_;
  Counter &requests_, &errors_, &timeouts_, &collections_, &refused_;
  size_t max_devices_ = kMaxDevices;
};

}  // namespace akvo::metadata
