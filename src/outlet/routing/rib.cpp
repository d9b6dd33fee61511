#include "outlet/routing/rib.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace akvo::routing {

namespace {

struct Key {
  uint64_t hi, lo;
};

Key keyOf(const IPv6Addr& a) {
  uint64_t hi = 0, lo = 0;
  for (int i = 0; i < 8; i++) hi = hi << 8 | a.bytes[size_t(i)];
  for (int i = 8; i < 16; i++) lo = lo << 8 | a.bytes[size_t(i)];
  return {hi, lo};
}

/// Keeps the first `len` bits.
Key maskKey(Key k, unsigned len) {
  if (len == 0) return {0, 0};
  if (len < 64) return {k.hi & (~uint64_t(0) << (64 - len)), 0};
  if (len == 64) return {k.hi, 0};
  if (len < 128) return {k.hi, k.lo & (~uint64_t(0) << (128 - len))};
  return k;
}

unsigned bitAt(uint64_t hi, uint64_t lo, unsigned i) {
  return i < 64 ? unsigned(hi >> (63 - i)) & 1 : unsigned(lo >> (127 - i)) & 1;
}

/// Number of leading bits `a` and `b` share.
unsigned common(uint64_t ahi, uint64_t alo, uint64_t bhi, uint64_t blo) {
  uint64_t x = ahi ^ bhi;
  if (x) return unsigned(std::countl_zero(x));
  x = alo ^ blo;
  return x ? 64 + unsigned(std::countl_zero(x)) : 128;
}

/// `ip` starts with the `len` bits of (hi, lo) (whose other bits are zero).
bool matches(Key ip, uint64_t hi, uint64_t lo, unsigned len) {
  Key m = maskKey(ip, len);
  return m.hi == hi && m.lo == lo;
}

/// Address equality without a memcmp call (the lookup's inner loop).
bool same(const IPv6Addr& a, const IPv6Addr& b) {
  uint64_t a0, a1, b0, b1;
  std::memcpy(&a0, a.bytes.data(), 8);
  std::memcpy(&a1, a.bytes.data() + 8, 8);
  std::memcpy(&b0, b.bytes.data(), 8);
  std::memcpy(&b1, b.bytes.data() + 8, 8);
  return ((a0 ^ b0) | (a1 ^ b1)) == 0;
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

/// Grows by a quarter rather than doubling: big tables waste less memory (the copy happens
/// under the writer lock either way).
template <class T>
void growFor(std::vector<T>& v) {
  if (v.size() == v.capacity()) v.reserve(v.capacity() + v.capacity() / 4 + 1024);
}

}  // namespace

Rib::Rib(unsigned jump_bits)
    : jump_bits_(std::clamp(jump_bits, 1u, 24u)),
      v4_bucket_(96 + jump_bits_),
      v6_bucket_(jump_bits_),
      mask_((1u << jump_bits_) - 1),
      jump_v4_(size_t(1) << jump_bits_),
      jump_v6_(size_t(1) << jump_bits_),
      dirty_v4_(size_t(1) << jump_bits_),
      dirty_v6_(size_t(1) << jump_bits_) {}

void Rib::flushJumps() {
  constexpr uint64_t kMapped = 0x0000ffff00000000ull;
  for (uint32_t b : dirty_list_v6_) {
    refreshBucket(uint64_t(b) << (64 - jump_bits_), 0, v6_bucket_, jump_v6_[b]);
    dirty_v6_[b] = false;
  }
  for (uint32_t b : dirty_list_v4_) {
    refreshBucket(0, kMapped | uint64_t(b) << (32 - jump_bits_), v4_bucket_, jump_v4_[b]);
    dirty_v4_[b] = false;
  }
  dirty_list_v4_.clear();
  dirty_list_v6_.clear();
}

void Rib::refreshBucket(uint64_t hi, uint64_t lo, unsigned bucket_len, Jump& j) const {
  Key k{hi, lo};
  uint32_t cur = root_, best = kNone, start = kNone;
  while (cur != kNone) {
    const Node& n = nodes_[cur];
    if (n.len >= bucket_len) {
      Key m = maskKey({n.hi, n.lo}, bucket_len);
      if (m.hi == hi && m.lo == lo) start = cur;
      break;
    }
    if (!matches(k, n.hi, n.lo, n.len)) break;
    if (n.routes != kNone) best = cur;
    cur = n.child[bitAt(hi, lo, n.len)];
  }
  j.start = start;
  j.best = best;
}

void Rib::touched(uint64_t hi, uint64_t lo, uint8_t len) {
  // IPv6 buckets: the /16s under the prefix (or its own /16).
  {
    uint32_t first = v6Index(hi);
    uint32_t count = len >= v6_bucket_ ? 1 : 1u << (v6_bucket_ - len);
    for (uint32_t b = first; b < first + count; b++)
      if (!dirty_v6_[b]) {
        dirty_v6_[b] = true;
        dirty_list_v6_.push_back(b);
      }
  }
  // IPv4 buckets, when the prefix overlaps ::ffff:0:0/96.
  constexpr uint64_t kMapped = 0x0000ffff00000000ull;
  bool covers_v4 = len < 96 && matches({0, kMapped}, hi, lo, len);
  bool inside_v4 = len >= 96 && hi == 0 && (lo >> 32) == 0xffff;
  if (!covers_v4 && !inside_v4) return;
  uint32_t first = inside_v4 ? v4Index(lo) : 0;
  uint32_t count = inside_v4 && len >= v4_bucket_ ? 1 : 1u << (v4_bucket_ - std::max<unsigned>(len, 96));
  for (uint32_t b = first; b < first + count; b++)
    if (!dirty_v4_[b]) {
      dirty_v4_[b] = true;
      dirty_list_v4_.push_back(b);
    }
}

Rib::PeerId Rib::peer(const IPv6Addr& exporter, const BmpPeer& p) {
  std::unique_lock lock(mutex_);
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
  std::shared_lock lock(mutex_);
  std::vector<PeerId> out;
  for (PeerId i = 0; i < peers_.size(); i++)
    if (peers_[i].used && peers_[i].exporter == exporter) out.push_back(i);
  return out;
}

void Rib::removePeer(PeerId id) {
  constexpr size_t kChunk = 8192;  // nodes per exclusive lock
  size_t n;
  {
    std::shared_lock lock(mutex_);
    if (id >= peers_.size() || !peers_[id].used) return;
    n = nodes_.size();
  }
  for (size_t start = 0; start < n; start += kChunk) {
    std::unique_lock lock(mutex_);
    size_t end = std::min(n, start + kChunk);
    for (size_t i = start; i < end; i++) {
      uint32_t* link = &nodes_[i].routes;
      bool had = *link != kNone;
      while (*link != kNone) {
        Route& r = routes_[*link];
        if (r.peer == id) {
          uint32_t dead = *link;
          *link = r.next;
          release(r.attrs);
          routes_[dead].next = free_routes_;
          free_routes_ = dead;
          route_count_--;
        } else {
          link = &r.next;
        }
      }
      if (had && nodes_[i].routes == kNone) {
        prefix_count_--;
        touched(nodes_[i].hi, nodes_[i].lo, nodes_[i].len);
      }
    }
  }
  std::unique_lock lock(mutex_);
  // Lookups meanwhile skip emptied nodes (they walk from the root); the jump tables forget
  // them now.
  flushJumps();
  peers_[id].used = false;
  peers_[id].routes = 0;
  free_peers_.push_back(id);
}

uint32_t Rib::insertNode(uint64_t hi, uint64_t lo, uint8_t len) {
  auto make = [&](uint64_t h, uint64_t l, uint8_t n) {
    Node node;
    node.hi = h;
    node.lo = l;
    node.len = n;
    growFor(nodes_);
    nodes_.push_back(node);
    return uint32_t(nodes_.size() - 1);
  };
  // `slot` is (parent index, side) rather than a pointer: push_back may move the nodes.
  uint32_t parent = kNone;
  unsigned side = 0;
  auto slot = [&]() -> uint32_t& { return parent == kNone ? root_ : nodes_[parent].child[side]; };
  for (;;) {
    uint32_t cur = slot();
    if (cur == kNone) {
      uint32_t leaf = make(hi, lo, len);
      slot() = leaf;
      return leaf;
    }
    const Node n = nodes_[cur];
    unsigned cl = std::min({common(hi, lo, n.hi, n.lo), unsigned(len), unsigned(n.len)});
    if (cl == n.len && n.len == len) return cur;
    if (cl == n.len) {
      parent = cur;
      side = bitAt(hi, lo, n.len);
      continue;
    }
    // The new prefix diverges inside this node's prefix: split.
    if (cl == len) {
      uint32_t mid = make(hi, lo, len);
      nodes_[mid].child[bitAt(n.hi, n.lo, len)] = cur;
      slot() = mid;
      return mid;
    }
    Key g = maskKey({hi, lo}, cl);
    uint32_t glue = make(g.hi, g.lo, uint8_t(cl));
    uint32_t leaf = make(hi, lo, len);
    nodes_[glue].child[bitAt(hi, lo, cl)] = leaf;
    nodes_[glue].child[bitAt(n.hi, n.lo, cl)] = cur;
    slot() = glue;
    return leaf;
  }
}

uint32_t Rib::findNode(uint64_t hi, uint64_t lo, uint8_t len) const {
  uint32_t cur = root_;
  while (cur != kNone) {
    const Node& n = nodes_[cur];
    if (n.len > len || !matches({hi, lo}, n.hi, n.lo, n.len)) return kNone;
    if (n.len == len) return cur;
    cur = n.child[bitAt(hi, lo, n.len)];
  }
  return kNone;
}

uint32_t Rib::intern(const IPv6Addr& nh, uint32_t asn, const PathAttributes& a) {
  uint64_t h = mix(0, asn);
  Key k = keyOf(nh);
  h = mix(mix(h, k.hi), k.lo);
  for (auto x : a.as_path) h = mix(h, x);
  h = mix(h, 0xa5a5);
  for (auto x : a.communities) h = mix(h, x);
  h = mix(h, 0x5a5a);
  for (auto x : a.large_communities) h = mix(mix(mix(h, x.asn), x.local1), x.local2);
  auto [b, e] = attr_index_.equal_range(h);
  for (auto it = b; it != e; ++it) {
    AttrSet& s = attrs_[it->second];
    if (s.asn == asn && s.next_hop == nh && s.as_path == a.as_path &&
        s.communities == a.communities &&
        std::equal(s.large_communities.begin(), s.large_communities.end(),
                   a.large_communities.begin(), a.large_communities.end(),
                   [](const LargeCommunity& x, const LargeCommunity& y) {
                     return x.asn == y.asn && x.local1 == y.local1 && x.local2 == y.local2;
                   })) {
      s.refs++;
      return it->second;
    }
  }
  uint32_t id;
  if (!free_attrs_.empty()) {
    id = free_attrs_.back();
    free_attrs_.pop_back();
  } else {
    attrs_.emplace_back();
    id = uint32_t(attrs_.size() - 1);
  }
  AttrSet& s = attrs_[id];
  s.next_hop = nh;
  s.asn = asn;
  s.refs = 1;
  s.hash = h;
  s.as_path.assign(a.as_path.begin(), a.as_path.end());
  s.communities.assign(a.communities.begin(), a.communities.end());
  s.large_communities.assign(a.large_communities.begin(), a.large_communities.end());
  s.as_path.shrink_to_fit();
  s.communities.shrink_to_fit();
  s.large_communities.shrink_to_fit();
  attr_index_.emplace(h, id);
  return id;
}

void Rib::release(uint32_t id) {
  AttrSet& s = attrs_[id];
  if (--s.refs > 0) return;
  auto [b, e] = attr_index_.equal_range(s.hash);
  for (auto it = b; it != e; ++it)
    if (it->second == id) {
      attr_index_.erase(it);
      break;
    }
  s.as_path = {};
  s.communities = {};
  s.large_communities = {};
  free_attrs_.push_back(id);
}

uint32_t Rib::newRoute() {
  if (free_routes_ != kNone) {
    uint32_t id = free_routes_;
    free_routes_ = routes_[id].next;
    return id;
  }
  growFor(routes_);
  routes_.emplace_back();
  return uint32_t(routes_.size() - 1);
}

void Rib::update(PeerId id, const PathAttributes& attrs, std::span<const Nlri> announced,
                 std::span<const Nlri> withdrawn) {
  std::unique_lock lock(mutex_);
  if (id >= peers_.size() || !peers_[id].used) return;
  PeerInfo& peer = peers_[id];
  for (const auto& w : withdrawn) {
    Key k = maskKey(keyOf(w.prefix.addr), w.prefix.len);
    uint32_t node = findNode(k.hi, k.lo, w.prefix.len);
    if (node == kNone) continue;
    for (uint32_t* link = &nodes_[node].routes; *link != kNone; link = &routes_[*link].next) {
      Route& r = routes_[*link];
      if (r.peer == id && r.rd == w.rd && r.path_id == w.path_id) {
        uint32_t dead = *link;
        *link = r.next;
        release(routes_[dead].attrs);
        routes_[dead].next = free_routes_;
        free_routes_ = dead;
        route_count_--;
        peer.routes--;
        if (nodes_[node].routes == kNone) {
          prefix_count_--;
          touched(k.hi, k.lo, w.prefix.len);
        }
        break;
      }
    }
  }
  // Origin AS (RT-5): last AS of the path, the peer's AS for a path-less (internal) route.
  uint32_t asn = attrs.as_path.empty() ? peer.peer.asn : attrs.as_path.back();
  uint32_t last_attrs = kNone;
  IPv6Addr last_nh;
  for (const auto& a : announced) {
    Key k = maskKey(keyOf(a.prefix.addr), a.prefix.len);
    size_t nodes_before = nodes_.size();
    uint32_t node = insertNode(k.hi, k.lo, a.prefix.len);
    bool structure_changed = nodes_.size() != nodes_before;
    // Each route holds one reference to its attribute set; consecutive routes with the same
    // next hop share the interned set without hashing again.
    if (last_attrs == kNone || !(last_nh == a.next_hop)) {
      last_attrs = intern(a.next_hop, asn, attrs);
      last_nh = a.next_hop;
    } else {
      attrs_[last_attrs].refs++;
    }
    uint32_t found = kNone;
    for (uint32_t r = nodes_[node].routes; r != kNone; r = routes_[r].next)
      if (routes_[r].peer == id && routes_[r].rd == a.rd && routes_[r].path_id == a.path_id) {
        found = r;
        break;
      }
    if (found != kNone) {
      release(routes_[found].attrs);
      routes_[found].attrs = last_attrs;
      continue;
    }
    uint32_t r = newRoute();
    bool was_empty = nodes_[node].routes == kNone;
    routes_[r] = Route{a.rd, id, a.path_id, last_attrs, kNone};
    // Appended, so that "the first route" is the oldest one.
    uint32_t* link = &nodes_[node].routes;
    while (*link != kNone) link = &routes_[*link].next;
    *link = r;
    route_count_++;
    peer.routes++;
    if (was_empty) prefix_count_++;
    if (was_empty || structure_changed) touched(k.hi, k.lo, a.prefix.len);
  }
  flushJumps();
}

bool Rib::lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
                 RouteInfo& out) const {
  Key k = keyOf(ip);
  std::shared_lock lock(mutex_);
  const Jump& j = (k.hi == 0 && (k.lo >> 32) == 0xffff) ? jump_v4_[v4Index(k.lo)]
                                                        : jump_v6_[v6Index(k.hi)];
  uint32_t cur = j.start, best = j.best;
  if (best != kNone && nodes_[best].routes == kNone) {
    cur = root_;  // a peer removal in progress emptied it: walk from the top
    best = kNone;
  }
  while (cur != kNone) {
    const Node& n = nodes_[cur];
    if (!matches(k, n.hi, n.lo, n.len)) break;
    if (n.routes != kNone) best = cur;
    if (n.len >= 128) break;
    cur = n.child[bitAt(k.hi, k.lo, n.len)];
  }
  if (best == kNone) return false;
  // Score: 2 for the flow's exporter, 1 for the flow's next hop; the first best wins.
  // Attribute sets are only read when a next hop is given (one cache miss per route).
  const bool want_nh = !next_hop.isZero();
  const int max_score = want_nh ? 3 : 2;
  uint32_t chosen = kNone;
  int chosen_score = -1;
  for (uint32_t r = nodes_[best].routes; r != kNone; r = routes_[r].next) {
    const Route& route = routes_[r];
    int score = (same(peers_[route.peer].exporter, exporter) ? 2 : 0) +
                (want_nh && same(attrs_[route.attrs].next_hop, next_hop) ? 1 : 0);
    if (score > chosen_score) {
      chosen = r;
      chosen_score = score;
      if (score == max_score) break;
    }
  }
  const AttrSet& a = attrs_[routes_[chosen].attrs];
  out.asn = a.asn;
  out.prefix_len = nodes_[best].len;
  out.next_hop = a.next_hop;
  out.as_path.clear();
  for (auto x : a.as_path) out.as_path.push(x);
  out.communities.clear();
  for (auto x : a.communities) out.communities.push(x);
  out.large_communities.clear();
  for (auto x : a.large_communities) out.large_communities.push(x);
  return true;
}

size_t Rib::routes() const {
  std::shared_lock lock(mutex_);
  return route_count_;
}
size_t Rib::prefixes() const {
  std::shared_lock lock(mutex_);
  return prefix_count_;
}
size_t Rib::peers() const {
  std::shared_lock lock(mutex_);
  return peers_.size() - free_peers_.size();
}
size_t Rib::attributeSets() const {
  std::shared_lock lock(mutex_);
  return attrs_.size() - free_attrs_.size();
}
size_t Rib::memoryBytes() const {
  std::shared_lock lock(mutex_);
  size_t bytes = nodes_.capacity() * sizeof(Node) + routes_.capacity() * sizeof(Route) +
                 (jump_v4_.size() + jump_v6_.size()) * sizeof(Jump) +
                 attrs_.capacity() * sizeof(AttrSet) + peers_.capacity() * sizeof(PeerInfo);
  for (const auto& s : attrs_)
    bytes += s.as_path.capacity() * 4 + s.communities.capacity() * 4 +
             s.large_communities.capacity() * sizeof(LargeCommunity);
  // unordered_multimap: one node (key, value, next pointer, cached hash) plus a bucket each.
  bytes += attr_index_.size() * 32 + attr_index_.bucket_count() * sizeof(void*);
  return bytes;
}

}  // namespace akvo::routing
