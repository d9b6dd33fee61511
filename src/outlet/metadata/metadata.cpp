#include "outlet/metadata/metadata.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>

#include "common/log.h"

namespace akvo::metadata {

namespace {
int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t seconds(Duration d) { return d.count() / 1000; }
}  // namespace

void Metadata::Config::read(ConfigReader& r) {
  r.field("cache-duration", cache_duration);
  r.field("cache-refresh", cache_refresh);
  r.field("cache-check-interval", cache_check_interval);
  r.field("cache-persist-file", cache_persist_file);
  r.field("query-timeout", query_timeout);
  r.field("initial-delay", initial_delay);
  r.field("max-in-flight", max_in_flight, 1, 256);
  r.field("failure-retry", failure_retry);
  providers.clear();
  r.list(
      "providers",
      [&](ConfigReader& p, size_t) {
        ProviderConfig pc;
        p.choice("type", pc.type, {"snmp", "static", "gnmi"});
        if (pc.type == "snmp") pc.snmp.read(p);
        else if (pc.type == "gnmi") pc.gnmi.read(p);
        else pc.static_.read(p);
        providers.push_back(std::move(pc));
      },
      1);
  if (cache_check_interval.count() <= 0) r.fail("cache-check-interval", "must be positive");
}

Metadata::Metadata(Config config, Metrics& metrics)
    : Metadata(config, metrics, [&] {
        std::vector<std::unique_ptr<Provider>> list;
        for (auto& p : config.providers) {
          if (p.type == "snmp") list.push_back(std::make_unique<SnmpProvider>(p.snmp, metrics));
          else if (p.type == "gnmi")
            list.push_back(std::make_unique<GnmiProvider>(p.gnmi, metrics));
          else list.push_back(std::make_unique<StaticProvider>(p.static_, &metrics));
        }
        return list;
      }()) {}

Metadata::Metadata(Config config, Metrics& metrics,
                   std::vector<std::unique_ptr<Provider>> providers)
    : config_(std::move(config)),
      metrics_(metrics),
      providers_(std::move(providers)),
      hits_(metrics.counter("akvo_outlet_metadata_cache_hits_total",
                            "Metadata lookups answered by the shared cache.")),
      misses_(metrics.counter("akvo_outlet_metadata_cache_misses_total",
                              "Metadata lookups not in the cache (the flow goes on unnamed).")),
      answers_(metrics.counter("akvo_outlet_metadata_provider_answers_total",
                               "Metadata queries answered by a provider.")),
      failures_(metrics.counter("akvo_outlet_metadata_provider_failures_total",
                                "Metadata queries that failed (retried later).")),
      skips_(metrics.counter("akvo_outlet_metadata_provider_skips_total",
                             "Metadata queries no provider knew (cached as empty).")),
      expired_(metrics.counter("akvo_outlet_metadata_cache_expired_total",
                               "Metadata cache entries dropped after cache-duration unused.")),
      refreshes_(metrics.counter("akvo_outlet_metadata_cache_refreshes_total",
                                 "Metadata cache entries polled again before expiry.")),
      queue_full_(metrics.counter("akvo_outlet_metadata_queue_full_total",
                                  "Metadata polls not queued: too many waiting (asked again later).")),
      breaker_opens_(metrics.counter(
          "akvo_outlet_metadata_provider_breaker_opens_total",
          "Exporters whose polls failed 20 times in a row: not polled for a minute.")),
      breaker_refused_(metrics.counter(
          "akvo_outlet_metadata_provider_breaker_refused_total",
          "Metadata polls not made because the exporter's circuit breaker was open (failed).")) {
  for (const auto& p : providers_) has_async_ = has_async_ || !p->synchronous();
  metrics.gauge("akvo_outlet_metadata_cache_size_entries", "Entries in the metadata cache.", {},
                [this] { return double(size()); });
}

Metadata::~Metadata() { stop(); }

void Metadata::start() {
  if (started_) return;
  started_ = true;
  if (!config_.cache_persist_file.empty() && std::filesystem::exists(config_.cache_persist_file))
    load(config_.cache_persist_file);
  for (auto& p : providers_) p->start();
  if (has_async_)
    for (int64_t i = 0; i < config_.max_in_flight; i++)
      threads_.emplace_back([this](std::stop_token st) { poller(st); });
  threads_.emplace_back([this](std::stop_token st) { refresher(st); });
}

void Metadata::stop() {
  if (!started_) return;
  started_ = false;
  for (auto& t : threads_) t.request_stop();
  queue_cv_.notify_all();
  threads_.clear();  // joins
  for (auto& p : providers_) p->stop();
  if (!config_.cache_persist_file.empty()) save(config_.cache_persist_file);
}

size_t Metadata::size() const {
  std::shared_lock lock(cache_mutex_);
  return cache_.size();
}

std::shared_ptr<const Entry> Metadata::lookup(const Query& q, int64_t now) {
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(q);
    if (it != cache_.end()) {
      hits_.inc();
      it->second->touch(now);
      return it->second;
    }
  }
  misses_.inc();
  size_t next = 0;
  Answer answer;
  switch (runSynchronous(q, next, answer)) {
    case Chain::kAnswered:
      answers_.inc();
      insert(q, std::move(answer), false, now);
      break;
    case Chain::kNegative:
      skips_.inc();
      insert(q, Answer{}, false, now);
      break;
    case Chain::kPending: enqueue(q, next); return nullptr;
    case Chain::kNotReady: return nullptr;  // nothing cached: a later flow asks again
    case Chain::kProvisional:
      answers_.inc();
      insert(q, std::move(answer), false, now, true);
      break;
  }
  std::shared_lock lock(cache_mutex_);
  auto it = cache_.find(q);
  return it == cache_.end() ? nullptr : it->second;
}

Metadata::Chain Metadata::runSynchronous(const Query& q, size_t& next, Answer& out) {
  for (; next < providers_.size(); next++) {
    if (!providers_[next]->synchronous()) return Chain::kPending;
    switch (providers_[next]->query(q, out)) {
      case Provider::Result::kAnswered: return Chain::kAnswered;
      case Provider::Result::kFailed: return Chain::kNotReady;
      case Provider::Result::kProvisional: return Chain::kProvisional;
      case Provider::Result::kSkip: break;
    }
  }
  return Chain::kNegative;
}

void Metadata::insert(const Query& q, Answer answer, bool failed, int64_t now, bool provisional) {
  auto e = std::make_shared<Entry>();
  e->answer = std::move(answer);
  e->fetched = now;
  e->failed = failed || provisional;
  e->last_access.store(now);
  {
    std::unique_lock lock(cache_mutex_);
    auto it = cache_.find(q);
    // A failed refresh keeps the answer we had.
    if (failed && !provisional && it != cache_.end() && it->second->answer.found) {
      auto kept = std::make_shared<Entry>();
      kept->answer = it->second->answer;
      kept->fetched = it->second->fetched;
      kept->failed = true;
      kept->last_access.store(it->second->last_access.load());
      e = kept;
    } else if (it != cache_.end()) {
      // A refresh is not a use: the entry still expires cache-duration after its last use.
      e->last_access.store(it->second->last_access.load());
    }
    cache_[q] = e;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void Metadata::enqueue(const Query& q, size_t first_provider) {
  if (!has_async_) return;
  std::lock_guard lock(queue_mutex_);
  // Bounded: flows from thousands of (spoofed) exporters must not queue polls without end. A
  // query refused here is asked again by a later flow (its answer is still missing).
  if (queue_.size() >= kMaxQueued) {
    static RateLimitedLog log;
    queue_full_.inc();
    log.warn("metadata: {} polls waiting, dropping the one of {} ifIndex {}", queue_.size(),
             q.exporter.toString(), q.ifindex);
    return;
  }
  if (!pending_.insert(q).second) return;
  queue_.emplace_back(q, first_provider);
  queue_cv_.notify_one();
}

bool Metadata::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(queue_mutex_);
  return idle_cv_.wait_for(lock, timeout, [&] { return queue_.empty() && in_flight_ == 0; });
}

void Metadata::poller(std::stop_token st) {
  for (;;) {
    std::pair<Query, size_t> job;
    {
      std::unique_lock lock(queue_mutex_);
      // The wait returns true while jobs are queued even once a stop is requested: the
      // pollers would then work through the whole queue (hours with many exporters) before
      // the process could stop.
      if (!queue_cv_.wait(lock, st, [&] { return !queue_.empty(); }) || st.stop_requested()) return;
      job = queue_.front();
      queue_.pop_front();
      in_flight_++;
    }
    const Query& q = job.first;
    Answer answer;
    bool answered = false, failed = false, provisional = false;
    const bool refused = breakerOpen(q.exporter, unixNow());
    if (refused) {
      failed = true;
      breaker_refused_.inc();
    }
    for (size_t i = job.second; i < providers_.size() && !answered && !failed; i++) {
      Answer a;
      switch (providers_[i]->query(q, a)) {
        case Provider::Result::kProvisional:
          provisional = true;
          [[fallthrough]];
        case Provider::Result::kAnswered:
          answer = std::move(a);
          answered = true;
          break;
        case Provider::Result::kFailed: failed = true; break;
        case Provider::Result::kSkip: break;
      }
    }
    int64_t now = unixNow();
    if (!refused) breakerResult(q.exporter, failed, now);
    if (answered) answers_.inc();
    else if (failed) failures_.inc();
    else skips_.inc();
    insert(q, std::move(answer), failed, now, provisional);
    {
      std::lock_guard lock(queue_mutex_);
      pending_.erase(q);
      in_flight_--;
      if (queue_.empty() && in_flight_ == 0) idle_cv_.notify_all();
    }
  }
}

bool Metadata::breakerOpen(const IPv6Addr& exporter, int64_t now) {
  std::lock_guard lock(breaker_mutex_);
  auto it = breakers_.find(exporter);
  return it != breakers_.end() && it->second.open_until > now;
}

void Metadata::breakerResult(const IPv6Addr& exporter, bool failed, int64_t now) {
  std::lock_guard lock(breaker_mutex_);
  if (!failed) {
    breakers_.erase(exporter);  // one answer closes it
    return;
  }
  if (breakers_.size() >= 65536) breakers_.clear();  // spoofed exporters: stay bounded
  Breaker& b = breakers_[exporter];
  // Polls queued before the breaker opened still fail after: they do not open it again.
  if (b.open_until > now || ++b.errors < kBreakerErrors) return;
  b.errors = 0;
  b.open_until = now + kBreakerOpen;
  breaker_opens_.inc();
  static RateLimitedLog log;
  log.warn("metadata: exporter {}: {} polls failed in a row, not polled for {} s",
           exporter.toString(), kBreakerErrors, kBreakerOpen);
}

void Metadata::refresher(std::stop_token st) {
  std::mutex m;
  std::condition_variable_any cv;
  while (!st.stop_requested()) {
    {
      std::unique_lock lock(m);
      cv.wait_for(lock, st, config_.cache_check_interval, [] { return false; });
    }
    if (st.stop_requested()) return;
    int64_t now = unixNow();
    std::vector<std::pair<Query, bool>> refresh;  // (query, failed)
    size_t removed = 0;
    {
      std::unique_lock lock(cache_mutex_);
      for (auto it = cache_.begin(); it != cache_.end();) {
        const Entry& e = *it->second;
        if (now - e.last_access.load() >= seconds(config_.cache_duration)) {
          it = cache_.erase(it);
          removed++;
          continue;
        }
        if (e.failed && now - e.fetched >= seconds(config_.failure_retry))
          refresh.emplace_back(it->first, true);
        else if (config_.cache_refresh.count() > 0 &&
                 now - e.fetched >= seconds(config_.cache_refresh))
          refresh.emplace_back(it->first, false);
        ++it;
      }
    }
    if (removed) {
      expired_.inc(removed);
      generation_.fetch_add(1, std::memory_order_acq_rel);
    }
    for (const auto& [q, failed] : refresh) {
      if (!failed) refreshes_.inc();
      size_t next = 0;
      Answer a;
      switch (runSynchronous(q, next, a)) {
        case Chain::kAnswered: insert(q, std::move(a), false, now); break;
        case Chain::kNegative: insert(q, Answer{}, false, now); break;
        case Chain::kPending: enqueue(q, next); break;
        case Chain::kNotReady: break;  // the cached answer stays
        case Chain::kProvisional: insert(q, std::move(a), false, now, true); break;
      }
    }
  }
}

namespace {
const char* boundaryName(Boundary b) {
  return b == Boundary::kExternal ? "external" : b == Boundary::kInternal ? "internal" : "undefined";
}
Boundary boundaryFrom(const std::string& s) {
  return s == "external" ? Boundary::kExternal : s == "internal" ? Boundary::kInternal
                                                                   : Boundary::kUndefined;
}
}  // namespace

bool Metadata::save(const std::string& path) const {
  nlohmann::json entries = nlohmann::json::array();
  {
    std::shared_lock lock(cache_mutex_);
    for (const auto& [q, e] : cache_) {
      if (e->failed && !e->answer.found) continue;  // nothing worth keeping
      const Answer& a = e->answer;
      entries.push_back({{"exporter", q.exporter.toString()},
                         {"ifindex", q.ifindex},
                         {"found", a.found},
                         {"fetched", e->fetched},
                         {"retry", e->failed},  // a provisional or failed refresh: ask again soon
                         {"exporter-info",
                          {{"name", a.exporter.name},
                           {"region", a.exporter.region},
                           {"role", a.exporter.role},
                           {"tenant", a.exporter.tenant},
                           {"site", a.exporter.site},
                           {"group", a.exporter.group}}},
                         {"interface",
                          {{"name", a.iface.name},
                           {"description", a.iface.description},
                           {"speed", a.iface.speed},
                           {"provider", a.iface.provider},
                           {"connectivity", a.iface.connectivity},
                           {"boundary", boundaryName(a.iface.boundary)}}}});
    }
  }
  nlohmann::json doc{{"version", 1}, {"entries", entries}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) {
      spdlog::error("metadata: cannot write the cache to {}", tmp);
      return false;
    }
    out << doc.dump();
    if (!out) {
      spdlog::error("metadata: cannot write the cache to {}", tmp);
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    spdlog::error("metadata: cannot rename {} to {}: {}", tmp, path, ec.message());
    return false;
  }
  spdlog::info("metadata: cache saved to {} ({} entries)", path, entries.size());
  return true;
}

bool Metadata::load(const std::string& path) {
  try {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open");
    nlohmann::json doc = nlohmann::json::parse(in);
    if (doc.value("version", 0) != 1) throw std::runtime_error("unknown version");
    int64_t now = unixNow();
    size_t n = 0;
    std::unique_lock lock(cache_mutex_);
    for (const auto& j : doc.at("entries")) {
      auto addr = IPv6Addr::parse(j.at("exporter").get<std::string>());
      if (!addr) continue;
      auto e = std::make_shared<Entry>();
      Answer& a = e->answer;
      a.found = j.at("found").get<bool>();
      const auto& x = j.at("exporter-info");
      a.exporter = {x.at("name"), x.at("region"), x.at("role"),
                    x.at("tenant"), x.at("site"), x.at("group")};
      const auto& i = j.at("interface");
      a.iface.name = i.at("name");
      a.iface.description = i.at("description");
      a.iface.speed = i.at("speed");
      a.iface.provider = i.at("provider");
      a.iface.connectivity = i.at("connectivity");
      a.iface.boundary = boundaryFrom(i.at("boundary"));
      e->fetched = j.at("fetched");
      e->failed = j.value("retry", false);
      e->last_access.store(now);
      cache_[Query{*addr, j.at("ifindex").get<uint32_t>()}] = e;
      n++;
    }
    lock.unlock();
    generation_.fetch_add(1, std::memory_order_acq_rel);
    spdlog::info("metadata: {} cache entries loaded from {}", n, path);
    return true;
  } catch (const std::exception& e) {
    spdlog::warn("metadata: cannot load the cache from {}: {} (starting empty)", path, e.what());
    return false;
  }
}

}  // namespace akvo::metadata
