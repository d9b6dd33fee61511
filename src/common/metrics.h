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

/// A gauge set by its owner (in-flight requests, a migration running), as opposed to one read
/// by a callback at scrape time.
class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  void add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Metrics {
 public:
  /// Returns the counter for (name, labels), creating it; the reference stays valid.
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  /// Registers a gauge read at scrape time.
  void gauge(const std::string& name, const std::string& help, const Labels& labels,
             std::function<double()> read);
  /// Returns the settable gauge for (name, labels), creating it at 0; the reference stays
  /// valid. One name holds either settable gauges or callbacks, not both.
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  /// Records an observation in a histogram with fixed buckets (seconds or counts), one
  /// histogram per label set. The buckets of the first observation of a name are kept.
  void observe(const std::string& name, const std::string& help, double value,
               const std::vector<double>& buckets, const Labels& labels = {});
  /// Prometheus text exposition format.
  std::string render() const;
  /// Sum of a counter over all its label sets (tests and logs).
  uint64_t sum(const std::string& name) const;

 private:
  struct Histogram {
    std::vector<uint64_t> bucket_counts;  // cumulative: observations <= each bound
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    std::string help, type;
    std::map<std::string, Counter*> counters;  // by rendered labels
    std::map<std::string, Gauge*> set_gauges;  // by rendered labels
    std::vector<std::pair<std::string, std::function<double()>>> gauges;
    std::vector<double> buckets;
    std::map<Labels, Histogram> histograms;
  };
  mutable std::mutex mutex_;  // guards families_, storage_, gauge_storage_ (not the values)
  std::map<std::string, Family> families_;
  std::deque<Counter> storage_;
  std::deque<Gauge> gauge_storage_;
};

}  // namespace akvo
