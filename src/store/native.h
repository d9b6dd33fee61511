#pragma once
/// Columnar flow batch in ClickHouse's Native format. The outlet appends flow records to a
/// chunk that keeps one buffer per column in its wire form; every `chunk_rows` rows the chunk is
/// encoded as one Native block at the end of the batch's output and starts over. The chunk stays
/// in the core's L2 cache (a row writes to 57 column streams: in a 12 MB batch those stores
/// went to memory, 45 % of the outlet's time), and the output is written once, in sequence.
/// The engine squashes the blocks of one INSERT into one part. Buffers and LowCardinality
/// dictionaries keep their capacity across clear(): after the first batches, appending
/// allocates nothing.
#include <array>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <optional>
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

class NativeBatch;

/// The rows of the first consolidated table, built in the outlet: flows grouped by the start of
/// their interval and every consolidated column, with Bytes and Packets summed. That is what the
/// table's materialized view computed inside each INSERT into the raw table, where it made the
/// insert five times slower (`BM_InsertBatch`: 1.05 M rows/s without it, about 200 k with it).
/// Keys are the fields' bytes (interned ids for strings), packed; a group costs its key and two
/// sums. Dst1stAS, Dst2ndAS and Dst3rdAS, generated from DstASPath in the raw table, are
/// computed here the same way (arrayCompact(DstASPath)[n]).
class Consolidator {
 public:
  /// `columns`: the consolidated table's columns (alias ones are skipped; every other one must
  /// have a FlowRecord field, else std::logic_error).
  /// `schema` names the custom dictionary columns (needed when `columns` has any).
  Consolidator(const std::vector<ColumnKey>& columns, uint32_t interval_seconds,
               const Schema* schema = nullptr);
  void add(const FlowRecord& f);
  size_t groups() const { return sums_.size(); }
  /// Appends one row per group to `out`, a batch of the consolidated columns.
  void writeTo(NativeBatch& out) const;
  void clear();

 private:
  struct Field {
    uint32_t offset, width;
    uint32_t key_pos = 0;  ///< where the field is in a group's key
  };
  struct Sums {
    uint64_t bytes, packets;
  };
  /// Words of a key in block mode: the block, then the interval's start and three ASes.
  static constexpr size_t kBlockKeyWords = (kConsolidatedEnd - kConsolidatedBegin) / 8 + 2;
  /// Words of custom dictionary columns a block-mode key can take after the block (8 String
  /// and 4 UInt columns at most).
  static constexpr size_t kMaxExtraWords = 8;
  template <bool kExtras>
  void addBlock(const FlowRecord& f, uint32_t bucket);
  static void compactPath(const FlowRecord& f, uint32_t (&as)[3]);
  void grow();
  bool sameKey(const uint64_t* group_key, size_t words) const;
  std::vector<Field> fields_;  ///< widest first
  size_t width_count_[5] = {};  ///< fields of 16, 8, 4, 2 and 1 bytes
  bool path_ = false;  ///< Dst1stAS.. among the columns
  /// The columns are exactly FlowRecord's consolidated block: the key starts with the block,
  /// copied in one piece, instead of field by field.
  bool block_ = false;
  std::vector<Field> extras_;  ///< block mode: the custom dictionary columns after the block
  size_t extra_words_ = 0;
  uint32_t time_pos_ = 0, path_pos_ = 0;  ///< of the interval's start and Dst1st..3rdAS in a key
  uint32_t interval_;
  uint32_t last_time_ = 0, last_bucket_ = 0;  ///< the interval of the last TimeReceived seen
  uint32_t last_group_ = UINT32_MAX;  ///< block mode: the group of the last flow
  uint32_t memo_tries_ = 0, memo_hits_ = 0;  ///< of the last group's compare, this round
  uint32_t memo_off_ = 0;  ///< flows left before the last group is compared again
  size_t key_size_ = 0;            ///< bytes per key, a multiple of 8
  std::vector<uint64_t> scratch_;  ///< the key being looked up
  std::vector<uint64_t> keys_;     ///< groups' keys, key_size_ bytes each
  std::vector<Sums> sums_;
  std::vector<uint32_t> hashes_;   ///< per group
  std::vector<uint32_t> table_;    ///< group + 1, 0 = empty; a power of two
};

class NativeBatch {
 public:
  /// Rows per Native block: the chunk of the default schema (about 250 bytes a row) takes 1 MiB,
  /// half of a core's L2 cache here.
  static constexpr size_t kChunkRows = 4096;
  /// The batch carries the schema's inserted columns in registry order.
  explicit NativeBatch(const Schema& schema, size_t chunk_rows = kChunkRows);
  /// A batch of these columns (those with a FlowRecord field; others are left out). `schema`
  /// names the custom dictionary columns (unnamed ones are left out without it).
  explicit NativeBatch(const std::vector<ColumnKey>& columns, size_t chunk_rows = kChunkRows,
                       const Schema* schema = nullptr);
  ~NativeBatch();
  NativeBatch(NativeBatch&&) noexcept;
  NativeBatch& operator=(NativeBatch&&) noexcept;

  void append(const FlowRecord& flow) {
    if (consolidated_only_) {
      consolidator_->add(flow);
      skipped_rows_++;
      return;
    }
    if (chunk_rows_ == chunk_capacity_) [[unlikely]]
      nextChunk();
    appendRow(flow);
    // After the row: the consolidator reads the record by words, and the decoder's and the
    // enricher's narrower stores to it, still in flight just before, stalled those loads.
    if (consolidator_) consolidator_->add(flow);
  }
  /// Benchmarks (outlet.clickhouse.discard with a consolidated table): flows are only grouped
  /// into the consolidated rows, as a collector that aggregates in memory does; no per-flow row
  /// is written, encode() gives an empty block, rows() still counts the flows.
  void consolidatedOnly() { consolidated_only_ = consolidator_ != nullptr; }
  /// Also groups the rows for the first consolidated table: its columns and interval.
  void consolidate(const std::vector<ColumnKey>& columns, uint32_t interval_seconds,
                   const Schema* schema = nullptr);
  bool consolidating() const { return consolidator_ != nullptr; }
  /// Rows of the consolidated table (groups) so far.
  size_t consolidatedRows() const { return consolidator_ ? consolidator_->groups() : 0; }
  /// The consolidated rows in Native format (empty when not consolidating). Like encode(): no
  /// more rows until clear(), the same bytes when called again.
  const std::string& encodeConsolidated();
  const std::string& consolidatedColumnList() const;
  size_t rows() const { return sealed_rows_ + chunk_rows_ + skipped_rows_; }
  /// The whole batch in Native format: the blocks of the full chunks and one for the rows since
  /// (one empty block for an empty batch). Rows cannot be appended after it until clear();
  /// calling it again returns the same bytes.
  const std::string& encode();
  void clear();
  /// Native blocks in the output so far (full chunks; all of them after encode()).
  size_t blocks() const { return blocks_; }
  /// The oldest and newest TimeReceived of the rows (0, 0 when empty).
  uint32_t minTime() const { return sealed_rows_ + chunk_rows_ ? min_time_ : 0; }
  uint32_t maxTime() const { return max_time_; }
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
  void nextChunk();
  void seal();
  void resetChunk();
  void resetSlots();
  void activate(size_t group, const char* src, size_t row);
  void appendRow(const FlowRecord& f);
  void mapLowCardinality();
  void appendElements(Column& c, const FlowRecord& f, unsigned n);
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> block_;  ///< every column's fixed-width part
  std::array<std::vector<Slot>, 5> copy_;  ///< plain copies of 1, 2, 4, 8 and 16 bytes
  std::array<std::vector<Slot>, 5> idle_;  ///< the same, for columns still all zero
  std::vector<Slot> lc_ips_, arrays_;
  std::vector<Column> columns_;
  std::string column_list_;
  size_t chunk_rows_ = 0;      ///< rows in the chunk
  size_t chunk_capacity_ = 0;  ///< 0 until the chunk's block is allocated, then chunk_rows
  size_t chunk_size_;          ///< rows per chunk
  size_t sealed_rows_ = 0;     ///< rows already encoded in sealed_
  size_t blocks_ = 0;          ///< blocks in sealed_
  std::string sealed_;         ///< the Native blocks of the full chunks
  std::unique_ptr<Consolidator> consolidator_;
  std::unique_ptr<NativeBatch> consolidated_;  ///< its rows, filled by encodeConsolidated()
  bool consolidated_done_ = false;
  bool consolidated_only_ = false;
  size_t skipped_rows_ = 0;  ///< flows only consolidated (consolidatedOnly())
  bool finished_ = false;      ///< encode() sealed the last chunk
  uint32_t min_time_ = UINT32_MAX, max_time_ = 0;
};

/// Where a column's value is in FlowRecord: its offset and width in bytes (an interned string is
/// its 4-byte IStr, an address 16 bytes); nullopt for columns with none (alias ones, arrays,
/// custom ones).
struct FlowField {
  uint32_t offset, width;
};
std::optional<FlowField> flowField(ColumnKey k);

/// Varint as ClickHouse writes it (LEB128).
void writeVarUInt(std::string& out, uint64_t v);
void writeStringBinary(std::string& out, std::string_view s);

}  // namespace akvo
