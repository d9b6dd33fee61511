#include "app/config_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "common/thread.h"

namespace akvo {

namespace fs = std::filesystem;

ConfigWatcher::ConfigWatcher(const std::vector<std::string>& files,
                             std::function<void(const std::string&)> changed,
                             std::chrono::milliseconds settle)
    : changed_(std::move(changed)), settle_(settle) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) {
    spdlog::warn("cannot watch the configuration files for changes: {}", std::strerror(errno));
    return;
  }
  for (const auto& f : files) {
    std::error_code ec;
    fs::path p = fs::absolute(f, ec).lexically_normal();
    if (ec) continue;
    files_.push_back(p.string());
    std::string dir = p.parent_path().string();
    if (std::any_of(dirs_.begin(), dirs_.end(), [&](const auto& d) { return d.second == dir; }))
      continue;
    int wd = inotify_add_watch(fd_, dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    if (wd < 0) {
      spdlog::warn("cannot watch {} for configuration changes: {}", dir, std::strerror(errno));
      continue;
    }
    dirs_.emplace_back(wd, dir);
  }
  if (!watching()) return;
  spdlog::info("watching {} configuration file{} for changes", files_.size(),
               files_.size() == 1 ? "" : "s");
  thread_ = std::thread([this] {
    setupThread("config-watch");
    run();
  });
}

ConfigWatcher::~ConfigWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) close(fd_);
}

void ConfigWatcher::run() {
  using Clock = std::chrono::steady_clock;
  alignas(inotify_event) char buf[16384];
  bool pending = false;
  Clock::time_point pending_since = Clock::now();
  std::string pending_file;
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    int timeout = 100;
    if (pending) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          pending_since + settle_ - Clock::now());
      timeout = int(std::clamp<int64_t>(left.count(), 0, 100));
    }
    int n = poll(&p, 1, timeout);
    if (n > 0) {
      ssize_t len;
      while ((len = read(fd_, buf, sizeof(buf))) > 0) {
        for (char* at = buf; at < buf + len;) {
          auto* e = reinterpret_cast<inotify_event*>(at);
          at += sizeof(inotify_event) + e->len;
          if (!e->len) continue;
          auto d = std::find_if(dirs_.begin(), dirs_.end(),
                                [&](const auto& x) { return x.first == e->wd; });
          if (d == dirs_.end()) continue;
          std::string path = (fs::path(d->second) / e->name).string();
          if (std::find(files_.begin(), files_.end(), path) == files_.end()) continue;
          spdlog::debug("configuration file {} written", path);
          pending = true;
          pending_since = Clock::now();  // settle from the last event
          pending_file = path;
        }
      }
    }
    if (pending && Clock::now() >= pending_since + settle_) {
      pending = false;
      changed_(pending_file);
    }
  }
}

}  // namespace akvo
