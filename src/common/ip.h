#pragma once
/// IP addresses as stored by akvo: always 16 bytes, IPv4 mapped into IPv6 (::ffff:a.b.c.d),
/// in network byte order, as ClickHouse's IPv6 type stores them.
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace akvo {

struct IPv6Addr {
  std::array<uint8_t, 16> bytes{};

  /// From an IPv4 address in network byte order (4 bytes as on the wire).
  static IPv6Addr fromV4Bytes(const uint8_t* p) {
    IPv6Addr a;
    a.bytes[10] = 0xff;
    a.bytes[11] = 0xff;
    std::memcpy(a.bytes.data() + 12, p, 4);
    return a;
  }
  /// From an IPv4 address as a host-order integer.
  static IPv6Addr fromV4(uint32_t host_order) {
    uint8_t p[4] = {uint8_t(host_order >> 24), uint8_t(host_order >> 16), uint8_t(host_order >> 8),
                    uint8_t(host_order)};
    return fromV4Bytes(p);
  }
  static IPv6Addr fromV6Bytes(const uint8_t* p) {
    IPv6Addr a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  bool isV4Mapped() const {
    static constexpr uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(bytes.data(), kPrefix, 12) == 0;
  }
  bool isZero() const {
    uint64_t w[2];
    std::memcpy(w, bytes.data(), 16);
    return (w[0] | w[1]) == 0;
  }
  /// IPv4 value (host order); only meaningful when isV4Mapped().
  uint32_t v4() const {
    return uint32_t(bytes[12]) << 24 | uint32_t(bytes[13]) << 16 | uint32_t(bytes[14]) << 8 |
           bytes[15];
  }
  /// Two word compares, not a call to memcmp (this is on every hot path).
  bool operator==(const IPv6Addr& o) const {
    uint64_t a[2], b[2];
    std::memcpy(a, bytes.data(), 16);
    std::memcpy(b, o.bytes.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }
  auto operator<=>(const IPv6Addr&) const = default;

  /// Text form: dotted quad for mapped IPv4, RFC 5952 for IPv6.
  std::string toString() const;
  /// Parses "192.0.2.1", "2001:db8::1" or "::ffff:192.0.2.1".
  static std::optional<IPv6Addr> parse(std::string_view text);
};

struct IPv6AddrHash {
  size_t operator()(const IPv6Addr& a) const noexcept {
    uint64_t h1, h2;
    std::memcpy(&h1, a.bytes.data(), 8);
    std::memcpy(&h2, a.bytes.data() + 8, 8);
    // Mixed down to the low bits (murmur3's finaliser): an IPv4 address sits in the last 4
    // bytes, the high half of h2, and a plain multiply never carries high bits down, so
    // `hash % queues` once sent every IPv4 exporter to the same outlet worker.
    uint64_t h = h1 * 0x9E3779B97F4A7C15ull ^ h2;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
  }
};

/// A prefix: address and length, the length counted on the IPv6 form (IPv4 /24 is /120).
struct IPv6Prefix {
  IPv6Addr addr;
  uint8_t len = 0;
  /// Two masked word compares (inline: GeoIP caches call it per flow).
  bool contains(const IPv6Addr& a) const {
    uint64_t x[2], y[2];
    std::memcpy(x, a.bytes.data(), 16);
    std::memcpy(y, addr.bytes.data(), 16);
    unsigned l = len > 128 ? 128 : len;
    uint64_t m0 = l >= 64 ? ~0ull : l ? ~0ull << (64 - l) : 0;
    uint64_t m1 = l >= 128 ? ~0ull : l > 64 ? ~0ull << (128 - l) : 0;
    return ((__builtin_bswap64(x[0] ^ y[0]) & m0) | (__builtin_bswap64(x[1] ^ y[1]) & m1)) == 0;
  }
  std::string toString() const;
  /// Parses "192.0.2.0/24", "2001:db8::/32", or a bare address (full length).
  static std::optional<IPv6Prefix> parse(std::string_view text);
};

}  // namespace akvo
