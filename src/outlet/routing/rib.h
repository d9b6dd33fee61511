#pragma once
/// The routing information base: routes learned over BMP, keyed by (route distinguisher,
/// prefix, peer, ADD-PATH identifier), with longest-prefix lookup.
///
/// Layout. One table per route distinguisher (RD 0: routes without one), each with an IPv4
/// tree (32-bit keys) and an IPv6 tree. A tree is a multibit trie of stride 8 (tree bitmap,
/// like bart, the library behind Akvorado's RIB): a node at depth d holds, in a 512-bit bitmap,
/// the prefixes of lengths 8d+1 to 8d+8 (the root also /0), and in a 256-bit bitmap its
/// children by the next byte of the key; both arrays are packed (indexed by popcount). A child
/// that holds a single longer prefix is stored as a leaf (path compression), so a sparse /48
/// does not need a chain of nodes. A lookup reads one node per byte (an IPv4 /24 is found in
/// the third node) and keeps the deepest prefix seen.
///
/// Each prefix points to an immutable route set: the routes of every peer for that prefix, 12
/// bytes each (a pointer to an interned attribute set and the id of an interned "source":
/// peer, ADD-PATH id and next hop). Attribute sets (origin AS, AS path, communities, large
/// communities) are one allocation each, stored once and shared.
///
/// Concurrency: one writer at a time (the BMP processor; a mutex serializes writers) and any
/// number of lock-free readers. The writer never modifies what readers may be reading: a
/// changed route set or a node whose bitmaps change is copied, and the copy published with
/// one atomic pointer store (in the parent's slot); the old one is retired and freed after a
/// grace period (ReadEpoch, epoch.h). Lookups take no lock, never wait and allocate nothing.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/flow.h"
#include "common/ip.h"
#include "outlet/routing/bmp_decoder.h"
#include "outlet/routing/epoch.h"
#include "outlet/routing/slab.h"

namespace akvo::routing {

/// What a lookup returns (RT-1): copied out, so it stays valid after the lookup.
struct RouteInfo {
  uint32_t asn = 0;        ///< origin AS: last AS of the path, or the peer AS when empty
  uint8_t prefix_len = 0;  ///< on the IPv6 form (an IPv4 /24 is 120)
  uint64_t rd = 0;         ///< route distinguisher of the matched route (0: none)
  IPv6Addr next_hop;
  InlineVec<uint32_t, 32> as_path;
  InlineVec<uint32_t, 32> communities;
  InlineVec<LargeCommunity, 16> large_communities;
};

class Rib {
 public:
  using PeerId = uint32_t;
  static constexpr uint32_t kNone = 0xffffffff;

  Rib();
  ~Rib();
  Rib(const Rib&) = delete;
  Rib& operator=(const Rib&) = delete;

  /// The id of a peer seen by a BMP exporter, created on first use.
  PeerId peer(const IPv6Addr& exporter, const BmpPeer& p);
  /// Removes every route of a peer and forgets it. Lookups go on meanwhile.
  void removePeer(PeerId id);
  /// Ids of the peers of one exporter.
  std::vector<PeerId> peersOf(const IPv6Addr& exporter) const;

  /// Applies one UPDATE: withdrawals, then announcements with `attrs`. Each NLRI goes to the
  /// table of its `rd`.
  void update(PeerId id, const PathAttributes& attrs, std::span<const Nlri> announced,
              std::span<const Nlri> withdrawn);

  /// Longest-prefix match for `ip` (RT-6) in the table of `rd`, or, without `rd`, in every
  /// table (the longest match wins; on a tie, RD 0 then the older table). Among the routes of
  /// the prefix, prefers those learned from `exporter`'s BMP session, then the one whose next
  /// hop equals `next_hop` (zero: none), else the first. Returns false when no prefix matches.
  /// Thread-safe, lock-free, no allocation.
  bool lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
              RouteInfo& out, std::optional<uint64_t> rd = std::nullopt) const;

  /// Frees what the writer retired, when no reader can still see it. Called by every update;
  /// call it when idle so that memory returns after the last change.
  void reclaim();

  size_t routes() const;
  size_t prefixes() const;
  size_t peers() const;
  size_t attributeSets() const;
  /// Heap bytes held (nodes, route sets, attribute sets, indexes, and what waits for a grace
  /// period), from malloc's usable sizes.
  size_t memoryBytes() const;

 // Public for the implementation's helpers; not an API.
  struct RouteSet;
  /// Where a prefix's route set is published. `hint` is the attribute set of its first route,
  /// written with it but read without ordering: lookups prefetch it while the route set loads
  /// (a torn pair only costs a useless prefetch).
  struct Slot {
    std::atomic<const RouteSet*> rs;
    std::atomic<const void*> hint;
  };

 private:
  struct Node;
  struct Leaf;
  struct AttrSet;
  struct Source {
    IPv6Addr exporter;
    IPv6Addr next_hop;
    uint32_t peer = 0;
    uint32_t path_id = 0;
  };
  struct SourceKey {
    uint32_t peer, path_id;
    IPv6Addr next_hop;
    bool operator==(const SourceKey&) const = default;
  };
  struct SourceKeyHash {
    size_t operator()(const SourceKey& k) const;
  };
  struct Table {
    uint64_t rd = 0;
    std::atomic<uintptr_t> root[2];  // IPv4, IPv6: Node*
    size_t prefixes = 0;             // writer only
  };
  /// The tables as readers see them: replaced (copied) when an RD appears.
  struct TableDir {
    std::vector<Table*> tables;
  };
  struct Lpm {
    const Slot* slot = nullptr;
    unsigned len = 0;  // on the IPv6 form
  };
  struct Retired {
    void* ptr;
    uint32_t bytes;   // as allocated
    uint32_t source;  // kNone, or a source id to recycle
    bool pooled;
  };
  struct Pending {
    uint64_t phase;
    std::vector<Retired> items;
  };

  static constexpr unsigned kSourceChunkBits = 12;
  static constexpr size_t kSourceChunks = 4096;  // 16M sources

  // Reader side.
  Lpm lpm(const Table& t, unsigned family, uint64_t hi, uint64_t lo) const;
  const Source& source(uint32_t id) const {
    return dir_sources_[id >> kSourceChunkBits].load(std::memory_order_acquire)
        [id & ((1u << kSourceChunkBits) - 1)];
  }

  // Writer side (under write_mutex_).
  Table& table(uint64_t rd);
  Table* findTable(uint64_t rd) const;
  const RouteSet* get(const Table& t, unsigned family, uint64_t hi, uint64_t lo, unsigned len) const;
  /// Sets the route set of a prefix (non-null); returns the previous one (null when new).
  const RouteSet* set(std::atomic<uintptr_t>& slot, unsigned depth, uint64_t hi, uint64_t lo,
                      unsigned len, const RouteSet* rs);
  struct Erased {
    const RouteSet* old = nullptr;
    bool empty = false;  // the node in `slot` became empty: the caller unlinks it
  };
  Erased erase(std::atomic<uintptr_t>& slot, unsigned depth, uint64_t hi, uint64_t lo,
               unsigned len, bool root);
  /// Sets (non-null) or removes (null) the route set of a prefix; keeps the counters.
  void store(Table& t, unsigned family, uint64_t hi, uint64_t lo, unsigned len,
             const RouteSet* rs, const RouteSet* old);
  template <class Fn>
  void forEachPrefix(uintptr_t node, unsigned depth, uint64_t hi, uint64_t lo, Fn&& fn);

  Node* newNode(size_t npfx, size_t nkids);
  Node* cloneNode(const Node* n, int add_pos, const RouteSet* add_val, int del_pos, int add_kid,
                  uintptr_t kid_val, int del_kid);
  Leaf* newLeaf(uint64_t hi, uint64_t lo, unsigned len, const RouteSet* rs);
  RouteSet* newRouteSet(size_t n);
  AttrSet* intern(uint32_t asn, const PathAttributes& a);
  void release(AttrSet* a);
  uint32_t sourceId(uint32_t peer, uint32_t path_id, const IPv6Addr& nh);
  void releaseSource(uint32_t id);
  /// Nodes (`pooled` false) come from malloc, the rest from the slab.
  void* allocate(size_t bytes, bool pooled) { return slab_.allocate(bytes, pooled); }
  void retire(void* p, size_t bytes, bool pooled) {
    retired_.push_back({p, uint32_t(bytes), kNone, pooled});
  }
  void freeNow(void* p, size_t bytes, bool pooled) { slab_.free(p, bytes, pooled); }
  static size_t bytesOf(const Node* n);
  static size_t bytesOf(const Leaf*);
  static size_t bytesOf(const RouteSet* s);
  static size_t bytesOf(const AttrSet* a);
  template <class T>
  void retire(T* p) {
    retire(const_cast<std::remove_const_t<T>*>(p), bytesOf(p), !std::is_same_v<T, Node>);
  }
  template <class T>
  void freeNow(T* p) {
    freeNow(const_cast<std::remove_const_t<T>*>(p), bytesOf(p), !std::is_same_v<T, Node>);
  }
  void freeTree(uintptr_t node);

  mutable std::mutex write_mutex_;  // serializes writers; guards everything not atomic below
  Slab slab_;  // first in, last out: everything below may hold its memory
  ReadEpoch epoch_;
  std::atomic<const TableDir*> dir_{nullptr};
  std::vector<std::unique_ptr<Table>> tables_;
  std::vector<std::unique_ptr<TableDir>> old_dirs_;  // tiny; kept until destruction

  std::array<std::atomic<Source*>, kSourceChunks> dir_sources_{};
  std::vector<uint32_t> source_refs_;
  std::vector<uint32_t> free_sources_;
  std::unordered_map<SourceKey, uint32_t, SourceKeyHash> source_index_;

  std::unordered_multimap<uint64_t, AttrSet*> attr_index_;

  struct PeerInfo {
    IPv6Addr exporter;
    BmpPeer peer;
    bool used = false;
    size_t routes = 0;
  };
  std::vector<PeerInfo> peers_;
  std::vector<PeerId> free_peers_;

  std::vector<Retired> retired_;  // since the last reclaim()
  std::vector<Pending> pending_;
  size_t route_count_ = 0;
  size_t prefix_count_ = 0;
};

}  // namespace akvo::routing
