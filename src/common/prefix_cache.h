#pragma once
/// A per-thread cache of answers that hold over a prefix around the address they were computed
/// for (GeoIP networks, network attributes): each slot keeps that prefix, so an answer is only
/// reused inside it. Two direct-mapped tables: answers that hold over a /16 or wider (IPv4; /32
/// for IPv6) are keyed on the /16, so that a whole unknown /8 or a large network takes one slot
/// instead of one per /24; the others on the /24 (IPv6: /48).
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/ip.h"

namespace akvo {

template <class V>
class PrefixCache {
 public:
  /// `slots` is rounded up to a power of two (a mask, not a division, per lookup).
  explicit PrefixCache(size_t slots = 8192)
      : fine_(std::bit_ceil(slots)),
        fine_tags_(fine_.size(), 0),
        coarse_(std::bit_ceil(slots / 4 ? slots / 4 : 1)) {}

  void clear() {
    for (auto& s : fine_) s.valid = false;
    std::fill(fine_tags_.begin(), fine_tags_.end(), 0);
    for (auto& s : coarse_) s.valid = false;
  }

  /// The answer for `a`: cached, or `fill(a, &len)`, which returns it and sets `len` to the
  /// length (IPv6 form) of the prefix around `a` over which it holds.
  template <class Fill>
  const V& get(const IPv6Addr& a, Fill&& fill) {
    uint64_t fine, coarse;
    unsigned coarse_len;
    if (a.isV4Mapped()) {
      fine = a.v4() >> 8;
      coarse = a.v4() >> 16;
      coarse_len = 96 + 16;
    } else {
      std::memcpy(&fine, a.bytes.data(), 8);
      fine = __builtin_bswap64(fine);
      coarse = fine >> 32;
      fine >>= 16;
      coarse_len = 32;
    }
    const size_t fi = (fine * 0x9E3779B97F4A7C15ull >> 20) & (fine_.size() - 1);
    // The tag (low bits of the fine key, + 1) is checked before the slot: answers that hold
    // over a /16 or more never fill a fine slot, so for them the fine table's 64-byte slots
    // were a cache miss per lookup when sources spread over many /24s.
    const uint32_t tag = uint32_t(fine) + 1;
    Slot& f = fine_[fi];
    if (fine_tags_[fi] == tag && f.valid && f.prefix.contains(a)) return f.value;
    Slot& c = coarse_[(coarse * 0x9E3779B97F4A7C15ull >> 20) & (coarse_.size() - 1)];
    if (c.valid && c.prefix.contains(a)) return c.value;
    uint8_t len = 128;
    V value = fill(a, &len);
    // IPv4 and IPv6 answers share the tables: an IPv6 answer must not claim a prefix that
    // covers ::ffff:0:0/96 (an unknown 0::/8, say), where IPv4 addresses have their own.
    // Narrowing a prefix is always safe; /96 around an IPv6 address never covers it.
    if (!a.isV4Mapped() && len < 96) {
      static const IPv6Addr kMapped = IPv6Addr::fromV4(0);
      if (IPv6Prefix{a, len}.contains(kMapped)) len = 96;
    }
    const bool is_coarse = len <= coarse_len;
    if (!is_coarse) fine_tags_[fi] = tag;
    Slot& s = is_coarse ? c : f;
    s.value = value;
    s.prefix = IPv6Prefix{a, len};
    s.valid = true;
    return s.value;
  }

 private:
  struct Slot {
    IPv6Prefix prefix;
    V value{};
    bool valid = false;
  };
  std::vector<Slot> fine_;
  std::vector<uint32_t> fine_tags_;  ///< per fine slot: the tag of the key that filled it, 0 = none
  std::vector<Slot> coarse_;
};

}  // namespace akvo
