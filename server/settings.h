// Settings plumbing for binaries: durations written as "90d", "36h", "15m",
// "30s" (or combinations such as "1h30m"), and environment variables that
// set flags. Stateless; thread-compatible (call from main before threads).
#ifndef TOKENAUTH_SERVER_SETTINGS_H_
#define TOKENAUTH_SERVER_SETTINGS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/duration.h"

namespace tokenauth {

// A flag type for durations in that syntax.
struct DurationSetting {
  absl::Duration value;
};
bool AbslParseFlag(absl::string_view text, DurationSetting* out,
                   std::string* error);
std::string AbslUnparseFlag(const DurationSetting& d);

// For every flag defined in a file whose path ends in `defined_in`, applies
// the environment variable of the same name in capitals, if set. Call before
// absl::ParseCommandLine so that command-line flags win. Returns
// INVALID_ARGUMENT naming the variable if a value does not parse.
absl::Status ApplyEnvironmentToFlags(absl::string_view defined_in);

}  // namespace tokenauth

#endif  // TOKENAUTH_SERVER_SETTINGS_H_
