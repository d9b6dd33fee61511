#pragma once
/// Grace periods for the RIB's lock-free readers (a small RCU). Readers bracket each lookup
/// with enter()/leave(); the single writer unlinks an object from the shared structure, tags
/// it with phase() and frees it once phase() has advanced twice past the tag, which proves
/// that every reader that could have seen it has left.
///
/// How: readers count themselves in one of two counters (chosen by the phase's parity),
/// spread over padded slots so that threads rarely share a cache line. The writer may advance
/// the phase when the counter of the *other* parity is zero over all slots. Two advances after
/// an unlink have each seen one parity drained, so a reader that entered before the unlink
/// (and counted itself in either parity) has left. A reader that enters after the unlink sees
/// the new structure: the reader's increment and the writer's check are each followed /
/// preceded by a seq_cst fence (the store-buffering pattern), so either the writer sees the
/// reader counted or the reader sees the unlink.
///
/// Readers never wait; the writer never waits either (tryAdvance() fails while an old reader
/// is inside, and the writer tries again later).
#include <array>
#include <atomic>
#include <cstdint>

namespace akvo::routing {

class ReadEpoch {
 public:
  static constexpr unsigned kSlots = 64;

  /// Starts a read-side critical section; returns the token to give to leave().
  unsigned enter() const {
    unsigned parity = unsigned(phase_.load(std::memory_order_relaxed)) & 1;
    auto& s = slots_[mySlot()];
    s.count[parity].fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return parity;
  }
  void leave(unsigned token) const {
    slots_[mySlot()].count[token].fetch_sub(1, std::memory_order_release);
  }

  /// The writer's phase (writer thread only).
  uint64_t phase() const { return phase_.load(std::memory_order_relaxed); }

  /// Advances the phase when no reader is counted in the other parity (writer thread only).
  bool tryAdvance() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint64_t p = phase_.load(std::memory_order_relaxed);
    unsigned other = unsigned(p + 1) & 1;
    for (const auto& s : slots_)
      if (s.count[other].load(std::memory_order_acquire) != 0) return false;
    phase_.store(p + 1, std::memory_order_seq_cst);
    return true;
  }

  /// RAII read section.
  class Guard {
   public:
    explicit Guard(const ReadEpoch& e) : e_(e), token_(e.enter()) {}
    ~Guard() { e_.leave(token_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    const ReadEpoch& e_;
    unsigned token_;
  };

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> count[2] = {0, 0};
  };
  static unsigned mySlot() {
    static std::atomic<unsigned> next{0};
    thread_local const unsigned slot = next.fetch_add(1, std::memory_order_relaxed) % kSlots;
    return slot;
  }
  mutable std::array<Slot, kSlots> slots_{};
  std::atomic<uint64_t> phase_{0};
};

}  // namespace akvo::routing
