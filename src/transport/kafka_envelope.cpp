#include "transport/kafka_envelope.h"

#include <cstring>

namespace akvo {

namespace {

// Wire types (protobuf encoding guide, "Message Structure").
constexpr uint8_t kVarint = 0, kI64 = 1, kLen = 2, kI32 = 5;

void putVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out.push_back(char(v));
}
void putTag(std::string& out, uint32_t field, uint8_t type) { putVarint(out, (field << 3) | type); }

bool getVarint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p == end) return false;
    uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

}  // namespace

void encodeEnvelope(const Datagram& d, std::string& out) {
  out.clear();
  putTag(out, 1, kVarint);
  putVarint(out, d.time_received);
  putTag(out, 2, kLen);
  putVarint(out, d.size);
  out.append(reinterpret_cast<const char*>(d.buffer.data()), d.size);
  putTag(out, 3, kLen);
  putVarint(out, 16);
  out.append(reinterpret_cast<const char*>(d.exporter.bytes.data()), 16);
  if (d.use_src_addr) {
    putTag(out, 4, kVarint);
    putVarint(out, 1);
  }
  putTag(out, 5, kVarint);
  putVarint(out, uint8_t(d.decoder));
  if (d.timestamp_source != TimestampSource::kInput) {
    putTag(out, 6, kVarint);
    putVarint(out, uint8_t(d.timestamp_source));
  }
  if (d.spread) {
    putTag(out, 8, kVarint);
    putVarint(out, 1);
  }
  if (d.input) {
    putTag(out, 7, kVarint);
    putVarint(out, d.input);
  }
  if (d.rate_limit) {
    putTag(out, 9, kVarint);
    putVarint(out, d.rate_limit);
  }
  if (d.decapsulation != Decapsulation::kNone) {
    putTag(out, 10, kVarint);
    putVarint(out, uint8_t(d.decapsulation));
  }
}

bool decodeEnvelope(std::span<const uint8_t> in, Datagram& d) {
  const uint8_t* p = in.data();
  const uint8_t* end = p + in.size();
  d.size = 0;
  d.time_received = 0;
  d.exporter = IPv6Addr{};
  d.use_src_addr = false;
  d.decoder = DecoderKind(0);
  d.timestamp_source = TimestampSource::kInput;
  d.input = 0;
  d.rate_limit = 0;
  d.decapsulation = Decapsulation::kNone;
  d.spread = false;
  bool have_payload = false;
  while (p < end) {
    uint64_t tag, v;
    if (!getVarint(p, end, tag)) return false;
    uint32_t field = uint32_t(tag >> 3);
    uint8_t type = uint8_t(tag & 7);
    if (type == kVarint) {
      if (!getVarint(p, end, v)) return false;
      switch (field) {
        case 1: d.time_received = uint32_t(v); break;
        case 4: d.use_src_addr = v != 0; break;
        case 5: d.decoder = DecoderKind(uint8_t(v)); break;
        case 6: d.timestamp_source = TimestampSource(uint8_t(v)); break;
        case 7: d.input = uint16_t(v); break;
        case 8: d.spread = v != 0; break;
        case 9: d.rate_limit = uint32_t(std::min<uint64_t>(v, UINT32_MAX)); break;
        case 10:
          // A protocol this outlet does not know cannot be opened: refused as malformed, as an
          // unknown decoder is (its flows would otherwise be stored from the outer header).
          if (v > uint8_t(kMaxDecapsulation)) return false;
          d.decapsulation = Decapsulation(uint8_t(v));
          break;
        default: break;
      }
    } else if (type == kLen) {
      if (!getVarint(p, end, v) || v > uint64_t(end - p)) return false;
      if (field == 2) {
        if (v > Datagram::kMaxSize) return false;
        if (d.buffer.size() < v) d.buffer.resize(Datagram::kMaxSize);
        std::memcpy(d.buffer.data(), p, v);
        d.size = uint32_t(v);
        have_payload = true;
      } else if (field == 3) {
        if (v != 16) return false;
        std::memcpy(d.exporter.bytes.data(), p, 16);
      }
      p += v;
    } else if (type == kI64) {
      if (end - p < 8) return false;
      p += 8;
    } else if (type == kI32) {
      if (end - p < 4) return false;
      p += 4;
    } else {
      return false;  // groups (3, 4) are not proto3
    }
  }
  return have_payload && (d.decoder == DecoderKind::kNetflow || d.decoder == DecoderKind::kSflow);
}

}  // namespace akvo
