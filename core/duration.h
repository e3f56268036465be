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

// Parses "<n><unit>..." with units d, h, m, s, ms; "0" alone is zero.
// INVALID_ARGUMENT naming the rule for anything else or a negative value.
absl::StatusOr<absl::Duration> ParseSettingDuration(absl::string_view text);
// Whole days as "<n>d", anything else as absl::FormatDuration does.
std::string FormatSettingDuration(absl::Duration d);

}  // namespace tokenauth

#endif  // TOKENAUTH_CORE_DURATION_H_
