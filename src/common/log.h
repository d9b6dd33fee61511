#pragma once
/// Logging helpers. Per-datagram errors go through RateLimitedLog: at most `burst` lines per
/// interval per logger, then one summary of how many were suppressed.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>

namespace akvo {

class RateLimitedLog {
 public:
  explicit RateLimitedLog(int burst = 5, std::chrono::seconds interval = std::chrono::seconds(10))
      : burst_(burst), interval_(interval) {}

  template <class... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (allow()) spdlog::warn(f, std::forward<Args>(args)...);
  }

 private:
  bool allow() {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (now - window_start_ > interval_) {
      if (suppressed_ > 0) spdlog::warn("({} similar messages suppressed)", suppressed_);
      window_start_ = now;
      count_ = 0;
      suppressed_ = 0;
    }
    if (count_ < burst_) {
      count_++;
      return true;
    }
    suppressed_++;
    return false;
  }
  int burst_;
  std::chrono::seconds interval_;
  std::mutex mutex_;  // guards the window counters
  std::chrono::steady_clock::time_point window_start_{};
  int count_ = 0;
  long suppressed_ = 0;
};

}  // namespace akvo
