#pragma once
/// Metadata of exporters and interfaces, and the providers that know it (static configuration,
/// SNMP). Providers are asked in order; the first that knows wins; one may "skip" to pass the
/// question to the next.
#include <cstdint>
#include <string>

#include "common/flow.h"
#include "common/ip.h"

namespace akvo::metadata {

struct ExporterInfo {
  std::string name, region, role, tenant, site, group;
  /// True when some classification (region, role, tenant, site, group) is set: the exporter
  /// classifiers are then bypassed (Akvorado's rule).
  bool classified() const {
    return !region.empty() || !role.empty() || !tenant.empty() || !site.empty() || !group.empty();
  }
};

struct InterfaceInfo {
  std::string name, description;
  uint32_t speed = 0;  ///< Mbps
  std::string provider, connectivity;
  Boundary boundary = Boundary::kUndefined;
  /// True when the provider set classification data: interface classifiers are bypassed.
  bool classified() const {
    return !provider.empty() || !connectivity.empty() || boundary != Boundary::kUndefined;
  }
};

/// The answer for one (exporter, ifIndex).
struct Answer {
  bool found = false;  ///< false: no provider knows this exporter (a negative answer)
  ExporterInfo exporter;
  InterfaceInfo iface;
};

struct Query {
  IPv6Addr exporter;
  uint32_t ifindex = 0;
  bool operator==(const Query&) const = default;
};
struct QueryHash {
  size_t operator()(const Query& q) const noexcept {
    return IPv6AddrHash{}(q.exporter) ^ (size_t(q.ifindex) * 0x9E3779B97F4A7C15ull);
  }
};

class Provider {
 public:
  enum class Result {
    kAnswered,  ///< `out` holds the answer
    kSkip,      ///< this provider does not know: ask the next one
    kFailed,    ///< it should know but could not answer now (timeout...): retry later
    /// `out` holds what the provider knows so far (its remote sources have not all loaded):
    /// used, and asked again after failure-retry, as a failed query is.
    kProvisional,
  };
  virtual ~Provider() = default;
  virtual std::string_view name() const = 0;
  /// Cheap and local (no I/O): may be asked on the flow path on a cache miss.
  virtual bool synchronous() const = 0;
  /// Answers one query. Asynchronous providers are called from poller threads (blocking I/O
  /// with timeouts); must be thread-safe.
  virtual Result query(const Query& q, Answer& out) = 0;
  /// Starts what the provider runs in the background (remote sources...); stop() ends it.
  virtual void start() {}
  virtual void stop() {}
};

}  // namespace akvo::metadata
