#pragma once
/// Remote data sources (Akvorado's remotedatasource, GEN-14): lists fetched over HTTP(S) every
/// `interval`, parsed (JSON, CSV, plain text), shaped by a jq `transform` into objects that the
/// component using them (network-sources, exporter-sources) checks and applies. A fetch that
/// fails keeps the previous data and is retried with exponential backoff (from interval/10 up
/// to the interval).
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/jq.h"
#include "common/metrics.h"
#include "common/tls.h"

namespace akvo {

struct RemoteSource {
  enum class Parser {
    kJson,          ///< `json`: one JSON document
    kCsvComma,      ///< `csv-comma`: rows become {"f1": ..., "fn": ...}
    kCsvSemicolon,  ///< `csv-semicolon`
    kCsvColon,      ///< `csv-colon`
    kPlain,         ///< `plain`: an array of the non-empty lines (trimmed)
    kCsvHeader,     ///< akvo: `csv-header`, comma-separated, the first line names the fields
  };
  enum class Pagination {
    kAuto,      ///< `auto`: a Link rel="next" header, else a JSON "next" field, else one page
    kNone,      ///< `none`
    kLinkNext,  ///< `link-next`: the URL in the JSON document's top-level "next" field
    kRelNext,   ///< `rel-next`: the Link header's rel="next" target (RFC 8288)
  };
  /// The minimum interval, as Akvorado's validation (`min=1m`).
  static constexpr Duration kMinInterval{60000};

  std::string url;                             ///< http:// or https://
  std::string method = "GET";                  ///< GET or POST (POST without a body)
  std::map<std::string, std::string> headers;  ///< sent with each request
  bool proxy = false;  ///< use the proxy of the environment (http_proxy, https_proxy, no_proxy)
  Duration timeout{60000};  ///< for a whole fetch, every page included
  Duration interval{0};     ///< between successful fetches; required (≥ 1m)
  TlsConfig tls;            ///< https: client certificate, CA, skip-verify (else system CAs)
  Parser parser = Parser::kJson;
  Pagination pagination = Pagination::kAuto;
  std::string transform = ".[]";               ///< jq, run on each page's document
  std::shared_ptr<const jq::Program> program;  ///< `transform`, compiled

  /// Reads a source's section. Errors name the file, line, key and the valid choices; a
  /// transform that does not parse is reported with its line and column.
  void read(ConfigReader& r);
  /// Compiles `text` as the transform. Throws jq::ParseError.
  void setTransform(const std::string& text);
};

/// A fetch that failed. `kind` is the `error` label of errors_total: fetch, status, parse,
/// transform, validate, empty.
class RemoteSourceError : public std::runtime_error {
 public:
  RemoteSourceError(std::string kind, const std::string& message)
      : std::runtime_error(message), kind(std::move(kind)) {}
  std::string kind;
};

/// Fetches every page of `source` once, parses each and runs the transform on it: the values
/// it emitted, pages in order. Throws RemoteSourceError (an empty result is an error, as in
/// Akvorado).
/// A stop requested on `stop` aborts the transfer under way (at shutdown).
std::vector<jq::Value> fetchRemoteSource(const RemoteSource& source, std::stop_token stop = {});

/// Parses a body with `parser` into the document the transform gets. Throws
/// RemoteSourceError("parse").
jq::Value parseRemoteBody(const std::string& body, RemoteSource::Parser parser);

/// The targets of the Link header values whose rel includes "next" (RFC 8288 §3), in order.
std::vector<std::string> linkNextTargets(const std::vector<std::string>& link_headers);

/// Keeps a set of named sources up to date, one thread each.
class RemoteSources {
 public:
  /// Applies a successful fetch: the transform's outputs. Returns how many objects it took;
  /// throws std::exception to reject them all (counted as a `validate` error; the previous
  /// data stays). Called from the source's thread.
  using Update =
      std::function<size_t(const std::string& name, const std::vector<jq::Value>& values)>;

  /// `metric_prefix` names the counters: `<prefix>_updates_total`, `<prefix>_errors_total`
  /// and the `<prefix>_data_total` gauge, labelled by `source`. `what` names the data in logs
  /// ("networks"). `metrics` may be null.
  RemoteSources(std::map<std::string, RemoteSource> sources, Metrics* metrics,
                std::string metric_prefix, std::string what, Update update);
  ~RemoteSources();
  RemoteSources(const RemoteSources&) = delete;
  RemoteSources& operator=(const RemoteSources&) = delete;

  /// Starts one thread per source: a first fetch at once, then every interval.
  void start();
  void stop();
  /// True once every source has been loaded once (true without sources).
  bool ready() const;
  /// Waits until ready() or `timeout`; returns ready().
  bool waitReady(Duration timeout) const;
  bool empty() const { return sources_.empty(); }

 private:
  struct State;
  void run(std::stop_token st, const std::string& name, const RemoteSource& source, State& state);
  std::map<std::string, RemoteSource> sources_;
  Metrics* metrics_;
  std::string prefix_, what_;
  Update update_;
  std::vector<std::unique_ptr<State>> states_;
  mutable std::mutex mutex_;  // guards not_ready_
  mutable std::condition_variable ready_cv_;
  size_t not_ready_ = 0;
  std::vector<std::jthread> threads_;
};

}  // namespace akvo
