#include "common/remote_source.h"

#include <curl/curl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "common/csv.h"

namespace akvo {

namespace {

const std::vector<std::string> kParsers = {"json",      "csv-comma", "csv-semicolon",
                                           "csv-colon", "plain",     "csv-header"};
const std::vector<std::string> kPaginations = {"auto", "none", "link-next", "rel-next"};
/// A body larger than this is refused (a misconfigured URL serving a disk image...).
constexpr size_t kMaxBodyBytes = size_t(256) << 20;
/// Pages followed at most in one fetch.
constexpr int kMaxPages = 1000;

void curlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Response {
  long status = 0;
  std::string body;
  std::vector<std::string> links;  ///< Link header values of the last response
  bool too_big = false;
};

size_t writeBody(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  if (r->body.size() + size * n > kMaxBodyBytes) {
    r->too_big = true;
    return 0;
  }
  r->body.append(data, size * n);
  return size * n;
}

size_t writeHeader(char* data, size_t size, size_t n, void* user) {
  auto* r = static_cast<Response*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) r->links.clear();  // a new response (after a redirect)
  size_t colon = line.find(':');
  if (colon == 4) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (name == "link") {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
        v.remove_suffix(1);
      r->links.emplace_back(v);
    }
  }
  return size * n;
}

/// `ref` resolved against `base` (RFC 3986 §5), with curl's URL parser.
std::string resolveUrl(const std::string& base, const std::string& ref) {
  CURLU* u = curl_url();
  std::string out;
  if (u && curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, ref.c_str(), 0) == CURLUE_OK) {
    char* s = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK && s) out = s;
    curl_free(s);
  }
  curl_url_cleanup(u);
  if (out.empty())
    throw RemoteSourceError("fetch", fmt::format("cannot resolve \"{}\" against {}", ref, base));
  return out;
}

int stopRequested(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::stop_token*>(user)->stop_requested() ? 1 : 0;
}

Response httpGet(const RemoteSource& s, const std::string& url, Duration timeout,
                 const std::stop_token& stop) {
  curlGlobalInit();
  CURL* curl = curl_easy_init();
  if (!curl) throw RemoteSourceError("fetch", "curl_easy_init failed");
  Response r;
  char detail[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  bool accept = false;
  for (const auto& [k, v] : s.headers) {
    headers = curl_slist_append(headers, fmt::format("{}: {}", k, v).c_str());
    if (keyMatches(k, "accept")) accept = true;
  }
  if (!accept) {
    const char* type = s.parser == RemoteSource::Parser::kJson    ? "application/json"
                       : s.parser == RemoteSource::Parser::kPlain ? "text/plain"
                                                                  : "text/csv";
    headers = curl_slist_append(headers, fmt::format("Accept: {}", type).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  if (s.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS, long(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, long(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, long(std::max<int64_t>(1, timeout.count())));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  // Without `proxy: true`, the environment's proxy is not used (as Akvorado).
  if (!s.proxy) curl_easy_setopt(curl, CURLOPT_PROXY, "");
  if (s.tls.enable) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, s.tls.skip_verify ? 0L : 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, s.tls.skip_verify ? 0L : 2L);
    if (!s.tls.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, s.tls.ca_file.c_str());
    if (!s.tls.cert_file.empty()) {
      curl_easy_setopt(curl, CURLOPT_SSLCERT, s.tls.cert_file.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
      const std::string& key = s.tls.key_file.empty() ? s.tls.cert_file : s.tls.key_file;
      curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
      curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
    }
  }
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, stopRequested);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &stop);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, writeBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, writeHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (r.too_big)
    throw RemoteSourceError("fetch",
                            fmt::format("{}: body larger than {} bytes", url, kMaxBodyBytes));
  if (rc != CURLE_OK) {
    std::string msg = curl_easy_strerror(rc);
    if (detail[0] && msg.find(detail) == std::string::npos)
      msg = fmt::format("{}: {}", msg, detail);
    throw RemoteSourceError("fetch", fmt::format("{}: {}", url, msg));
  }
  if (r.status != 200) {
    std::string excerpt = r.body.substr(0, 200);
    while (!excerpt.empty() && (excerpt.back() == '\n' || excerpt.back() == '\r'))
      excerpt.pop_back();
    throw RemoteSourceError("status", fmt::format("{}: HTTP status {}{}{}", url, r.status,
                                                  excerpt.empty() ? "" : ": ", excerpt));
  }
  return r;
}

/// CSV records (RFC 4180: quoted fields with "" inside; a quoted field may span lines), the
/// spaces around unquoted fields dropped. Blank lines are skipped.
std::vector<std::vector<std::string>> csvRecords(const std::string& body, char sep) {
  std::vector<std::vector<std::string>> rows;
  CsvParser csv(body, sep, true);
  std::vector<std::string> row;
  try {
    while (csv.next(row)) rows.push_back(row);
  } catch (const std::runtime_error& e) {
    throw RemoteSourceError("parse", fmt::format("CSV: {}", e.what()));
  }
  return rows;
}

/// The Link header parameters of one link-value: `; rel="next"; title=x`.
bool relIsNext(std::string_view params) {
  size_t i = 0;
  while (i < params.size()) {
    size_t semi = params.find(';', i);
    if (semi == std::string_view::npos) break;
    i = semi + 1;
    while (i < params.size() && (params[i] == ' ' || params[i] == '\t')) i++;
    size_t eq = params.find('=', i);
    size_t next_semi = params.find(';', i);
    if (eq == std::string_view::npos || (next_semi != std::string_view::npos && eq > next_semi))
      continue;
    std::string name(params.substr(i, eq - i));
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    size_t v = eq + 1;
    while (v < params.size() && (params[v] == ' ' || params[v] == '\t')) v++;
    std::string value;
    if (v < params.size() && params[v] == '"') {
      size_t close = params.find('"', v + 1);
      value = std::string(params.substr(
          v + 1, close == std::string_view::npos ? std::string_view::npos : close - v - 1));
    } else {
      size_t end = params.find(';', v);
      value = std::string(
          params.substr(v, end == std::string_view::npos ? std::string_view::npos : end - v));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    }
    if (name != "rel") continue;
    // rel is a space-separated list of relation types, compared case-insensitively (§3.3).
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    size_t p = 0;
    while (p < value.size()) {
      size_t sp = value.find_first_of(" \t", p);
      if (value.substr(p, sp == std::string::npos ? std::string::npos : sp - p) == "next")
        return true;
      if (sp == std::string::npos) break;
      p = sp + 1;
    }
    return false;  // only the first rel parameter counts (§3.3)
  }
  return false;
}

}  // namespace

std::vector<std::string> linkNextTargets(const std::vector<std::string>& link_headers) {
  std::vector<std::string> out;
  for (const std::string& h : link_headers) {
    // link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), several separated by ",".
    size_t i = 0;
    while (i < h.size()) {
      size_t lt = h.find('<', i);
      if (lt == std::string::npos) break;
      size_t gt = h.find('>', lt);
      if (gt == std::string::npos) break;
      std::string target = h.substr(lt + 1, gt - lt - 1);
      // The parameters end at the next "," outside quotes.
      size_t end = gt + 1;
      bool in_quotes = false;
      for (; end < h.size(); end++) {
        if (h[end] == '"')
          in_quotes = !in_quotes;
        else if (h[end] == ',' && !in_quotes)
          break;
      }
      if (relIsNext(std::string_view(h).substr(gt + 1, end - gt - 1))) out.push_back(target);
      i = end + 1;
    }
  }
  return out;
}

jq::Value parseRemoteBody(const std::string& body, RemoteSource::Parser parser) {
  using P = RemoteSource::Parser;
  switch (parser) {
    case P::kJson:
      try {
        return jq::Value::parse(body);
      } catch (const nlohmann::json::exception& e) {
        throw RemoteSourceError("parse", fmt::format("JSON: {}", e.what()));
      }
    case P::kPlain: {
      jq::Value lines = jq::Value::array();
      size_t start = 0;
      while (start <= body.size()) {
        size_t nl = body.find('\n', start);
        std::string line =
            body.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
        if (b != std::string::npos) lines.push_back(line.substr(b, e - b + 1));
        if (nl == std::string::npos) break;
        start = nl + 1;
      }
      return lines;
    }
    case P::kCsvHeader: {
      auto rows = csvRecords(body, ',');
      jq::Value out = jq::Value::array();
      if (rows.empty()) return out;
      const auto& header = rows[0];
      for (size_t r = 1; r < rows.size(); r++) {
        jq::Value o = jq::Value::object();
        for (size_t i = 0; i < rows[r].size() && i < header.size(); i++) o[header[i]] = rows[r][i];
        out.push_back(std::move(o));
      }
      return out;
    }
    default: {
      char sep = parser == P::kCsvComma ? ',' : parser == P::kCsvSemicolon ? ';' : ':';
      jq::Value out = jq::Value::array();
      for (auto& row : csvRecords(body, sep)) {
        jq::Value o = jq::Value::object();
        for (size_t i = 0; i < row.size(); i++) o[fmt::format("f{}", i + 1)] = std::move(row[i]);
        out.push_back(std::move(o));
      }
      return out;
    }
  }
}

void RemoteSource::setTransform(const std::string& text) {
  program = std::make_shared<const jq::Program>(jq::Program::compile(text));
  transform = text;
}

void RemoteSource::read(ConfigReader& r) {
  r.field("url", url);
  r.choice("method", method, {"GET", "POST"});
  YAML::Node h = r.raw("headers", "{}");
  headers.clear();
  if (h.IsDefined() && !h.IsNull()) {
    if (!h.IsMap()) r.fail("headers", "expected a mapping from header names to values");
    for (const auto& kv : h) {
      if (!kv.second.IsScalar())
        r.fail("headers", fmt::format("{}: expected a string", kv.first.as<std::string>()));
      std::string name = kv.first.as<std::string>();
      if (name.empty() || name.find_first_of(":\r\n ") != std::string::npos)
        r.fail("headers", fmt::format("\"{}\" is not a valid header name", name));
      if (kv.second.Scalar().find_first_of("\r\n") != std::string::npos)
        r.fail("headers", fmt::format("{}: a header value cannot span lines", name));
      headers[name] = kv.second.Scalar();
    }
  }
  r.field("proxy", proxy);
  r.field("timeout", timeout);
  r.field("interval", interval);
  r.section("tls", [&](ConfigReader& t) { tls.read(t); });
  std::string p = kParsers[size_t(parser)];
  r.choice("parser", p, kParsers);
  parser = Parser(std::find(kParsers.begin(), kParsers.end(), p) - kParsers.begin());
  std::string g = kPaginations[size_t(pagination)];
  r.choice("pagination", g, kPaginations);
  pagination =
      Pagination(std::find(kPaginations.begin(), kPaginations.end(), g) - kPaginations.begin());
  r.field("transform", transform);
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    r.fail("url", fmt::format("\"{}\" is not an http:// or https:// URL", url));
  if (url.find_first_of(" \r\n") != std::string::npos)
    r.fail("url", fmt::format("\"{}\" is not a valid URL", url));
  if (timeout < Duration(1000)) r.fail("timeout", "must be at least 1s");
  if (!r.has("interval"))
    r.fail("interval", "missing: how often to fetch the source (at least 1m)");
  if (interval < kMinInterval) r.fail("interval", "must be at least 1m");
  try {
    setTransform(transform);
  } catch (const jq::ParseError& e) {
    r.fail("transform", fmt::format("jq syntax error at {}", e.what()));
  }
}

std::vector<jq::Value> fetchRemoteSource(const RemoteSource& s, std::stop_token stop) {
  std::shared_ptr<const jq::Program> program = s.program;
  if (!program) {
    try {
      program = std::make_shared<const jq::Program>(jq::Program::compile(s.transform));
    } catch (const jq::ParseError& e) {
      throw RemoteSourceError("transform", fmt::format("transform: {}", e.what()));
    }
  }
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + s.timeout;
  std::vector<jq::Value> values;
  std::set<std::string> seen;
  std::string url = s.url;
  for (int page = 1;; page++) {
    auto left = std::chrono::duration_cast<Duration>(deadline - clock::now());
    if (left <= Duration(0))
      throw RemoteSourceError("fetch", fmt::format("{}: timeout ({}) reached after {} pages", url,
                                                   formatDuration(s.timeout), page - 1));
    seen.insert(url);
    Response r = httpGet(s, url, left, stop);
    jq::Value doc;
    try {
      doc = parseRemoteBody(r.body, s.parser);
    } catch (const RemoteSourceError& e) {
      throw RemoteSourceError(e.kind, fmt::format("{}: {}", url, e.what()));
    }
    try {
      program->run(doc, [&](const jq::Value& v) { values.push_back(v); });
    } catch (const jq::Error& e) {
      throw RemoteSourceError("transform", fmt::format("{}: transform: {}", url, e.what()));
    }
    std::string next;
    using G = RemoteSource::Pagination;
    if (s.pagination == G::kRelNext || s.pagination == G::kAuto) {
      auto targets = linkNextTargets(r.links);
      if (!targets.empty()) next = targets.front();
    }
    if (next.empty() && (s.pagination == G::kLinkNext || s.pagination == G::kAuto) &&
        doc.is_object()) {
      auto it = doc.find("next");
      if (it != doc.end() && it->is_string()) next = it->get<std::string>();
    }
    if (next.empty()) break;
    next = resolveUrl(url, next);
    if (seen.count(next))
      throw RemoteSourceError("fetch",
                              fmt::format("{}: the next page, {}, was already fetched", url, next));
    if (page >= kMaxPages)
      throw RemoteSourceError("fetch", fmt::format("{}: more than {} pages", s.url, kMaxPages));
    url = next;
  }
  if (values.empty()) throw RemoteSourceError("empty", "the transform gave no value");
  return values;
}

// ---------------------------------------------------------------------------------------------

struct RemoteSources::State {
  std::shared_ptr<std::atomic<uint64_t>> count = std::make_shared<std::atomic<uint64_t>>(0);
  Counter* updates = nullptr;
};

RemoteSources::RemoteSources(std::map<std::string, RemoteSource> sources, Metrics* metrics,
                             std::string metric_prefix, std::string what, Update update)
    : sources_(std::move(sources)),
      metrics_(metrics),
      prefix_(std::move(metric_prefix)),
      what_(std::move(what)),
      update_(std::move(update)) {
  for (const auto& [name, s] : sources_) {
    auto st = std::make_unique<State>();
    if (metrics_) {
      st->updates =
          &metrics_->counter(prefix_ + "_updates_total",
                             "Successful updates of a remote data source.", {{"source", name}});
      metrics_->gauge(prefix_ + "_data_total",
                      "Objects from the last successful update of a remote data source.",
                      {{"source", name}}, [c = st->count] { return double(c->load()); });
    }
    states_.push_back(std::move(st));
  }
  not_ready_ = sources_.size();
}

RemoteSources::~RemoteSources() { stop(); }

void RemoteSources::start() {
  if (!threads_.empty()) return;
  size_t i = 0;
  for (const auto& [name, s] : sources_) {
    State* st = states_[i++].get();
    threads_.emplace_back(
        [this, &name, &s, st](std::stop_token token) { run(token, name, s, *st); });
  }
}

void RemoteSources::stop() {
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

bool RemoteSources::ready() const {
  std::lock_guard lock(mutex_);
  return not_ready_ == 0;
}

bool RemoteSources::waitReady(Duration timeout) const {
  std::unique_lock lock(mutex_);
  return ready_cv_.wait_for(lock, timeout, [&] { return not_ready_ == 0; });
}

void RemoteSources::run(std::stop_token st, const std::string& name, const RemoteSource& source,
                        State& state) {
  // Retries after a failure: interval/10, doubling, at most the interval (Akvorado: an
  // exponential backoff from interval/10 bounded by the interval).
  const Duration first_retry = std::max(Duration(1), source.interval / 10);
  Duration retry = first_retry;
  bool loaded = false;
  std::mutex m;
  std::condition_variable_any cv;
  while (!st.stop_requested()) {
    Duration wait;
    try {
      std::vector<jq::Value> values;
      try {
        values = fetchRemoteSource(source, st);
      } catch (const RemoteSourceError&) {
        throw;
      } catch (const std::exception& e) {
        throw RemoteSourceError("fetch", e.what());
      }
      size_t n;
      try {
        n = update_(name, values);
      } catch (const std::exception& e) {
        throw RemoteSourceError("validate", e.what());
      }
      state.count->store(n);
      if (state.updates) state.updates->inc();
      spdlog::info("{}: source {} updated ({} objects)", what_, name, n);
      if (!loaded) {
        loaded = true;
        std::lock_guard lock(mutex_);
        not_ready_--;
        ready_cv_.notify_all();
      }
      retry = first_retry;
      wait = source.interval;
    } catch (const RemoteSourceError& e) {
      if (st.stop_requested()) return;  // aborted by stop()
      if (metrics_)
        metrics_
            ->counter(prefix_ + "_errors_total", "Failed updates of a remote data source.",
                      {{"source", name}, {"error", e.kind}})
            .inc();
      spdlog::warn("{}: source {} ({}): {}; {}retrying in {}", what_, name, source.url, e.what(),
                   loaded ? "keeping the previous data, " : "", formatDuration(retry));
      wait = retry;
      retry = std::min(retry * 2, source.interval);
    }
    std::unique_lock lock(m);
    cv.wait_for(lock, st, wait, [] { return false; });
  }
}

}  // namespace akvo
