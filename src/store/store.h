#pragma once
/// The store interface: what the orchestrator, the outlet and the console need from ClickHouse.
/// Two backends implement it with the same SQL: chDB (embedded, the default) and a ClickHouse
/// server over HTTP (scale-out). Errors are thrown as StoreError with the engine's message.
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

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
