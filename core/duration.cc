#include "core/duration.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tokenauth {

absl::StatusOr<absl::Duration> ParseSettingDuration(absl::string_view text) {
  const absl::Status invalid = absl::InvalidArgumentError(absl::StrCat(
      "duration: expected a number and a unit (d, h, m, s, ms), e.g. 90d, "
      "36h, 15m, 30s; got \"",
      text.substr(0, 64), "\""));
  if (text == "0") return absl::ZeroDuration();
  if (text.empty() || text.size() > 64) return invalid;
  absl::Duration total = absl::ZeroDuration();
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() &&
           absl::ascii_isdigit(static_cast<unsigned char>(text[i])))
      ++i;
    int64_t n;
    if (i == start || i - start > 12 ||
        !absl::SimpleAtoi(text.substr(start, i - start), &n)) {
      return invalid;
    }
    absl::Duration unit;
    if (absl::StartsWith(text.substr(i), "ms")) {
      unit = absl::Milliseconds(1);
      i += 2;
    } else if (i < text.size() && text[i] == 'd') {
      unit = absl::Hours(24);
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unit = absl::Hours(1);
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit = absl::Minutes(1);
      ++i;
    } else if (i < text.size() && text[i] == 's') {
      unit = absl::Seconds(1);
      ++i;
    } else {
      return invalid;
    }
    total += n * unit;
  }
  if (total > kMaxSettingDuration) {
    return absl::InvalidArgumentError(absl::StrCat(
        "duration: at most ", FormatSettingDuration(kMaxSettingDuration),
        " (about 100000 years); got \"", text, "\""));
  }
  return total;
}

std::string FormatSettingDuration(absl::Duration d) {
  const absl::Duration day = absl::Hours(24);
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration() ||
      d % absl::Milliseconds(1) != absl::ZeroDuration()) {
    return absl::FormatDuration(d);  // Not something a setting can hold.
  }
  if (d % day == absl::ZeroDuration()) return absl::StrCat(d / day, "d");
  // absl::FormatDuration would write fractional seconds ("1.5s"), which
  // ParseSettingDuration refuses.
  std::string out;
  for (const auto& [unit, name] :
       {std::pair{absl::Hours(1), "h"}, std::pair{absl::Minutes(1), "m"},
        std::pair{absl::Seconds(1), "s"},
        std::pair{absl::Milliseconds(1), "ms"}}) {
    const int64_t n = absl::IDivDuration(d, unit, &d);
    if (n != 0) absl::StrAppend(&out, n, name);
  }
  return out;
}

}  // namespace tokenauth
