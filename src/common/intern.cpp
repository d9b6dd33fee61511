#include "common/intern.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace akvo {
namespace {

// Shards, each with its own lock, arena and map, chosen by the string's hash; ids come from
// one counter so that they index the table densely.
constexpr unsigned kShards = 16;
constexpr size_t kChunk = 256 * 1024;

struct Shard {
  std::mutex mu;
  std::unordered_map<std::string_view, uint32_t> ids;  // keys are views into chunks
  std::vector<std::unique_ptr<char[]>> chunks, large;
  size_t used = kChunk, capacity = kChunk;  // room left in chunks.back()

  const char* store(std::string_view s) {
    if (s.size() > kChunk / 4) {  // large: an allocation of its own
      large.push_back(std::make_unique<char[]>(s.size()));
      std::memcpy(large.back().get(), s.data(), s.size());
      return large.back().get();
    }
    if (capacity - used < s.size()) {
      chunks.push_back(std::make_unique<char[]>(kChunk));
      used = 0;
      capacity = kChunk;
    }
    char* p = chunks.back().get() + used;
    std::memcpy(p, s.data(), s.size());
    used += s.size();
    return p;
  }
};

Shard* shards() {
  static Shard* s = new Shard[kShards];  // never destroyed: IStrs outlive static destructors
  return s;
}

std::mutex g_table_mu;  // guards chunk allocation
std::atomic<uint32_t> g_next_id{1};
std::atomic<uint64_t> g_strings{0}, g_bytes{0};

void publish(uint32_t id, const char* p, uint32_t len) {
  size_t c = id >> detail::kInternChunkBits;
  const detail::Interned* chunk = detail::g_intern_chunks[c].load(std::memory_order_acquire);
  if (!chunk) {
    std::lock_guard lock(g_table_mu);
    chunk = detail::g_intern_chunks[c].load(std::memory_order_acquire);
    if (!chunk) {
      chunk = new detail::Interned[size_t(1) << detail::kInternChunkBits]();
      detail::g_intern_chunks[c].store(chunk, std::memory_order_release);
    }
  }
  // Written before the id leaves this function; readers get ids through synchronized caches.
  const_cast<detail::Interned&>(chunk[id & ((1u << detail::kInternChunkBits) - 1)]) = {p, len};
}

}  // namespace

namespace detail {
std::atomic<const Interned*> g_intern_chunks[kInternChunks];
}  // namespace detail

IStr::IStr(std::string_view s) {
  if (s.empty()) return;
  if (s.size() > UINT32_MAX) throw std::length_error("interned string too long");
  size_t h = std::hash<std::string_view>{}(s);
  Shard& shard = shards()[(h >> 7) % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.ids.find(s);
  if (it == shard.ids.end()) {
    uint32_t id = g_next_id.fetch_add(1, std::memory_order_relaxed);
    if (id == 0 || id == UINT32_MAX) throw std::length_error("too many interned strings");
    const char* p = shard.store(s);
    publish(id, p, uint32_t(s.size()));
    it = shard.ids.emplace(std::string_view(p, s.size()), id).first;
    g_strings.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(s.size(), std::memory_order_relaxed);
  }
  id_ = it->second;
}

std::ostream& operator<<(std::ostream& os, const IStr& s) { return os << s.view(); }

uint64_t internedStrings() { return g_strings.load(std::memory_order_relaxed); }
uint64_t internedBytes() { return g_bytes.load(std::memory_order_relaxed); }

}  // namespace akvo
