#include "outlet/routing/rib.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace akvo::routing {

// ---- Stored types -----------------------------------------------------------------------

/// A trie node at depth d (keys' bits 0..8d-1 fixed by the path). Immutable once published,
/// except the atomic slots of its two arrays, which follow it in the same allocation:
/// values (one per set bit of `pfx`, in bit order), then children (one per set bit of `kids`;
/// a Node*, or a Leaf* with the low bit set).
struct Rib::Node {
  uint64_t pfx[8];   // bit (1 << l | top l bits of byte d): prefix of length 8d + l (l 0-8)
  uint64_t kids[4];  // bit b: child for byte d == b
  uint32_t npfx, nkids;
  Slot* values() { return reinterpret_cast<Slot*>(this + 1); }
  const Slot* values() const { return reinterpret_cast<const Slot*>(this + 1); }
  std::atomic<uintptr_t>* children() {
    return reinterpret_cast<std::atomic<uintptr_t>*>(values() + npfx);
  }
  const std::atomic<uintptr_t>* children() const {
    return reinterpret_cast<const std::atomic<uintptr_t>*>(values() + npfx);
  }
};

/// A prefix alone below a child slot (path compression). Key and length are immutable.
struct Rib::Leaf {
  uint64_t hi, lo;
  uint32_t len;
  Slot value;
};

namespace {

/// One route of a prefix: 12 bytes.
struct __attribute__((packed)) Route {
  void* attrs;  // Rib::AttrSet*
  uint32_t source;
};

}  // namespace

/// The routes of one prefix, immutable once published. `count` Route entries follow.
struct Rib::RouteSet {
  uint32_t count;
  Route* routes() { return reinterpret_cast<Route*>(this + 1); }
  const Route* routes() const { return reinterpret_cast<const Route*>(this + 1); }
};

/// Interned path attributes. `refs` and `hash` belong to the writer; the rest is immutable.
/// Followed by n_path AS numbers, n_comm communities and n_large large communities (3 words).
struct Rib::AttrSet {
  uint64_t hash;
  uint32_t refs;
  uint32_t asn;
  uint16_t n_path, n_comm, n_large, pad;
  uint32_t* data() { return reinterpret_cast<uint32_t*>(this + 1); }
  const uint32_t* data() const { return reinterpret_cast<const uint32_t*>(this + 1); }
};

namespace {

inline unsigned octet(uint64_t hi, uint64_t lo, unsigned d) {
  return d < 8 ? unsigned(hi >> (56 - 8 * d)) & 0xff : unsigned(lo >> (56 - 8 * (d - 8))) & 0xff;
}
inline bool bit(const uint64_t* bm, unsigned i) { return (bm[i >> 6] >> (i & 63)) & 1; }
inline void setBit(uint64_t* bm, unsigned i) { bm[i >> 6] |= uint64_t(1) << (i & 63); }
inline void clearBit(uint64_t* bm, unsigned i) { bm[i >> 6] &= ~(uint64_t(1) << (i & 63)); }
/// Set bits below `i`.
template <unsigned Words>
inline unsigned rank(const uint64_t* bm, unsigned i) {
  unsigned r = 0;
  for (unsigned w = 0; w < Words && w < (i >> 6); w++) r += unsigned(std::popcount(bm[w]));
  uint64_t below = (uint64_t(1) << (i & 63)) - 1;
  return r + unsigned(std::popcount(bm[i >> 6] & below));
}
template <unsigned Words>
inline unsigned count(const uint64_t* bm) {
  unsigned r = 0;
  for (unsigned w = 0; w < Words; w++) r += unsigned(std::popcount(bm[w]));
  return r;
}
/// Bit of the prefix of length 8d + l whose byte d is `o`.
inline unsigned position(unsigned o, unsigned l) { return (1u << l) | (o >> (8 - l)); }

/// Keeps the first `len` bits of (hi, lo).
inline void maskKey(uint64_t& hi, uint64_t& lo, unsigned len) {
  if (len == 0) {
    hi = lo = 0;
  } else if (len < 64) {
    hi &= ~uint64_t(0) << (64 - len);
    lo = 0;
  } else if (len == 64) {
    lo = 0;
  } else if (len < 128) {
    lo &= ~uint64_t(0) << (128 - len);
  }
}
inline bool covers(uint64_t hi, uint64_t lo, unsigned len, uint64_t khi, uint64_t klo) {
  maskKey(khi, klo, len);
  return khi == hi && klo == lo;
}

/// An address as a tree key: IPv4 (mapped) on 32 bits at the top of `hi`, family 0; IPv6 on
/// 128 bits, family 1.
struct TreeKey {
  unsigned family;
  uint64_t hi, lo;
};
inline TreeKey treeKey(const IPv6Addr& a) {
  uint64_t hi, lo;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  hi = __builtin_bswap64(hi);
  lo = __builtin_bswap64(lo);
  if (hi == 0 && (lo >> 32) == 0xffff) return {0, lo << 32, 0};
  return {1, hi, lo};
}
/// A prefix as a tree key and length (IPv4 prefixes are /96 and longer in the mapped form).
inline TreeKey prefixKey(const IPv6Prefix& p, unsigned& len) {
  TreeKey k = treeKey(p.addr);
  if (k.family == 0 && p.len < 96) k = {1, 0, uint64_t(0xffff) << 32 | (k.hi >> 32)};
  len = k.family == 0 ? p.len - 96u : p.len;
  maskKey(k.hi, k.lo, len);
  return k;
}

inline bool same(const IPv6Addr& a, const IPv6Addr& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.bytes.data(), 8);
  std::memcpy(&a1, a.bytes.data() + 8, 8);
  std::memcpy(&b0, b.bytes.data(), 8);
  std::memcpy(&b1, b.bytes.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

/// Publishes a route set in its slot (writer).
void publish(Rib::Slot& s, const Rib::RouteSet* rs) {
  s.hint.store(rs && rs->count ? rs->routes()[0].attrs : nullptr, std::memory_order_relaxed);
  s.rs.store(rs, std::memory_order_release);
}


}  // namespace

size_t Rib::SourceKeyHash::operator()(const SourceKey& k) const {
  TreeKey t = treeKey(k.next_hop);
  return size_t(mix(mix(mix(k.peer, k.path_id), t.hi), t.lo));
}

// ---- Memory ---------------------------------------------------------------------------

size_t Rib::bytesOf(const Node* n) {
  return sizeof(Node) + sizeof(Slot) * n->npfx + 8 * n->nkids;
}
size_t Rib::bytesOf(const Leaf*) { return sizeof(Leaf); }
size_t Rib::bytesOf(const RouteSet* s) { return sizeof(RouteSet) + sizeof(Route) * s->count; }
size_t Rib::bytesOf(const AttrSet* a) {
  return sizeof(AttrSet) + 4 * (size_t(a->n_path) + a->n_comm + 3 * size_t(a->n_large));
}

void Rib::reclaim() {
  std::lock_guard lock(write_mutex_);
  if (!retired_.empty()) {
    pending_.push_back({epoch_.phase(), std::move(retired_)});
    retired_ = {};
  }
  // Two advances free what was retired before the first one.
  for (int i = 0; i < 2 && !pending_.empty(); i++) {
    if (!epoch_.tryAdvance()) break;
    while (!pending_.empty() && pending_.front().phase + 2 <= epoch_.phase()) {
      for (const Retired& r : pending_.front().items) {
        if (r.ptr) freeNow(r.ptr, r.bytes, r.pooled);
        if (r.source != kNone) free_sources_.push_back(r.source);
      }
      pending_.erase(pending_.begin());
    }
  }
  slab_.trim();
}

Rib::Node* Rib::newNode(size_t npfx, size_t nkids) {
  auto* n = static_cast<Node*>(allocate(sizeof(Node) + sizeof(Slot) * npfx + 8 * nkids, false));
  std::memset(n, 0, sizeof(Node));
  n->npfx = uint32_t(npfx);
  n->nkids = uint32_t(nkids);
  for (size_t i = 0; i < npfx; i++) new (&n->values()[i]) Slot{{nullptr}, {nullptr}};
  for (size_t i = 0; i < nkids; i++) new (&n->children()[i]) std::atomic<uintptr_t>(0);
  return n;
}

Rib::Node* Rib::cloneNode(const Node* n, int add_pos, const RouteSet* add_val, int del_pos,
                          int add_kid, uintptr_t kid_val, int del_kid) {
  uint64_t pfx[8], kids[4];
  std::memcpy(pfx, n->pfx, sizeof(pfx));
  std::memcpy(kids, n->kids, sizeof(kids));
  if (add_pos >= 0) setBit(pfx, unsigned(add_pos));
  if (del_pos >= 0) clearBit(pfx, unsigned(del_pos));
  if (add_kid >= 0) setBit(kids, unsigned(add_kid));
  if (del_kid >= 0) clearBit(kids, unsigned(del_kid));
  Node* m = newNode(count<8>(pfx), count<4>(kids));
  std::memcpy(m->pfx, pfx, sizeof(pfx));
  std::memcpy(m->kids, kids, sizeof(kids));
  auto copy = [](auto* dst, const auto* src, size_t n_src, int skip_or_insert, bool insert,
                     auto value) {
    auto put = [](auto& d, auto v) {
      if constexpr (std::is_same_v<std::decay_t<decltype(d)>, Slot>) publish(d, v);
      else d.store(v, std::memory_order_relaxed);
    };
    auto get = [](const auto& x) {
      if constexpr (std::is_same_v<std::decay_t<decltype(x)>, Slot>)
        return x.rs.load(std::memory_order_relaxed);
      else return x.load(std::memory_order_relaxed);
    };
    size_t j = 0;
    for (size_t i = 0; i < n_src; i++) {
      if (int(i) == skip_or_insert) {
        if (insert) put(dst[j++], value);
        else continue;
      }
      put(dst[j++], get(src[i]));
    }
    if (insert && size_t(skip_or_insert) == n_src) put(dst[j++], value);
  };
  int vr = add_pos >= 0 ? int(rank<8>(n->pfx, unsigned(add_pos)))
                        : del_pos >= 0 ? int(rank<8>(n->pfx, unsigned(del_pos))) : -1;
  copy(m->values(), n->values(), n->npfx, vr, add_pos >= 0, add_val);
  int kr = add_kid >= 0 ? int(rank<4>(n->kids, unsigned(add_kid)))
                        : del_kid >= 0 ? int(rank<4>(n->kids, unsigned(del_kid))) : -1;
  copy(m->children(), n->children(), n->nkids, kr, add_kid >= 0, kid_val);
  return m;
}

Rib::Leaf* Rib::newLeaf(uint64_t hi, uint64_t lo, unsigned len, const RouteSet* rs) {
  auto* l = static_cast<Leaf*>(allocate(sizeof(Leaf), true));
  l->hi = hi;
  l->lo = lo;
  l->len = len;
  new (&l->value) Slot{{nullptr}, {nullptr}};
  publish(l->value, rs);
  return l;
}

Rib::RouteSet* Rib::newRouteSet(size_t n) {
  auto* s = static_cast<RouteSet*>(allocate(sizeof(RouteSet) + sizeof(Route) * n, true));
  s->count = uint32_t(n);
  return s;
}

void Rib::freeTree(uintptr_t p) {
  if (p & 1) {
    auto* l = reinterpret_cast<Leaf*>(p & ~uintptr_t(1));
    freeNow(l->value.rs.load(std::memory_order_relaxed));
    freeNow(l);
    return;
  }
  auto* n = reinterpret_cast<Node*>(p);
  for (uint32_t i = 0; i < n->npfx; i++)
    freeNow(n->values()[i].rs.load(std::memory_order_relaxed));
  for (uint32_t i = 0; i < n->nkids; i++) freeTree(n->children()[i].load(std::memory_order_relaxed));
  freeNow(n);
}

// ---- Tables, sources, attributes ----------------------------------------------------------

Rib::Rib() {
  std::lock_guard lock(write_mutex_);
  table(0);  // RD 0 first: it wins ties of lookups without RD
}

Rib::~Rib() {
  for (auto& t : tables_)
    for (auto& r : t->root) freeTree(r.load(std::memory_order_relaxed));
  for (auto& [h, a] : attr_index_) freeNow(a);
  for (auto& p : pending_)
    for (auto& r : p.items)
      if (r.ptr) freeNow(r.ptr, r.bytes, r.pooled);
  for (auto& r : retired_)
    if (r.ptr) freeNow(r.ptr, r.bytes, r.pooled);
  for (auto& c : dir_sources_) delete[] c.load(std::memory_order_relaxed);
  delete dir_.load(std::memory_order_relaxed);
}

Rib::Table* Rib::findTable(uint64_t rd) const {
  for (const auto& t : tables_)
    if (t->rd == rd) return t.get();
  return nullptr;
}

Rib::Table& Rib::table(uint64_t rd) {
  if (Table* t = findTable(rd)) return *t;
  auto t = std::make_unique<Table>();
  t->rd = rd;
  for (auto& r : t->root) r.store(reinterpret_cast<uintptr_t>(newNode(0, 0)), std::memory_order_relaxed);
  tables_.push_back(std::move(t));
  // Readers see the new table list once it is complete; the old list stays until destruction
  // (a few pointers per route distinguisher ever seen).
  auto dir = std::make_unique<TableDir>();
  for (const auto& x : tables_) dir->tables.push_back(x.get());
  const TableDir* old = dir_.exchange(dir.release(), std::memory_order_acq_rel);
  if (old) old_dirs_.emplace_back(const_cast<TableDir*>(old));
  return *tables_.back();
}

uint32_t Rib::sourceId(uint32_t peer, uint32_t path_id, const IPv6Addr& nh) {
  SourceKey key{peer, path_id, nh};
  if (auto it = source_index_.find(key); it != source_index_.end()) {
    source_refs_[it->second]++;
    return it->second;
  }
  uint32_t id;
  if (!free_sources_.empty()) {
    id = free_sources_.back();
    free_sources_.pop_back();
  } else {
    id = uint32_t(source_refs_.size());
    if (size_t(id) >= kSourceChunks << kSourceChunkBits) {
      spdlog::critical("rib: more than {} distinct (peer, path id, next hop) sources",
                       kSourceChunks << kSourceChunkBits);
      std::abort();
    }
    source_refs_.push_back(0);
    auto& chunk = dir_sources_[id >> kSourceChunkBits];
    if (!chunk.load(std::memory_order_relaxed))
      chunk.store(new Source[size_t(1) << kSourceChunkBits], std::memory_order_release);
  }
  // Not visible to readers until a route set naming it is published (release).
  Source& s = dir_sources_[id >> kSourceChunkBits].load(std::memory_order_relaxed)
      [id & ((1u << kSourceChunkBits) - 1)];
  s.exporter = peers_[peer].exporter;
  s.next_hop = nh;
  s.peer = peer;
  s.path_id = path_id;
  source_refs_[id] = 1;
  source_index_.emplace(key, id);
  return id;
}

void Rib::releaseSource(uint32_t id) {
  if (--source_refs_[id] > 0) return;
  const Source& s = source(id);
  source_index_.erase(SourceKey{s.peer, s.path_id, s.next_hop});
  retired_.push_back({nullptr, 0, id, true});  // reused after the grace period
}

Rib::AttrSet* Rib::intern(uint32_t asn, const PathAttributes& a) {
  uint64_t h = mix(0, asn);
  for (auto x : a.as_path) h = mix(h, x);
  h = mix(h, 0xa5a5);
  for (auto x : a.communities) h = mix(h, x);
  h = mix(h, 0x5a5a);
  for (auto x : a.large_communities) h = mix(mix(mix(h, x.asn), x.local1), x.local2);
  const size_t np = std::min<size_t>(a.as_path.size(), 0xffff);
  const size_t nc = std::min<size_t>(a.communities.size(), 0xffff);
  const size_t nl = std::min<size_t>(a.large_communities.size(), 0xffff);
  auto [b, e] = attr_index_.equal_range(h);
  for (auto it = b; it != e; ++it) {
    AttrSet* s = it->second;
    if (s->asn != asn || s->n_path != np || s->n_comm != nc || s->n_large != nl) continue;
    const uint32_t* d = s->data();
    if (!std::equal(a.as_path.begin(), a.as_path.begin() + std::ptrdiff_t(np), d)) continue;
    if (!std::equal(a.communities.begin(), a.communities.begin() + std::ptrdiff_t(nc), d + np))
      continue;
    bool ok = true;
    for (size_t i = 0; i < nl && ok; i++) {
      const uint32_t* x = d + np + nc + 3 * i;
      const auto& l = a.large_communities[i];
      ok = x[0] == l.asn && x[1] == l.local1 && x[2] == l.local2;
    }
    if (!ok) continue;
    s->refs++;
    return s;
  }
  auto* s = static_cast<AttrSet*>(allocate(sizeof(AttrSet) + 4 * (np + nc + 3 * nl), true));
  s->hash = h;
  s->refs = 1;
  s->asn = asn;
  s->n_path = uint16_t(np);
  s->n_comm = uint16_t(nc);
  s->n_large = uint16_t(nl);
  s->pad = 0;
  uint32_t* d = s->data();
  std::copy_n(a.as_path.begin(), np, d);
  std::copy_n(a.communities.begin(), nc, d + np);
  for (size_t i = 0; i < nl; i++) {
    d[np + nc + 3 * i] = a.large_communities[i].asn;
    d[np + nc + 3 * i + 1] = a.large_communities[i].local1;
    d[np + nc + 3 * i + 2] = a.large_communities[i].local2;
  }
  attr_index_.emplace(h, s);
  return s;
}

void Rib::release(AttrSet* s) {
  if (--s->refs > 0) return;
  auto [b, e] = attr_index_.equal_range(s->hash);
  for (auto it = b; it != e; ++it)
    if (it->second == s) {
      attr_index_.erase(it);
      break;
    }
  retire(s);
}

// ---- The trie (writer) --------------------------------------------------------------------

const Rib::RouteSet* Rib::get(const Table& t, unsigned family, uint64_t hi, uint64_t lo,
                              unsigned len) const {
  uintptr_t p = t.root[family].load(std::memory_order_relaxed);
  for (unsigned d = 0;; d++) {
    const Node* n = reinterpret_cast<const Node*>(p);
    unsigned o = octet(hi, lo, d);
    if (len <= 8 * d + 8) {
      unsigned pos = position(o, len - 8 * d);
      if (!bit(n->pfx, pos)) return nullptr;
      return n->values()[rank<8>(n->pfx, pos)].rs.load(std::memory_order_relaxed);
    }
    if (!bit(n->kids, o)) return nullptr;
    p = n->children()[rank<4>(n->kids, o)].load(std::memory_order_relaxed);
    if (p & 1) {
      const Leaf* l = reinterpret_cast<const Leaf*>(p & ~uintptr_t(1));
      if (l->len == len && l->hi == hi && l->lo == lo)
        return l->value.rs.load(std::memory_order_relaxed);
      return nullptr;
    }
  }
}

const Rib::RouteSet* Rib::set(std::atomic<uintptr_t>& slot, unsigned d, uint64_t hi, uint64_t lo,
                              unsigned len, const RouteSet* rs) {
  Node* n = reinterpret_cast<Node*>(slot.load(std::memory_order_relaxed));
  unsigned o = octet(hi, lo, d);
  if (len <= 8 * d + 8) {
    unsigned pos = position(o, len - 8 * d);
    if (bit(n->pfx, pos)) {
      auto& v = n->values()[rank<8>(n->pfx, pos)];
      const RouteSet* prev = v.rs.load(std::memory_order_relaxed);
      publish(v, rs);
      return prev;
    }
    Node* m = cloneNode(n, int(pos), rs, -1, -1, 0, -1);
    slot.store(reinterpret_cast<uintptr_t>(m), std::memory_order_release);
    retire(n);
    return nullptr;
  }
  if (!bit(n->kids, o)) {
    uintptr_t leaf = reinterpret_cast<uintptr_t>(newLeaf(hi, lo, len, rs)) | 1;
    Node* m = cloneNode(n, -1, nullptr, -1, int(o), leaf, -1);
    slot.store(reinterpret_cast<uintptr_t>(m), std::memory_order_release);
    retire(n);
    return nullptr;
  }
  auto& child = n->children()[rank<4>(n->kids, o)];
  uintptr_t c = child.load(std::memory_order_relaxed);
  if (!(c & 1)) return set(child, d + 1, hi, lo, len, rs);
  Leaf* l = reinterpret_cast<Leaf*>(c & ~uintptr_t(1));
  if (l->len == len && l->hi == hi && l->lo == lo) {
    const RouteSet* prev = l->value.rs.load(std::memory_order_relaxed);
    publish(l->value, rs);
    return prev;
  }
  // Two prefixes below this slot now: a node one level down holds both, built aside, then
  // published in place of the leaf.
  std::atomic<uintptr_t> sub{reinterpret_cast<uintptr_t>(newNode(0, 0))};
  set(sub, d + 1, l->hi, l->lo, l->len, l->value.rs.load(std::memory_order_relaxed));
  set(sub, d + 1, hi, lo, len, rs);
  child.store(sub.load(std::memory_order_relaxed), std::memory_order_release);
  retire(l);
  return nullptr;
}

Rib::Erased Rib::erase(std::atomic<uintptr_t>& slot, unsigned d, uint64_t hi, uint64_t lo,
                       unsigned len, bool root) {
  Node* n = reinterpret_cast<Node*>(slot.load(std::memory_order_relaxed));
  unsigned o = octet(hi, lo, d);
  auto unlinkKid = [&](const RouteSet* old) -> Erased {
    if (!root && n->npfx == 0 && n->nkids == 1) return {old, true};
    Node* m = cloneNode(n, -1, nullptr, -1, -1, 0, int(o));
    slot.store(reinterpret_cast<uintptr_t>(m), std::memory_order_release);
    retire(n);
    return {old, false};
  };
  if (len <= 8 * d + 8) {
    unsigned pos = position(o, len - 8 * d);
    if (!bit(n->pfx, pos)) return {};
    const RouteSet* old = n->values()[rank<8>(n->pfx, pos)].rs.load(std::memory_order_relaxed);
    if (!root && n->npfx == 1 && n->nkids == 0) return {old, true};
    Node* m = cloneNode(n, -1, nullptr, int(pos), -1, 0, -1);
    slot.store(reinterpret_cast<uintptr_t>(m), std::memory_order_release);
    retire(n);
    return {old, false};
  }
  if (!bit(n->kids, o)) return {};
  auto& child = n->children()[rank<4>(n->kids, o)];
  uintptr_t c = child.load(std::memory_order_relaxed);
  if (c & 1) {
    Leaf* l = reinterpret_cast<Leaf*>(c & ~uintptr_t(1));
    if (!(l->len == len && l->hi == hi && l->lo == lo)) return {};
    const RouteSet* old = l->value.rs.load(std::memory_order_relaxed);
    retire(l);
    return unlinkKid(old);
  }
  Erased e = erase(child, d + 1, hi, lo, len, false);
  if (!e.empty) return e;
  retire(reinterpret_cast<Node*>(c));  // emptied: unlinked below
  return unlinkKid(e.old);
}

void Rib::store(Table& t, unsigned family, uint64_t hi, uint64_t lo, unsigned len,
                const RouteSet* rs, const RouteSet* old) {
  if (rs) {
    const RouteSet* prev = set(t.root[family], 0, hi, lo, len, rs);
    if (!prev) {
      t.prefixes++;
      prefix_count_++;
    }
  } else if (erase(t.root[family], 0, hi, lo, len, true).old) {
    t.prefixes--;
    prefix_count_--;
  }
  if (old) retire(old);
}

template <class Fn>
void Rib::forEachPrefix(uintptr_t p, unsigned d, uint64_t hi, uint64_t lo, Fn&& fn) {
  if (p & 1) {
    const Leaf* l = reinterpret_cast<const Leaf*>(p & ~uintptr_t(1));
    fn(l->hi, l->lo, l->len, l->value.rs.load(std::memory_order_relaxed));
    return;
  }
  const Node* n = reinterpret_cast<const Node*>(p);
  auto withByte = [&](unsigned b, uint64_t& h, uint64_t& l) {
    h = hi;
    l = lo;
    if (d < 8) h |= uint64_t(b) << (56 - 8 * d);
    else l |= uint64_t(b) << (56 - 8 * (d - 8));
  };
  unsigned vi = 0;
  for (unsigned pos = 1; pos < 512; pos++) {
    if (!bit(n->pfx, pos)) continue;
    unsigned l = unsigned(std::bit_width(pos)) - 1;
    unsigned b = l == 0 ? 0 : (pos - (1u << l)) << (8 - l);
    uint64_t h, lw;
    withByte(b, h, lw);
    fn(h, lw, 8 * d + l, n->values()[vi++].rs.load(std::memory_order_relaxed));
  }
  unsigned ki = 0;
  for (unsigned b = 0; b < 256; b++) {
    if (!bit(n->kids, b)) continue;
    uint64_t h, lw;
    withByte(b, h, lw);
    forEachPrefix(n->children()[ki++].load(std::memory_order_relaxed), d + 1, h, lw, fn);
  }
}

// ---- Peers and updates --------------------------------------------------------------------

Rib::PeerId Rib::peer(const IPv6Addr& exporter, const BmpPeer& p) {
  std::lock_guard lock(write_mutex_);
  for (PeerId i = 0; i < peers_.size(); i++) {
    const auto& info = peers_[i];
    if (info.used && info.exporter == exporter && info.peer.address == p.address &&
        info.peer.distinguisher == p.distinguisher && info.peer.type == p.type)
      return i;
  }
  PeerInfo info{exporter, p, true, 0};
  if (!free_peers_.empty()) {
    PeerId id = free_peers_.back();
    free_peers_.pop_back();
    peers_[id] = info;
    return id;
  }
  peers_.push_back(info);
  return PeerId(peers_.size() - 1);
}

std::vector<Rib::PeerId> Rib::peersOf(const IPv6Addr& exporter) const {
  std::lock_guard lock(write_mutex_);
  std::vector<PeerId> out;
  for (PeerId i = 0; i < peers_.size(); i++)
    if (peers_[i].used && peers_[i].exporter == exporter) out.push_back(i);
  return out;
}

void Rib::removePeer(PeerId id) {
  struct Item {
    Table* table;
    unsigned family, len;
    uint64_t hi, lo;
  };
  std::vector<Item> items;
  {
    std::lock_guard lock(write_mutex_);
    if (id >= peers_.size() || !peers_[id].used) return;
    // The prefixes that hold a route of the peer, collected first: changing the trie while
    // walking it would walk replaced nodes.
    for (auto& t : tables_)
      for (unsigned f = 0; f < 2; f++)
        forEachPrefix(t->root[f].load(std::memory_order_relaxed), 0, 0, 0,
                      [&](uint64_t hi, uint64_t lo, unsigned len, const RouteSet* rs) {
                        for (uint32_t i = 0; i < rs->count; i++)
                          if (source(rs->routes()[i].source).peer == id) {
                            items.push_back({t.get(), f, len, hi, lo});
                            break;
                          }
                      });
  }
  // In chunks, so that other writers (and metrics, which read the counters under the same
  // mutex) wait little; lookups never wait.
  constexpr size_t kChunk = 4096;
  for (size_t start = 0; start < items.size(); start += kChunk) {
    std::lock_guard lock(write_mutex_);
    for (size_t k = start; k < std::min(items.size(), start + kChunk); k++) {
      const Item& it = items[k];
      const RouteSet* rs = get(*it.table, it.family, it.hi, it.lo, it.len);
      if (!rs) continue;
      uint32_t keep = 0;
      for (uint32_t i = 0; i < rs->count; i++)
        keep += source(rs->routes()[i].source).peer != id;
      if (keep == rs->count) continue;
      RouteSet* ns = keep ? newRouteSet(keep) : nullptr;
      uint32_t j = 0;
      for (uint32_t i = 0; i < rs->count; i++) {
        const Route r = rs->routes()[i];
        if (source(r.source).peer != id) {
          ns->routes()[j++] = r;
          continue;
        }
        release(static_cast<AttrSet*>(r.attrs));
        releaseSource(r.source);
        route_count_--;
      }
      store(*it.table, it.family, it.hi, it.lo, it.len, ns, rs);
    }
  }
  {
    std::lock_guard lock(write_mutex_);
    peers_[id].used = false;
    peers_[id].routes = 0;
    free_peers_.push_back(id);
  }
  reclaim();
}

void Rib::update(PeerId id, const PathAttributes& attrs, std::span<const Nlri> announced,
                 std::span<const Nlri> withdrawn) {
  {
    std::lock_guard lock(write_mutex_);
    if (id >= peers_.size() || !peers_[id].used) return;
    PeerInfo& peer = peers_[id];
    for (const auto& w : withdrawn) {
      Table* t = findTable(w.rd);
      if (!t) continue;
      unsigned len;
      TreeKey k = prefixKey(w.prefix, len);
      const RouteSet* rs = get(*t, k.family, k.hi, k.lo, len);
      if (!rs) continue;
      uint32_t found = kNone;
      for (uint32_t i = 0; i < rs->count && found == kNone; i++) {
        const Source& s = source(rs->routes()[i].source);
        if (s.peer == id && s.path_id == w.path_id) found = i;
      }
      if (found == kNone) continue;
      RouteSet* ns = rs->count > 1 ? newRouteSet(rs->count - 1) : nullptr;
      for (uint32_t i = 0, j = 0; i < rs->count; i++)
        if (i != found) ns->routes()[j++] = rs->routes()[i];
      const Route dead = rs->routes()[found];
      store(*t, k.family, k.hi, k.lo, len, ns, rs);
      release(static_cast<AttrSet*>(dead.attrs));
      releaseSource(dead.source);
      route_count_--;
      peer.routes--;
    }
    // Origin AS (RT-5): last AS of the path, the peer's AS for a path-less (internal) route.
    uint32_t asn = attrs.as_path.empty() ? peer.peer.asn : attrs.as_path.back();
    AttrSet* shared = nullptr;  // interned once per UPDATE, one reference per route
    for (const auto& a : announced) {
      unsigned len;
      TreeKey k = prefixKey(a.prefix, len);
      Table& t = table(a.rd);
      if (!shared) shared = intern(asn, attrs);
      const RouteSet* rs = get(t, k.family, k.hi, k.lo, len);
      uint32_t n = rs ? rs->count : 0, found = kNone;
      for (uint32_t i = 0; i < n && found == kNone; i++) {
        const Source& s = source(rs->routes()[i].source);
        if (s.peer == id && s.path_id == a.path_id) found = i;
      }
      if (found != kNone) {
        const Route old = rs->routes()[found];
        if (old.attrs == shared && same(source(old.source).next_hop, a.next_hop))
          continue;  // the same route again
      }
      uint32_t src = sourceId(id, a.path_id, a.next_hop);
      shared->refs++;
      // Appended, so that "the first route" is the oldest one; a replaced route keeps its place.
      RouteSet* ns = newRouteSet(found == kNone ? n + 1 : n);
      for (uint32_t i = 0; i < n; i++) ns->routes()[i] = rs->routes()[i];
      Route& r = ns->routes()[found == kNone ? n : found];
      r.attrs = shared;
      r.source = src;
      if (found != kNone) {
        const Route old = rs->routes()[found];
        release(static_cast<AttrSet*>(old.attrs));
        releaseSource(old.source);
      } else {
        route_count_++;
        peer.routes++;
      }
      store(t, k.family, k.hi, k.lo, len, ns, rs);
    }
    if (shared) release(shared);
  }
  reclaim();
}

// ---- Lookups --------------------------------------------------------------------------

Rib::Lpm Rib::lpm(const Table& t, unsigned family, uint64_t hi, uint64_t lo) const {
  Lpm best;
  const unsigned base = family == 0 ? 96 : 0;
  uintptr_t p = t.root[family].load(std::memory_order_acquire);
  for (unsigned d = 0;; d++) {
    const Node* n = reinterpret_cast<const Node*>(p);
    unsigned o = octet(hi, lo, d);
    // The longest prefix of this node on the key's path: lengths 8d+8 down to 8d.
    for (int l = 8; l >= 0; l--) {
      unsigned pos = position(o, unsigned(l));
      if (bit(n->pfx, pos)) {
        best.slot = &n->values()[rank<8>(n->pfx, pos)];
        best.len = base + 8 * d + unsigned(l);
        break;
      }
    }
    if (!bit(n->kids, o)) return best;
    p = n->children()[rank<4>(n->kids, o)].load(std::memory_order_acquire);
    if (p & 1) {
      const Leaf* leaf = reinterpret_cast<const Leaf*>(p & ~uintptr_t(1));
      if (covers(leaf->hi, leaf->lo, leaf->len, hi, lo)) {
        best.slot = &leaf->value;
        best.len = base + leaf->len;
      }
      return best;
    }
  }
}

bool Rib::lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
                 RouteInfo& out, std::optional<uint64_t> rd) const {
  ReadEpoch::Guard guard(epoch_);
  TreeKey k = treeKey(ip);
  const TableDir* dir = dir_.load(std::memory_order_acquire);
  Lpm best;
  uint64_t best_rd = 0;
  auto search = [&](const Table& t) {
    Lpm m = lpm(t, k.family, k.hi, k.lo);
    // An IPv4 address may also match an IPv6 prefix covering ::ffff:0:0/96 (::/0).
    if (!m.slot && k.family == 0) m = lpm(t, 1, 0, uint64_t(0xffff) << 32 | (k.hi >> 32));
    if (m.slot && (!best.slot || m.len > best.len)) {
      best = m;
      best_rd = t.rd;
    }
  };
  for (const Table* t : dir->tables)
    if (!rd || t->rd == *rd) search(*t);
  if (!best.slot) return false;
  // The route set and its first route's attributes are both a cache miss: start both at once.
  __builtin_prefetch(best.slot->hint.load(std::memory_order_relaxed));
  const RouteSet* rs = best.slot->rs.load(std::memory_order_acquire);
  // Score: 2 for the flow's exporter, 1 for the flow's next hop; the first best wins. Sources
  // are few and stay in the caches.
  const bool want_nh = !next_hop.isZero();
  const int max_score = want_nh ? 3 : 2;
  const Route* routes = rs->routes();
  uint32_t chosen = 0;
  int chosen_score = -1;
  for (uint32_t i = 0; i < rs->count; i++) {
    const Source& s = source(routes[i].source);
    int score = (same(s.exporter, exporter) ? 2 : 0) + (want_nh && same(s.next_hop, next_hop) ? 1 : 0);
    if (score > chosen_score) {
      chosen = i;
      chosen_score = score;
      if (score == max_score) break;
    }
  }
  const Route r = routes[chosen];
  const AttrSet* a = static_cast<const AttrSet*>(r.attrs);
  out.asn = a->asn;
  out.prefix_len = uint8_t(best.len);
  out.rd = best_rd;
  out.next_hop = source(r.source).next_hop;
  const uint32_t* d = a->data();
  out.as_path.clear();
  for (unsigned i = 0; i < a->n_path; i++) out.as_path.push(d[i]);
  d += a->n_path;
  out.communities.clear();
  for (unsigned i = 0; i < a->n_comm; i++) out.communities.push(d[i]);
  d += a->n_comm;
  out.large_communities.clear();
  for (unsigned i = 0; i < a->n_large; i++) out.large_communities.push({d[3 * i], d[3 * i + 1], d[3 * i + 2]});
  return true;
}

// ---- Counters -----------------------------------------------------------------------------

size_t Rib::routes() const {
  std::lock_guard lock(write_mutex_);
  return route_count_;
}
size_t Rib::prefixes() const {
  std::lock_guard lock(write_mutex_);
  return prefix_count_;
}
size_t Rib::peers() const {
  std::lock_guard lock(write_mutex_);
  return peers_.size() - free_peers_.size();
}
size_t Rib::attributeSets() const {
  std::lock_guard lock(write_mutex_);
  return attr_index_.size();
}
size_t Rib::memoryBytes() const {
  std::lock_guard lock(write_mutex_);
  size_t bytes = slab_.reservedBytes();
  // Hash indexes: a node per entry (key, value, next pointer, cached hash) and a bucket each.
  bytes += attr_index_.size() * 32 + attr_index_.bucket_count() * sizeof(void*);
  bytes += source_index_.size() * (sizeof(SourceKey) + 24) +
           source_index_.bucket_count() * sizeof(void*);
  for (const auto& c : dir_sources_)
    if (c.load(std::memory_order_relaxed)) bytes += sizeof(Source) << kSourceChunkBits;
  bytes += source_refs_.capacity() * 4 + free_sources_.capacity() * 4 +
           peers_.capacity() * sizeof(PeerInfo) + tables_.size() * sizeof(Table);
  bytes += retired_.capacity() * sizeof(Retired);
  return bytes;
}

}  // namespace akvo::routing
