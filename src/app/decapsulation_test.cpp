// An input's decapsulation-protocol from end to end: the configuration file, served by the
// orchestrator to an inlet, the inlet's socket, the Kafka envelope between inlet and outlet,
// and the decoder the outlet runs on each datagram (decoder::inputOf, as Outlet's workers).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "app/app.h"
#include "outlet/decoder/sflow/sflow.h"
#include "testing/packets.h"
#include "transport/kafka_envelope.h"

namespace akvo {
namespace {

/// Keeps what the inlet sends.
class Capture : public FlowTransport {
 public:
  size_t send(std::span<Datagram> batch) override {
    std::lock_guard lock(mutex_);
    for (auto& d : batch) {
      got_.emplace_back();
      got_.back().copyFrom(d);
    }
    return batch.size();
  }
  std::vector<Datagram> take(size_t n) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (got_.size() >= n || std::chrono::steady_clock::now() > deadline)
          return std::move(got_);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

 private:
  std::mutex mutex_;
  std::vector<Datagram> got_;
};

struct Collect : decoder::FlowSink {
  std::vector<FlowRecord> flows;
  void flow(FlowRecord& f) override { flows.push_back(f); }
};

}  // namespace

TEST(Decapsulation, FromTheConfigurationToTheDecoder) {
  using namespace akvo::testing;
  auto path = std::filesystem::temp_directory_path() /
              ("akvo-decap-test-" + std::to_string(getpid()) + ".yaml");
  std::ofstream(path) << "inlet:\n  flow:\n    inputs:\n"
                         "      - {decoder: sflow, listen: '127.0.0.1:0', "
                         "decapsulation-protocol: vxlan}\n";
  AppConfig file = AppConfig::load(path.string());
  std::filesystem::remove(path);
  // Scaled out, the inlet reads what the orchestrator serves it.
  AppConfig served = AppConfig::fromYaml(serviceConfiguration(file, "inlet", "127.0.0.1"),
                                         "orchestrator");
  ASSERT_EQ(served.inlet.inputs.size(), 1u);

  Capture transport;
  Metrics metrics;
  Inlet inlet(served.inlet, transport, metrics);
  inlet.start();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(inlet.boundPort(0));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  // One sample of VXLAN-encapsulated traffic, one of plain traffic.
  auto inner = ethernet(0x020000000002, 0x020000000001, 0x0800,
                        ipv4("192.0.2.1", "198.51.100.1", 6, tcp(443, 51000, 0x10)));
  auto tunnel = ethernet(0xaaaa, 0xbbbb, 0x0800,
                         ipv4("10.0.0.1", "10.0.0.2", 17, udp(49152, 4789, vxlan(100, inner))));
  auto plain = ethernet(0xaaaa, 0xbbbb, 0x0800, ipv4("10.0.0.3", "10.0.0.4", 6, tcp(1, 2, 0)));
  for (const auto& dgram : {sflowDatagram("192.0.2.100", 1, {{sampledHeader(tunnel)}}),
                            sflowDatagram("192.0.2.100", 2, {{sampledHeader(plain)}})})
    ASSERT_EQ(
        sendto(fd, dgram.data(), dgram.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
        ssize_t(dgram.size()));
  close(fd);
  auto got = transport.take(2);
  inlet.stop();
  ASSERT_EQ(got.size(), 2u);

  decoder::SflowDecoder sflow;
  Collect c;
  uint32_t not_encapsulated = 0;
  std::string wire;
  for (auto& d : got) {
    EXPECT_EQ(d.decapsulation, Decapsulation::kVxlan);
    encodeEnvelope(d, wire);
    Datagram back;
    ASSERT_TRUE(decodeEnvelope({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()}, back));
    EXPECT_EQ(back.decapsulation, Decapsulation::kVxlan);
    ASSERT_EQ(sflow.decode(decoder::inputOf(back), c), decoder::Status::kOk);
    not_encapsulated += sflow.stats().not_encapsulated;
  }
  EXPECT_EQ(not_encapsulated, 1u);
  ASSERT_EQ(c.flows.size(), 1u);
  EXPECT_EQ(c.flows[0].src_addr.toString(), "192.0.2.1");
  EXPECT_EQ(c.flows[0].dst_addr.toString(), "198.51.100.1");
  EXPECT_EQ(c.flows[0].dst_port, 51000);
  EXPECT_EQ(c.flows[0].bytes, 40u);
  EXPECT_EQ(c.flows[0].src_mac, 0x020000000001u);
}

}  // namespace akvo
