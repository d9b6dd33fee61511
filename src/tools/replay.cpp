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
#include "outlet/decoder/netflow/netflow.h"
#include "outlet/decoder/sflow/sflow.h"

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

ReplayPlan planReplay(const std::vector<std::string>& pcaps) {
  ReplayPlan plan;
  // Exact flow counts: decode every datagram once, in file order (templates carry over), with
  // akvo's own decoders. A datagram that yields no flow (templates, options) is sent first.
  struct Count : decoder::FlowSink {
    uint32_t n = 0;
    uint64_t packets = 0;
    void flow(FlowRecord& f) override {
      n++;
      packets += f.packets;
    }
  } count;
  decoder::NetflowDecoder netflow;
  decoder::SflowDecoder sflow;
  std::vector<PcapDatagram> all;
  for (const auto& path : pcaps)
    for (auto& d : readPcapUdp(path)) all.push_back(std::move(d));
  // Two passes: the first learns every template (a data set may come before its template in
  // the same capture, as senders loop), the second counts what a collector that has seen the
  // stream before decodes.
  std::vector<uint32_t> first(all.size());
  std::vector<uint64_t> first_packets(all.size());
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < all.size(); i++) {
      auto& d = all[i];
      decoder::Input in{std::span<const uint8_t>(d.payload), d.src, d.time};
      count.n = 0;
      count.packets = 0;
      bool is_sflow = d.payload.size() >= 4 && rd32(d.payload.data()) == 5;
      (is_sflow ? static_cast<decoder::Decoder&>(sflow) : netflow).decode(in, count);
      if (pass == 0) {
        first[i] = count.n;
        first_packets[i] = count.packets;
      }
      if (pass == 1) {
        ReplayPlan::Datagram g{d.payload, count.n, first[i], count.packets, first_packets[i]};
        (g.flows == 0 ? plan.templates : plan.data).push_back(std::move(g));
      }
    }
  }
  return plan;
}

ReplayResult replay(const ReplayOptions& o) {
  ReplayPlan plan = planReplay(o.pcaps);
  const auto& templates = plan.templates;
  const auto& data = plan.data;
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
  // Templates that travel with the data: every exporter sends those datagrams once first.
  for (uint32_t e = 0; e < o.exporters; e++)
    for (const auto& d : data)
      if (d.first_flows < d.flows) {
        send(fds[e], d.payload.data(), d.payload.size(), 0);
        r.warmup_flows += d.first_flows;
        r.warmup_packets += d.first_packets;
      }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // templates first
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(o.seconds);
  constexpr size_t kBatch = 32;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  std::vector<uint32_t> msg_flows(kBatch);
  std::vector<uint64_t> msg_packets(kBatch);
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
      const ReplayPlan::Datagram& d = data[idx % data.size()];
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
      msg_packets[n] = d.packets;
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
        r.packets += msg_packets[size_t(i)];
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
