// libFuzzer target for the filter language: any input must either compile or return a
// positioned error, never crash, and a compiled filter must have balanced quotes (nothing the
// user typed can end a string literal early). Built outside the main build (clang + libFuzzer):
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     src/console/filter_fuzz.cpp src/console/filter.cpp src/common/schema.cpp src/common/ip.cpp \
//     build/release/generated/embedded_files.cpp -lfmt -o build/filter_fuzz
//   build/filter_fuzz -max_total_time=60 src/console/fuzz_corpus/filter
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "console/filter.h"

namespace {
void checkBalanced(const std::string& sql) {
  bool in = false;
  for (size_t i = 0; i < sql.size(); i++) {
    if (in && sql[i] == '\\') {
      i++;
      continue;
    }
    if (sql[i] == '\'') in = !in;
  }
  if (in) abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const akvo::Schema schema;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  akvo::console::CompiledFilter out;
  akvo::console::FilterError err;
  if (akvo::console::compileFilter(text, schema, out, err)) {
    checkBalanced(out.sql);
    checkBalanced(out.reverse_sql);
  } else if (err.offset < 0 || size_t(err.offset) > size || err.line < 1 || err.column < 1) {
    abort();
  }
  return 0;
}
