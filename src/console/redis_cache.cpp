#include "console/redis_cache.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "common/sigpipe.h"

namespace akvo::console {

namespace {

constexpr timeval kTimeout{1, 0};              // to connect, and per command
constexpr size_t kMaxIdle = 8;

using Reply = std::unique_ptr<redisReply, void (*)(void*)>;

/// Runs a command of binary-safe arguments; nullptr reply when the connection failed.
Reply command(redisContext* c, std::initializer_list<std::string_view> args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(redisCommandArgv(c, int(argv.size()), argv.data(), lens.data())),
               freeReplyObject);
}

std::string replyError(redisContext* c, const Reply& r) {
  if (!r) return c->errstr[0] ? c->errstr : "connection lost";
  if (r->type == REDIS_REPLY_ERROR) return std::string(r->str, r->len);
  return "";
}

void putU32(std::string& out, uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
void putString(std::string& out, const std::string& s) {
  putU32(out, uint32_t(s.size()));
  out += s;
}

}  // namespace

RedisCache::RedisCache(const HttpServer::Config::Cache& config, size_t max_bytes, Metrics& metrics,
                       std::chrono::milliseconds retry_after)
    : config_(config),
      max_bytes_(max_bytes),
      retry_after_(retry_after),
      errors_(metrics.counter("akvo_console_cache_errors_total",
                              "Console cache operations that failed (Redis unreachable, refusing, or "
                              "answering something else than a response); each was a miss.")),
      too_large_(cacheTooLargeCounter(metrics)) {}

RedisCache::~RedisCache() {
  SigpipeGuard guard;
  for (redisContext* c : idle_) redisFree(c);
}

std::string RedisCache::redisKey(const std::string& key) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(key.data(), key.size(), digest, &len, EVP_sha256(), nullptr);
  std::string out = "akvo:console:" AKVO_VERSION ":";
  for (unsigned i = 0; i < len; i++) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// "AKV1", status, type, header count, each header's name and value, then the body to the end.
// Lengths and numbers are 32-bit little-endian (the host's: every console reading it is too).
std::string RedisCache::encode(const HttpResponse& r) {
  std::string out = "AKV1";
  putU32(out, uint32_t(r.status));
  putString(out, r.content_type);
  putU32(out, uint32_t(r.headers.size()));
  for (const auto& [k, v] : r.headers) {
    putString(out, k);
    putString(out, v);
  }
  out += r.body;
  return out;
}

bool RedisCache::decode(const std::string& data, HttpResponse& out) {
  size_t pos = 4;
  auto u32 = [&](uint32_t& v) {
    if (data.size() - pos < 4) return false;
    std::memcpy(&v, data.data() + pos, 4);
    pos += 4;
    return true;
  };
  auto str = [&](std::string& s) {
    uint32_t n;
    if (!u32(n) || data.size() - pos < n) return false;
    s.assign(data, pos, n);
    pos += n;
    return true;
  };
  if (data.size() < 4 || data.compare(0, 4, "AKV1") != 0) return false;
  HttpResponse r;
  uint32_t status, headers;
  if (!u32(status) || !str(r.content_type) || !u32(headers)) return false;
  r.status = int(status);
  for (uint32_t i = 0; i < headers; i++) {
    std::string k, v;
    if (!str(k) || !str(v)) return false;
    r.headers.emplace_back(std::move(k), std::move(v));
  }
  r.body.assign(data, pos);
  out = std::move(r);
  return true;
}

void RedisCache::failed(const char* op, const std::string& why) {
  errors_.inc();
  log_.warn("console cache: redis {} {}: {}", config_.server, op, why);
}

redisContext* RedisCache::acquire(std::string* error) {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return c;
    }
    // A server that just refused is not asked again at each request.
    if (!error && std::chrono::steady_clock::now() < retry_at_) return nullptr;
  }
  redisContext* c = nullptr;
  if (config_.protocol == "unix") {
    c = redisConnectUnixWithTimeout(config_.server.c_str(), kTimeout);
  } else {
    // host:port, checked by the configuration; an IPv6 address is written [2001:db8::1]:6379.
    size_t colon = config_.server.rfind(':');
    std::string host = config_.server.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    c = redisConnectWithTimeout(host.c_str(), std::stoi(config_.server.substr(colon + 1)), kTimeout);
  }
  std::string why;
  if (!c) why = "out of memory";
  else if (c->err) why = c->errstr;
  if (why.empty()) redisSetTimeout(c, kTimeout);
  // The login, then the database.
  if (why.empty() && !config_.password.empty()) {
    Reply r = config_.username.empty() ? command(c, {"AUTH", config_.password})
                                       : command(c, {"AUTH", config_.username, config_.password});
    why = replyError(c, r);
  }
  if (why.empty() && config_.db != 0) why = replyError(c, command(c, {"SELECT", std::to_string(config_.db)}));
  if (why.empty()) return c;
  if (c) redisFree(c);
  {
    std::lock_guard lock(mutex_);
    retry_at_ = std::chrono::steady_clock::now() + retry_after_;
  }
  if (error) *error = why;
  else failed("connect", why);
  return nullptr;
}

void RedisCache::release(redisContext* c) {
  if (c->err) {
    redisFree(c);
    return;
  }
  std::lock_guard lock(mutex_);
  if (idle_.size() < kMaxIdle) idle_.push_back(c);
  else redisFree(c);
}

std::string RedisCache::check() {
  SigpipeGuard guard;
  std::string why;
  redisContext* c = acquire(&why);
  if (!c) return why;
  why = replyError(c, command(c, {"PING"}));
  release(c);
  return why;
}

bool RedisCache::get(const std::string& key, HttpResponse& out) {
  SigpipeGuard guard;
  redisContext* c = acquire();
  if (!c) return false;
  Reply r = command(c, {"GET", redisKey(key)});
  bool hit = false;
  if (std::string why = replyError(c, r); !why.empty()) {
    failed("GET", why);
  } else if (r->type == REDIS_REPLY_STRING) {
    hit = decode(std::string(r->str, r->len), out);
    if (!hit) failed("GET", "the value is not a response of this akvo");
  }
  release(c);
  return hit;
}

void RedisCache::put(const std::string& key, const HttpResponse& r, std::chrono::milliseconds ttl) {
  std::string value = encode(r);
  if (value.size() > max_bytes_) {
    too_large_.inc();
    return;
  }
  SigpipeGuard guard;
  redisContext* c = acquire();
  if (!c) return;
  Reply reply = command(c, {"SET", redisKey(key), value, "PX", std::to_string(std::max<int64_t>(1, ttl.count()))});
  if (std::string why = replyError(c, reply); !why.empty()) failed("SET", why);
  release(c);
}

}  // namespace akvo::console
