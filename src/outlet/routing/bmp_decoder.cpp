#include "outlet/routing/bmp_decoder.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <optional>
#include <string>

namespace akvo::routing {

std::string_view bmpStatusName(BmpStatus s) {
  switch (s) {
    case BmpStatus::kOk: return "ok";
    case BmpStatus::kTruncated: return "truncated";
    case BmpStatus::kBadVersion: return "bad_version";
    case BmpStatus::kNotInitiated: return "not_initiated";
    case BmpStatus::kBadBgp: return "bad_bgp";
    case BmpStatus::kUnknownType: return "unknown_type";
    case BmpStatus::kCount: break;
  }
  return "unknown";
}

namespace {

constexpr uint16_t kAfiIPv4 = 1, kAfiIPv6 = 2, kAfiL2vpn = 25;
constexpr uint8_t kSafiUnicast = 1, kSafiMulticast = 2, kSafiLabeled = 4, kSafiEvpn = 70,
                  kSafiVpn = 128;
constexpr size_t kPeerHeaderSize = 42;  // RFC 7854 §4.2
constexpr size_t kBgpHeaderSize = 19;   // RFC 4271 §4.1: marker, length, type

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint64_t be64(const uint8_t* p) { return uint64_t(be32(p)) << 32 | be32(p + 4); }

/// A bounds-checked reader over a byte span: every read fails (ok() false) past the end.
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool ok_ = true;
  explicit Cursor(std::span<const uint8_t> s) : p(s.data()), end(s.data() + s.size()) {}
  size_t left() const { return size_t(end - p); }
  bool need(size_t n) {
    if (!ok_ || left() < n) ok_ = false;
    return ok_;
  }
  uint8_t u8() { return need(1) ? *p++ : 0; }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = be16(p);
    p += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = be32(p);
    p += 4;
    return v;
  }
  std::span<const uint8_t> take(size_t n) {
    if (!need(n)) return {};
    std::span<const uint8_t> s(p, n);
    p += n;
    return s;
  }
};

bool parsePeerHeader(Cursor& c, BmpPeer& peer) {
  auto h = c.take(kPeerHeaderSize);
  if (!c.ok_) return false;
  peer.type = h[0];
  peer.flags = h[1];
  peer.distinguisher = be64(&h[2]);
  // V flag (RFC 7854 §4.2): IPv6 address, else IPv4 in the last 4 bytes.
  bool v6 = peer.type != 3 && (peer.flags & 0x80);
  peer.address = v6 ? IPv6Addr::fromV6Bytes(&h[10]) : IPv6Addr::fromV4Bytes(&h[22]);
  if (peer.type == 3) peer.address = IPv6Addr::fromV6Bytes(&h[10]);  // RFC 9069: zero
  peer.asn = be32(&h[26]);
  peer.bgp_id = be32(&h[30]);
  return true;
}

/// Reads the prefix bits of an NLRI: `bits` bits into `out` (zeroed), at most `max_bytes`.
bool readPrefix(Cursor& c, unsigned bits, unsigned max_bytes, uint8_t* out) {
  unsigned bytes = (bits + 7) / 8;
  if (bytes > max_bytes) return false;
  auto s = c.take(bytes);
  if (!c.ok_) return false;
  std::memcpy(out, s.data(), bytes);
  if (bits % 8) out[bytes - 1] &= uint8_t(0xff << (8 - bits % 8));
  return true;
}

IPv6Prefix makePrefix(uint16_t afi, const uint8_t* bytes, unsigned bits) {
  IPv6Prefix p;
  if (afi == kAfiIPv4) {
    p.addr = IPv6Addr::fromV4Bytes(bytes);
    p.len = uint8_t(bits + 96);
  } else {
    p.addr = IPv6Addr::fromV6Bytes(bytes);
    p.len = uint8_t(bits);
  }
  return p;
}

/// Capabilities of an OPEN message (RFC 5492): ADD-PATH entries (RFC 7911 §4) as
/// (afi, safi, send/receive).
template <class Fn>
bool forEachAddPath(std::span<const uint8_t> bgp, Fn fn) {
  Cursor c(bgp);
  c.take(16);
  uint16_t len = c.u16();
  uint8_t type = c.u8();
  if (!c.ok_ || type != 1 || len < 29) return false;
  c.u8();   // version
  c.u16();  // my AS
  c.u16();  // hold time
  c.u32();  // BGP identifier
  size_t opt_len = c.u8();
  bool extended = false;
  if (opt_len == 255 && c.left() >= 1 && *c.p == 255) {  // RFC 9072 extended parameters
    c.u8();
    opt_len = c.u16();
    extended = true;
  }
  Cursor params(c.take(opt_len));
  if (!c.ok_) return false;
  while (params.left() > 0) {
    uint8_t ptype = params.u8();
    size_t plen = extended ? params.u16() : params.u8();
    Cursor caps(params.take(plen));
    if (!params.ok_) return false;
    if (ptype != 2) continue;
    while (caps.left() > 0) {
      uint8_t code = caps.u8();
      Cursor value(caps.take(caps.u8()));
      if (!caps.ok_) return false;
      if (code != 69) continue;
      while (value.left() >= 4) {
        uint16_t afi = value.u16();
        uint8_t safi = value.u8();
        fn(afi, safi, value.u8());
      }
    }
  }
  return true;
}

}  // namespace

uint32_t BmpDecoder::messageLength(std::span<const uint8_t> data) {
  if (data.size() < kHeaderSize) return 0;
  return be32(data.data() + 1);
}

bool BmpDecoder::addPath(const BmpPeer& peer, uint16_t afi, uint8_t safi) const {
  if (add_path_.empty()) return false;
  return add_path_.count({peer.address, peer.distinguisher, afi, safi}) > 0;
}

BmpStatus BmpDecoder::decode(std::span<const uint8_t> message, BmpSink& sink) {
  Cursor c(message);
  uint8_t version = c.u8();
  uint32_t length = c.u32();
  uint8_t type = c.u8();
  if (!c.ok_) return BmpStatus::kTruncated;
  if (version != 3) return BmpStatus::kBadVersion;
  if (length < kHeaderSize || length > message.size()) return BmpStatus::kTruncated;
  c.end = message.data() + length;
  if (type == uint8_t(BmpType::kInitiation)) {
    // RFC 7854 §4.3: information TLVs.
    initiated_ = true;
    std::string_view name, descr;
    while (c.left() >= 4) {
      uint16_t t = c.u16();
      auto v = c.take(c.u16());
      if (!c.ok_) return BmpStatus::kTruncated;
      std::string_view s(reinterpret_cast<const char*>(v.data()), v.size());
      if (t == 1) descr = s;
      if (t == 2) name = s;
    }
    sink.initiation(name, descr);
    return BmpStatus::kOk;
  }
  if (!initiated_) return BmpStatus::kNotInitiated;
  switch (BmpType(type)) {
    case BmpType::kTermination:
      initiated_ = false;
      add_path_.clear();
      sink.termination();
      return BmpStatus::kOk;
    case BmpType::kRouteMirroring:
      mirroring_++;
      return BmpStatus::kOk;
    case BmpType::kRouteMonitoring:
    case BmpType::kStatisticsReport:
    case BmpType::kPeerDown:
    case BmpType::kPeerUp: break;
    default: return BmpStatus::kUnknownType;
  }
  BmpPeer peer;
  if (!parsePeerHeader(c, peer)) return BmpStatus::kTruncated;
  switch (BmpType(type)) {
    case BmpType::kStatisticsReport: sink.statistics(peer); return BmpStatus::kOk;
    case BmpType::kPeerDown:
      // RFC 7854 §4.9: the peer's routes are gone.
      std::erase_if(add_path_, [&](const auto& k) {
        return std::get<0>(k) == peer.address && std::get<1>(k) == peer.distinguisher;
      });
      sink.peerDown(peer);
      return BmpStatus::kOk;
    case BmpType::kPeerUp: {
      // RFC 7854 §4.10: local address, ports, sent OPEN, received OPEN.
      c.take(20);
      if (!c.ok_) return BmpStatus::kTruncated;
      std::span<const uint8_t> opens[2];
      for (auto& o : opens) {
        if (c.left() < kBgpHeaderSize) return BmpStatus::kTruncated;
        uint16_t len = be16(c.p + 16);
        if (len < kBgpHeaderSize) return BmpStatus::kBadBgp;
        o = c.take(len);
        if (!c.ok_) return BmpStatus::kTruncated;
      }
      // We receive several paths when we (sent OPEN) can receive and the peer can send.
      std::set<std::pair<uint16_t, uint8_t>> can_receive;
      if (!forEachAddPath(opens[0], [&](uint16_t afi, uint8_t safi, uint8_t sr) {
            if (sr & 1) can_receive.insert({afi, safi});
          }))
        return BmpStatus::kBadBgp;
      if (!forEachAddPath(opens[1], [&](uint16_t afi, uint8_t safi, uint8_t sr) {
            if ((sr & 2) && can_receive.count({afi, safi}))
              add_path_.insert({peer.address, peer.distinguisher, afi, safi});
          }))
        return BmpStatus::kBadBgp;
      sink.peerUp(peer);
      return BmpStatus::kOk;
    }
    default: break;
  }
  // Route Monitoring (RFC 7854 §4.6): one BGP UPDATE PDU.
  return decodeUpdate(peer, std::span<const uint8_t>(c.p, c.left()), sink);
}

bool BmpDecoder::parseNlri(std::span<const uint8_t> data, uint16_t afi, uint8_t safi,
                           bool add_path, const IPv6Addr& next_hop, std::vector<Nlri>& out) {
  // When the Peer Up with the OPEN messages was not seen (e.g. we restarted), ADD-PATH is
  // unknown: an NLRI list that does not parse without path identifiers is tried with them.
  size_t before = out.size();
  if (parseNlriAs(data, afi, safi, add_path, next_hop, out)) return true;
  out.resize(before);
  if (add_path) return false;
  if (parseNlriAs(data, afi, safi, true, next_hop, out)) return true;
  out.resize(before);
  return false;
}

bool BmpDecoder::parseNlriAs(std::span<const uint8_t> data, uint16_t afi, uint8_t safi,
                             bool add_path, const IPv6Addr& next_hop, std::vector<Nlri>& out) {
  Cursor c(data);
  while (c.left() > 0) {
    Nlri n;
    n.next_hop = next_hop;
    if (add_path) n.path_id = c.u32();
    if (afi == kAfiL2vpn && safi == kSafiEvpn) {
      // RFC 7432 §7: route type, length, route. Only type 5 (RFC 9136 §3.1) is an IP prefix.
      uint8_t rtype = c.u8();
      Cursor r(c.take(c.u8()));
      if (!c.ok_) return false;
      if (rtype != 5 || (r.left() != 34 && r.left() != 58)) {
        ignored_nlri_++;
        continue;
      }
      bool v6 = r.left() == 58;
      n.rd = be64(r.take(8).data());
      r.take(10 + 4);  // ESI, Ethernet tag
      unsigned bits = r.u8();
      auto addr = r.take(v6 ? 16 : 4);
      if (bits > (v6 ? 128u : 32u)) return false;
      uint8_t buf[16] = {};
      std::memcpy(buf, addr.data(), addr.size());
      n.prefix = makePrefix(v6 ? kAfiIPv6 : kAfiIPv4, buf, bits);
      out.push_back(n);
      continue;
    }
    unsigned bits = c.u8();
    if (!c.ok_) return false;
    if (safi == kSafiLabeled || safi == kSafiVpn) {
      // RFC 8277 §2: labels until the bottom-of-stack bit (or a withdrawal's 0x800000/0).
      for (;;) {
        if (bits < 24) return false;
        auto l = c.take(3);
        if (!c.ok_) return false;
        bits -= 24;
        uint32_t label = uint32_t(l[0]) << 16 | l[1] << 8 | l[2];
        if ((label & 1) || label == 0x800000 || label == 0) break;
      }
      if (safi == kSafiVpn) {
        // RFC 4364 §4.3.4: then the route distinguisher.
        if (bits < 64) return false;
        auto rd = c.take(8);
        if (!c.ok_) return false;
        n.rd = be64(rd.data());
        bits -= 64;
      }
    }
    uint8_t buf[16] = {};
    if (bits > (afi == kAfiIPv4 ? 32u : 128u)) return false;
    if (!readPrefix(c, bits, afi == kAfiIPv4 ? 4 : 16, buf)) return false;
    n.prefix = makePrefix(afi, buf, bits);
    out.push_back(n);
  }
  return c.ok_;
}

BmpStatus BmpDecoder::decodeUpdate(const BmpPeer& peer, std::span<const uint8_t> bgp,
                                   BmpSink& sink) {
  attrs_.clear();
  announced_.clear();
  withdrawn_.clear();
  Cursor c(bgp);
  c.take(16);  // marker
  uint16_t length = c.u16();
  uint8_t type = c.u8();
  if (!c.ok_) return BmpStatus::kTruncated;
  if (type != 2 || length < kBgpHeaderSize + 4) return BmpStatus::kBadBgp;
  if (length > bgp.size()) return BmpStatus::kTruncated;
  c.end = bgp.data() + length;
  // RFC 4271 §4.3: withdrawn routes, path attributes, NLRI.
  auto withdrawn = c.take(c.u16());
  auto attributes = c.take(c.u16());
  if (!c.ok_) return BmpStatus::kTruncated;
  auto nlri = std::span<const uint8_t>(c.p, c.left());

  // 2-byte ASNs only for legacy peers (RFC 7854 §4.2, A flag); Loc-RIB uses 4 bytes.
  const unsigned asn_size = (peer.type != 3 && (peer.flags & 0x20)) ? 2 : 4;
  IPv6Addr next_hop;
  std::span<const uint8_t> mp_reach, mp_unreach;
  std::span<const uint8_t> as4_path;
  Cursor a(attributes);
  while (a.left() > 0) {
    uint8_t flags = a.u8();
    uint8_t code = a.u8();
    size_t len = (flags & 0x10) ? a.u16() : a.u8();
    auto v = a.take(len);
    if (!a.ok_) return BmpStatus::kTruncated;
    switch (code) {
      case 2: {  // AS_PATH (RFC 4271 §5.1.2)
        Cursor s(v);
        while (s.left() > 0) {
          uint8_t seg_type = s.u8();
          uint8_t count = s.u8();
          auto asns = s.take(size_t(count) * asn_size);
          if (!s.ok_) return BmpStatus::kBadBgp;
          if (seg_type != 1 && seg_type != 2) continue;  // confederation segments skipped
          for (size_t i = 0; i < count; i++)
            attrs_.as_path.push_back(asn_size == 4 ? be32(&asns[i * 4]) : be16(&asns[i * 2]));
        }
        break;
      }
      case 3:  // NEXT_HOP
        if (len != 4) return BmpStatus::kBadBgp;
        next_hop = IPv6Addr::fromV4Bytes(v.data());
        break;
      case 8:  // COMMUNITIES (RFC 1997)
        if (len % 4) return BmpStatus::kBadBgp;
        for (size_t i = 0; i < len; i += 4) attrs_.communities.push_back(be32(&v[i]));
        break;
      case 16:  // EXTENDED COMMUNITIES (RFC 4360): route targets only
        if (len % 8) return BmpStatus::kBadBgp;
        for (size_t i = 0; i < len; i += 8) {
          const uint8_t type = v[i], subtype = v[i + 1];
          if (type > 2 || subtype != 2) continue;  // transitive 2-octet AS, IPv4, 4-octet AS RT
          uint64_t value = 0;
          for (size_t b = 2; b < 8; b++) value = value << 8 | v[i + b];
          attrs_.route_targets.push_back(uint64_t(type) << 48 | value);
        }
        break;
      case 14: mp_reach = v; break;
      case 15: mp_unreach = v; break;
      case 17: as4_path = v; break;
      case 32:  // LARGE_COMMUNITY (RFC 8092)
        if (len % 12) return BmpStatus::kBadBgp;
        for (size_t i = 0; i < len; i += 12)
          attrs_.large_communities.push_back({be32(&v[i]), be32(&v[i + 4]), be32(&v[i + 8])});
        break;
      default: break;
    }
  }
  if (!as4_path.empty() && asn_size == 2) {
    // RFC 6793 §4.2.3: AS4_PATH replaces the trailing part of AS_PATH when not longer.
    std::vector<uint32_t>& path = attrs_.as_path;
    size_t start = path.size();
    Cursor s(as4_path);
    while (s.left() > 0) {
      uint8_t seg_type = s.u8();
      uint8_t count = s.u8();
      auto asns = s.take(size_t(count) * 4);
      if (!s.ok_) return BmpStatus::kBadBgp;
      if (seg_type != 1 && seg_type != 2) continue;
      for (size_t i = 0; i < count; i++) path.push_back(be32(&asns[i * 4]));
    }
    size_t n4 = path.size() - start;
    if (n4 <= start) {
      path.erase(path.begin() + std::ptrdiff_t(start - n4), path.begin() + std::ptrdiff_t(start));
    } else {
      path.resize(start);
    }
  }

  // IPv4 unicast in the UPDATE body.
  bool ap4 = addPath(peer, kAfiIPv4, kSafiUnicast);
  if (!parseNlri(withdrawn, kAfiIPv4, kSafiUnicast, ap4, {}, withdrawn_)) return BmpStatus::kBadBgp;
  if (!parseNlri(nlri, kAfiIPv4, kSafiUnicast, ap4, next_hop, announced_))
    return BmpStatus::kBadBgp;

  auto supported = [](uint16_t afi, uint8_t safi) {
    if (afi == kAfiL2vpn) return safi == kSafiEvpn;
    if (afi != kAfiIPv4 && afi != kAfiIPv6) return false;
    return safi == kSafiUnicast || safi == kSafiMulticast || safi == kSafiLabeled ||
           safi == kSafiVpn;
  };
  if (!mp_reach.empty()) {
    // RFC 4760 §3: AFI, SAFI, next hop, reserved, NLRI.
    Cursor m(mp_reach);
    uint16_t afi = m.u16();
    uint8_t safi = m.u8();
    auto nh = m.take(m.u8());
    m.u8();
    if (!m.ok_) return BmpStatus::kBadBgp;
    if (!supported(afi, safi)) {
      ignored_nlri_++;
    } else {
      IPv6Addr mp_nh;
      size_t skip = safi == kSafiVpn ? 8 : 0;  // RFC 4364 §4.3.2: RD of zero before the address
      if (nh.size() >= skip + 16) mp_nh = IPv6Addr::fromV6Bytes(nh.data() + skip);
      else if (nh.size() >= skip + 4) mp_nh = IPv6Addr::fromV4Bytes(nh.data() + skip);
      if (!parseNlri(std::span<const uint8_t>(m.p, m.left()), afi, safi, addPath(peer, afi, safi),
                     mp_nh, announced_))
        return BmpStatus::kBadBgp;
    }
  }
  if (!mp_unreach.empty()) {
    Cursor m(mp_unreach);
    uint16_t afi = m.u16();
    uint8_t safi = m.u8();
    if (!m.ok_) return BmpStatus::kBadBgp;
    if (!supported(afi, safi)) {
      ignored_nlri_++;
    } else if (!parseNlri(std::span<const uint8_t>(m.p, m.left()), afi, safi,
                          addPath(peer, afi, safi), {}, withdrawn_)) {
      return BmpStatus::kBadBgp;
    }
  }
  sink.routes(peer, attrs_, announced_, withdrawn_);
  return BmpStatus::kOk;
}

std::string formatRd(uint64_t rd) {
  if (rd == 0) return "0";
  uint16_t type = uint16_t(rd >> 48);
  switch (type) {
    case 0: return fmt::format("{}:{}", (rd >> 32) & 0xffff, rd & 0xffffffff);
    case 1:
      return fmt::format("{}.{}.{}.{}:{}", (rd >> 40) & 0xff, (rd >> 32) & 0xff, (rd >> 24) & 0xff,
                         (rd >> 16) & 0xff, rd & 0xffff);
    case 2: return fmt::format("{}:{}", (rd >> 16) & 0xffffffff, rd & 0xffff);
    default: return fmt::format("{}", rd);
  }
}

std::optional<uint64_t> parseRd(std::string_view text) {
  auto num = [](std::string_view s) -> std::optional<uint64_t> {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
  };
  if (text == "0") return 0;
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto admin = text.substr(0, colon);
  auto assigned = num(text.substr(colon + 1));
  if (!assigned) return std::nullopt;
  if (admin.find('.') != std::string_view::npos) {
    auto ip = IPv6Addr::parse(admin);
    if (!ip || !ip->isV4Mapped() || *assigned > 0xffff) return std::nullopt;
    return uint64_t(1) << 48 | uint64_t(ip->v4()) << 16 | *assigned;
  }
  auto asn = num(admin);
  if (!asn || *asn > 0xffffffff) return std::nullopt;
  if (*asn <= 0xffff && *assigned <= 0xffffffff) return *asn << 32 | *assigned;
  if (*assigned > 0xffff) return std::nullopt;
  return uint64_t(2) << 48 | *asn << 16 | *assigned;
}

}  // namespace akvo::routing
