#pragma once
/// A longest-prefix-match tree over IPv6 addresses (IPv4 mapped into IPv6). IPv4-mapped
/// addresses are looked up in their own 32-bit tree, so an IPv4 lookup walks at most 32 nodes;
/// prefixes of /96 or shorter that cover ::ffff:0:0/96 (such as ::/0) apply to IPv4 too.
/// Built once, then read concurrently without locks (it is immutable after build: share it as
/// a snapshot).
#include <cstdint>
#include <vector>

#include "common/ip.h"

namespace akvo {

template <class T>
class PrefixTree {
 public:
  PrefixTree() { clear(); }

  void clear() {
    v4_.assign(1, Node{});
    v6_.assign(1, Node{});
    values_.clear();
  }

  /// Inserts or replaces the value of `prefix`.
  void insert(const IPv6Prefix& prefix, T value) {
    static const IPv6Prefix kMapped = *IPv6Prefix::parse("::ffff:0.0.0.0/96");
    int32_t idx = int32_t(values_.size());
    values_.push_back(std::move(value));
    insertInto(v6_, prefix.addr, 0, prefix.len, idx);
    if (prefix.len >= 96 && prefix.addr.isV4Mapped()) {
      insertInto(v4_, prefix.addr, 96, prefix.len, idx);
    } else if (prefix.len <= 96 && prefix.contains(kMapped.addr)) {
      // Covers all of IPv4: it is a default for the IPv4 tree, unless a longer such prefix is.
      auto& root = v4_[0];
      if (root.value < 0 || root_len_ <= prefix.len) {
        root.value = idx;
        root_len_ = prefix.len;
      }
    }
  }

  /// The value of the longest prefix containing `a`, or nullptr.
  const T* lookup(const IPv6Addr& a) const {
    int32_t best;
    if (a.isV4Mapped()) best = walk(v4_, a, 96);
    else best = walk(v6_, a, 0);
    return best < 0 ? nullptr : &values_[size_t(best)];
  }

  /// Every (prefix, value) inserted, for iteration (latest value of duplicates included).
  size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }

 private:
  struct Node {
    int32_t child[2] = {-1, -1};
    int32_t value = -1;
  };
  static int bit(const IPv6Addr& a, unsigned i) { return (a.bytes[i / 8] >> (7 - i % 8)) & 1; }

  static void insertInto(std::vector<Node>& nodes, const IPv6Addr& a, unsigned from, unsigned to,
                         int32_t idx) {
    int32_t n = 0;
    for (unsigned i = from; i < to; i++) {
      int b = bit(a, i);
      if (nodes[size_t(n)].child[b] < 0) {
        nodes[size_t(n)].child[b] = int32_t(nodes.size());
        nodes.push_back(Node{});
      }
      n = nodes[size_t(n)].child[b];
    }
    nodes[size_t(n)].value = idx;
  }

  static int32_t walk(const std::vector<Node>& nodes, const IPv6Addr& a, unsigned from) {
    int32_t n = 0, best = nodes[0].value;
    for (unsigned i = from; i < 128; i++) {
      n = nodes[size_t(n)].child[bit(a, i)];
      if (n < 0) break;
      if (nodes[size_t(n)].value >= 0) best = nodes[size_t(n)].value;
    }
    return best;
  }

  std::vector<Node> v4_, v6_;
  std::vector<T> values_;
  unsigned root_len_ = 0;
};

}  // namespace akvo
