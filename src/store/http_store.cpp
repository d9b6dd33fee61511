#include "store/http_store.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <zlib.h>
#include <zstd.h>

#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

namespace akvo {

namespace {

void curlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t writeBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

std::string escape(CURL* curl, std::string_view s) {
  char* e = curl_easy_escape(curl, s.data(), int(s.size()));
  std::string out(e ? e : "");
  curl_free(e);
  return out;
}

void gzip(std::string_view in, std::string& out) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw StoreError("gzip: deflateInit2 failed");
  out.resize(deflateBound(&z, uLong(in.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw StoreError("gzip: deflate failed");
}

void zstd(std::string_view in, std::string& out) {
  out.resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 1);
  if (ZSTD_isError(n)) throw StoreError(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
}

}  // namespace

HttpStore::HttpStore(Config config, Metrics* metrics) : config_(std::move(config)) {
  if (config_.servers.empty()) throw std::invalid_argument("no ClickHouse server given");
  curlGlobalInit();
  for (const auto& s : config_.servers) {
    std::string url = s;
    if (url.find("://") == std::string::npos) url = (config_.tls ? "https://" : "http://") + url;
    while (!url.empty() && url.back() == '/') url.pop_back();
    urls_.push_back(url + "/");
  }
  preferred_ = config_.first_server >= 0 ? size_t(config_.first_server) % urls_.size()
                                         : size_t(std::random_device{}()) % urls_.size();
  if (metrics) {
    requests_ = &metrics->counter("akvo_clickhouse_http_requests_total", "HTTP requests sent to ClickHouse.");
    retries_ = &metrics->counter("akvo_clickhouse_http_retries_total",
                                 "HTTP requests retried (network error or 5xx).");
    failovers_ = &metrics->counter("akvo_clickhouse_http_failovers_total",
                                   "Switches to the next ClickHouse server.");
    bytes_sent_ = &metrics->counter("akvo_clickhouse_http_sent_bytes_total",
                                    "Request body bytes sent (after compression).");
    connections_ = &metrics->counter("akvo_clickhouse_http_connections_total",
                                     "TCP connections opened to ClickHouse (keep-alive reuses them).");
  }
}

HttpStore::~HttpStore() = default;

std::string HttpStore::describe() const {
  std::string out;
  for (const auto& u : urls_) {
    if (!out.empty()) out += ',';
    out += u;
  }
  return out;
}

std::unique_ptr<StoreConnection> HttpStore::connect(bool read_only) {
  return std::make_unique<HttpConnection>(*this, read_only);
}

HttpConnection::HttpConnection(HttpStore& store, bool read_only)
    : store_(store), read_only_(read_only), curl_(curl_easy_init()),
      server_(store.preferred_.load(std::memory_order_relaxed)) {
  if (!curl_) throw StoreError("curl_easy_init failed");
}

HttpConnection::~HttpConnection() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

std::string HttpConnection::query(std::string_view sql, std::string_view format) {
  return request("", sql, false, format);
}

void HttpConnection::insertNative(std::string_view insert_prefix, std::string_view native_block) {
  insert(insert_prefix, "Native", native_block);
}

void HttpConnection::insertNativeParts(std::string_view insert_prefix,
                                       const std::vector<std::string_view>& parts,
                                       const Settings& settings) {
  std::string q = fmt::format("{} FORMAT Native", insert_prefix);
  if (parts.size() == 1) {
    request(q, parts[0], true, "", settings);
    return;
  }
  std::string all;
  for (auto p : parts) all.append(p);
  request(q, all, true, "", settings);
}

void HttpConnection::insert(std::string_view insert_prefix, std::string_view format,
                            std::string_view data) {
  std::string q = fmt::format("{} FORMAT {}", insert_prefix, format);
  request(q, data, true, "");
}

std::string HttpConnection::request(const std::string& query_param, std::string_view body,
                                    bool compress_body, std::string_view format,
                                    const Settings& settings) {
  CURL* curl = static_cast<CURL*>(curl_);
  const auto& cfg = store_.config_;
  std::string params = "database=" + escape(curl, cfg.database);
  if (!query_param.empty()) params.append("&query=").append(escape(curl, query_param));
  if (!format.empty()) params.append("&default_format=").append(escape(curl, format));
  if (read_only_) params += "&readonly=2";
  params += "&enable_http_compression=1";
  for (const auto* list : {&cfg.settings, &settings})
    for (const auto& [k, v] : *list) {
      params += '&';
      params += escape(curl, k);
      params += '=';
      params += escape(curl, v);
    }

  std::string_view payload = body;
  const char* encoding = nullptr;
  if (compress_body && cfg.compression != HttpStore::Compression::kNone) {
    if (cfg.compression == HttpStore::Compression::kZstd) {
      zstd(body, compressed_);
      encoding = "Content-Encoding: zstd";
    } else {
      gzip(body, compressed_);
      encoding = "Content-Encoding: gzip";
    }
    payload = compressed_;
  }

  auto backoff = cfg.initial_backoff;
  std::string last_error;
  for (int attempt = 0; attempt <= cfg.max_retries; attempt++) {
    if (attempt > 0) {
      if (store_.retries_) store_.retries_->inc();
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    const std::string url = store_.urls_[server_] + "?" + params;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(payload.size()));
    curl_easy_setopt(curl, CURLOPT_USERNAME, cfg.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, cfg.password.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPAUTH, long(CURLAUTH_BASIC));
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // every encoding curl decodes
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, long(cfg.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(cfg.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, cfg.tls_verify ? 1L : 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, cfg.tls_verify ? 2L : 0L);
    if (!cfg.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, cfg.ca_file.c_str());
    if (!cfg.cert_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, cfg.cert_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
      const std::string& key = cfg.key_file.empty() ? cfg.cert_file : cfg.key_file;
      curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/octet-stream");
    headers = curl_slist_append(headers, "Expect:");
    if (encoding) headers = curl_slist_append(headers, encoding);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    response_.clear();
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, writeBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response_);
    if (store_.requests_) store_.requests_->inc();
    if (store_.bytes_sent_) store_.bytes_sent_->inc(payload.size());
    CURLcode rc = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);  // `detail` lives in this loop only
    curl_slist_free_all(headers);
    long status = 0, opened = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &opened);
    if (store_.connections_ && opened > 0) store_.connections_->inc(uint64_t(opened));
    if (rc == CURLE_OK && status == 200) return std::move(response_);
    if (rc == CURLE_OK) {
      std::string msg = response_;
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
      // A ClickHouse exception is deterministic (bad SQL, unknown table, auth): not retried.
      bool clickhouse_error = msg.rfind("Code: ", 0) == 0 || msg.find("DB::Exception") != std::string::npos;
      if (status < 500 || clickhouse_error)
        throw StoreError(fmt::format("{} (HTTP {}): {}", store_.urls_[server_], status, msg));
      last_error = fmt::format("HTTP {}: {}", status, msg);
    } else {
      // curl's own words, then what its TLS library said ("SSL certificate problem: unable to
      // get local issuer certificate", "tlsv13 alert certificate required"...).
      last_error = curl_easy_strerror(rc);
      if (detail[0] && last_error.find(detail) == std::string::npos)
        last_error = fmt::format("{}: {}", last_error, detail);
      // A certificate the configuration points at that cannot be used, or a server certificate
      // that does not verify: trying again changes nothing.
      if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CERTPROBLEM ||
          rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CIPHER ||
          rc == CURLE_SSL_ISSUER_ERROR)
        throw StoreError(fmt::format("{}: {}", store_.urls_[server_], last_error));
      // A server that wants a client certificate and gets none closes the connection once the
      // handshake is over (TLS 1.3): the request then fails to go out or to come back.
      if (store_.urls_[server_].rfind("https://", 0) == 0 && cfg.cert_file.empty() &&
          (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_SSL_CONNECT_ERROR))
        last_error += " (if the server requires a client certificate, none was given)";
    }
    spdlog::warn("ClickHouse {}: {} (attempt {} of {})", store_.urls_[server_], last_error,
                 attempt + 1, cfg.max_retries + 1);
    if (store_.urls_.size() > 1) {
      server_ = (server_ + 1) % store_.urls_.size();
      store_.preferred_.store(server_, std::memory_order_relaxed);
      if (store_.failovers_) store_.failovers_->inc();
    }
  }
  throw StoreError(fmt::format("ClickHouse unreachable after {} attempts: {}: {}",
                               cfg.max_retries + 1, store_.urls_[server_], last_error));
}

}  // namespace akvo
