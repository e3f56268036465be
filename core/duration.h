// Durations as operators write them in settings and as messages show them:
// "90d", "36h", "15m", "30s", "250ms", or combinations such as "1h30m".
// Stateless; thread-safe.
#ifndef TOKENAUTH_CORE_DURATION_H_
#define TOKENAUTH_CORE_DURATION_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tokenauth {

// The longest duration a setting may hold: 36500000d (about 100000 years),
// far beyond any real setting, and small enough that FormatSettingDuration's
// output always parses again.
inline constexpr absl::Duration kMaxSettingDuration =
    absl::Hours(24 * 36500000);

// Parses "<n><unit>..." with units d, h, m, s, ms (n: 1..12 digits, the whole
// text at most 64 characters); "0" alone is zero. INVALID_ARGUMENT naming the
// rule for anything else, a negative value or a total over
// kMaxSettingDuration.
absl::StatusOr<absl::Duration> ParseSettingDuration(absl::string_view text);
// Whole days as "<n>d"; other whole milliseconds as hours, minutes, seconds
// and milliseconds, zero parts left out ("36h", "1h30m", "1s500ms"). So
// ParseSettingDuration(FormatSettingDuration(d)) == d for every d that
// ParseSettingDuration returns. Anything else (negative, infinite, finer
// than a millisecond) as absl::FormatDuration does.
std::string FormatSettingDuration(absl::Duration d);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_DURATION_H_
