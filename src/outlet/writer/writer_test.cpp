// The writer notes the TimeReceived range of each batch before inserting it, for the repair
// after a kill -9 (app.cpp reads it back).
#include "outlet/writer/writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "testing/test_store.h"

namespace akvo {
namespace {

TEST(BatchWriter, NotesTheRangeOfTheBatchInFlight) {
  AKVO_REQUIRE_STORE();
  Schema schema{SchemaConfig{}};
  Metrics metrics;
  BatchWriter::Config config;
  config.discard = true;  // encoded, not inserted: only the note matters here
  std::string dir = std::filesystem::temp_directory_path() / ("akvo-writer-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config.inflight_file = dir + "/akvo.inflight";
  BatchWriter writer(config, schema, testing::testStore(), metrics);
  writer.start();
  auto readNote = [&] {
    uint32_t a = 0, b = 0;
    std::ifstream(config.inflight_file) >> a >> b;
    return std::make_pair(a, b);
  };
  NativeBatch batch = writer.emptyBatch();
  FlowRecord f;
  f.sampling_rate = 1;
  for (uint32_t t : {1700000500u, 1700000100u, 1700000900u}) {
    f.time_received = t;
    batch.append(f);
  }
  EXPECT_EQ(batch.minTime(), 1700000100u);
  EXPECT_EQ(batch.maxTime(), 1700000900u);
  bool stored = false;
  batch = writer.submit(std::move(batch), [&] { stored = true; });
  EXPECT_EQ(batch.rows(), 0u);
  EXPECT_EQ(batch.minTime(), 0u);  // a cleared batch has no range
  // The next batch replaces the note.
  f.time_received = 1600000000;
  batch.append(f);
  batch = writer.submit(std::move(batch));
  writer.stop();
  EXPECT_TRUE(stored);
  EXPECT_EQ(readNote(), std::make_pair(1600000000u, 1600000000u));
  EXPECT_FALSE(std::filesystem::exists(config.inflight_file + ".tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace akvo
