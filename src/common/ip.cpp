#include "common/ip.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace akvo {

std::string IPv6Addr::toString() const {
  char buf[INET6_ADDRSTRLEN];
  if (isV4Mapped()) {
    inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  }
  return buf;
}

std::optional<IPv6Addr> IPv6Addr::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  uint8_t out[16];
  if (inet_pton(AF_INET, buf, out) == 1) return fromV4Bytes(out);
  if (inet_pton(AF_INET6, buf, out) == 1) return fromV6Bytes(out);
  return std::nullopt;
}

std::string IPv6Prefix::toString() const {
  if (addr.isV4Mapped() && len >= 96) return fmt::format("{}/{}", addr.toString(), len - 96);
  return fmt::format("{}/{}", addr.toString(), len);
}

std::optional<IPv6Prefix> IPv6Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto a = IPv6Addr::parse(text.substr(0, slash));
  if (!a) return std::nullopt;
  bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  unsigned len = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    auto s = text.substr(slash + 1);
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), len);
    if (ec != std::errc() || p != s.data() + s.size() || len > (v4 ? 32u : 128u))
      return std::nullopt;
  }
  IPv6Prefix r{*a, uint8_t(v4 ? len + 96 : len)};
  // Clear host bits so that equal prefixes compare equal.
  for (unsigned i = r.len; i < 128; i++) r.addr.bytes[i / 8] &= uint8_t(~(0x80 >> (i % 8)));
  return r;
}

}  // namespace akvo
