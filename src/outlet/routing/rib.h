#pragma once
/// The routing information base: routes learned over BMP, keyed by (peer, route distinguisher,
/// ADD-PATH identifier, prefix), with longest-prefix lookup. One path-compressed binary trie
/// over 128-bit keys (IPv4 mapped into IPv6) is shared by every peer; each trie node holds the
/// list of routes for its prefix. Attribute sets (next hop, origin AS, AS path, communities,
/// large communities) are interned with reference counts, so a route costs a 24-byte entry.
///
/// Concurrency: one writer (the BMP processor) and many readers (outlet workers). Readers take
/// a shared lock for the duration of one lookup (no allocation, no copy of the table); the
/// writer takes the exclusive lock once per UPDATE message, and removes a peer in chunks so
/// that lookups never wait long.
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/flow.h"
#include "common/ip.h"
#include "outlet/routing/bmp_decoder.h"

namespace akvo::routing {

/// What a lookup returns (RT-1): copied out, so it stays valid after the lookup.
struct RouteInfo {
  uint32_t asn = 0;        ///< origin AS: last AS of the path, or the peer AS when empty
  uint8_t prefix_len = 0;  ///< on the IPv6 form (an IPv4 /24 is 120)
  IPv6Addr next_hop;
  InlineVec<uint32_t, 32> as_path;
  InlineVec<uint32_t, 32> communities;
  InlineVec<LargeCommunity, 16> large_communities;
};

class Rib {
 public:
  using PeerId = uint32_t;
  static constexpr uint32_t kNone = 0xffffffff;

  /// `jump_bits`: size of the jump tables (2^bits entries each for IPv4 and IPv6, 1-24); 16
  /// suits full tables, small values suit tiny tables (tests, fuzzing).
  explicit Rib(unsigned jump_bits = 16);
  Rib(const Rib&) = delete;
  Rib& operator=(const Rib&) = delete;

  /// The id of a peer seen by a BMP exporter, created on first use.
  PeerId peer(const IPv6Addr& exporter, const BmpPeer& p);
  /// Removes every route of a peer and forgets it. Takes the lock in chunks.
  void removePeer(PeerId id);
  /// Ids of the peers of one exporter.
  std::vector<PeerId> peersOf(const IPv6Addr& exporter) const;

  /// Applies one UPDATE: withdrawals, then announcements with `attrs` (under one lock).
  void update(PeerId id, const PathAttributes& attrs, std::span<const Nlri> announced,
              std::span<const Nlri> withdrawn);

  /// Longest-prefix match for `ip` (RT-6): among the routes of the longest matching prefix,
  /// prefer those learned from `exporter`'s BMP session, then the one whose next hop equals
  /// `next_hop`, else the first. Returns false when no prefix matches.
  bool lookup(const IPv6Addr& exporter, const IPv6Addr& ip, const IPv6Addr& next_hop,
              RouteInfo& out) const;

  size_t routes() const;
  size_t prefixes() const;
  size_t peers() const;
  size_t attributeSets() const;
  /// Approximate heap bytes held (trie, routes, attribute sets, indexes).
  size_t memoryBytes() const;

 private:
  struct Node {
    uint64_t hi = 0, lo = 0;  // prefix bits, big-endian halves, bits past len are zero
    uint32_t child[2] = {kNone, kNone};
    uint32_t routes = kNone;  // head of the route list
    uint8_t len = 0;
  };
  struct Route {
    uint64_t rd = 0;
    uint32_t peer = 0;
    uint32_t path_id = 0;
    uint32_t attrs = 0;
    uint32_t next = kNone;
  };
  struct AttrSet {
    IPv6Addr next_hop;
    uint32_t asn = 0;
    uint32_t refs = 0;
    uint64_t hash = 0;
    std::vector<uint32_t> as_path, communities;
    std::vector<LargeCommunity> large_communities;
  };
  struct PeerInfo {
    IPv6Addr exporter;
    BmpPeer peer;
    bool used = false;
    size_t routes = 0;
  };

  /// Jump tables skip the top of the trie: for each /16 of IPv4 (bits 96-111 of the mapped
  /// form) and each /16 of IPv6 (bits 0-15), the first node at or below that depth on the
  /// bucket's path (where lookups start) and the best routed node above it.
  struct Jump {
    uint32_t start = kNone;
    uint32_t best = kNone;
  };
  const unsigned jump_bits_, v4_bucket_, v6_bucket_;  // bits, and bucket prefix lengths
  uint32_t v4Index(uint64_t lo) const { return uint32_t(lo >> (32 - jump_bits_)) & mask_; }
  uint32_t v6Index(uint64_t hi) const { return uint32_t(hi >> (64 - jump_bits_)); }
  const uint32_t mask_;
  void refreshBucket(uint64_t hi, uint64_t lo, unsigned bucket_len, Jump& j) const;
  /// Marks the buckets a change at prefix (hi, lo)/len may affect; flushJumps() refreshes them.
  void touched(uint64_t hi, uint64_t lo, uint8_t len);
  void flushJumps();

  uint32_t insertNode(uint64_t hi, uint64_t lo, uint8_t len);
  uint32_t findNode(uint64_t hi, uint64_t lo, uint8_t len) const;
  uint32_t intern(const IPv6Addr& nh, uint32_t asn, const PathAttributes& a);
  void release(uint32_t attrs);
  uint32_t newRoute();

  mutable std::shared_mutex mutex_;  // guards everything below
  std::vector<Node> nodes_;
  std::vector<Jump> jump_v4_, jump_v6_;
  std::vector<bool> dirty_v4_, dirty_v6_;
  std::vector<uint32_t> dirty_list_v4_, dirty_list_v6_;
  uint32_t root_ = kNone;
  std::vector<Route> routes_;
  uint32_t free_routes_ = kNone;
  size_t route_count_ = 0;
  size_t prefix_count_ = 0;
  std::vector<AttrSet> attrs_;
  std::vector<uint32_t> free_attrs_;
  std::unordered_multimap<uint64_t, uint32_t> attr_index_;
  std::vector<PeerInfo> peers_;
  std::vector<PeerId> free_peers_;
};

}  // namespace akvo::routing
