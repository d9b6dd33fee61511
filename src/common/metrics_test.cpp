#include "common/metrics.h"

#include <gtest/gtest.h>

namespace akvo {
namespace {

bool has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, HistogramsPerLabelSet) {
  Metrics m;
  m.observe("t_seconds", "Time.", 0.2, {0.1, 1}, {{"handler", "/a"}});
  m.observe("t_seconds", "Time.", 5, {0.1, 1}, {{"handler", "/a"}});
  m.observe("t_seconds", "Time.", 0.05, {0.1, 1}, {{"handler", "/b"}});
  m.observe("t_seconds", "Time.", 0.5, {0.1, 1});  // no labels: its own histogram
  std::string out = m.render();
  EXPECT_TRUE(has(out, "# TYPE t_seconds histogram")) << out;
  EXPECT_TRUE(has(out, "t_seconds_bucket{handler=\"/a\",le=\"0.1\"} 0")) << out;
  EXPECT_TRUE(has(out, "t_seconds_bucket{handler=\"/a\",le=\"1\"} 1")) << out;
  EXPECT_TRUE(has(out, "t_seconds_bucket{handler=\"/a\",le=\"+Inf\"} 2")) << out;
  EXPECT_TRUE(has(out, "t_seconds_sum{handler=\"/a\"} 5.2")) << out;
  EXPECT_TRUE(has(out, "t_seconds_count{handler=\"/a\"} 2")) << out;
  EXPECT_TRUE(has(out, "t_seconds_bucket{handler=\"/b\",le=\"0.1\"} 1")) << out;
  EXPECT_TRUE(has(out, "t_seconds_count{handler=\"/b\"} 1")) << out;
  EXPECT_TRUE(has(out, "t_seconds_bucket{le=\"1\"} 1")) << out;
  EXPECT_TRUE(has(out, "t_seconds_count 1")) << out;
}

TEST(Metrics, SettableGauges) {
  Metrics m;
  Gauge& g = m.gauge("running", "Running.");
  EXPECT_EQ(&g, &m.gauge("running", "Running."));  // one per label set
  EXPECT_TRUE(has(m.render(), "running 0"));
  g.add(1);
  g.add(1);
  g.add(-1);
  EXPECT_TRUE(has(m.render(), "running 1")) << m.render();
  m.gauge("running", "Running.", {{"kind", "x"}}).set(3);
  EXPECT_TRUE(has(m.render(), "running{kind=\"x\"} 3")) << m.render();
  EXPECT_DOUBLE_EQ(g.value(), 1);
}

}  // namespace
}  // namespace akvo
