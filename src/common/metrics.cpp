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
}  // namespace

Counter& Metrics::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  f.help = help;
  f.type = "counter";
  std::string key = renderLabels(labels);
  auto it = f.counters.find(key);
  if (it != f.counters.end()) return *it->second;
  Counter* c = &storage_.emplace_back();
  f.counters.emplace(key, c);
  return *c;
}

void Metrics::gauge(const std::string& name, const std::string& help, const Labels& labels,
                    std::function<double()> read) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  f.help = help;
  f.type = "gauge";
  f.gauges.emplace_back(renderLabels(labels), std::move(read));
}

void Metrics::observe(const std::string& name, const std::string& help, double value,
                      const std::vector<double>& buckets) {
  std::lock_guard lock(mutex_);
  Family& f = families_[name];
  if (f.type.empty()) {
    f.help = help;
    f.type = "histogram";
    f.buckets = buckets;
    f.bucket_counts.assign(buckets.size(), 0);
  }
  for (size_t i = 0; i < f.buckets.size(); i++)
    if (value <= f.buckets[i]) f.bucket_counts[i]++;
  f.hist_sum += value;
  f.hist_count++;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, f.type);
    for (const auto& [labels, c] : f.counters) out += fmt::format("{}{} {}\n", name, labels, c->value());
    for (const auto& [labels, read] : f.gauges) out += fmt::format("{}{} {}\n", name, labels, read());
    if (f.type == "histogram") {
      for (size_t i = 0; i < f.buckets.size(); i++)
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, f.buckets[i], f.bucket_counts[i]);
      out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name,
                         f.hist_count, name, f.hist_sum, name, f.hist_count);
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
