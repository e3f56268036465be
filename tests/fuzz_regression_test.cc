// Inputs the fuzz targets in fuzz/ found failing, kept as plain tests so the
// normal (gcc) build checks them on every run. One test per finding; the
// comment says which target found it and which property failed.
#include "absl/time/time.h"
#include "core/duration.h"
#include "gtest/gtest.h"

namespace tokenauth {
namespace {

// fuzz/duration_fuzzer, round trip: 19018ms was formatted as "19.018s"
// (absl::FormatDuration), which ParseSettingDuration refuses. So was every
// duration with a fraction of a second, e.g. "1d1ms" -> "24h0.001s".
TEST(FuzzRegressionTest, DurationWithMillisecondsFormatsParseably) {
  for (const char* text : {"19018ms", "1500ms", "1d1ms", "250ms", "36h",
                           "1h30m", "90d", "0", "59m59s999ms"}) {
    absl::StatusOr<absl::Duration> d = ParseSettingDuration(text);
    ASSERT_TRUE(d.ok()) << text << ": " << d.status();
    const std::string formatted = FormatSettingDuration(*d);
    absl::StatusOr<absl::Duration> again = ParseSettingDuration(formatted);
    ASSERT_TRUE(again.ok())
        << text << " -> " << formatted << ": " << again.status();
    EXPECT_EQ(*again, *d) << text << " -> " << formatted;
  }
  EXPECT_EQ(FormatSettingDuration(absl::Milliseconds(19018)), "19s18ms");
  EXPECT_EQ(FormatSettingDuration(absl::Milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatSettingDuration(absl::Hours(36)), "36h");
  EXPECT_EQ(FormatSettingDuration(absl::Minutes(90)), "1h30m");
}

// fuzz/duration_fuzzer, round trip: a sum of 12-digit terms parsed to
// 8000000007091h28m33.333s, whose hour count has 13 digits, more than a
// term may have. Totals are now capped at kMaxSettingDuration (36500000d).
TEST(FuzzRegressionTest, DurationTotalIsCapped) {
  absl::StatusOr<absl::Duration> d =
      ParseSettingDuration("333m3333333333ms333333333331d1d1d233d11d1d1d11d");
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("at most 36500000d"), std::string::npos)
      << d.status();

  EXPECT_EQ(*ParseSettingDuration("36500000d"), kMaxSettingDuration);
  EXPECT_EQ(FormatSettingDuration(kMaxSettingDuration), "36500000d");
  EXPECT_FALSE(ParseSettingDuration("36500000d1ms").ok());
  EXPECT_FALSE(ParseSettingDuration("999999999999d").ok());
  // Just under the cap, not whole days: the hour count still fits a term.
  const absl::Duration below = kMaxSettingDuration - absl::Milliseconds(1);
  absl::StatusOr<absl::Duration> again =
      ParseSettingDuration(FormatSettingDuration(below));
  ASSERT_TRUE(again.ok()) << FormatSettingDuration(below);
  EXPECT_EQ(*again, below);
}

}  // namespace
}  // namespace tokenauth
