#pragma once
/// The inlet's UDP inputs: for each configured input, `workers` sockets bound to the same
/// address with SO_REUSEPORT, each read by its own thread with recvmmsg. Datagrams are stamped
/// and sent to the transport; when it is full they are dropped and counted, never waited for.
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/metrics.h"
#include "transport/queue.h"

namespace akvo {

struct UdpInputConfig {
  std::string type = "udp";
  std::string decoder = "netflow";
  std::string listen = "0.0.0.0:2055";
  int64_t workers = 1;
  int64_t receive_buffer = 0;  ///< SO_RCVBUF bytes, 0 = kernel default
  std::string timestamp_source = "input";
  bool use_src_addr_for_exporter_addr = false;
  /// Flows per second and exporter above which the outlet drops flows at random and scales up
  /// the sampling rate of the others (0: the outlet's core.rate-limit). Akvorado 2.x's key.
  int64_t rate_limit = 0;
  /// `none`, `ipip`, `gre`, `vxlan` or `srv6`: the flows' packet headers (sFlow sampled
  /// header, IPFIX dataLinkFrameSection) are opened through this tunnel and the inner packet
  /// fills the flow; flows not so encapsulated are dropped (docs/02-decoders.md).
  std::string decapsulation_protocol = "none";
  void read(ConfigReader& r);
  Decapsulation decapsulation() const;
};

struct InletConfig {
  std::vector<UdpInputConfig> inputs;
  InletConfig();
  void read(ConfigReader& r);
};

class Inlet {
 public:
  Inlet(InletConfig config, FlowTransport& transport, Metrics& metrics);
  ~Inlet();
  /// Binds every socket (throws std::runtime_error naming the input on failure) and starts.
  void start();
  void stop();
  /// The port actually bound by input i (useful with port 0).
  uint16_t boundPort(size_t input) const { return bound_ports_.at(input); }

 private:
  struct Socket;
  void receive(Socket& s, std::stop_token st);
  InletConfig config_;
  FlowTransport& transport_;
  Metrics& metrics_;
  std::vector<std::unique_ptr<Socket>> sockets_;
  std::vector<uint16_t> bound_ports_;
  std::vector<std::jthread> threads_;
};

/// Parses "host:port", "[v6]:port" or ":port" into a sockaddr; throws std::invalid_argument.
struct SockAddr {
  sockaddr_storage ss{};
  socklen_t len = 0;
};
SockAddr parseListen(const std::string& listen);

}  // namespace akvo
