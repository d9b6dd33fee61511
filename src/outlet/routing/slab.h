#pragma once
/// The RIB's allocator: size classes of 8 bytes up to 1 KiB, each carved from its own 2 MiB
/// chunks (so that a class emptied by a change of shape, e.g. every one-route set becoming a
/// two-route set when a second peer arrives, frees whole chunks). Once the slab holds 64 MiB,
/// chunks ask for transparent huge pages (madvise): a lookup's few cache misses each cost a
/// TLB miss too on 4 KiB pages, and on huge pages the page walk mostly disappears; small
/// tables stay on 4 KiB pages, where untouched chunk tails cost nothing. No per-object header.
/// Larger objects (wide trie nodes) come from malloc. A chunk whose objects are all freed is
/// returned to the system by trim() once empty chunks make 1/64 of the slab (and 4 chunks),
/// or half of it. Not thread-safe: the RIB's writer owns it.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace akvo::routing {

class Slab {
 public:
  static constexpr size_t kGranule = 8;
  static constexpr size_t kMaxSmall = 1024;
  static constexpr size_t kChunk = size_t(2) << 20;

  Slab() = default;
  ~Slab();
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;

  /// `bytes` > 0. Throws std::bad_alloc. `pooled` false: from malloc, for objects whose size
  /// changes at each copy (trie nodes), which malloc's coalescing serves better.
  void* allocate(size_t bytes, bool pooled = true);
  /// `bytes` and `pooled` as given to allocate().
  void free(void* p, size_t bytes, bool pooled = true);
  /// Returns the chunks with no live object to the system.
  void trim();

  /// Bytes held from the system: chunks up to their bump pointer, and malloc'd objects with
  /// their usable size.
  size_t reservedBytes() const;
  /// Bytes of live objects (rounded to their size class).
  size_t liveBytes() const { return live_bytes_; }

 private:
  static size_t roundUp(size_t n) { return (n + kGranule - 1) / kGranule * kGranule; }
  static uintptr_t chunkOf(const void* p) {
    return reinterpret_cast<uintptr_t>(p) & ~uintptr_t(kChunk - 1);
  }
  static constexpr size_t kHugeAfter = size_t(64) << 20;
  void newChunk(size_t cls);

  struct Class {
    void* free = nullptr;  // intrusive list: a free object holds the next
    char* cur = nullptr;   // bump allocation in the class's newest chunk
    char* end = nullptr;
  };
  Class classes_[kMaxSmall / kGranule + 1];
  bool huge_ = false;
  struct Chunk {
    size_t live = 0;  // bytes of live objects
    size_t cls = 0;   // the size class it serves
  };
  std::unordered_map<uintptr_t, Chunk> chunks_;
  size_t empty_chunks_ = 0;  // chunks with no live object
  size_t live_bytes_ = 0;
  size_t large_bytes_ = 0;
};

}  // namespace akvo::routing
