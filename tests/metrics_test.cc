// Unit tests of server/metrics.h: the exposition text, escaping, histogram
// buckets at their bounds, hidden-while-zero counters, callbacks, and
// counting under parallel increments.
#include "server/metrics.h"

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace tokenauth::metrics {
namespace {

TEST(MetricsTest, RendersHelpTypeAndSamplesInOrder) {
  Registry r;
  Counter* a = r.AddCounter("t_requests_total", "Requests.", {{"m", "x"}});
  Counter* b = r.AddCounter("t_requests_total", "Requests.", {{"m", "y"}});
  Gauge* g = r.AddGauge("t_temperature", "Degrees.");
  a->Increment();
  b->Increment(41);
  g->Set(-1.5);
  g->Add(0.25);
  EXPECT_EQ(r.Render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{m=\"x\"} 1\n"
            "t_requests_total{m=\"y\"} 41\n"
            "# HELP t_temperature Degrees.\n"
            "# TYPE t_temperature gauge\n"
            "t_temperature -1.25\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry r;
  r.AddCounter("t_total", "Line one\nback\\slash", {{"v", "a\"b\\c\nd"}})
      ->Increment();
  EXPECT_EQ(r.Render(),
            "# HELP t_total Line one\\nback\\\\slash\n"
            "# TYPE t_total counter\n"
            "t_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, HistogramBucketsIncludeTheirUpperBound) {
  Registry r;
  Histogram* h = r.AddHistogram("t_seconds", "Latency.", {{"m", "x"}});
  h->Observe(absl::Microseconds(10));     // le="0.00001" (inclusive)
  h->Observe(absl::Nanoseconds(10'001));  // le="0.000025"
  h->Observe(absl::Seconds(10));          // le="10"
  h->Observe(absl::Seconds(11));          // +Inf only
  h->Observe(-absl::Seconds(1));          // Counted as 0.
  const std::string text = r.Render();
  EXPECT_TRUE(
      absl::StrContains(text, "t_seconds_bucket{m=\"x\",le=\"0.00001\"} 2\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "t_seconds_bucket{m=\"x\",le=\"0.000025\"} 3\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "t_seconds_bucket{m=\"x\",le=\"5\"} 3\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "t_seconds_bucket{m=\"x\",le=\"10\"} 4\n"));
  EXPECT_TRUE(
      absl::StrContains(text, "t_seconds_bucket{m=\"x\",le=\"+Inf\"} 5\n"));
  EXPECT_TRUE(absl::StrContains(text, "t_seconds_count{m=\"x\"} 5\n"));
  EXPECT_TRUE(absl::StrContains(text, "t_seconds_sum{m=\"x\"} 21.000020001\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "# TYPE t_seconds histogram\n"));
}

TEST(MetricsTest, HiddenCountersAppearOnceUsed) {
  Registry r;
  r.AddCounter("t_total", "T.", {{"code", "OK"}});
  Counter* rare = r.AddCounter("t_total", "T.", {{"code", "ABORTED"}},
                               /*hide_while_zero=*/true);
  EXPECT_FALSE(absl::StrContains(r.Render(), "ABORTED"));
  EXPECT_TRUE(absl::StrContains(r.Render(), "t_total{code=\"OK\"} 0\n"));
  rare->Increment();
  EXPECT_TRUE(absl::StrContains(r.Render(), "t_total{code=\"ABORTED\"} 1\n"));
}

TEST(MetricsTest, CallbacksAreReadAtRenderAndNaNIsLeftOut) {
  Registry r;
  double value = 3;
  r.AddCallbackGauge("t_value", "V.", {}, [&value] { return value; });
  r.AddCallbackCounter("t_broken_total", "B.", {},
                       [] { return std::numeric_limits<double>::quiet_NaN(); });
  EXPECT_TRUE(absl::StrContains(r.Render(), "t_value 3\n"));
  value = 1e15 + 0.5;
  EXPECT_TRUE(absl::StrContains(r.Render(), "t_value 1000000000000000.5\n"));
  EXPECT_FALSE(absl::StrContains(r.Render(), "\nt_broken_total "));
  EXPECT_TRUE(absl::StrContains(r.Render(), "# TYPE t_broken_total counter\n"));
}

TEST(MetricsTest, FormatsValuesSoTheyParseBack) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(123456789012), "123456789012");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(HUGE_VAL), "+Inf");
  EXPECT_EQ(FormatValue(-HUGE_VAL), "-Inf");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
}

TEST(MetricsTest, ParallelIncrementsAreAllCounted) {
  Registry r;
  Counter* c = r.AddCounter("t_total", "T.");
  Histogram* h = r.AddHistogram("t_seconds", "T.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c, h] {
      for (int i = 0; i < 100000; ++i) {
        c->Increment();
        h->Observe(absl::Microseconds(i % 2000));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(c->value(), 400000u);
  EXPECT_EQ(h->Read().count, 400000u);
}

TEST(MetricsDeathTest, RegistrationMistakesAbort) {
  Registry r;
  r.AddCounter("t_total", "T.", {{"a", "1"}});
  EXPECT_DEATH(r.AddGauge("t_total", "T.", {{"a", "2"}}), "two types");
  EXPECT_DEATH(r.AddCounter("t_total", "T.", {{"a", "1"}}), "duplicate");
  EXPECT_DEATH(r.AddCounter("9bad", "T."), "invalid metric name");
  EXPECT_DEATH(r.AddHistogram("t_h", "T.", {{"le", "1"}}), "invalid label");
}

}  // namespace
}  // namespace tokenauth::metrics
