#pragma once
/// BMP (RFC 7854) and BGP UPDATE (RFC 4271, RFC 4760, RFC 6793, RFC 7911, RFC 8092) decoding.
/// One BmpDecoder per BMP session (TCP connection): it keeps what the session negotiated
/// (initiation seen, ADD-PATH per peer and family). decode() takes one complete BMP message and
/// reports what it carries to a BmpSink. It does not throw; after warm-up it does not allocate
/// (the attribute and NLRI vectors are reused).
#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/flow.h"
#include "common/ip.h"

namespace akvo::routing {

/// Outcome of decoding one BMP message; each value is a counter label.
enum class BmpStatus : uint8_t {
  kOk,
  kTruncated,       ///< a length runs past the end of the message
  kBadVersion,      ///< BMP version is not 3
  kNotInitiated,    ///< a message before the Initiation message (RFC 7854 §4.3)
  kBadBgp,          ///< malformed BGP PDU inside the message
  kUnknownType,     ///< a BMP message type this decoder does not know
  kCount
};
std::string_view bmpStatusName(BmpStatus s);

/// BMP message types (RFC 7854 §4.1).
enum class BmpType : uint8_t {
  kRouteMonitoring = 0,
  kStatisticsReport = 1,
  kPeerDown = 2,
  kPeerUp = 3,
  kInitiation = 4,
  kTermination = 5,
  kRouteMirroring = 6,
};

/// The per-peer header (RFC 7854 §4.2).
struct BmpPeer {
  uint8_t type = 0;   ///< 0 global, 1 RD instance, 2 local instance, 3 Loc-RIB (RFC 9069)
  uint8_t flags = 0;  ///< V (0x80), L (0x40), A (0x20), O (0x10)
  uint64_t distinguisher = 0;
  IPv6Addr address;   ///< IPv4 peers are mapped
  uint32_t asn = 0;
  uint32_t bgp_id = 0;
  bool operator==(const BmpPeer&) const = default;
};

/// One route (NLRI) announced or withdrawn.
struct Nlri {
  IPv6Prefix prefix;   ///< IPv4 prefixes are mapped (length + 96)
  uint64_t rd = 0;     ///< route distinguisher (RFC 4364 §4.2), raw 8 bytes big-endian; 0: none
  uint32_t path_id = 0;  ///< ADD-PATH identifier (RFC 7911), 0 without ADD-PATH
  IPv6Addr next_hop;     ///< for announcements: NEXT_HOP or MP_REACH next hop
};

/// Path attributes of one UPDATE, flattened.
struct PathAttributes {
  std::vector<uint32_t> as_path;  ///< AS_SEQUENCE and AS_SET segments expanded, in order
  std::vector<uint32_t> communities;
  std::vector<LargeCommunity> large_communities;
  /// Route targets (RFC 4360 extended communities of subtype 2, types 0, 1 and 2) in the
  /// encoding of a route distinguisher (type << 48 | value), so that parseRd() reads them.
  std::vector<uint64_t> route_targets;
  void clear() {
    as_path.clear();
    communities.clear();
    large_communities.clear();
    route_targets.clear();
  }
};

/// Receives what the decoder finds. Spans and references are valid during the call only.
class BmpSink {
 public:
  virtual ~BmpSink() = default;
  virtual void initiation(std::string_view /*sys_name*/, std::string_view /*sys_descr*/) {}
  virtual void peerUp(const BmpPeer&) {}
  virtual void peerDown(const BmpPeer&) {}
  /// A Route Monitoring message: routes announced (with `attrs`) and withdrawn.
  virtual void routes(const BmpPeer&, const PathAttributes& /*attrs*/,
                      std::span<const Nlri> /*announced*/, std::span<const Nlri> /*withdrawn*/) {}
  virtual void statistics(const BmpPeer&) {}
  virtual void termination() {}
};

class BmpDecoder {
 public:
  /// Length of the BMP message starting at `data` (from its common header), or 0 when fewer
  /// than 6 bytes are available. Used to frame the TCP stream.
  static uint32_t messageLength(std::span<const uint8_t> data);
  /// Size of the common header (RFC 7854 §4.1).
  static constexpr size_t kHeaderSize = 6;

  /// Decodes one complete BMP message (common header included).
  BmpStatus decode(std::span<const uint8_t> message, BmpSink& sink);

  /// NLRI of address families this decoder skips (RT-3: counted, not an error).
  uint64_t ignoredNlri() const { return ignored_nlri_; }
  /// Route Mirroring messages (ignored).
  uint64_t mirroring() const { return mirroring_; }
  bool initiated() const { return initiated_; }

 private:
  BmpStatus decodeUpdate(const BmpPeer& peer, std::span<const uint8_t> bgp, BmpSink& sink);
  bool addPath(const BmpPeer& peer, uint16_t afi, uint8_t safi) const;
  bool parseNlri(std::span<const uint8_t> p, uint16_t afi, uint8_t safi, bool add_path,
                 const IPv6Addr& next_hop, std::vector<Nlri>& out);
  bool parseNlriAs(std::span<const uint8_t> p, uint16_t afi, uint8_t safi, bool add_path,
                   const IPv6Addr& next_hop, std::vector<Nlri>& out);

  bool initiated_ = false;
  uint64_t ignored_nlri_ = 0;
  uint64_t mirroring_ = 0;
  /// ADD-PATH receive in effect, per (peer address, distinguisher, afi, safi), learned from
  /// the OPEN messages of Peer Up (RFC 7911 §4: we receive paths when the monitored router
  /// said it can receive and the peer said it can send).
  std::set<std::tuple<IPv6Addr, uint64_t, uint16_t, uint8_t>> add_path_;
  PathAttributes attrs_;
  std::vector<Nlri> announced_, withdrawn_;
};

/// Route distinguisher text form (RFC 4364 §4.2): "65017:100", "192.0.2.1:100", "0".
std::string formatRd(uint64_t rd);
/// Parses what formatRd() prints; "65017:100" picks type 0 when the ASN fits 16 bits.
std::optional<uint64_t> parseRd(std::string_view text);

}  // namespace akvo::routing
