#include "transport/queue.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

namespace akvo {

TEST(DatagramQueue, DropsWhenFullAndKeepsOrder) {
  DatagramQueue q(4);
  std::vector<Datagram> in(6);
  for (size_t i = 0; i < in.size(); i++) {
    in[i].buffer.assign(10, uint8_t(i));
    in[i].size = uint32_t(i + 1);  // the bytes past `size` are not carried
  }
  EXPECT_EQ(q.push(in), 4u);  // two dropped
  EXPECT_EQ(q.depth(), 4u);
  std::vector<Datagram> out(8);
  EXPECT_EQ(q.pop(out, std::chrono::milliseconds(0)), 4u);
  for (size_t i = 0; i < 4; i++) {
    EXPECT_EQ(out[i].size, i + 1);
    ASSERT_GE(out[i].buffer.size(), i + 1);
    EXPECT_EQ(out[i].buffer[i], uint8_t(i));
  }
  EXPECT_EQ(q.depth(), 0u);
}

// A slot's buffer is sized to what it carries: the same slot must carry a small datagram, then
// a larger one, then a small one again, byte for byte; the sender keeps its own buffer.
TEST(DatagramQueue, CopiesPayloadsOfAnySize) {
  DatagramQueue q(1);
  std::vector<Datagram> out(1);
  for (size_t size : {3u, 5000u, 9216u, 1u, 2049u}) {
    std::vector<Datagram> in(1);
    in[0].buffer.resize(Datagram::kMaxSize);
    for (size_t i = 0; i < size; i++) in[0].buffer[i] = uint8_t(i * 7 + size);
    in[0].size = uint32_t(size);
    const uint8_t* sender = in[0].buffer.data();
    ASSERT_EQ(q.push(in), 1u);
    EXPECT_EQ(in[0].buffer.data(), sender);  // copied, not taken
    ASSERT_EQ(q.pop(out, std::chrono::milliseconds(0)), 1u);
    ASSERT_EQ(out[0].size, size);
    ASSERT_GE(out[0].buffer.size(), size);
    for (size_t i = 0; i < size; i++) ASSERT_EQ(out[0].buffer[i], uint8_t(i * 7 + size)) << size << " " << i;
  }
}

// The buffer a worker hands back is the next one filled (still in cache), not the buffer of
// the slot a lap behind: with 1,000 slots, a datagram at a time, the queue's payloads travel in
// the two buffers the worker alternates between, never in a third.
TEST(DatagramQueue, RefillsTheBufferLastHandedBack) {
  DatagramQueue q(1000);
  std::vector<Datagram> in(1), out(1);
  in[0].buffer.assign(100, 0);
  in[0].size = 100;
  std::set<const uint8_t*> seen;
  for (int i = 0; i < 50; i++) {
    in[0].buffer[0] = uint8_t(i);
    ASSERT_EQ(q.push(in), 1u);
    ASSERT_EQ(q.pop(out, std::chrono::milliseconds(0)), 1u);
    ASSERT_EQ(out[0].buffer[0], uint8_t(i));
    seen.insert(out[0].buffer.data());
  }
  EXPECT_EQ(seen.size(), 2u);
}

TEST(DatagramQueue, CloseWakesConsumers) {
  DatagramQueue q(4);
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q.close();
  });
  std::vector<Datagram> out(2);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(q.pop(out, std::chrono::seconds(10)), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_TRUE(q.closed());
  t.join();
}

// Pushes wake only a waiting consumer; one that is waiting must get the datagrams at once,
// including when pushes keep coming while it works.
TEST(DatagramQueue, PushWakesAWaitingConsumer) {
  DatagramQueue q(1024);
  std::atomic<size_t> received{0};
  std::thread consumer([&] {
    std::vector<Datagram> out(16);
    while (received < 1000) {
      size_t n = q.pop(out, std::chrono::seconds(10));
      received += n;
      if (n == 0) break;  // a 10 s wait without data: the wake-up was lost
    }
  });
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; i++) {
    std::vector<Datagram> one(1);
    one[0].buffer.assign(4, 1);
    one[0].size = 4;
    while (q.push(one) == 0) std::this_thread::yield();
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it wait
  }
  consumer.join();
  EXPECT_EQ(received.load(), 1000u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(QueueTransport, SameExporterSameQueue) {
  QueueTransport t(4, 100);
  std::vector<Datagram> in(10);
  for (auto& d : in) d.exporter = *IPv6Addr::parse("192.0.2.7");
  EXPECT_EQ(t.send(in), 10u);
  size_t nonempty = 0;
  for (size_t i = 0; i < 4; i++) nonempty += t.queue(i).depth() > 0;
  EXPECT_EQ(nonempty, 1u);
}

TEST(QueueTransport, ExportersDealtEvenly) {
  // Eight IPv4 exporters (as `akvo replay --exporters 8` sends) over two and over four queues:
  // each queue gets its share, in the order the exporters first appear, and keeps it.
  for (size_t queues : {2u, 4u}) {
    QueueTransport t(queues, 1000);
    std::vector<Datagram> in(8 * 5);
    for (size_t i = 0; i < in.size(); i++)
      in[i].exporter = *IPv6Addr::parse(fmt::format("127.0.1.{}", i % 8 + 1));
    EXPECT_EQ(t.send(in), in.size());
    for (size_t q = 0; q < queues; q++) EXPECT_EQ(t.queue(q).depth(), in.size() / queues) << q;
    for (size_t i = 0; i < 8; i++)
      EXPECT_EQ(t.queueFor(in[i].exporter), i % queues) << "sticky, dealt in turn";
  }
}

TEST(IPv6AddrHash, SpreadsIPv4AddressesOverLowBits) {
  // The low bits pick a queue or a bucket: 256 addresses of one /24 must spread over 4 values.
  size_t counts[4] = {};
  for (int i = 0; i < 256; i++)
    counts[IPv6AddrHash{}(*IPv6Addr::parse(fmt::format("10.0.0.{}", i))) % 4]++;
  for (size_t c : counts) {
    EXPECT_GT(c, 40u);
    EXPECT_LT(c, 90u);
  }
}

}  // namespace akvo
