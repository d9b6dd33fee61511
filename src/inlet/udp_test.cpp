#include "inlet/udp.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace akvo {
namespace {

/// A transport that holds the inlet in send() until released: the socket's buffer then fills
/// and the kernel drops, as it does when the inlet falls behind.
class GateTransport : public FlowTransport {
 public:
  size_t send(std::span<Datagram> batch) override {
    std::unique_lock lock(mutex_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    received_ += batch.size();
    return batch.size();
  }
  void waitEntered() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    cv_.notify_all();
  }
  size_t received() {
    std::lock_guard lock(mutex_);
    return received_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
  size_t received_ = 0;
};

TEST(Inlet, CountsTheKernelsDrops) {
  InletConfig cfg;
  cfg.inputs.resize(1);
  cfg.inputs[0].listen = "127.0.0.1:0";
  cfg.inputs[0].receive_buffer = 65536;
  GateTransport transport;
  Metrics metrics;
  Inlet inlet(cfg, transport, metrics);
  inlet.start();

  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(inlet.boundPort(0));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  std::vector<uint8_t> payload(1000, 0x55);
  auto sendOne = [&] {
    return sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  };
  ASSERT_EQ(sendOne(), ssize_t(payload.size()));
  transport.waitEntered();  // the reader is stuck: what follows piles up in the socket
  constexpr size_t kSent = 2000;
  for (size_t i = 1; i < kSent; i++) ASSERT_EQ(sendOne(), ssize_t(payload.size()));
  close(fd);
  transport.open();

  const std::string name = "akvo_inlet_flow_input_udp_in_dropped_packets_total";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (transport.received() + metrics.sum(name) < kSent &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  inlet.stop();
  // The buffer the kernel set: the 64 KiB asked (root passes rmem_max), or the cap below it.
  const std::string text = metrics.render();
  auto at = text.find("akvo_inlet_flow_input_udp_buffer_size_bytes{");
  ASSERT_NE(at, std::string::npos) << text;
  double size = std::stod(text.substr(text.find("} ", at) + 2));
  EXPECT_GT(size, 1000);
  EXPECT_LE(size, 65536);
  EXPECT_GT(metrics.sum(name), 0u) << "a 64 KiB buffer cannot hold 2000 datagrams of 1000 bytes";
  EXPECT_EQ(transport.received() + metrics.sum(name), kSent) << "each datagram received or counted";
}

}  // namespace
}  // namespace akvo
