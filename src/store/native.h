#pragma once
/// Columnar flow batch in ClickHouse's Native format. The outlet appends flow records; the
/// batch keeps one buffer per column in its wire form, so encoding is a concatenation. Buffers
/// and LowCardinality dictionaries keep their capacity across clear(): after the first batches,
/// appending allocates nothing.
#include <array>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/flow.h"
#include "common/schema.h"

namespace akvo {

/// A dictionary of byte strings for a LowCardinality column: value -> index, index 0 is the
/// empty/zero value. Open addressing on a power-of-two table.
class LowCardinalityDict {
 public:
  explicit LowCardinalityDict(size_t fixed_width = 0);  ///< 0 for String, 16 for IPv6.
  uint32_t index(std::string_view value);
  const char* data(uint32_t i) const { return arena_.data() + offsets_[i]; }
  std::string_view at(uint32_t i) const {
    uint32_t start = offsets_[i];
    uint32_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : uint32_t(arena_.size());
    return std::string_view(arena_).substr(start, end - start);
  }
  size_t size() const { return offsets_.size(); }
  /// Appends the dictionary keys in Native form (strings: varint length + bytes).
  void encodeKeys(std::string& out) const;
  void clear();

 private:
  void grow();
  size_t fixed_width_;
  std::string arena_;
  std::vector<uint32_t> offsets_;  ///< start of each value in arena_ (value i ends at i+1).
  std::vector<uint32_t> table_;    ///< index+1, 0 = empty slot.
};

class NativeBatch {
 public:
  /// The batch carries the schema's inserted columns in registry order.
  explicit NativeBatch(const Schema& schema);
  ~NativeBatch();
  NativeBatch(NativeBatch&&) noexcept;
  NativeBatch& operator=(NativeBatch&&) noexcept;

  void append(const FlowRecord& flow);
  size_t rows() const { return rows_; }
  /// Writes the whole batch as one Native block into out (replacing its content). It maps the
  /// LowCardinality(String) columns to their dictionaries in place, first: rows cannot be
  /// appended after it until clear(); encoding again gives the same block.
  void encode(std::string& out);
  void clear();
  /// Comma-separated list of the columns, for the INSERT statement.
  const std::string& columnList() const { return column_list_; }

  struct Column;
  /// Where append() writes one column: its fixed-width buffer and the field's offset.
  struct Slot {
    char* base;
    uint32_t offset;
    Column* column;
  };

 private:
  void grow();
  void mapLowCardinality();
  void appendElements(Column& c, const FlowRecord& f, unsigned n);
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> block_;  ///< every column's fixed-width part
  std::array<std::vector<Slot>, 5> copy_;  ///< plain copies of 1, 2, 4, 8 and 16 bytes
  std::vector<Slot> lc_ips_, arrays_;
  std::vector<Column> columns_;
  std::string column_list_;
  size_t rows_ = 0;
  bool lc_mapped_ = false;  ///< LowCardinality(String) rows hold indexes, not interned ids
  size_t capacity_ = 0;  ///< rows every column's fixed-width part has room for.
};

/// Varint as ClickHouse writes it (LEB128).
void writeVarUInt(std::string& out, uint64_t v);
void writeStringBinary(std::string& out, std::string_view s);

}  // namespace akvo
