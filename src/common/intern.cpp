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

// Shards, each with its own lock, arena and map; a string's shard is chosen by its hash and
// its id is (shard-local counter << kShardBits) | shard.
constexpr unsigned kShardBits = 4;
constexpr unsigned kShards = 1u << kShardBits;
constexpr size_t kChunk = 256 * 1024;

struct Shard {
  std::mutex mu;
  std::unordered_map<std::string_view, uint32_t> ids;  // keys are views into chunks
  std::vector<std::unique_ptr<char[]>> chunks, large;
  size_t used = kChunk, capacity = kChunk;  // room left in chunks.back()
  uint32_t next = 1;

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

std::atomic<uint64_t> g_strings{0}, g_bytes{0};

}  // namespace

IStr::IStr(std::string_view s) {
  if (s.empty()) return;
  if (s.size() > UINT32_MAX) throw std::length_error("interned string too long");
  size_t h = std::hash<std::string_view>{}(s);
  unsigned shard_index = unsigned(h >> 7) & (kShards - 1);
  Shard& shard = shards()[shard_index];
  std::lock_guard lock(shard.mu);
  auto it = shard.ids.find(s);
  if (it == shard.ids.end()) {
    if (shard.next >= (1u << (32 - kShardBits))) throw std::length_error("too many interned strings");
    const char* p = shard.store(s);
    uint32_t id = (shard.next++ << kShardBits) | shard_index;
    it = shard.ids.emplace(std::string_view(p, s.size()), id).first;
    g_strings.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(s.size(), std::memory_order_relaxed);
  }
  p_ = it->first.data();
  len_ = uint32_t(s.size());
  id_ = it->second;
}

std::ostream& operator<<(std::ostream& os, const IStr& s) { return os << s.view(); }

uint64_t internedStrings() { return g_strings.load(std::memory_order_relaxed); }
uint64_t internedBytes() { return g_bytes.load(std::memory_order_relaxed); }

}  // namespace akvo
