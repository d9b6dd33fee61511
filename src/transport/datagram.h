#pragma once
/// A received UDP datagram, undecoded, stamped by the inlet: what travels from inlets to
/// outlets (through the in-process queue, or Kafka when scaled out).
#include <cstdint>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "common/ip.h"

namespace akvo {

enum class DecoderKind : uint8_t { kNetflow = 1, kSflow = 2 };
enum class TimestampSource : uint8_t { kInput = 0, kNetflowPacket = 1, kNetflowFirstSwitched = 2 };
/// The input's `decapsulation-protocol`: which tunnel the flows' packet headers (sFlow sampled
/// header, IPFIX dataLinkFrameSection) are opened through, the inner packet filling the flow.
/// The values are the Kafka envelope's (kafka.proto) and Akvorado's RawFlow ones.
enum class Decapsulation : uint8_t { kNone = 0, kIpIp = 1, kGre = 2, kVxlan = 3, kSrv6 = 4 };
inline constexpr Decapsulation kMaxDecapsulation = Decapsulation::kSrv6;

/// An allocator whose resize() leaves new bytes uninitialized: a receive buffer is written by
/// the kernel, and zeroing 9 KiB per fresh buffer (every queue slot, on the queue's first lap)
/// stalled the inlet under load right after start.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  UninitAllocator() = default;
  template <class U>
  UninitAllocator(const UninitAllocator<U>&) noexcept {}
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;  // default-init: no zeroing for bytes
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

struct Datagram {
  static constexpr size_t kMaxSize = 9216;  ///< larger datagrams are truncated and counted
  /// Capacity reused across datagrams; `size` bytes are valid, the rest is uninitialized.
  std::vector<uint8_t, UninitAllocator<uint8_t>> buffer;
  uint32_t size = 0;
  IPv6Addr exporter;        ///< UDP source address
  uint32_t time_received = 0;  ///< unix seconds
  DecoderKind decoder = DecoderKind::kNetflow;
  TimestampSource timestamp_source = TimestampSource::kInput;
  Decapsulation decapsulation = Decapsulation::kNone;  ///< the input's decapsulation-protocol
  uint16_t input = 0;  ///< index of the inlet input that received it
  bool use_src_addr = false;  ///< sFlow: use the UDP source instead of the agent address
  /// The input's `rate-limit` (flows per second and exporter; 0: the outlet's core.rate-limit).
  uint32_t rate_limit = 0;
  /// The exporter's datagrams are spread over all outlets (Kafka, random partitioning): a gap in
  /// its sequence numbers seen by one outlet is another outlet's share, not a loss.
  bool spread = false;

  /// Copies `from`'s payload into this datagram's buffer, grown in 2 KiB steps to fit, and
  /// everything else: `from` keeps its (full-size) receive buffer.
  void copyFrom(const Datagram& from) {
    if (from.size) {  // an empty datagram may have no buffer at all (memcpy of null)
      if (buffer.size() < from.size) buffer.resize((size_t(from.size) + 2047) & ~size_t(2047));
      std::memcpy(buffer.data(), from.buffer.data(), from.size);
    }
    copyFields(from);
  }

  /// Takes `from`'s payload (the buffers are swapped: `from` keeps a buffer to reuse) and
  /// copies everything else.
  void takeFrom(Datagram& from) {
    buffer.swap(from.buffer);
    copyFields(from);
  }

 private:
  void copyFields(const Datagram& from) {
    size = from.size;
    exporter = from.exporter;
    time_received = from.time_received;
    decoder = from.decoder;
    timestamp_source = from.timestamp_source;
    decapsulation = from.decapsulation;
    input = from.input;
    use_src_addr = from.use_src_addr;
    rate_limit = from.rate_limit;
    spread = from.spread;
  }
};

}  // namespace akvo
