#pragma once
/// The embedded store: the ClickHouse engine of libchdb.so, loaded at run time with dlopen so
/// that roles which do not store (inlet, demo exporter) run without it.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace akvo {

struct ChdbApi;

class ChdbStore : public Store {
 public:
  struct Config {
    std::string path = "./akvo-data";  ///< data folder (one process per folder)
    std::string library;               ///< libchdb.so; empty: $AKVO_CHDB_LIB, then the cache
    /// Extra engine settings passed at connect (`--name=value`).
    std::vector<std::string> settings;
  };

  /// Loads the library and boots the engine on `path`. Throws StoreError with the reason
  /// (library not found, data folder locked by another process...).
  explicit ChdbStore(Config config);
  ~ChdbStore() override;

  std::unique_ptr<StoreConnection> connect(bool read_only = false) override;
  std::string describe() const override { return "chdb:" + config_.path; }

  /// Where the library is looked for when not configured.
  static std::string defaultLibraryPath();

 private:
  Config config_;
  const ChdbApi* api_;
  void* keeper_ = nullptr;  ///< the first connection, kept open for the life of the store
  std::mutex connect_mutex_;  ///< guards chdb_connect (booting the engine is not reentrant)
};

}  // namespace akvo
