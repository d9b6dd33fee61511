#pragma once
/// Custom dictionaries (Akvorado's schema.custom-dictionaries, SCH-7), computed in the outlet:
/// each dictionary is a CSV file loaded into an immutable lookup structure (a hash table on the
/// key tuple for the hashed layouts, a prefix tree for ip_trie, the most specific prefix
/// winning); each (dimension, attribute) of the schema is a flow column the enricher fills with
/// the attribute of the entry matching the dimension's keys, or the attribute's default.
///
/// `CustomDictionaries` loads the files at construction, watches them (modification time, as
/// GeoIP) and swaps a new snapshot in when one changes; a file that fails to load keeps the
/// previous snapshot. Each worker applies them with its own `CustomDictionaryApplier`, which
/// takes no lock and allocates nothing per flow.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/flow.h"
#include "common/intern.h"
#include "common/metrics.h"
#include "common/prefix_cache.h"
#include "common/schema.h"
#include "outlet/networks/prefix_tree.h"

namespace akvo {

/// One loaded dictionary: immutable. Row 0 holds the attributes' defaults (what a miss gives);
/// the CSV's entries follow.
class CustomDictionary {
 public:
  /// How each key of the dictionary is matched: the kind of the flow column it is compared to
  /// (customKeyKind(): "ip", "string", "bytes", "uint").
  static constexpr size_t kMaxKeys = 4;
  /// Loads `config.source`. Throws std::runtime_error naming the file and line of a bad entry.
  CustomDictionary(const CustomDictionaryConfig& config, const std::vector<std::string_view>& key_kinds);
  /// Loads from CSV text (tests); `file` names it in errors.
  CustomDictionary(const CustomDictionaryConfig& config, const std::vector<std::string_view>& key_kinds,
                   std::string_view csv, const std::string& file);

  /// Hashed layouts: the row of the entry whose key words (encodeKey()) are `key`, 0 when none.
  uint32_t find(const uint64_t* key) const;
  /// ip_trie: the row of the most specific prefix holding `a`, 0 when none; `uniform_len` gets
  /// the length of a prefix around `a` with the same answer (for a cache).
  uint32_t findPrefix(const IPv6Addr& a, uint8_t* uniform_len) const;
  bool trie() const { return trie_; }
  /// Attribute `attr` (index in the configuration) of `row`.
  IStr string(uint32_t row, size_t attr) const { return strings_[row * attributes_ + attr]; }
  uint64_t uint(uint32_t row, size_t attr) const { return uints_[row * attributes_ + attr]; }
  size_t entries() const { return rows_ - 1; }
  /// Words a key takes (ip: 2, the others: 1 each).
  size_t keyWords() const { return key_words_; }

 private:
  void load(const CustomDictionaryConfig& config, std::string_view csv, const std::string& file);
  void insert(const uint64_t* key, uint32_t row);
  uint64_t hash(const uint64_t* key) const;
  std::vector<std::string_view> kinds_;
  bool trie_ = false;
  size_t key_words_ = 0, attributes_ = 0, rows_ = 0;
  std::vector<IStr> strings_;    // rows_ x attributes_ (String attributes)
  std::vector<uint64_t> uints_;  // rows_ x attributes_ (UInt attributes)
  std::vector<uint64_t> keys_;   // rows_ x key_words_ (row 0 unused)
  std::vector<uint32_t> table_;  // row, 0 = empty; a power of two
  PrefixTree<uint32_t> tree_;    // ip_trie
};

class CustomDictionaries {
 public:
  /// Every dictionary of the schema, in the schema's order.
  using Snapshot = std::vector<std::shared_ptr<const CustomDictionary>>;

  /// Loads every dictionary of `schema` (throws std::runtime_error naming the file and line).
  /// `check_interval`: how often the files are checked for changes (0: never).
  CustomDictionaries(const Schema& schema, Metrics& metrics, Duration check_interval = Duration(1000));
  ~CustomDictionaries();
  void start();
  void stop();
  std::shared_ptr<const Snapshot> snapshot() const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  const Schema& schema() const { return schema_; }
  /// Re-reads the files that changed since the last load (what the watcher does); true when a
  /// new snapshot was installed.
  bool reloadChanged();

 private:
  std::vector<int64_t> mtimes() const;
  const Schema& schema_;
  Metrics& metrics_;
  Duration check_interval_;
  std::vector<std::vector<std::string_view>> kinds_;  // per dictionary, per key
  mutable std::mutex mutex_;  // guards current_
  std::shared_ptr<const Snapshot> current_;
  std::atomic<uint64_t> generation_{1};
  std::vector<int64_t> mtimes_;  // of the files loaded (watcher thread only, after start)
  std::jthread watcher_;
};

/// One worker's view: fills a flow's custom columns. Not thread-safe (one per worker).
class CustomDictionaryApplier {
 public:
  explicit CustomDictionaryApplier(const CustomDictionaries& dictionaries);
  /// Sets every custom column of `f` (the matched attribute or the default). No allocation.
  void apply(FlowRecord& f);

 private:
  struct KeyPart {
    uint32_t offset;   // of the flow column in FlowRecord
    uint8_t kind;      // 0 ip, 1 string, 2 bytes (2), 3..6 uint of 1, 2, 4, 8 bytes
  };
  struct Output {
    uint32_t attribute;
    int32_t string_slot = -1, uint_slot = -1;
  };
  /// One lookup: a dictionary and one dimension's keys; the attributes it fills.
  struct Lookup {
    size_t dictionary;
    std::string dimension;
    std::vector<KeyPart> keys;
    std::vector<Output> outputs;
  };
  const CustomDictionaries& dictionaries_;
  std::vector<Lookup> lookups_;
  std::shared_ptr<const CustomDictionaries::Snapshot> snapshot_;
  uint64_t generation_ = 0;
  /// ip_trie answers per dictionary, over the prefix they hold for.
  std::vector<std::unique_ptr<PrefixCache<uint32_t>>> caches_;
};

}  // namespace akvo
