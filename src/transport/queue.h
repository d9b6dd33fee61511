#pragma once
/// The embedded transport: bounded queues of datagrams between inlet and outlet, one per outlet
/// worker (the inlet picks the queue by exporter so that one worker sees all of an exporter's
/// datagrams and owns its templates); one consumer (worker) per queue. Datagrams are copied
/// into slot buffers that are kept and reused: in steady state nothing is allocated. A full
/// queue drops: the inlet never blocks on the outlet.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "transport/datagram.h"

namespace akvo {

/// Where an outlet worker takes datagrams from: an embedded queue or Kafka partitions.
class DatagramSource {
 public:
  virtual ~DatagramSource() = default;
  /// Moves up to out.size() datagrams out, waiting up to `wait` for the first.
  virtual size_t pop(std::span<Datagram> out, std::chrono::milliseconds wait) = 0;
  /// True once closed and drained: the worker flushes and ends.
  virtual bool finished() const = 0;
  /// Called when the worker hands its batch to the writer: returns what to run once that batch
  /// is stored (Kafka: commit the offsets of the datagrams popped since the last checkpoint).
  virtual std::function<void()> checkpoint() { return {}; }
};

/// The sources of the outlet workers, one per worker.
class OutletTransport {
 public:
  virtual ~OutletTransport() = default;
  virtual size_t size() const = 0;
  virtual DatagramSource& source(size_t i) = 0;
  /// Stops the sources (each drains what it holds, then finishes).
  virtual void close() = 0;
};

class DatagramQueue : public DatagramSource {
 public:
  /// The queue owns one 2 KiB buffer per slot, made here and written once so that its pages
  /// are mapped: the first lap then allocates and faults nothing (done lazily, it fell on the
  /// inlet in the first seconds under load: a fresh collector lost 0.1-0.5 % in the kernel at
  /// 900k IPFIX flows/s in 9 runs of 12; with the buffers ready, 0 in 6). The buffers that no
  /// datagram holds wait on a stack, and the last one freed is the next one filled: the inlet
  /// copies into buffers the outlet has just read, still in cache, not into the slot a lap
  /// behind (cold after 65,536 others: that copy was 9 % of the front end's CPU).
  explicit DatagramQueue(size_t capacity) : slots_(capacity) {
    spare_.resize(capacity);
    for (auto& b : spare_) {
      b.resize(kSlotStep);
      std::memset(b.data(), 0, kSlotStep);
    }
  }
  static constexpr size_t kSlotStep = 2048;  ///< slot buffers grow in steps of this size

  /// Copies datagrams in: a slot's buffer is sized to what it carries (2 KiB steps), not to the
  /// largest datagram, so a queue of small datagrams takes a fraction of the memory. Returns
  /// how many were accepted; the rest (from the first that did not fit) are the caller's to
  /// count as dropped.
  size_t push(std::span<const Datagram> batch) {
    size_t n = 0;
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (closed_) return 0;
      for (auto& d : batch) {
        if (count_ == slots_.size()) break;
        Datagram& s = slots_[(head_ + count_) % slots_.size()];
        if (s.buffer.empty() && !spare_.empty()) {
          s.buffer.swap(spare_.back());
          spare_.pop_back();
        }
        s.copyFrom(d);
        count_++;
        n++;
      }
      wake = n && waiting_ > 0 && count_ >= want_;
    }
    // A busy worker is not waiting: no wake-up call (a futex syscall) for it.
    if (wake) cv_.notify_one();
    return n;
  }

  /// Moves up to out.size() datagrams out, waiting up to `wait` for the first. Returns the
  /// count; 0 with closed() true means the queue is closed and drained.
  size_t pop(std::span<Datagram> out, std::chrono::milliseconds wait) override {
    std::unique_lock lock(mutex_);
    if (count_ < kGather && !closed_ && wait.count() > 0) {
      waiting_++;
      // First give the inlet up to kGatherWait to gather a handful: one wake-up per handful
      // instead of one per push (context switches were a sixth of the front end's CPU at
      // 250 k datagrams/s). Then, if nothing came, wait for the first datagram.
      auto gather = std::min<std::chrono::microseconds>(wait, kGatherWait);
      want_ = kGather;
      cv_.wait_for(lock, gather, [&] { return count_ >= kGather || closed_; });
      if (count_ == 0 && !closed_ && wait > gather) {
        want_ = 1;
        cv_.wait_for(lock, wait - gather, [&] { return count_ > 0 || closed_; });
      }
      waiting_--;
    }
    size_t n = 0;
    while (n < out.size() && count_ > 0) {
      Datagram& s = slots_[head_];
      Datagram& d = out[n++];
      d.takeFrom(s);
      // The worker's previous buffer (it has read it: in cache) goes on top of the stack.
      if (!s.buffer.empty()) spare_.push_back(std::move(s.buffer));
      head_ = (head_ + 1) % slots_.size();
      count_--;
    }
    return n;
  }

  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }
  bool finished() const override {
    std::lock_guard lock(mutex_);
    return closed_ && count_ == 0;
  }
  size_t depth() const {
    std::lock_guard lock(mutex_);
    return count_;
  }
  size_t capacity() const { return slots_.size(); }

 private:
  mutable std::mutex mutex_;  // guards slots_, spare_, head_, count_, closed_, waiting_
  std::condition_variable cv_;
  std::vector<Datagram> slots_;
  std::vector<decltype(Datagram::buffer)> spare_;  // buffers no datagram holds, last freed on top
  size_t head_ = 0, count_ = 0;
  bool closed_ = false;
  size_t waiting_ = 0;  // consumers in pop(), waiting for datagrams
  size_t want_ = 1;     // how many the waiting consumer waits for (one consumer per queue)
  static constexpr size_t kGather = 16;
  static constexpr std::chrono::microseconds kGatherWait{1000};
};

/// Where the inlet sends datagrams: the embedded queues, or Kafka.
class FlowTransport {
 public:
  virtual ~FlowTransport() = default;
  /// Sends a batch; returns how many were accepted (the rest are dropped by the caller).
  virtual size_t send(std::span<Datagram> batch) = 0;
};

/// The embedded transport: routes each datagram to a queue by exporter address. Exporters are
/// dealt to the queues in turn as they first appear, and keep their queue for the life of the
/// process: 8 exporters over 2 workers are 4 and 4, where a hash could give 6 and 2 (or, with
/// a weak hash, once gave all IPv4 exporters to one worker). Past kMaxAssigned exporters (a
/// flood of forged sources), new ones are placed by hash and not remembered.
class QueueTransport : public FlowTransport, public OutletTransport {
 public:
  static constexpr size_t kMaxAssigned = 65536;

  QueueTransport(size_t queues, size_t capacity) {
    for (size_t i = 0; i < queues; i++) queues_.push_back(std::make_unique<DatagramQueue>(capacity));
  }
  size_t send(std::span<Datagram> batch) override {
    // Consecutive datagrams of one queue go in one locked push.
    // One queue lookup per datagram: the one that ends a run starts the next.
    size_t accepted = 0, i = 0;
    size_t q = batch.empty() ? 0 : queueFor(batch[0].exporter);
    while (i < batch.size()) {
      size_t j = i + 1, next = q;
      while (j < batch.size() && (next = queueFor(batch[j].exporter)) == q) j++;
      accepted += queues_[q]->push(batch.subspan(i, j - i));
      i = j;
      q = next;
    }
    return accepted;
  }
  /// The queue of an exporter's datagrams (assigned on first sight, then fixed).
  size_t queueFor(const IPv6Addr& exporter) {
    // Each sending thread remembers recent answers, so the shared table is locked only for an
    // exporter this thread has not seen lately. Entries are tagged with the transport's id.
    struct Memo {
      uint64_t owner = 0;
      IPv6Addr addr;
      uint32_t queue = 0;
    };
    thread_local std::array<Memo, 64> memo;
    size_t h = IPv6AddrHash{}(exporter);
    Memo& m = memo[h % memo.size()];
    if (m.owner == id_ && m.addr == exporter) return m.queue;
    uint32_t q;
    {
      std::lock_guard lock(assign_mutex_);
      auto it = assigned_.find(exporter);
      if (it != assigned_.end()) {
        q = it->second;
      } else if (assigned_.size() < kMaxAssigned) {
        q = uint32_t(assigned_.size() % queues_.size());
        assigned_.emplace(exporter, q);
      } else {
        return h % queues_.size();
      }
    }
    m = Memo{id_, exporter, q};
    return q;
  }
  DatagramQueue& queue(size_t i) { return *queues_[i]; }
  size_t size() const override { return queues_.size(); }
  DatagramSource& source(size_t i) override { return *queues_[i]; }
  void close() override {
    for (auto& q : queues_) q->close();
  }

 private:
  static uint64_t nextId() {
    static std::atomic<uint64_t> ids{0};
    return ++ids;
  }
  std::vector<std::unique_ptr<DatagramQueue>> queues_;
  const uint64_t id_ = nextId();  // never 0, never reused: tags this transport's memo entries
  std::mutex assign_mutex_;       // guards assigned_
  std::unordered_map<IPv6Addr, uint32_t, IPv6AddrHash> assigned_;
};

}  // namespace akvo
