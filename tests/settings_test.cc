#include "server/settings.h"

#include <cstdlib>

#include "absl/flags/flag.h"
#include "gtest/gtest.h"

ABSL_FLAG(int, settings_test_number, 1, "for the test");
ABSL_FLAG(tokenauth::DurationSetting, settings_test_period,
          tokenauth::DurationSetting{absl::Hours(1)}, "for the test");

namespace tokenauth {
namespace {

TEST(ParseSettingDurationTest, Units) {
  EXPECT_EQ(*ParseSettingDuration("90d"), absl::Hours(24 * 90));
  EXPECT_EQ(*ParseSettingDuration("36h"), absl::Hours(36));
  EXPECT_EQ(*ParseSettingDuration("15m"), absl::Minutes(15));
  EXPECT_EQ(*ParseSettingDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseSettingDuration("250ms"), absl::Milliseconds(250));
  EXPECT_EQ(*ParseSettingDuration("1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseSettingDuration("0"), absl::ZeroDuration());
}

TEST(ParseSettingDurationTest, RefusesOtherText) {
  for (const char* bad :
       {"", "d", "90", "-5m", "5 m", "5y", "1.5h", "h1", "9999999999999d"}) {
    absl::StatusOr<absl::Duration> d = ParseSettingDuration(bad);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ParseSettingDurationTest, FormatsWholeDaysAsDays) {
  EXPECT_EQ(FormatSettingDuration(absl::Hours(24 * 365)), "365d");
  EXPECT_EQ(FormatSettingDuration(absl::Minutes(10)), "10m");
}

TEST(ApplyEnvironmentToFlagsTest, EnvironmentSetsFlagsOfThisFile) {
  setenv("SETTINGS_TEST_NUMBER", "7", 1);
  setenv("SETTINGS_TEST_PERIOD", "2d", 1);
  ASSERT_TRUE(ApplyEnvironmentToFlags("settings_test.cc").ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_settings_test_number), 7);
  EXPECT_EQ(absl::GetFlag(FLAGS_settings_test_period).value, absl::Hours(48));
  setenv("SETTINGS_TEST_NUMBER", "seven", 1);
  absl::Status s = ApplyEnvironmentToFlags("settings_test.cc");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("SETTINGS_TEST_NUMBER"), absl::string_view::npos);
  unsetenv("SETTINGS_TEST_NUMBER");
  unsetenv("SETTINGS_TEST_PERIOD");
}

}  // namespace
}  // namespace tokenauth
