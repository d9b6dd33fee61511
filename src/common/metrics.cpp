#include "common/metrics.h"

#include <fmt/format.h>

namespace akvo {
namespace {
std::string renderLabels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); i++) {
    if (i) out += ",";
    out += labels[i].first + "=\"";
    for (char c : labels[i].second) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += "\"";
  }
  return out + "}";
}

// The family `name`, with its help and type (the last registration's).
template <class Families>
auto& family(Families& families, const std::string& name, const std::string& help,
             const char* type) {
  auto& f = families[name];
  f.help = help;
  f.type = type;
  return f;
}

// The value of `labels` in a family's map, created in `storage` (whose elements never move).
template <class T>
T& valueFor(std::map<std::string, T*>& by_labels, std::deque<T>& storage, const Labels& labels) {
  std::string key = renderLabels(labels);
  auto it = by_labels.find(key);
  if (it != by_labels.end()) return *it->second;
  T* v = &storage.emplace_back();
  by_labels.emplace(std::move(key), v);
  return *v;
}
}  // namespace

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return valueFor(family(families_, name, help, "counter").counters, storage_, labels);
}

void Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels,
                    std::function<double()> read) {
  std::lock_guard lock(mutex_);
  family(families_, name, help, "gauge").gauges.emplace_back(renderLabels(labels), std::move(read));
}

Gauge& Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  return valueFor(family(families_, name, help, "gauge").set_gauges, gauge_storage_, labels);
}

void Metrics::observe(const std::string& name, const std::string& help, double value,
                      const std::vector<double>& buckets, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = "histogram";
    f.buckets = buckets;
  }
  Histogram& h = f.histograms[labels];
  if (h.bucket_counts.empty()) h.bucket_counts.assign(f.buckets.size(), 0);
  for (size_t i = 0; i < f.buckets.size(); i++)
    if (value <= f.buckets[i]) h.bucket_counts[i]++;
  h.sum += value;
  h.count++;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [labels, c] : f.counters) out += fmt::format("{}{} {}\n", name, labels, c->value());
    for (const auto& [labels, g] : f.set_gauges) out += fmt::format("{}{} {}\n", name, labels, g->value());
    for (const auto& [labels, read] : f.gauges) out += fmt::format("{}{} {}\n", name, labels, read());
    for (const auto& [labels, h] : f.histograms) {
      Labels with_le = labels;
      with_le.emplace_back("le", "");
      for (size_t i = 0; i <= f.buckets.size(); i++) {
        with_le.back().second = i < f.buckets.size() ? fmt::format("{}", f.buckets[i]) : "+Inf";
        out += fmt::format("{}_bucket{} {}\n", name, renderLabels(with_le),
                           i < f.buckets.size() ? h.bucket_counts[i] : h.count);
      }
      const std::string l = renderLabels(labels);
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, l, h.sum, name, l, h.count);
    }
  }
  return out;
}

uint64_t Metrics::sum(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  uint64_t s = 0;
  for (const auto& [_, c] : it->second.counters) s += c->value();
  return s;
}

}  // namespace akvo
