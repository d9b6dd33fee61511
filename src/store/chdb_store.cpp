#include "store/chdb_store.h"

#include <algorithm>

#include <dlfcn.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

namespace akvo {

// Declarations written from chDB's C API (programs/local/chdb.h, chDB 26.7). Only opaque
// handles cross the boundary.
extern "C" {
struct chdb_result_ {
  void* internal_data;
};
struct chdb_connection_ {
  void* internal_data;
};
struct chdb_insert_stream_ {
  void* internal_data;
};
}
using chdb_result = chdb_result_;
using chdb_connection = chdb_connection_*;
using chdb_insert_stream = chdb_insert_stream_*;

struct ChdbApi {
  void (*set_signal_handlers_enabled)(int);
  chdb_connection* (*connect)(int, char**);
  void (*close_conn)(chdb_connection*);
  chdb_result* (*query_n)(chdb_connection, const char*, size_t, const char*, size_t);
  void (*destroy_query_result)(chdb_result*);
  char* (*result_buffer)(chdb_result*);
  size_t (*result_length)(chdb_result*);
  const char* (*result_error)(chdb_result*);
  chdb_insert_stream (*stream_insert_n)(chdb_connection, const char*, size_t, const char*, size_t);
  int (*stream_append)(chdb_insert_stream, const void*, size_t);
  chdb_result* (*stream_done)(chdb_insert_stream);
  const char* (*stream_insert_error)(chdb_insert_stream);
  void (*destroy_insert_stream)(chdb_insert_stream);
  const char* (*version)();
  int (*shutdown)();  ///< optional (chDB >= 26.7): joins the engine's threads
};

namespace {

constexpr const char* kChdbVersion = "26.7.3-stable.1";

std::string cacheDir() {
  if (const char* c = std::getenv("AKVO_CACHE"); c && *c) return c;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/akvo";
}

template <class F>
void bind(void* handle, F& fn, const char* name) {
  void* p = dlsym(handle, name);
  if (!p) throw StoreError(fmt::format("libchdb.so has no symbol {}: wrong version?", name));
  fn = reinterpret_cast<F>(p);
}

/// The library is loaded once per process and never unloaded.
const ChdbApi* loadApi(const std::string& path) {
  static std::mutex mutex;
  static ChdbApi* api = nullptr;
  std::lock_guard lock(mutex);
  if (api) return api;
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    throw StoreError(fmt::format(
        "cannot load the embedded ClickHouse engine {}: {} (run `make deps`, or set "
        "AKVO_CHDB_LIB)",
        path, dlerror()));
  auto* a = new ChdbApi{};
  bind(h, a->set_signal_handlers_enabled, "chdb_set_signal_handlers_enabled");
  bind(h, a->connect, "chdb_connect");
  bind(h, a->close_conn, "chdb_close_conn");
  bind(h, a->query_n, "chdb_query_n");
  bind(h, a->destroy_query_result, "chdb_destroy_query_result");
  bind(h, a->result_buffer, "chdb_result_buffer");
  bind(h, a->result_length, "chdb_result_length");
  bind(h, a->result_error, "chdb_result_error");
  bind(h, a->stream_insert_n, "chdb_stream_insert_n");
  bind(h, a->stream_append, "chdb_stream_append");
  bind(h, a->stream_done, "chdb_stream_done");
  bind(h, a->stream_insert_error, "chdb_stream_insert_error");
  bind(h, a->destroy_insert_stream, "chdb_destroy_insert_stream");
  bind(h, a->version, "chdb_version");
  a->shutdown = reinterpret_cast<int (*)()>(dlsym(h, "chdb_shutdown"));
  // Otherwise chDB takes SIGSEGV/SIGABRT/SIGTSTP for itself (STORAGE.md).
  a->set_signal_handlers_enabled(0);
  api = a;
  return api;
}

class ChdbConnection : public StoreConnection {
 public:
  ChdbConnection(const ChdbApi* api, chdb_connection* conn) : api_(api), conn_(conn) {}
  ~ChdbConnection() override { api_->close_conn(conn_); }

  std::string query(std::string_view sql, std::string_view format) override {
    chdb_result* r = api_->query_n(*conn_, sql.data(), sql.size(), format.data(), format.size());
    if (!r) throw StoreError("chdb: no result");
    std::string out;
    const char* err = api_->result_error(r);
    if (err && *err) {
      std::string msg = err;
      api_->destroy_query_result(r);
      throw StoreError(msg);
    }
    if (char* buf = api_->result_buffer(r)) out.assign(buf, api_->result_length(r));
    api_->destroy_query_result(r);
    return out;
  }

  void insertNative(std::string_view prefix, std::string_view block) override {
    insertNativeParts(prefix, {block}, {});
  }

  // The settings go in the statement's SETTINGS clause (before the FORMAT the engine adds).
  void insertNativeParts(std::string_view insert_prefix, const std::vector<std::string_view>& parts,
                         const Settings& settings) override {
    static constexpr std::string_view kFormat = "Native";
    std::string with_settings;
    std::string_view prefix = insert_prefix;
    if (!settings.empty()) {
      with_settings.assign(insert_prefix).append(" SETTINGS ");
      for (size_t i = 0; i < settings.size(); i++)
        with_settings.append(i ? ", " : "").append(settings[i].first).append(" = ").append(settings[i].second);
      prefix = with_settings;
    }
    chdb_insert_stream s =
        api_->stream_insert_n(*conn_, prefix.data(), prefix.size(), kFormat.data(), kFormat.size());
    std::string error;
    if (const char* e = api_->stream_insert_error(s); e && *e) {
      error = e;
    } else if (!std::all_of(parts.begin(), parts.end(), [&](std::string_view b) {
                 return api_->stream_append(s, b.data(), b.size()) == 0;
               })) {
      const char* e2 = api_->stream_insert_error(s);
      error = e2 && *e2 ? e2 : "append failed";
    } else {
      chdb_result* r = api_->stream_done(s);
      if (r) {
        if (const char* e3 = api_->result_error(r); e3 && *e3) error = e3;
        api_->destroy_query_result(r);
      } else if (const char* e3 = api_->stream_insert_error(s); e3 && *e3) {
        error = e3;
      }
    }
    api_->destroy_insert_stream(s);
    if (!error.empty()) throw StoreError(error);
  }

 private:
  const ChdbApi* api_;
  chdb_connection* conn_;
};

}  // namespace

std::string ChdbStore::defaultLibraryPath() {
  if (const char* e = std::getenv("AKVO_CHDB_LIB"); e && *e) return e;
  return cacheDir() + "/chdb/" + kChdbVersion + "/libchdb.so";
}

ChdbStore::ChdbStore(Config config) : config_(std::move(config)) {
  std::string lib = config_.library.empty() ? defaultLibraryPath() : config_.library;
  api_ = loadApi(lib);
  std::error_code ec;
  std::filesystem::create_directories(config_.path, ec);
  if (ec) throw StoreError(fmt::format("cannot create data folder {}: {}", config_.path, ec.message()));
  auto c = connect();
  keeper_ = c.release();
  spdlog::info("embedded store ready: chDB {} on {}", api_->version(), config_.path);
}

ChdbStore::~ChdbStore() {
  delete static_cast<StoreConnection*>(keeper_);
  // With every connection closed, stop the engine's threads now: left running, they race the
  // process's exit (global destructors) and crash it now and then. chdb_shutdown() also fails
  // when one of the engine's own threads stays parked, which it does once a MergeTree table has
  // been opened: the engine is closed all the same and the exit reaps that thread, so this is
  // no news to the user (it used to be a warning printed at every exit).
  if (api_->shutdown && api_->shutdown() != 0)
    spdlog::debug("embedded store: chdb_shutdown left an engine thread running");
}

std::unique_ptr<StoreConnection> ChdbStore::connect(bool read_only) {
  std::vector<std::string> args = {"akvo", "--path=" + config_.path,
                                   "--allow_suspicious_low_cardinality_types=1"};
  for (const auto& s : config_.settings) args.push_back("--" + s);
  if (read_only) args.push_back("--readonly=2");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::lock_guard lock(connect_mutex_);
  chdb_connection* conn = api_->connect(int(argv.size()), argv.data());
  if (!conn || !*conn)
    throw StoreError(fmt::format(
        "cannot open the store in {} (is another akvo using this folder? only one process may "
        "open it)",
        config_.path));
  return std::make_unique<ChdbConnection>(api_, conn);
}

}  // namespace akvo
