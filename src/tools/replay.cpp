#include "tools/replay.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "common/pcap_reader.h"
#include "inlet/udp.h"

namespace akvo::tools {
namespace {

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
void wr32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24);
  p[1] = uint8_t(v >> 16);
  p[2] = uint8_t(v >> 8);
  p[3] = uint8_t(v);
}

}  // namespace

uint32_t countFlows(const uint8_t* p, size_t len, bool* template_only) {
  *template_only = false;
  if (len < 4) return 0;
  uint16_t version = rd16(p);
  if (version == 5) return rd16(p + 2);
  if (rd32(p) == 5 && len >= 28) {  // sFlow v5: samples count at a header-dependent offset
    uint32_t addr_type = rd32(p + 4);
    size_t off = addr_type == 2 ? 8 + 16 : 8 + 4;
    if (len < off + 16) return 0;
    uint32_t samples = rd32(p + off + 12);
    // Count flow samples (1, 3), not counter samples.
    uint32_t flows = 0;
    size_t s = off + 16;
    for (uint32_t i = 0; i < samples && s + 8 <= len; i++) {
      uint32_t fmt = rd32(p + s) & 0xfff, slen = rd32(p + s + 4);
      if (fmt == 1 || fmt == 3) flows++;
      s += 8 + slen;
    }
    return flows;
  }
  if (version != 9 && version != 10) return 0;
  // Walk the sets/flowsets: templates (v9: 0, 1; IPFIX: 2, 3) carry no flow. Data sets: count
  // records only approximately (set length / record length is unknown without the template),
  // so count data sets' records using the v9 header count minus template records.
  size_t off = version == 9 ? 20 : 16;
  bool any_data = false;
  uint32_t data_bytes = 0;
  while (off + 4 <= len) {
    uint16_t id = rd16(p + off), slen = rd16(p + off + 2);
    if (slen < 4) break;
    if (id >= 256) {
      any_data = true;
      data_bytes += slen - 4u;
    }
    off += slen;
  }
  *template_only = !any_data;
  if (!any_data) return 0;
  if (version == 9) {
    // v9 header count = templates + records: good enough for rate pacing.
    return rd16(p + 2);
  }
  return std::max<uint32_t>(1, data_bytes / 40);  // IPFIX: ~40-byte records, for pacing only
}

ReplayResult replay(const ReplayOptions& o) {
  struct Dgram {
    std::vector<uint8_t> payload;
    uint32_t flows;
    bool template_only;
  };
  std::vector<Dgram> templates, data;
  for (const auto& path : o.pcaps) {
    for (auto& d : readPcapUdp(path)) {
      Dgram g{std::move(d.payload), 0, false};
      g.flows = countFlows(g.payload.data(), g.payload.size(), &g.template_only);
      (g.template_only ? templates : data).push_back(std::move(g));
    }
  }
  if (data.empty()) throw std::runtime_error("replay: no data datagram in the captures");
  SockAddr target = parseListen(o.target);
  std::vector<int> fds;
  for (uint32_t e = 0; e < o.exporters; e++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(0x7f000000u | (1u << 8) | ((e / 250) << 16) | (e % 250 + 1));
    if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0)
      throw std::runtime_error(fmt::format("replay: cannot bind source: {}", strerror(errno)));
    int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (connect(fd, reinterpret_cast<sockaddr*>(&target.ss), target.len) != 0)
      throw std::runtime_error(fmt::format("replay: cannot reach {}: {}", o.target, strerror(errno)));
    fds.push_back(fd);
  }
  ReplayResult r;
  // Per-exporter copies so that sequence numbers can be rewritten in place.
  std::vector<std::vector<std::vector<uint8_t>>> bufs(o.exporters);
  std::vector<uint32_t> seq(o.exporters, 1);
  for (uint32_t e = 0; e < o.exporters; e++) {
    for (auto& t : templates) {
      send(fds[e], t.payload.data(), t.payload.size(), 0);
      r.datagrams++;
    }
    // At least one batch of distinct buffers: each is rewritten before it is sent.
    while (bufs[e].size() < 64)
      for (auto& d : data) bufs[e].push_back(d.payload);
  }
  const size_t ring = bufs[0].size();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // templates first
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(o.seconds);
  constexpr size_t kBatch = 32;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  std::vector<uint32_t> msg_flows(kBatch);
  size_t next = 0;
  uint32_t e = 0;
  auto last_template = start;
  while (std::chrono::steady_clock::now() < deadline && (o.max_flows == 0 || r.flows < o.max_flows)) {
    // One batch to one exporter, then the next exporter.
    size_t n = 0;
    uint64_t batch_flows = 0;
    for (; n < kBatch; n++) {
      size_t idx = next % ring;
      auto& b = bufs[e][idx];
      const Dgram& d = data[idx % data.size()];
      next++;
      uint16_t version = rd16(b.data());
      // Rewrite sequence numbers: v5 counts flows, v9 datagrams, IPFIX data records,
      // sFlow datagrams.
      if (version == 5 && b.size() >= 24) {
        wr32(b.data() + 16, seq[e]);
        seq[e] += d.flows;
      } else if (version == 9 && b.size() >= 20) {
        wr32(b.data() + 12, seq[e]++);
      } else if (version == 10 && b.size() >= 16) {
        wr32(b.data() + 8, seq[e]);
        seq[e] += d.flows;
      } else if (rd32(b.data()) == 5 && b.size() >= 28) {
        size_t off = rd32(b.data() + 4) == 2 ? 8 + 16 + 4 : 8 + 4 + 4;
        wr32(b.data() + off, seq[e]++);
      }
      iov[n] = {b.data(), b.size()};
      msgs[n].msg_hdr = {};
      msgs[n].msg_hdr.msg_iov = &iov[n];
      msgs[n].msg_hdr.msg_iovlen = 1;
      batch_flows += d.flows;
      msg_flows[n] = d.flows;
      if (o.max_flows && r.flows + batch_flows >= o.max_flows) {
        n++;
        break;
      }
    }
    int sent = sendmmsg(fds[e], msgs.data(), unsigned(n), 0);
    if (sent < 0) {
      r.errors += n;
    } else {
      r.datagrams += unsigned(sent);
      r.errors += n - unsigned(sent);
      for (int i = 0; i < sent; i++) {
        r.flows += msg_flows[size_t(i)];
        r.bytes += iov[size_t(i)].iov_len;
      }
    }
    e = (e + 1) % o.exporters;
    auto now = std::chrono::steady_clock::now();
    // Templates again every 10 s, as exporters do.
    if (now - last_template > std::chrono::seconds(10)) {
      for (uint32_t x = 0; x < o.exporters; x++)
        for (auto& t : templates) send(fds[x], t.payload.data(), t.payload.size(), 0);
      last_template = now;
    }
    if (o.flows_per_second > 0) {
      auto due = start + std::chrono::duration<double>(double(r.flows) / o.flows_per_second);
      if (due > now) std::this_thread::sleep_until(due);
    }
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int fd : fds) close(fd);
  return r;
}

}  // namespace akvo::tools
