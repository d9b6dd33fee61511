#pragma once
/// Watches the configuration files for changes, as Akvorado's orchestrator does
/// (`automatic-restart`): the directories holding them are watched with inotify, so that a file
/// written in place, created, or replaced by a rename (what most editors and configuration
/// tools do) is seen. A burst of events (an editor writes in several steps) gives one call,
/// once the files have been quiet for `settle`.
#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace akvo {

class ConfigWatcher {
 public:
  /// Calls `changed(path)` from the watcher's thread. Files whose directory cannot be watched
  /// are reported (warning) and left out.
  ConfigWatcher(const std::vector<std::string>& files,
                std::function<void(const std::string&)> changed,
                std::chrono::milliseconds settle = std::chrono::milliseconds(300));
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;
  /// False when nothing could be watched (no inotify, no directory).
  bool watching() const { return fd_ >= 0 && !dirs_.empty(); }

 private:
  void run();
  int fd_ = -1;
  std::vector<std::pair<int, std::string>> dirs_;  ///< watch descriptor, directory
  std::vector<std::string> files_;                 ///< absolute, normalized
  std::function<void(const std::string&)> changed_;
  std::chrono::milliseconds settle_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace akvo
