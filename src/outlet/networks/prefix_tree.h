#pragma once
/// A longest-prefix-match tree over IPv6 addresses (IPv4 mapped into IPv6): a multibit trie
/// with one byte per level and controlled prefix expansion, so that a lookup reads at most one
/// node per address byte (4 for IPv4, 16 for IPv6). IPv4-mapped addresses are looked up in
/// their own tree; prefixes of /96 or shorter that cover ::ffff:0:0/96 (such as ::/0) apply to
/// IPv4 too. Built once, then read concurrently without locks (immutable after build: share it
/// as a snapshot).
#include <cstdint>
#include <vector>

#include "common/ip.h"

namespace akvo {

template <class T>
class PrefixTree {
 public:
  PrefixTree() { clear(); }

  void clear() {
    v4_ = Trie{};
    v6_ = Trie{};
    values_.clear();
  }

  /// Inserts `prefix` (a longer prefix always wins over a shorter one; for the same prefix the
  /// last insertion wins).
  void insert(const IPv6Prefix& prefix, T value) {
    static const IPv6Prefix kMapped = *IPv6Prefix::parse("::ffff:0.0.0.0/96");
    int32_t idx = int32_t(values_.size());
    values_.push_back(std::move(value));
    v6_.insert(prefix.addr.bytes.data(), prefix.len, idx);
    if (prefix.len == 96 && prefix.addr.isV4Mapped()) {
      v4_.setDefault(96, idx);  // 0.0.0.0/0: beats ::/0 and any shorter IPv6 prefix
    } else if (prefix.len > 96 && prefix.addr.isV4Mapped()) {
      v4_.insert(prefix.addr.bytes.data() + 12, uint8_t(prefix.len - 96), idx);
    } else if (prefix.len <= 96 && prefix.contains(kMapped.addr)) {
      v4_.setDefault(prefix.len, idx);  // covers all of IPv4
    }
  }

  /// The value of the longest prefix containing `a`, or nullptr.
  const T* lookup(const IPv6Addr& a) const {
    int32_t best = a.isV4Mapped() ? v4_.lookup(a.bytes.data() + 12, 4)
                                  : v6_.lookup(a.bytes.data(), 16);
    return best < 0 ? nullptr : &values_[size_t(best)];
  }
  /// Also gives, in `uniform_len`, the length (on the IPv6 form) of a prefix around `a` over
  /// which every address gets the same answer (for caches).
  const T* lookup(const IPv6Addr& a, uint8_t* uniform_len) const {
    unsigned bytes = 0;
    int32_t best;
    if (a.isV4Mapped()) {
      best = v4_.lookup(a.bytes.data() + 12, 4, &bytes);
      *uniform_len = uint8_t(96 + 8 * bytes);
    } else {
      best = v6_.lookup(a.bytes.data(), 16, &bytes);
      *uniform_len = uint8_t(8 * bytes);
    }
    return best < 0 ? nullptr : &values_[size_t(best)];
  }

  size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }

 private:
  struct Node {
    int32_t child[256];
    int32_t value[256];
    uint8_t len[256];  // prefix length (within this trie) of value[i], for insertion only
    Node() {
      for (int i = 0; i < 256; i++) child[i] = value[i] = -1, len[i] = 0;
    }
  };

  class Trie {
   public:
    /// The answer when no node matches; `len` on the IPv6 form (0.0.0.0/0 is 96, ::/0 is 0).
    void setDefault(unsigned len, int32_t idx) {
      if (default_ < 0 || default_len_ <= len) default_ = idx, default_len_ = len;
    }
    void insert(const uint8_t* bytes, unsigned len, int32_t idx) {
      if (len == 0) {
        setDefault(0, idx);
        return;
      }
      if (nodes_.empty()) nodes_.emplace_back();
      unsigned d = (len - 1) / 8, rem = len - 8 * d;  // ends in byte d, rem bits of it (1..8)
      int32_t n = 0;
      for (unsigned i = 0; i < d; i++) {
        int32_t c = nodes_[size_t(n)].child[bytes[i]];
        if (c < 0) {
          c = int32_t(nodes_.size());
          nodes_.emplace_back();
          nodes_[size_t(n)].child[bytes[i]] = c;
        }
        n = c;
      }
      Node& node = nodes_[size_t(n)];
      unsigned first = bytes[d] & (0xff00u >> rem) & 0xff, count = 1u << (8 - rem);
      for (unsigned s = first; s < first + count; s++) {
        if (node.value[s] < 0 || node.len[s] <= len) {
          node.value[s] = idx;
          node.len[s] = uint8_t(len);
        }
      }
    }
    /// `visited`: how many leading bytes decided the answer (it is the same for every
    /// address that shares them).
    int32_t lookup(const uint8_t* bytes, unsigned n_bytes, unsigned* visited = nullptr) const {
      int32_t best = default_;
      unsigned i = 0;
      if (!nodes_.empty()) {
        const Node* node = &nodes_[0];
        for (; i < n_bytes; i++) {
          uint8_t b = bytes[i];
          if (node->value[b] >= 0) best = node->value[b];
          int32_t c = node->child[b];
          if (c < 0) {
            i++;
            break;
          }
          node = &nodes_[size_t(c)];
        }
      }
      if (visited) *visited = i;
      return best;
    }

   private:
    std::vector<Node> nodes_;  // copyable: configurations holding trees are copied
    int32_t default_ = -1;
    unsigned default_len_ = 0;
  };

  Trie v4_, v6_;
  std::vector<T> values_;
};

}  // namespace akvo
