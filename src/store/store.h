#pragma once
/// The store interface: what the orchestrator, the outlet and the console need from ClickHouse.
/// Two backends implement it with the same SQL: chDB (embedded, the default) and a ClickHouse
/// server over HTTP (scale-out). Errors are thrown as StoreError with the engine's message.
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace akvo {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One session with the store. Not thread-safe: each thread uses its own.
class StoreConnection {
 public:
  virtual ~StoreConnection() = default;
  /// Runs a statement or query and returns its output in `format` (e.g. "TSV", "JSON").
  virtual std::string query(std::string_view sql, std::string_view format = "TSV") = 0;
  /// Inserts a Native-format block: `insert_prefix` is "INSERT INTO table (cols)".
  virtual void insertNative(std::string_view insert_prefix, std::string_view native_block) = 0;
  /// Settings of one statement, e.g. {"async_insert", "1"}.
  using Settings = std::vector<std::pair<std::string, std::string>>;
  /// One INSERT of several Native streams one after the other (one part in the table), with
  /// `settings` for this statement only. This default joins them (and knows no settings: it
  /// throws if some are given); the embedded store streams each without a copy.
  virtual void insertNativeParts(std::string_view insert_prefix,
                                 const std::vector<std::string_view>& parts,
                                 const Settings& settings = {}) {
    if (!settings.empty()) throw StoreError("this store takes no settings on an INSERT");
    if (parts.size() == 1) return insertNative(insert_prefix, parts[0]);
    std::string all;
    for (auto p : parts) all.append(p);
    insertNative(insert_prefix, all);
  }
};

/// A store: hands out connections (cheap for HTTP, one engine session for chDB).
class Store {
 public:
  virtual ~Store() = default;
  /// A read-only connection refuses statements that write (readonly=2: settings allowed).
  virtual std::unique_ptr<StoreConnection> connect(bool read_only = false) = 0;
  /// Short description for logs: "chdb:/path" or "http://host:8123".
  virtual std::string describe() const = 0;
};

}  // namespace akvo
