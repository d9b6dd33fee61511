#pragma once
/// The static metadata provider (Akvorado's `static`): exporters and their interfaces from the
/// configuration file, by exporter subnet.
#include <map>
#include <optional>

#include "common/config.h"
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
  struct Config {
    PrefixTree<Exporter> exporters;  ///< `exporters` subnet map
    void read(ConfigReader& r);
  };

  explicit StaticProvider(Config config) : config_(std::move(config)) {}
  std::string_view name() const override { return "static"; }
  bool synchronous() const override { return true; }
  Result query(const Query& q, Answer& out) override;

 private:
  Config config_;
};

}  // namespace akvo::metadata
