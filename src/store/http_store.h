#pragma once
/// A ClickHouse server (or several) over HTTP with libcurl: the scale-out store. Each
/// connection owns one curl handle, so its TCP connection is kept alive between requests (the
/// StorePool and the writer hold connections for long). Inserts are sent in Native or RowBinary,
/// the body compressed with zstd or gzip (Content-Encoding); responses are asked compressed.
/// Network errors and 5xx answers without a ClickHouse exception are retried with exponential
/// backoff, failing over to the next server; a ClickHouse exception (4xx, or 5xx carrying
/// "Code: N") is thrown at once as StoreError with the server's message.
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "store/store.h"

namespace akvo {

class HttpStore : public Store {
 public:
  enum class Compression { kNone, kGzip, kZstd };
  struct Config {
    /// "host:port", "http://host:port" or "https://host:port". Connections start at one taken
    /// at random per store (as Akvorado: outlets spread over the servers), then fail over in
    /// order; new connections start where the last failover went.
    std::vector<std::string> servers;
    int first_server = -1;  ///< where connections start: -1 at random; else this index (tests)
    std::string database = "default";
    std::string username = "default";
    std::string password;
    Compression compression = Compression::kZstd;  ///< of insert bodies
    int max_retries = 3;  ///< per request, after the first attempt, across servers
    std::chrono::milliseconds initial_backoff{100};
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds timeout{300000};  ///< whole request
    bool tls = false;        ///< servers given without a scheme are https:// (else http://)
    bool tls_verify = true;  ///< https: verify the server certificate and host
    std::string ca_file;     ///< https: CA bundle (PEM) instead of the system's
    std::string cert_file;   ///< https: client certificate (PEM); empty: none
    std::string key_file;    ///< https: key of cert_file (PEM); empty: in cert_file
    /// Query settings sent with every request (URL parameters: name=value).
    std::vector<std::pair<std::string, std::string>> settings;
  };

  /// Starts nothing (curl is initialized once per process). Throws std::invalid_argument
  /// when no server is given.
  explicit HttpStore(Config config, Metrics* metrics = nullptr);
  ~HttpStore() override;

  std::unique_ptr<StoreConnection> connect(bool read_only = false) override;
  std::string describe() const override;

  const Config& config() const { return config_; }

 private:
  friend class HttpConnection;
  Config config_;
  std::vector<std::string> urls_;  ///< base URL of each server
  std::atomic<size_t> preferred_{0};  ///< where new connections start
  Counter* requests_ = nullptr;
  Counter* retries_ = nullptr;
  Counter* failovers_ = nullptr;
  Counter* bytes_sent_ = nullptr;
  Counter* connections_ = nullptr;
};

/// A connection to an HttpStore (also usable directly for other formats than Native).
class HttpConnection : public StoreConnection {
 public:
  HttpConnection(HttpStore& store, bool read_only);
  ~HttpConnection() override;
  std::string query(std::string_view sql, std::string_view format = "TSV") override;
  void insertNative(std::string_view insert_prefix, std::string_view native_block) override;
  /// The settings go as URL parameters: a server that does not know one answers "Unknown
  /// setting" (code 115).
  void insertNativeParts(std::string_view insert_prefix, const std::vector<std::string_view>& parts,
                         const Settings& settings = {}) override;
  /// Inserts `data` in `format` (Native, RowBinary, TSV...): "<insert_prefix> FORMAT <format>".
  void insert(std::string_view insert_prefix, std::string_view format, std::string_view data);
  /// Index of the server the last request went to.
  size_t server() const { return server_; }

 private:
  std::string request(const std::string& query_param, std::string_view body, bool compress_body,
                      std::string_view format, const Settings& settings = {});
  HttpStore& store_;
  bool read_only_;
  void* curl_;
  size_t server_ = 0;
  std::string compressed_;
  std::string response_;
};

}  // namespace akvo
