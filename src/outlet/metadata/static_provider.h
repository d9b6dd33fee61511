#pragma once
/// The static metadata provider (Akvorado's `static`): exporters and their interfaces from the
/// configuration file, by exporter subnet.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "common/remote_source.h"
#include "outlet/metadata/provider.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo::metadata {

class StaticProvider : public Provider {
 public:
  struct Exporter {
    ExporterInfo info;
    std::optional<InterfaceInfo> default_interface;  ///< `default`
    std::map<uint32_t, InterfaceInfo> ifindexes;     ///< `ifindexes`
    bool skip_missing_interfaces = false;            ///< unknown ifIndex: ask the next provider
  };
  using ExporterList = std::vector<std::pair<IPv6Prefix, Exporter>>;
  struct Config {
    PrefixTree<Exporter> exporters;  ///< `exporters` subnet map
    ExporterList exporter_list;      ///< the same entries, in order (merged with remote ones)
    /// Remote exporter lists (Akvorado's exporter-sources): the transform emits objects with
    /// `exportersubnet`, `name`, `region`, `role`, `tenant`, `site`, `group`, `default`,
    /// `interfaces` [{ifindex, name, description, speed, provider, connectivity, boundary}]
    /// and `skipmissinginterfaces`.
    std::map<std::string, RemoteSource> exporter_sources;
    /// akvo: how long start() waits for the first fetch of every source (Akvorado accepts
    /// the key and does not use it). 0: no wait.
    Duration exporter_sources_timeout{0};
    void read(ConfigReader& r);
  };

  /// `metrics` (may be null) gets the remote sources' counters
  /// (akvo_outlet_metadata_static_remote_{updates,errors,data}_total) and not_ready_total.
  explicit StaticProvider(Config config, Metrics* metrics = nullptr);
  ~StaticProvider() override;
  std::string_view name() const override { return "static"; }
  bool synchronous() const override { return true; }
  /// Until every exporter source has loaded once, every query fails (kFailed: not cached, the
  /// flow goes on unnamed and a later flow asks again), as Akvorado's fail rather than skip.
  Result query(const Query& q, Answer& out) override;
  /// Starts fetching the exporter sources, waiting up to exporter-sources-timeout.
  void start() override;
  void stop() override;

  /// The exporters a source's transform emitted. Keys match as Akvorado's (case and dashes
  /// ignored); unknown keys and nulls are ignored. Throws std::runtime_error naming the bad
  /// object (no name, a bad subnet, a bad interface).
  static ExporterList fromRemote(const std::vector<jq::Value>& values);

 private:
  void rebuild();
  Config config_;
  mutable std::mutex mutex_;  // guards tree_ and remote_
  std::shared_ptr<const PrefixTree<Exporter>> tree_;
  std::map<std::string, ExporterList> remote_;
  std::unique_ptr<RemoteSources> sources_;
  Counter* not_ready_ = nullptr;
};

}  // namespace akvo::metadata
