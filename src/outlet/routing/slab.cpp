#include "outlet/routing/slab.h"

#include <malloc.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>

namespace akvo::routing {

Slab::~Slab() {
  for (auto& [base, c] : chunks_) munmap(reinterpret_cast<void*>(base), kChunk);
}

size_t Slab::reservedBytes() const {
  size_t b = chunks_.size() * kChunk + large_bytes_;
  for (const auto& c : classes_) b -= size_t(c.end - c.cur);
  return b;
}

void Slab::newChunk(size_t cls) {
  // Twice the size, then trimmed to an aligned chunk: chunkOf() finds an object's chunk.
  void* m = mmap(nullptr, 2 * kChunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  uintptr_t start = reinterpret_cast<uintptr_t>(m);
  uintptr_t base = (start + kChunk - 1) & ~uintptr_t(kChunk - 1);
  if (base > start) munmap(m, base - start);
  if (base + kChunk < start + 2 * kChunk)
    munmap(reinterpret_cast<void*>(base + kChunk), start + 2 * kChunk - base - kChunk);
  chunks_.emplace(base, Chunk{0, cls});
  empty_chunks_++;
  if (!huge_ && chunks_.size() * kChunk >= kHugeAfter) {
    huge_ = true;
    for (auto& [b, c] : chunks_) madvise(reinterpret_cast<void*>(b), kChunk, MADV_HUGEPAGE);
  } else if (huge_) {
    madvise(reinterpret_cast<void*>(base), kChunk, MADV_HUGEPAGE);  // a hint: may be refused
  }
  classes_[cls].cur = reinterpret_cast<char*>(base);
  classes_[cls].end = classes_[cls].cur + kChunk;
}

void* Slab::allocate(size_t bytes, bool pooled) {
  if (bytes > kMaxSmall || !pooled) {
    void* p = std::malloc(bytes);
    if (!p) throw std::bad_alloc();
    large_bytes_ += malloc_usable_size(p);
    return p;
  }
  size_t n = roundUp(bytes);
  Class& c = classes_[n / kGranule];
  void* p;
  if (c.free) {
    p = c.free;
    c.free = *static_cast<void**>(p);
  } else {
    if (size_t(c.end - c.cur) < n) newChunk(n / kGranule);
    p = c.cur;
    c.cur += n;
  }
  size_t& live = chunks_[chunkOf(p)].live;
  if (live == 0) empty_chunks_--;
  live += n;
  live_bytes_ += n;
  return p;
}

void Slab::free(void* p, size_t bytes, bool pooled) {
  if (bytes > kMaxSmall || !pooled) {
    large_bytes_ -= malloc_usable_size(p);
    std::free(p);
    return;
  }
  size_t n = roundUp(bytes);
  Class& c = classes_[n / kGranule];
  *static_cast<void**>(p) = c.free;
  c.free = p;
  size_t& live = chunks_[chunkOf(p)].live;
  live -= n;
  live_bytes_ -= n;
  if (live == 0) empty_chunks_++;
}

void Slab::trim() {
  // Walking the free lists costs their length: only when enough memory would come back.
  const size_t empty = empty_chunks_ * kChunk, reserved = reservedBytes();
  if (empty == 0 || (empty < std::max(4 * kChunk, reserved / 64) && empty < reserved / 2)) return;
  bool walk[kMaxSmall / kGranule + 1] = {};  // only the classes that have an empty chunk
  for (const auto& [base, c] : chunks_)
    if (c.live == 0) walk[c.cls] = true;
  // Drop the empty chunks' objects from the free lists, then the chunks.
  auto dead = [&](void* p) { return chunks_.find(chunkOf(p))->second.live == 0; };
  for (size_t cls = 0; cls < std::size(classes_); cls++) {
    if (!walk[cls]) continue;
    void** link = &classes_[cls].free;
    while (*link) {
      if (dead(*link)) *link = *static_cast<void**>(*link);
      else link = static_cast<void**>(*link);
    }
  }
  for (auto& c : classes_)
    if (auto it = c.cur ? chunks_.find(chunkOf(c.cur - 1)) : chunks_.end();
        it != chunks_.end() && it->second.live == 0)
      c.cur = c.end = nullptr;  // the bump chunk goes too; the next allocation maps a new one
  for (auto it = chunks_.begin(); it != chunks_.end();) {
    if (it->second.live != 0) {
      ++it;
      continue;
    }
    munmap(reinterpret_cast<void*>(it->first), kChunk);
    it = chunks_.erase(it);
  }
  empty_chunks_ = 0;
}

}  // namespace akvo::routing
