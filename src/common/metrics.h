#pragma once
/// Prometheus metrics. Counters are atomics handed out once (look them up at start or cache the
/// reference; incrementing is one relaxed atomic add). Gauges are callbacks read at scrape time.
/// Names follow `akvo_<role>_<component>_<what>_<unit>`.
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace akvo {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Metrics {
 public:
  /// Returns the counter for (name, labels), creating it; the reference stays valid.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  /// Registers a gauge read at scrape time.
  void gauge(const std::string& name, const std::string& help, const Labels& labels,
             std::function<double()> read);
  /// Records an observation in a histogram with fixed buckets (seconds or counts).
  void observe(const std::string& name, const std::string& help, double value,
               const std::vector<double>& buckets);
  /// Prometheus text exposition format.
  std::string render() const;
  /// Sum of a counter over all its label sets (tests and logs).
  uint64_t sum(const std::string& name) const;

 private:
  struct Family {
    std::string help, type;
    std::map<std::string, Counter*> counters;  // by rendered labels
    std::vector<std::pair<std::string, std::function<double()>>> gauges;
    std::vector<double> buckets;
    std::vector<uint64_t> bucket_counts;
    double hist_sum = 0;
    uint64_t hist_count = 0;
  };
  mutable std::mutex mutex_;  // guards families_ and storage_ (not the counters' values)
  std::map<std::string, Family> families_;
  std::deque<Counter> storage_;
};

}  // namespace akvo
