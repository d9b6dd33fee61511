#include "inlet/udp.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "common/thread.h"

namespace akvo {

void UdpInputConfig::read(ConfigReader& r) {
  r.choice("type", type, {"udp"});
  r.choice("decoder", decoder, {"netflow", "sflow"});
  if (!r.has("listen")) listen = decoder == "sflow" ? "0.0.0.0:6343" : "0.0.0.0:2055";
  r.field("listen", listen);
  try {
    parseListen(listen);
  } catch (const std::exception& e) {
    r.fail("listen", e.what());
  }
  r.field("workers", workers, 1, 256);
  r.field("receive-buffer", receive_buffer, 0, INT32_MAX);  // an int for setsockopt
  r.choice("timestamp-source", timestamp_source,
           {"input", "udp", "netflow-packet", "netflow-first-switched"});
  r.field("use-src-addr-for-exporter-addr", use_src_addr_for_exporter_addr);
  r.field("rate-limit", rate_limit, 0, int64_t(UINT32_MAX));
  r.choice("decapsulation-protocol", decapsulation_protocol,
           {"none", "ipip", "gre", "vxlan", "srv6"});
}

Decapsulation UdpInputConfig::decapsulation() const {
  if (decapsulation_protocol == "ipip") return Decapsulation::kIpIp;
  if (decapsulation_protocol == "gre") return Decapsulation::kGre;
  if (decapsulation_protocol == "vxlan") return Decapsulation::kVxlan;
  if (decapsulation_protocol == "srv6") return Decapsulation::kSrv6;
  return Decapsulation::kNone;
}

InletConfig::InletConfig() {
  inputs.resize(2);
  inputs[1].decoder = "sflow";
  inputs[1].listen = "0.0.0.0:6343";
}

void InletConfig::read(ConfigReader& r) {
  r.section("flow", [&](ConfigReader& f) {
    bool given = f.has("inputs");
    std::vector<UdpInputConfig> out;
    f.list(
        "inputs",
        [&](ConfigReader& s, size_t i) {
          UdpInputConfig c = given ? UdpInputConfig{} : inputs[i];
          c.read(s);
          out.push_back(c);
        },
        inputs.size());
    // Two inputs on one address would split its datagrams between them (SO_REUSEPORT is
    // for the workers of one input).
    for (size_t i = 0; i < out.size(); i++)
      for (size_t j = 0; j < i; j++)
        if (out[i].listen == out[j].listen)
          f.fail("inputs", fmt::format("inputs {} and {} both listen on {}", j, i, out[i].listen));
    inputs = out;
  });
}

SockAddr parseListen(const std::string& listen) {
  SockAddr a;
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected host:port");
  std::string host = listen.substr(0, colon), port_s = listen.substr(colon + 1);
  int port;
  try {
    size_t used;
    port = std::stoi(port_s, &used);
    if (used != port_s.size() || port < 0 || port > 65535) throw std::exception();
  } catch (...) {
    throw std::invalid_argument(fmt::format("bad port \"{}\"", port_s));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "::";
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    a.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(uint16_t(port));
    a.len = sizeof(sockaddr_in6);
  } else if (host == "localhost") {
    inet_pton(AF_INET, "127.0.0.1", &v4->sin_addr);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(uint16_t(port));
    a.len = sizeof(sockaddr_in);
  } else {
    throw std::invalid_argument(fmt::format("bad address \"{}\" (use an IP address)", host));
  }
  return a;
}

struct Inlet::Socket {
  int fd = -1;
  size_t input = 0;
  DecoderKind decoder;
  TimestampSource ts;
  Decapsulation decap;
  bool use_src_addr;
  uint32_t rate_limit;
  Counter* packets;
  Counter* bytes;
  Counter* dropped;
  Counter* truncated;
  Counter* kernel_drops;
  ~Socket() {
    if (fd >= 0) close(fd);
  }
};

Inlet::Inlet(InletConfig config, FlowTransport& transport, Metrics& metrics)
    : config_(std::move(config)), transport_(transport), metrics_(metrics) {}

Inlet::~Inlet() { stop(); }

void Inlet::start() {
  for (size_t i = 0; i < config_.inputs.size(); i++) {
    const auto& in = config_.inputs[i];
    SockAddr addr = parseListen(in.listen);
    uint16_t port = 0;
    Labels labels = {{"listener", in.listen}, {"decoder", in.decoder}};
    for (int64_t w = 0; w < in.workers; w++) {
      auto s = std::make_unique<Socket>();
      s->input = i;
      s->decoder = in.decoder == "sflow" ? DecoderKind::kSflow : DecoderKind::kNetflow;
      s->ts = in.timestamp_source == "netflow-packet"           ? TimestampSource::kNetflowPacket
              : in.timestamp_source == "netflow-first-switched" ? TimestampSource::kNetflowFirstSwitched
                                                                : TimestampSource::kInput;
      s->decap = in.decapsulation();
      s->use_src_addr = in.use_src_addr_for_exporter_addr;
      s->rate_limit = uint32_t(in.rate_limit);
      s->fd = socket(addr.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (s->fd < 0) throw std::runtime_error(fmt::format("input {}: socket: {}", in.listen, strerror(errno)));
      int one = 1;
      setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      if (addr.ss.ss_family == AF_INET6) {
        int zero = 0;
        setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
      }
      if (in.receive_buffer > 0) {
        int size = int(in.receive_buffer);
        // SO_RCVBUFFORCE passes the rmem_max cap when we may; else the capped SO_RCVBUF.
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
          setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
        int got = 0;
        socklen_t gl = sizeof got;
        getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
        if (got / 2 < size)
          spdlog::warn("input {}: receive buffer is {} bytes, {} asked (raise net.core.rmem_max)",
                       in.listen, got / 2, size);
      }
      SockAddr bind_addr = addr;
      if (port != 0) {
        // Later workers bind the port the first one got (listen port 0).
        if (bind_addr.ss.ss_family == AF_INET)
          reinterpret_cast<sockaddr_in*>(&bind_addr.ss)->sin_port = htons(port);
        else
          reinterpret_cast<sockaddr_in6*>(&bind_addr.ss)->sin6_port = htons(port);
      }
      if (bind(s->fd, reinterpret_cast<sockaddr*>(&bind_addr.ss), bind_addr.len) != 0)
        throw std::runtime_error(fmt::format("input {}: cannot bind: {}", in.listen, strerror(errno)));
      sockaddr_storage got{};
      socklen_t gl = sizeof got;
      getsockname(s->fd, reinterpret_cast<sockaddr*>(&got), &gl);
      port = ntohs(got.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&got)->sin_port
                                            : reinterpret_cast<sockaddr_in6*>(&got)->sin6_port);
      s->packets = &metrics_.counter("akvo_inlet_flow_input_udp_packets_total", "Datagrams received.", labels);
      s->bytes = &metrics_.counter("akvo_inlet_flow_input_udp_bytes_total", "Bytes received.", labels);
      s->dropped = &metrics_.counter("akvo_inlet_flow_input_udp_dropped_packets_total",
                                     "Datagrams dropped because the transport was full.", labels);
      s->truncated = &metrics_.counter("akvo_inlet_flow_input_udp_truncated_packets_total",
                                       "Datagrams larger than the receive buffer, dropped.", labels);
      s->kernel_drops = &metrics_.counter("akvo_inlet_flow_input_udp_in_dropped_packets_total",
                                          "Datagrams dropped by the kernel (socket buffer full).", labels);
      sockets_.push_back(std::move(s));
    }
    bound_ports_.push_back(port);
    // The buffer the kernel gave (it halves what it reports), whether asked for or its default.
    int rcvbuf = 0;
    socklen_t rl = sizeof rcvbuf;
    getsockopt(sockets_.back()->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &rl);
    metrics_.gauge("akvo_inlet_flow_input_udp_buffer_size_bytes",
                   "Receive buffer of each socket of the input, as the kernel set it.", labels,
                   [size = double(rcvbuf / 2)] { return size; });
    spdlog::info("input {} ({}) listening on port {} with {} worker(s)", in.listen, in.decoder, port,
                 in.workers);
  }
  for (auto& s : sockets_) {
    Socket* sp = s.get();
    threads_.emplace_back([this, sp](std::stop_token st) {
      setupThread("akvo-inlet");
      receive(*sp, st);
    });
  }
}

void Inlet::stop() {
  for (auto& t : threads_) t.request_stop();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
  sockets_.clear();
}

void Inlet::receive(Socket& s, std::stop_token st) {
  constexpr size_t kBatch = 64;
  std::array<Datagram, kBatch> dgrams;
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iovs{};
  std::array<sockaddr_storage, kBatch> addrs{};
  // The kernel's drops on this socket are read with SO_MEMINFO every few reads and when it
  // runs dry, not with SO_RXQ_OVFL: that one adds a control message to every datagram, 5 % of
  // the front end's CPU at 600k datagrams/s.
  uint32_t last_drops = 0;
  unsigned reads = 0;
  auto readDrops = [&] {
    uint32_t mem[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof mem;
    if (getsockopt(s.fd, SOL_SOCKET, SO_MEMINFO, mem, &len) != 0 || len <= SK_MEMINFO_DROPS * 4)
      return;
    uint32_t drops = mem[SK_MEMINFO_DROPS];
    if (drops != last_drops) s.kernel_drops->inc(drops - last_drops);  // wraps with the kernel's
    last_drops = drops;
  };
  readDrops();  // last_drops starts at 0: drops before this thread started count too
  // Reads without waiting while datagrams come; waits in poll() only when the socket is empty.
  // After a partial batch it pauses briefly so that the next read takes a batch: waking for
  // every few datagrams cost more in context switches (a fifth of the front end's CPU at 300k
  // datagrams/s) than the reads. The pause is a fraction of what the receive buffer holds:
  // 300 us with a buffer of 2 MiB or more (at 450k NetFlow v9 datagrams/s, the front end took
  // 86 % of a core instead of 89 % with 100 us, and 72 % instead of 79 % with one worker of
  // each kind), 100 us with the kernel's default (212,992 bytes, about 170 small datagrams).
  int rcvbuf = 0;
  socklen_t rcvlen = sizeof rcvbuf;
  getsockopt(s.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &rcvlen);
  const auto pause = std::chrono::microseconds(rcvbuf >= (2 << 20) ? 300 : 100);
  bool wait = true;
  while (!st.stop_requested()) {
    if (wait) {
      pollfd pfd{s.fd, POLLIN, 0};
      int pr = poll(&pfd, 1, 100);
      if (pr <= 0) continue;
    }
    for (size_t i = 0; i < kBatch; i++) {
      auto& b = dgrams[i].buffer;
      if (b.size() < Datagram::kMaxSize) b.resize(Datagram::kMaxSize);  // after a swap
      iovs[i] = {b.data(), b.size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(s.fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    wait = n <= 0;
    if (n < int(kBatch) || ++reads % 16 == 0) readDrops();
    if (n <= 0) continue;
    uint32_t now = uint32_t(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
    size_t kept = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
      const auto& h = msgs[i].msg_hdr;
      if (h.msg_flags & MSG_TRUNC) {
        s.truncated->inc();
        continue;
      }
      Datagram& d = dgrams[kept];
      if (size_t(kept) != size_t(i)) d.buffer.swap(dgrams[i].buffer);
      d.size = msgs[i].msg_len;
      bytes += d.size;
      const auto& a = addrs[i];
      if (a.ss_family == AF_INET) {
        d.exporter = IPv6Addr::fromV4Bytes(
            reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&a)->sin_addr));
      } else {
        d.exporter = IPv6Addr::fromV6Bytes(reinterpret_cast<const uint8_t*>(
            &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr));
      }
      d.time_received = now;
      d.decoder = s.decoder;
      d.timestamp_source = s.ts;
      d.decapsulation = s.decap;
      d.input = uint16_t(s.input);
      d.use_src_addr = s.use_src_addr;
      d.rate_limit = s.rate_limit;
      kept++;
    }
    s.packets->inc(kept);
    s.bytes->inc(bytes);
    size_t accepted = transport_.send(std::span<Datagram>(dgrams.data(), kept));
    if (accepted < kept) s.dropped->inc(kept - accepted);
    if (size_t(n) < kBatch / 2) std::this_thread::sleep_for(pause);
  }
}

}  // namespace akvo
