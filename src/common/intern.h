#pragma once
/// Interned strings. Every distinct byte string is stored once for the life of the process and
/// gets a unique id; an `IStr` is a view of it plus that id. The enrichment strings a flow
/// carries (names, descriptions, providers, network attributes, cities) are `IStr`s, so that
/// the batch maps them to its LowCardinality dictionaries by id, without hashing or comparing
/// bytes per flow, and so that they never dangle whatever cache they came from is cleared.
///
/// Interning (constructing an `IStr` from bytes) takes a lock and a hash lookup: it belongs on
/// cache fills and configuration loads, not on the per-flow path, which only copies `IStr`s.
/// The memory is never returned: it grows with the number of distinct strings ever seen
/// (interface descriptions, classifier outputs, GeoIP cities), which is bounded in practice;
/// `internedStrings()`/`internedBytes()` say how far (exported as metrics by the outlet).
#include <atomic>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace akvo {

namespace detail {
struct Interned {
  const char* p;
  uint32_t len;
};
/// The table from id to bytes: chunks of 2^16 entries, allocated as ids grow, never freed.
constexpr unsigned kInternChunkBits = 16;
constexpr size_t kInternChunks = size_t(1) << (32 - kInternChunkBits);
extern std::atomic<const Interned*> g_intern_chunks[kInternChunks];
}  // namespace detail

/// An interned string: 4 bytes, its id. Copying one is copying an integer; reading its bytes is
/// one table lookup.
class IStr {
 public:
  constexpr IStr() = default;
  /// Interns `s` (slow path). Explicit, so that no per-flow assignment interns by accident.
  /// The empty string is the default value, with id 0.
  explicit IStr(std::string_view s);
  explicit IStr(const std::string& s) : IStr(std::string_view(s)) {}
  /// Implicit from literals (tests, constants).
  IStr(const char* s) : IStr(std::string_view(s)) {}

  std::string_view view() const {
    if (!id_) return {};
    const detail::Interned& e =
        detail::g_intern_chunks[id_ >> detail::kInternChunkBits].load(std::memory_order_acquire)
            [id_ & ((1u << detail::kInternChunkBits) - 1)];
    return {e.p, e.len};
  }
  operator std::string_view() const { return view(); }
  std::string str() const { return std::string(view()); }
  const char* data() const { return view().data(); }
  size_t size() const { return view().size(); }
  bool empty() const { return id_ == 0; }
  /// Unique per distinct string (dense, from 1), 0 for the empty one.
  uint32_t id() const { return id_; }

  friend bool operator==(const IStr& a, std::string_view b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const IStr& s);

 private:
  uint32_t id_ = 0;
};

/// How many distinct strings are interned, and their bytes.
uint64_t internedStrings();
uint64_t internedBytes();

}  // namespace akvo

template <>
struct fmt::formatter<akvo::IStr> : fmt::formatter<std::string_view> {
  auto format(const akvo::IStr& s, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(s.view(), ctx);
  }
};
